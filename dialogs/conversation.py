"""The customer conversation: reads one event, moves the flow, says what to say next.

No Telegram and no SQL here: data comes through `ShopPort`, decisions from the policy, every
sentence from templates. The flow table in `dialogs/flow.py` decides which moves exist; this
module only turns input into a trigger and renders the question of the state it lands in.
Invalid input never fires a trigger, so it changes nothing but the polite answer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from dialogs.clock import Clock
from dialogs.events import Button, CallbackAnswer, Discard, Event, Outgoing, Reply
from dialogs.flow import Flow, State
from dialogs.links import LinkSigner
from dialogs.policy import Policy
from dialogs.policy.types import Claim, Decision, ItemFacts
from dialogs.shop import ItemView, NewCase, OrderView, ShopPort
from dialogs.texts import Texts
from storage.phones import to_e164

S = State
ORDERS_PER_PAGE = 5
MAX_QUANTITY_BUTTONS = 10
MAX_DESCRIPTION = 1000
MAX_EVIDENCE = 10
PHONE_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=30)  # one chat, after PHONE_ATTEMPTS wrong answers
# Across all chats: wrong digits per order number and per customer in FAILURE_WINDOW, and
# everyone's in EVERYONE_WINDOW; past any of them only a shared contact identifies.
ORDER_FAILURES, CUSTOMER_FAILURES, FAILURE_WINDOW = 5, 10, timedelta(hours=24)
EVERYONE_FAILURES, EVERYONE_WINDOW = 100, timedelta(hours=1)
STATUS_LIMIT = 10
ORDER_NO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{3,39}$")
GOODS_COME_BACK = {"return", "exchange", "repair"}
# Telegram commands that work in every state.
COMMANDS = ("start", "menu", "cancel", "back", "status", "human", "lang", "help")
DRAFT_KEYS = (
    "order_id", "item_id", "quantity", "service", "reason", "conditions", "cond_index",
    "description", "description_message_id", "evidence", "auto", "alternatives", "case_id",
    "page",
)  # fmt: skip


@dataclass
class ConversationState:
    """What is stored per chat between events."""

    state: str = S.IDENTIFY.value
    context: dict[str, Any] = field(default_factory=dict)
    locale: str = "zh"
    customer_id: int | None = None


def evidence_slots(conv: ConversationState) -> int:
    """How many more files this conversation would keep right now (0: it asks for none), so
    that nothing else is downloaded: a stranger's photos, an album past the maximum."""
    if conv.customer_id is None or conv.state != S.EVIDENCE.value:
        return 0
    return max(0, MAX_EVIDENCE - len(conv.context.get("evidence", [])))


@dataclass(frozen=True)
class ShopInfo:
    return_address: str
    shop_name: str = ""
    links: LinkSigner | None = None


class Turn:
    """Handles one event for one conversation; collects the outgoing messages."""

    def __init__(
        self,
        conv: ConversationState,
        event: Event,
        *,
        shop: ShopPort,
        policy: Policy,
        texts: Texts,
        flow: Flow,
        clock: Clock,
        info: ShopInfo,
        now: datetime | None = None,
    ) -> None:
        self.conv = conv
        self.ctx = conv.context
        self.event = event
        self.shop = shop
        self.policy = policy
        self.texts = texts
        self.flow = flow
        self.now = clock.now() if now is None else now
        self.info = info
        self.out: list[Outgoing] = []
        self._order_memo: OrderView | None = None  # one load per turn, however many steps
        self._claims_memo = 0  # the customer's recent claims, loaded with the order
        self._facts_memo: tuple[tuple[int, int], ItemFacts] | None = None
        # A pressed button's message is edited in place by the next question (no piling up).
        self._edit_target = event.message_id if event.kind == "button" else None

    # ----------------------------------------------------------------- output helpers

    def t(self, key: str, **values: Any) -> str:
        return self.texts.render(self.conv.locale, key, **values)

    def label(self, key: str, **values: Any) -> str:
        return self.texts.plain(self.conv.locale, key, **values)

    def say(self, key: str, **values: Any) -> None:
        self.out.append(Reply(self.event.chat_id, self.t(key, **values)))

    def ask(
        self,
        text: str,
        options: list[list[tuple[str, Any]]] | None = None,
        *,
        contact_button: str | None = None,
    ) -> None:
        """Send a question with buttons. Each button carries an opaque key valid for this
        question only (nonce): the value it stands for stays on our side, so a forged or old
        button can never name someone else's order."""
        nonce = int(self.ctx.get("nonce", 0)) + 1
        self.ctx["nonce"] = nonce
        opts: dict[str, Any] = {}
        rows: list[list[Button]] = []
        for row in options or []:
            buttons = []
            for label, value in row:
                key = str(len(opts))
                opts[key] = value
                buttons.append(Button(label, f"{nonce:x}:{key}"))
            rows.append(buttons)
        self.ctx["opts"] = opts
        edit = self._edit_target if not contact_button else None
        self._edit_target = None
        self.out.append(
            Reply(
                self.event.chat_id, text, rows, contact_button=contact_button, edit_message_id=edit
            )
        )

    def fire(self, trigger: str) -> None:
        self.conv.state = self.flow.fire(self.conv.state, trigger)

    @property
    def state(self) -> State:
        return State(self.conv.state)

    # ----------------------------------------------------------------- entry point

    async def run(self) -> list[Outgoing]:
        ev = self.event
        if ev.kind == "button":
            value = self._button_value(ev.data)
            self.out.append(
                CallbackAnswer(
                    ev.chat_id,
                    ev.callback_id or "",
                    None if value is not _STALE else self.label("common/stale_button"),
                )
            )
            if value is _STALE:
                return self.out
            if isinstance(value, str) and value.startswith("g:"):
                await self._global_button(value)
            else:
                await self._dispatch(value)
        elif ev.kind == "command":
            await self._command(ev.command, ev.text)
        elif ev.refused:
            self.say(f"common/refused_{ev.refused}", **ev.refused_values)
            await self.prompt()
        elif ev.kind == "edited":
            await self._edited()
        elif ev.kind == "unsupported":
            self.say("common/unsupported")
            await self.prompt()
        else:
            await self._dispatch(None)
        self._discard_unkept_media()
        return self.out

    def _discard_unkept_media(self) -> None:
        """Files of this event that the request did not take are deleted, not left behind."""
        kept = {e.get("local_path") for e in self.ctx.get("evidence", [])}
        self._discard(m.local_path for m in self.event.media if m.local_path not in kept)

    def _discard(self, paths: Any) -> None:
        found = tuple(p for p in paths if p)
        if found:
            self.out.append(Discard(found))

    def _drop_evidence(self) -> None:
        """The draft's photos go with the draft (a created case keeps its own)."""
        self._discard(e.get("local_path") for e in self.ctx.pop("evidence", []))

    def _button_value(self, data: str) -> Any:
        if data.startswith("g:"):
            return data
        nonce, _, key = data.partition(":")
        if nonce != f"{int(self.ctx.get('nonce', 0)):x}" or key not in self.ctx.get("opts", {}):
            return _STALE
        return self.ctx["opts"][key]

    async def _dispatch(self, value: Any) -> None:
        handler = getattr(self, f"on_{self.conv.state}")
        await handler(value)

    # ----------------------------------------------------------------- commands

    async def _command(self, name: str, arg: str) -> None:
        name = name.lower()
        identified = self.conv.customer_id is not None
        if name == "start":
            if arg:
                await self._deep_link(arg)
            await self._to_start(welcome=True)
        elif name in ("menu", "cancel"):
            had_draft = any(self.ctx.get(k) for k in ("order_id", "service"))
            if name == "cancel" and had_draft:
                self.say("common/cancelled")
            await self._to_start(welcome=False)
        elif name == "back":
            await self._back()
        elif name == "help":
            self.say("common/help")
            await self.prompt()
        elif name == "lang":
            self._ask_language()
        elif not identified and name in ("status", "human"):
            self.say("common/identify_first")
            await self.prompt()
        elif name == "status":
            await self._status()
            await self.prompt()
        elif name == "human":
            await self._human()
        else:
            self.say("common/unknown_command")
            await self.prompt()

    async def _to_start(self, *, welcome: bool) -> None:
        self._clear_draft()
        if self.conv.customer_id is None:
            if self.state is not S.IDENTIFY:
                self.fire("restart")
            if welcome:
                self.say("identify/welcome", shop=self.info.shop_name)
            await self.prompt()
            return
        self.fire("to_menu")
        if await self._follow_link():
            return
        await self.prompt()

    async def _deep_link(self, token: str) -> None:
        """`/start <token>` from the shop's order page: open that order once identified."""
        signer = self.info.links
        order_no = signer.order_no(token, self.now) if signer else None
        order = await self.shop.order_by_no(order_no) if order_no else None
        if order is None:
            # Forged, expired, or for an order that is gone: one answer, nothing to learn.
            self.say("common/bad_link")
            return
        # Remembered even before identification; it only opens for the order's own customer.
        self.ctx["link_order_id"] = order.id

    async def _follow_link(self) -> bool:
        """A deep link named an order: open the request for it once the customer is known."""
        order_id = self.ctx.pop("link_order_id", None)
        if order_id is None:
            return False
        order = await self.shop.order(order_id)
        if order is None or order.customer_id != self.conv.customer_id:
            self.say("common/bad_link")  # as for a forged link: whose order it is stays unsaid
            return False
        self.ctx["order_id"] = order.id
        self.ctx["auto"] = []
        self.fire("order_linked")
        await self.enter()
        return True

    async def _back(self) -> None:
        if not self.flow.can(self.conv.state, "back"):
            await self.prompt()
            return
        before = self.state
        self.fire("back")
        # Steps that were answered for the customer (one item, quantity 1, ...) are skipped.
        auto = self.ctx.get("auto", [])
        while self.conv.state in auto and self.flow.can(self.conv.state, "back"):
            auto.remove(self.conv.state)
            self.fire("back")
        if self.state is before:
            self.say("common/nothing_to_go_back")
        if self.state is S.CONDITIONS:
            self.ctx["conditions"] = []
            self.ctx["cond_index"] = 0
        await self.prompt()

    async def _edited(self) -> None:
        """An edit of the open request's description replaces it; any other edit is not read,
        and the customer is told so instead of seeing nothing happen."""
        ev = self.event
        open_request = self.state in _AFTER_DESCRIPTION and "description" in self.ctx
        if not open_request or self.ctx.get("description_message_id") != ev.message_id:
            self.say("common/edit_not_read")
            return
        text = _clean(ev.text, keep_newlines=True)
        if not 2 <= len(text) <= MAX_DESCRIPTION:
            self.say("describe/edit_refused", max=MAX_DESCRIPTION)
            return
        self.ctx["description"] = text
        self.say("describe/updated")
        if self.state is S.SUMMARY:  # the summary on screen shows the old text: show it anew
            await self.prompt()

    def _ask_language(self) -> None:
        self.out.append(
            Reply(
                self.event.chat_id,
                self.t("common/lang_choose"),
                [[Button("中文", "g:lang:zh"), Button("English", "g:lang:en")]],
            )
        )

    async def _global_button(self, value: str) -> None:
        _, kind, arg = value.split(":", 2) if value.count(":") >= 2 else (*value.split(":"), "")
        if kind == "lang" and arg in ("zh", "en"):
            self.conv.locale = arg
            self._edit_target = None
            self.say("common/lang_set")
            await self.prompt()
        else:
            await self.prompt()

    async def _status(self) -> None:
        assert self.conv.customer_id is not None
        cases = await self.shop.cases(self.conv.customer_id, STATUS_LIMIT)
        self.say("status/list", cases=cases)

    async def _human(self) -> None:
        self._clear_draft()
        self.fire("ask_human")
        deadline = self.policy.sla_deadline("first_reply", self.now)
        cases = await self.shop.cases(self.conv.customer_id or 0, 1)
        if cases:
            await self.shop.add_case_event(cases[0].id, "customer", "human_requested", {}, self.now)
        self.ctx["handover_at"] = self.now.isoformat()
        self.say("human/handed_over", deadline=deadline)
        await self.prompt()

    def _clear_draft(self, *, files_kept: bool = False) -> None:
        if not files_kept:
            self._drop_evidence()
        for key in DRAFT_KEYS:
            self.ctx.pop(key, None)

    # ----------------------------------------------------------------- questions

    async def prompt(self) -> None:
        """Ask the question of the current state (again). Side-effect free apart from keys."""
        await getattr(self, f"ask_{self.conv.state}")()

    async def enter(self) -> None:
        """Arrive in the current state: answer it automatically when there is no choice."""
        here = self.conv.state
        auto = getattr(self, f"auto_{here}", None)
        if auto is not None and await auto():
            self.ctx.setdefault("auto", []).append(here)
            await self.enter()
            return
        await self.prompt()

    # identify ------------------------------------------------------------------------

    async def ask_identify(self) -> None:
        locked = self._locked_until()
        if locked:
            self.say("identify/locked", until=locked)
        self.ask(self.t("identify/ask"), contact_button=self.label("labels/share_contact"))

    async def on_identify(self, _value: Any) -> None:
        ev = self.event
        if ev.kind == "contact":
            await self._identify_by_contact()
            return
        if ev.kind == "text" and not self._locked_until():
            text = _clean(ev.text).replace(" ", "")
            if ORDER_NO.match(text):
                order_no = text.upper()
                order = await self.shop.order_by_no(order_no)
                customer_id = order.customer_id if order else None
                if await self._digits_locked(order_no, customer_id):
                    self.say("identify/locked_order")
                    await self.prompt()
                    return
                # Always ask for the phone digits, so order numbers cannot be probed.
                self.ctx["ident"] = {
                    "order_id": order.id if order else None,
                    "order_no": order_no,
                    "fails": self.ctx.get("ident", {}).get("fails", 0),
                }
                self.fire("order_no_given")
                await self.prompt()
                return
            self.say("identify/bad_order_no")
        elif ev.kind != "text":
            self.say("common/send_text")
        await self.prompt()

    async def _identify_by_contact(self) -> None:
        ev = self.event
        if ev.contact_user_id != ev.user_id:
            self.say("identify/contact_not_own")
            await self.prompt()
            return
        phone = to_e164(ev.contact_phone or "", international_first=True)
        customer = await self.shop.customer_by_phone(phone) if phone else None
        if customer is None:
            self.say("identify/contact_unknown")
            await self.prompt()
            return
        await self._identified(customer.id, customer.name)
        self.fire("contact_matched")
        await self._after_identified()

    async def _identified(self, customer_id: int, name: str, *, take_over: bool = True) -> None:
        await self.shop.link_telegram(customer_id, self.event.user_id, take_over=take_over)
        self.conv.customer_id = customer_id
        self.ctx.pop("ident", None)
        # This message also takes away the "share my contact" keyboard.
        self.out.append(
            Reply(self.event.chat_id, self.t("identify/done", name=name), remove_keyboard=True)
        )

    async def _after_identified(self) -> None:
        if not await self._follow_link():
            await self.prompt()

    async def ask_identify_phone4(self) -> None:
        self.ask(self.t("identify/ask_phone4"), [[(self.label("labels/back"), "back")]])

    async def on_identify_phone4(self, value: Any) -> None:
        ev = self.event
        if value == "back":
            self.fire("back")
            await self.prompt()
            return
        digits = _clean(ev.text).replace(" ", "") if ev.kind == "text" else ""
        if not re.fullmatch(r"\d{4}", digits):
            self.say("identify/bad_phone4")
            await self.prompt()
            return
        ident = self.ctx.get("ident", {})
        order = await self.shop.order(ident["order_id"]) if ident.get("order_id") else None
        customer = await self.shop.customer(order.customer_id) if order else None
        order_no = str(ident.get("order_no", ""))
        if await self._digits_locked(order_no, customer.id if customer else None):
            # Even the right digits: guessers from many accounts must not get in at last.
            self.ctx["ident"] = {"order_id": None, "fails": ident.get("fails", 0)}
            self.fire("back")
            self.say("identify/locked_order")
            await self.prompt()
            return
        if customer and customer.phone and customer.phone.endswith(digits):
            # Four digits are weaker proof than a shared contact: they identify this chat but
            # do not move the customer's Telegram link away from an account that has it.
            await self._identified(customer.id, customer.name, take_over=False)
            self.fire("phone_matched")
            await self._after_identified()
            return
        await self.shop.record_identification_failure(
            ev.chat_id, order_no, customer.id if customer else None, self.now
        )
        fails = int(ident.get("fails", 0)) + 1
        self.ctx["ident"] = {"order_id": None, "fails": fails}
        self.fire("back")
        if fails >= PHONE_ATTEMPTS:
            self.ctx["ident"] = {"fails": 0, "locked_until": (self.now + LOCKOUT).isoformat()}
        else:
            self.say("identify/no_match", left=PHONE_ATTEMPTS - fails)
        await self.prompt()

    async def _digits_locked(self, order_no: str, customer_id: int | None) -> bool:
        """Too many wrong digits for this order number or customer, from any chat, or from
        everyone at once (someone is guessing at scale): only a shared contact works then."""
        counts = await self.shop.identification_failures(
            order_no,
            customer_id,
            order_since=self.now - FAILURE_WINDOW,
            everyone_since=self.now - EVERYONE_WINDOW,
        )
        return (
            counts.order_no >= ORDER_FAILURES
            or counts.customer >= CUSTOMER_FAILURES
            or counts.everyone >= EVERYONE_FAILURES
        )

    def _locked_until(self) -> datetime | None:
        raw = self.ctx.get("ident", {}).get("locked_until")
        if not raw:
            return None
        until = datetime.fromisoformat(raw)
        return until if until > self.now else None

    # menu --------------------------------------------------------------------------

    async def ask_menu(self) -> None:
        self.ask(
            self.t("menu/ask"),
            [
                [(self.label("labels/new_request"), "new")],
                [(self.label("labels/my_requests"), "mine")],
                [(self.label("labels/human"), "human")],
                [(self.label("labels/language"), "lang")],
            ],
        )

    async def on_menu(self, value: Any) -> None:
        if value == "new":
            self.fire("new_request")
            self.ctx["page"] = 0
            await self.enter()
        elif value == "mine":
            await self._status()
            await self.prompt()
        elif value == "human":
            await self._human()
        elif value == "lang":
            self._ask_language()
        else:
            await self._bad_input()

    async def _bad_input(self) -> None:
        if self.event.kind == "text":
            self.say("common/use_buttons")
        elif self.event.kind in ("media", "contact"):
            self.say("common/not_here")
        self._edit_target = None
        await self.prompt()

    # order ----------------------------------------------------------------------

    async def ask_choose_order(self) -> None:
        assert self.conv.customer_id is not None
        page = int(self.ctx.get("page", 0))
        orders, total = await self.shop.orders_page(
            self.conv.customer_id, page * ORDERS_PER_PAGE, ORDERS_PER_PAGE
        )
        if total == 0:
            self.ask(self.t("order/none"), [[(self.label("labels/menu"), "menu")]])
            return
        rows: list[list[tuple[str, Any]]] = [
            [(self.label("labels/order", order=o), o.id)] for o in orders
        ]
        nav: list[tuple[str, Any]] = []
        if page > 0:
            nav.append((self.label("labels/prev"), "prev"))
        if (page + 1) * ORDERS_PER_PAGE < total:
            nav.append((self.label("labels/next"), "next"))
        if nav:
            rows.append(nav)
        rows.append([(self.label("labels/back"), "back")])
        pages = (total + ORDERS_PER_PAGE - 1) // ORDERS_PER_PAGE
        self.ask(self.t("order/ask", orders=orders, page=page + 1, pages=pages), rows)

    async def on_choose_order(self, value: Any) -> None:
        if value in ("prev", "next"):
            self.ctx["page"] = max(0, int(self.ctx.get("page", 0)) + (1 if value == "next" else -1))
            await self.prompt()
            return
        if value == "back":
            await self._back()
            return
        if value == "menu":
            await self._to_start(welcome=False)
            return
        order: OrderView | None = None
        if isinstance(value, int):
            order = await self.shop.order(value)
        elif self.event.kind == "text":
            text = _clean(self.event.text).replace(" ", "").upper()
            if not ORDER_NO.match(text):
                await self._bad_input()
                return
            order = await self.shop.order_by_no(text)
            if order is None or order.customer_id != self.conv.customer_id:
                # Same answer whether the order exists or not: nothing to learn by guessing.
                self.say("order/not_yours")
                await self.prompt()
                return
        else:
            await self._bad_input()
            return
        if order is None or order.customer_id != self.conv.customer_id:
            await self._bad_input()
            return
        self.ctx["order_id"] = order.id
        self.ctx["auto"] = []
        self.fire("order_chosen")
        await self.enter()

    async def _order(self) -> OrderView:
        order_id = int(self.ctx["order_id"])
        if self._order_memo is None or self._order_memo.id != order_id:
            # With the customer's recent claims, which the policy facts need on most of the
            # same turns: one look at the shop instead of two.
            order, claims = await self.shop.order_with_claims(order_id, self._claims_since)
            assert order is not None and order.customer_id == self.conv.customer_id
            self._order_memo, self._claims_memo = order, claims
        return self._order_memo

    @property
    def _claims_since(self) -> datetime:
        return claims_since(self.policy, self.now)

    async def _item(self) -> tuple[OrderView, ItemView]:
        order = await self._order()
        item = next(i for i in order.items if i.id == self.ctx["item_id"])
        return order, item

    # item and quantity ---------------------------------------------------------------

    async def auto_choose_item(self) -> bool:
        order = await self._order()
        if len(order.items) == 1:
            self.ctx["item_id"] = order.items[0].id
            self.fire("item_chosen")
            return True
        return False

    async def ask_choose_item(self) -> None:
        order = await self._order()
        rows = [[(self.label("labels/item", item=i), i.id)] for i in order.items]
        rows.append([(self.label("labels/back"), "back")])
        self.ask(self.t("item/ask", order=order), rows)

    async def on_choose_item(self, value: Any) -> None:
        if value == "back":
            await self._back()
            return
        order = await self._order()
        if not isinstance(value, int) or value not in {i.id for i in order.items}:
            await self._bad_input()
            return
        self.ctx["item_id"] = value
        self.fire("item_chosen")
        await self.enter()

    async def auto_choose_quantity(self) -> bool:
        _, item = await self._item()
        if item.quantity == 1:
            self.ctx["quantity"] = 1
            self.fire("quantity_chosen")
            return True
        return False

    async def ask_choose_quantity(self) -> None:
        _, item = await self._item()
        rows: list[list[tuple[str, Any]]] = []
        if item.quantity <= MAX_QUANTITY_BUTTONS:
            numbers = [(str(n), n) for n in range(1, item.quantity + 1)]
            rows = [numbers[i : i + 5] for i in range(0, len(numbers), 5)]
        rows.append([(self.label("labels/back"), "back")])
        self.ask(self.t("item/ask_quantity", item=item), rows)

    async def on_choose_quantity(self, value: Any) -> None:
        if value == "back":
            await self._back()
            return
        _, item = await self._item()
        if self.event.kind == "text":
            text = _clean(self.event.text)
            if not text.isdigit():
                await self._bad_input()
                return
            value = int(text)
        if not isinstance(value, int) or not 1 <= value <= item.quantity:
            self.say("item/bad_quantity", max=item.quantity)
            await self.prompt()
            return
        self.ctx["quantity"] = value
        self.fire("quantity_chosen")
        await self.enter()

    # service ---------------------------------------------------------------------

    async def _facts(self) -> ItemFacts:
        order, item = await self._item()
        quantity = int(self.ctx.get("quantity", 1))
        key = (item.id, quantity)
        if self._facts_memo is not None and self._facts_memo[0] == key:
            return self._facts_memo[1]
        prior = self._claims_memo  # read with the order by _item() above
        facts = ItemFacts(
            category=item.category,
            purchased_at=order.placed_at,
            paid_at=order.paid_at,
            shipped_at=order.shipped_at,
            delivered_at=order.delivered_at,
            payment=order.payment_method,
            price=item.unit_price * quantity,
            order_value=order.total,
            prior_claims=prior,
        )
        self._facts_memo = (key, facts)
        return facts

    async def ask_choose_service(self) -> None:
        _, item = await self._item()
        options = self.policy.options(await self._facts(), self.now)
        offered = [o for o in options if o.available]
        refused = [o for o in options if not o.available]
        rows: list[list[tuple[str, Any]]] = [
            [(self.label("labels/service", service=o.service, deadline=o.deadline), o.service)]
            for o in offered
        ]
        if not offered:
            rows.append([(self.label("labels/human"), "human")])
        rows.append([(self.label("labels/back"), "back")])
        refused_lines = [
            (o.service, self.t(o.explanation.key, **o.explanation.values) if o.explanation else "")
            for o in refused
        ]
        self.ask(self.t("service/ask", item=item, offered=offered, refused=refused_lines), rows)

    async def on_choose_service(self, value: Any) -> None:
        if value == "back":
            await self._back()
            return
        if value == "human":
            await self._human()
            return
        offered = {
            o.service for o in self.policy.options(await self._facts(), self.now) if o.available
        }
        if value not in offered:
            await self._bad_input()
            return
        self._start_service(str(value))
        self.fire("service_chosen")
        await self.enter()

    def _start_service(self, service: str) -> None:
        self.ctx["service"] = service
        self._drop_evidence()
        for key in ("reason", "conditions", "cond_index", "description", "description_message_id"):
            self.ctx.pop(key, None)
        self.ctx["auto"] = [s for s in self.ctx.get("auto", []) if s in _BEFORE_SERVICE]

    # reason ----------------------------------------------------------------------

    async def _reasons(self) -> list[str]:
        _, item = await self._item()
        return self.policy.reasons(self.ctx["service"], item.category)

    async def auto_choose_reason(self) -> bool:
        reasons = await self._reasons()
        if len(reasons) == 1:
            self.ctx["reason"] = reasons[0]
            await self._reason_chosen()
            return True
        return False

    async def ask_choose_reason(self) -> None:
        rows = [[(self.label("labels/reason", reason=r), r)] for r in await self._reasons()]
        rows.append([(self.label("labels/back"), "back")])
        self.ask(self.t("reason/ask", service=self.ctx["service"]), rows)

    async def on_choose_reason(self, value: Any) -> None:
        if value == "back":
            await self._back()
            return
        if value not in await self._reasons():
            await self._bad_input()
            return
        self.ctx["reason"] = value
        await self._reason_chosen()
        await self.enter()

    async def _reason_chosen(self) -> None:
        self.ctx["conditions"] = []
        self.ctx["cond_index"] = 0
        self.fire("reason_chosen")

    # conditions ------------------------------------------------------------------

    async def _condition_queue(self) -> list[str]:
        return self.policy.conditions(
            self.ctx["service"], self.ctx["reason"], await self._facts(), self.now
        )

    async def auto_conditions(self) -> bool:
        if int(self.ctx.get("cond_index", 0)) >= len(await self._condition_queue()):
            self.fire("conditions_done")
            return True
        return False

    async def ask_conditions(self) -> None:
        queue = await self._condition_queue()
        index = min(int(self.ctx.get("cond_index", 0)), len(queue) - 1)
        self.ask(
            self.t("conditions/ask", condition=queue[index], number=index + 1, total=len(queue)),
            [
                [(self.label("labels/yes"), "yes"), (self.label("labels/no"), "no")],
                [(self.label("labels/back"), "back")],
            ],
        )

    async def on_conditions(self, value: Any) -> None:
        if value == "back":
            await self._back()
            return
        if value not in ("yes", "no"):
            await self._bad_input()
            return
        queue = await self._condition_queue()
        index = int(self.ctx.get("cond_index", 0))
        if value == "yes" and index < len(queue):
            self.ctx.setdefault("conditions", []).append(queue[index])
        self.ctx["cond_index"] = index + 1
        if index + 1 >= len(queue):
            self.fire("conditions_done")
            await self.enter()
        else:
            await self.prompt()

    # description -----------------------------------------------------------------

    def _description_optional(self) -> bool:
        return self.ctx.get("reason") in ("no_reason", "size_colour")

    async def ask_describe(self) -> None:
        rows: list[list[tuple[str, Any]]] = []
        if self._description_optional():
            rows.append([(self.label("labels/skip"), "skip")])
        rows.append([(self.label("labels/back"), "back")])
        self.ask(self.t("describe/ask", max=MAX_DESCRIPTION), rows)

    async def on_describe(self, value: Any) -> None:
        if value == "back":
            await self._back()
            return
        if value == "skip" and self._description_optional():
            self.ctx["description"] = ""
        elif self.event.kind == "text":
            text = _clean(self.event.text, keep_newlines=True)
            if len(text) > MAX_DESCRIPTION:
                self.say("describe/too_long", max=MAX_DESCRIPTION, length=len(text))
                await self.prompt()
                return
            if len(text) < 2:
                self.say("describe/too_short")
                await self.prompt()
                return
            self.ctx["description"] = text
            self.ctx["description_message_id"] = self.event.message_id  # an edit replaces it
        else:
            self.say("common/send_text")
            self._edit_target = None
            await self.prompt()
            return
        self.fire("described")
        await self.enter()

    # evidence --------------------------------------------------------------------

    async def _evidence_need(self) -> tuple[str, int]:
        _, item = await self._item()
        need = self.policy.evidence(self.ctx["service"], self.ctx["reason"], item.category)
        return (need.kind, need.count) if need else ("photo", 0)

    async def auto_evidence(self) -> bool:
        _, count = await self._evidence_need()
        if count == 0:
            self.fire("evidence_done")
            return True
        return False

    async def ask_evidence(self) -> None:
        kind, count = await self._evidence_need()
        have = len(self.ctx.get("evidence", []))
        rows: list[list[tuple[str, Any]]] = []
        if have >= count:
            rows.append([(self.label("labels/done"), "done")])
        rows.append([(self.label("labels/back"), "back")])
        text = self.t("evidence/ask", kind=kind, count=count, have=have, max=MAX_EVIDENCE)
        self.ask(text, rows)

    async def on_evidence(self, value: Any) -> None:
        if value == "back":
            await self._back()
            return
        kind, count = await self._evidence_need()
        evidence: list[dict[str, Any]] = self.ctx.setdefault("evidence", [])
        if value == "done":
            if len(evidence) < count:
                self.say("evidence/need_more", missing=count - len(evidence))
                self._edit_target = None
                await self.prompt()
                return
            self.fire("evidence_done")
            await self.enter()
            return
        if self.event.kind != "media":
            if self.event.kind == "text":
                self.say("evidence/send_photos", kind=kind)
            else:
                self.say("common/not_here")
            await self.prompt()
            return
        accepted = [m for m in self.event.media if _accepts(kind, m.kind, m.mime_type)]
        if not accepted:
            self.say("evidence/wrong_kind", kind=kind)
            await self.prompt()
            return
        known = {e["file_unique_id"] for e in evidence}
        for m in accepted:
            if m.file_unique_id in known or len(evidence) >= MAX_EVIDENCE:
                continue
            known.add(m.file_unique_id)
            evidence.append(
                {
                    "kind": m.kind,
                    "file_id": m.file_id,
                    "file_unique_id": m.file_unique_id,
                    "media_group_id": self.event.media_group_id,
                    "local_path": m.local_path,
                    "sha256": m.sha256,
                    "size_bytes": m.size_bytes,
                }
            )
        # One answer, not "received" and then the question again: the question says how
        # many arrived, how many are missing, and offers "Done" once there are enough.
        await self.prompt()

    # summary and decision ----------------------------------------------------------

    async def _claim(self) -> Claim:
        evidence = self.ctx.get("evidence", [])
        reused = await self.shop.evidence_used_elsewhere([e["file_unique_id"] for e in evidence])
        return Claim(
            item=await self._facts(),
            service=self.ctx["service"],
            reason=self.ctx["reason"],
            evidence_count=len(evidence),
            conditions=frozenset(self.ctx.get("conditions", [])),
            evidence_reused=bool(reused),
        )

    async def ask_summary(self) -> None:
        order, item = await self._item()
        decision = self.policy.decide(await self._claim(), self.now)
        self.ask(
            self.t(
                "summary/ask",
                order=order,
                item=item,
                quantity=self.ctx.get("quantity", 1),
                service=self.ctx["service"],
                reason=self.ctx["reason"],
                description=self.ctx.get("description", ""),
                photos=len(self.ctx.get("evidence", [])),
                conditions=self.ctx.get("conditions", []),
                outcome=decision.outcome,
                explanation=self._explain(decision),
            ),
            [
                [(self.label("labels/confirm"), "confirm")],
                [(self.label("labels/back"), "back"), (self.label("labels/cancel"), "cancel")],
            ],
        )

    def _explain(self, decision: Decision) -> str:
        return self.t(decision.explanation.key, **decision.explanation.values)

    async def on_summary(self, value: Any) -> None:
        if value == "back":
            await self._back()
            return
        if value == "cancel":
            self.say("common/cancelled")
            await self._to_start(welcome=False)
            return
        if value != "confirm":
            await self._bad_input()
            return
        await self._submit()

    async def _submit(self) -> None:
        order, item = await self._item()
        claim = await self._claim()
        decision = self.policy.decide(claim, self.now)
        status = {"approve": "approved", "reject": "rejected"}.get(
            decision.outcome, "pending_review"
        )
        goods_back = decision.outcome == "approve" and self.ctx["service"] in GOODS_COME_BACK
        case = await self.shop.create_case(
            NewCase(
                order_id=order.id,
                item_id=item.id,
                order_no=order.order_no,
                item_name=item.name,
                customer_id=order.customer_id,
                quantity=int(self.ctx.get("quantity", 1)),
                service=self.ctx["service"],
                reason=self.ctx["reason"],
                description=self.ctx.get("description", ""),
                status=status,
                outcome=decision.outcome,
                rules=list(decision.rules),
                explanation_key=decision.explanation.key,
                explanation_values=_jsonable(decision.explanation.values),
                alternatives=list(decision.alternatives),
                shipping_paid_by=decision.shipping_paid_by,
                return_address=self.info.return_address if goods_back else None,
                deadline_at=decision.deadline,
                needs_agent_reason=", ".join(decision.rules)
                if decision.outcome == "needs_agent"
                else None,
                locale=self.conv.locale,
                conditions=list(claim.conditions),
                evidence=list(self.ctx.get("evidence", [])),
            ),
            self.now,
        )
        self.fire("confirmed")
        quantity = self.ctx.get("quantity", 1)
        self._clear_draft(files_kept=True)  # the case's evidence now
        # Kept so that one tap on an alternative restarts the same item with another service.
        self.ctx.update(
            case_id=case.id,
            alternatives=list(decision.alternatives),
            order_id=order.id,
            item_id=item.id,
            quantity=quantity,
        )
        self._edit_target = None
        self.say(
            f"case/{decision.outcome}",
            case=case,
            item=item,
            service=case.service,
            explanation=self._explain(decision),
            deadline=decision.deadline,
            shipping_paid_by=decision.shipping_paid_by,
            goods_back=goods_back,
            address=self.info.return_address,
            conditions=list(
                self.policy.conditions(case.service, case.reason, claim.item, self.now)
            ),
        )
        await self.prompt()

    async def ask_case_done(self) -> None:
        rows: list[list[tuple[str, Any]]] = [
            [(self.label("labels/alternative", service=s), f"alt:{s}")]
            for s in self.ctx.get("alternatives", [])
        ]
        rows.append([(self.label("labels/menu"), "menu")])
        self.ask(self.t("case/next"), rows)

    async def on_case_done(self, value: Any) -> None:
        if isinstance(value, str) and value.startswith("alt:"):
            service = value[4:]
            if service in self.ctx.get("alternatives", []) and self.ctx.get("item_id"):
                self._start_service(service)
                self.ctx.pop("alternatives", None)
                self.ctx.pop("case_id", None)
                self.fire("alternative_chosen")
                await self.enter()
                return
        if value == "menu":
            await self._to_start(welcome=False)
            return
        await self._bad_input()

    # with a person -------------------------------------------------------------------

    async def ask_with_agent(self) -> None:
        self.ask(self.t("human/ask"), [[(self.label("labels/menu"), "menu")]])

    async def on_with_agent(self, value: Any) -> None:
        if value == "menu":
            await self._to_start(welcome=False)
            return
        if self.event.kind in ("text", "media"):
            # Relayed to the agents' group by the agents' feature; kept on the latest case.
            cases = await self.shop.cases(self.conv.customer_id or 0, 1)
            if cases:
                await self.shop.add_case_event(
                    cases[0].id,
                    "customer",
                    "message",
                    {"text": _clean(self.event.text, keep_newlines=True)[:MAX_DESCRIPTION]},
                    self.now,
                )
            self.say("human/received")
            return
        await self._bad_input()


_STALE = object()
_BEFORE_SERVICE = {S.CHOOSE_ITEM.value, S.CHOOSE_QUANTITY.value}
_AFTER_DESCRIPTION = {S.EVIDENCE, S.SUMMARY}


def _accepts(wanted: str, kind: str, mime: str | None) -> bool:
    is_image = kind == "photo" or (kind == "document" and (mime or "").startswith("image/"))
    is_video = kind == "video" or (kind == "document" and (mime or "").startswith("video/"))
    if wanted == "video":
        return is_video
    if wanted == "photo_or_video":
        return is_image or is_video
    return is_image  # photo, proof_of_purchase (a photo of the receipt)


def _clean(text: str, *, keep_newlines: bool = False) -> str:
    """Drop control characters (keeping emoji and CJK); collapse surrounding space."""
    kept = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            kept.append(ch)
        elif unicodedata.category(ch)[0] == "C" and ch not in "\u200d":
            continue
        else:
            kept.append(ch)
    return "".join(kept).strip()


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, Decimal):
            out[key] = str(value)
        else:
            out[key] = value
    return out


class Conversations:
    """Builds a `Turn` per event with the long-lived collaborators (policy, texts, flow)."""

    def __init__(
        self,
        *,
        policy: Policy,
        texts: Texts,
        clock: Clock,
        info: ShopInfo,
        flow: Flow | None = None,
    ) -> None:
        self.policy = policy
        self.texts = texts
        self.clock = clock
        self.info = info
        self.flow = flow or Flow()

    async def handle(
        self, conv: ConversationState, event: Event, shop: ShopPort, now: datetime | None = None
    ) -> list[Outgoing]:
        """`now`: the instant of the caller's transaction (default: the clock's now)."""
        turn = Turn(
            conv,
            event,
            shop=shop,
            policy=self.policy,
            texts=self.texts,
            flow=self.flow,
            clock=self.clock,
            info=self.info,
            now=now,
        )
        return await turn.run()

    def claims_since(self, now: datetime) -> datetime:
        return claims_since(self.policy, now)


def claims_since(policy: Policy, now: datetime) -> datetime:
    """Since when a customer's cases count as recent claims (a policy fact)."""
    return now - timedelta(days=policy.repeat_claims_days)
