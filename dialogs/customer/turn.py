"""One event of one customer conversation: read the input, move the flow, say what is next.

No Telegram and no SQL: data comes through `ShopPort`, decisions from the policy, every sentence
from templates. The flow table (`dialogs/flow.py`) decides which moves exist; the step modules
(`dialogs/customer/steps.py` lists them) turn input into a trigger and ask each state's
question. Invalid input never fires a trigger, so it changes nothing but the polite answer.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dialogs.agents.topic import DeskInfo, TopicWriter
from dialogs.events import Button, CallbackAnswer, Discard, Event, Outgoing, Reply
from dialogs.faq import Faq
from dialogs.flow import Flow, State
from dialogs.lifecycle.steps import Lifecycle
from dialogs.links import LinkSigner
from dialogs.policy import Policy
from dialogs.policy.types import Decision, ItemFacts
from dialogs.shop import ShopPort
from dialogs.texts import Texts
from storage.views import ItemView, OrderView

from .state import CaseStep, Context, ConversationState, Draft

S = State
Options = list[list[tuple[str, Any]]]
STALE = object()  # a button of a question no longer on screen
# Buttons that stand for themselves, valid whatever question is on screen: the bot's own
# (g:), a case's next step (lc:, its case id checked to be the customer's), the survey (sv:).
STANDING = ("g:", "lc:", "sv:")
MAIN_WAREHOUSE = "main"


@dataclass(frozen=True)
class ReturnAddress:
    """Where goods come back to, in each language (Chinese shown to a Chinese customer)."""

    address: dict[str, str]
    recipient: dict[str, str]
    phone: str

    def for_locale(self, locale: str) -> tuple[str, str]:
        """(address, recipient) in the customer's language, else the first given."""
        first = next(iter(self.address))
        return (self.address.get(locale, self.address[first]),
                self.recipient.get(locale, self.recipient.get(first, "")))  # fmt: skip

    def line(self, locale: str) -> str:
        """The whole address as one line, as it is kept on the case."""
        address, recipient = self.for_locale(locale)
        return f"{address} {recipient} {self.phone}".strip()


@dataclass(frozen=True)
class Warehouses:
    """Where goods come back to, by warehouse code (the WAREHOUSES setting); `default` takes
    what no profile, service or category sends elsewhere."""

    by_code: Mapping[str, ReturnAddress]
    default: str = MAIN_WAREHOUSE

    @classmethod
    def one(cls, returns: ReturnAddress) -> Warehouses:
        """A shop with one warehouse, `main` (the RETURN_ADDRESS* settings)."""
        return cls({MAIN_WAREHOUSE: returns})

    def code(self, wanted: str | None) -> str:
        """A known warehouse code: `wanted`, else the default."""
        return wanted if wanted in self.by_code else self.default

    def get(self, code: str | None) -> ReturnAddress:
        return self.by_code[self.code(code)]


@dataclass(frozen=True)
class ShopInfo:
    returns: ReturnAddress  # the default warehouse's address
    shop_name: str = ""
    links: LinkSigner | None = None
    desk: DeskInfo = field(default_factory=DeskInfo)  # the agents' groups and people
    faq: Faq | None = None  # first-line answers, tried before a person is asked
    warehouses: Warehouses | None = None  # None: `returns` is the one warehouse, main
    lifecycle: Lifecycle | None = None  # the case's steps the customer takes (waybill, cancel)

    @property
    def stock(self) -> Warehouses:
        return self.warehouses or Warehouses.one(self.returns)


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
        info: ShopInfo,
        now: datetime,
    ) -> None:
        self.conv = conv
        self.ctx: Context = conv.context
        self.event = event
        self.shop = shop
        self.policy = policy
        self.texts = texts
        self.flow = flow
        self.now = now
        self.info = info
        self.out: list[Outgoing] = []
        self._order: OrderView | None = None  # one load per turn, however many steps
        self._claims = 0  # the customer's standing claims, read with the order
        self._facts: tuple[tuple[int, int], ItemFacts] | None = None
        # A pressed button's message is edited in place by the next question (no piling up).
        self.edit_target = event.message_id if event.kind == "button" else None
        self.missed = False  # this input was not understood

    @property
    def desk(self) -> TopicWriter:
        """Writes into the case's topic in the agents' group (same outgoing list)."""
        return TopicWriter(self.shop, self.texts, self.info.desk, self.now, self.out)

    @property
    def draft(self) -> Draft:
        return self.ctx.draft

    @property
    def state(self) -> State:
        return State(self.conv.state)

    @property
    def identified(self) -> bool:
        return self.conv.customer_id is not None

    # --- output -----------------------------------------------------------------------------

    def t(self, key: str, **values: Any) -> str:
        return self.texts.render(self.conv.locale, key, **values)

    def label(self, key: str, **values: Any) -> str:
        return self.texts.plain(self.conv.locale, key, **values)

    def say(self, key: str, **values: Any) -> None:
        self.out.append(Reply(self.event.chat_id, self.t(key, **values)))

    def ask(self, text: str, options: Options | None = None, *, contact_button: str | None = None
            ) -> None:  # fmt: skip
        """Send a question with buttons. Each button carries an opaque key valid for this
        question only (nonce): the value it stands for stays on our side, so a forged or old
        button can never name someone else's order."""
        self.ctx.nonce += 1
        opts: dict[str, Any] = {}
        rows: list[list[Button]] = []
        for row in options or []:
            buttons = []
            for label, value in row:
                key = str(len(opts))
                opts[key] = value
                buttons.append(Button(label, f"{self.ctx.nonce:x}:{key}"))
            rows.append(buttons)
        self.ctx.opts = opts
        edit = self.edit_target if not contact_button else None
        self.edit_target = None
        self.out.append(
            Reply(
                self.event.chat_id, text, rows, contact_button=contact_button, edit_message_id=edit
            )
        )

    def back_row(self) -> list[tuple[str, Any]]:
        return [(self.label("labels/back"), "back")]

    def explain(self, decision: Decision) -> str:
        return self.t(decision.explanation.key, **decision.explanation.values)

    def discard(self, paths: Iterable[str | None]) -> None:
        found = tuple(p for p in paths if p)
        if found:
            self.out.append(Discard(found))

    def drop_draft(self, *, files_kept: bool = False) -> Draft:
        """A fresh draft; the old one's photos are deleted unless a case keeps them."""
        if not files_kept:
            self.discard(e.get("local_path") for e in self.draft.evidence)
        return self.ctx.new_draft()

    # --- moving -----------------------------------------------------------------------------

    def fire(self, trigger: str) -> None:
        self.conv.state = self.flow.fire(self.conv.state, trigger)

    async def prompt(self) -> None:
        """Ask the question of the current state (again)."""
        from .steps import STEPS

        await STEPS[self.state].ask(self)

    async def enter(self) -> None:
        """Arrive in the current state: answer it automatically when there is no choice."""
        from .steps import STEPS

        here = self.conv.state
        auto = STEPS[self.state].auto
        if auto is not None and await auto(self):
            self.draft.auto.append(here)
            await self.enter()
            return
        await self.prompt()

    async def back(self) -> None:
        if not self.flow.can(self.conv.state, "back"):
            await self.prompt()
            return
        before = self.state
        self.fire("back")
        # Steps that were answered for the customer (one item, quantity 1, ...) are skipped.
        while self.conv.state in self.draft.auto and self.flow.can(self.conv.state, "back"):
            self.draft.auto.remove(self.conv.state)
            self.fire("back")
        if self.state is before:
            self.say("common/nothing_to_go_back")
        if self.state is S.CONDITIONS:
            self.draft.conditions, self.draft.declined, self.draft.cond_index = [], [], 0
        await self.prompt()

    async def to_start(self, *, welcome: bool) -> None:
        """Back to the beginning: the menu, or identification for a stranger."""
        from .identify import follow_link

        self.drop_draft()
        self.ctx.case_id, self.ctx.alternatives = None, []
        self.ctx.step = CaseStep()
        if not self.identified:
            if self.state is not S.IDENTIFY:
                self.fire("restart")
            if welcome:
                self.say("identify/welcome", shop=self.info.shop_name)
            await self.prompt()
            return
        self.fire("to_menu")
        if await follow_link(self):
            return
        await self.prompt()

    async def bad_input(self, key: str | None = None, **values: Any) -> None:
        """A short, polite word; the question stays where it is on screen (not sent again),
        unless the input was a button of it, which leaves nothing to look at."""
        self.missed = True
        if key is not None:
            self.say(key, **values)
        elif self.event.kind == "text":
            self.say("common/use_buttons")
        elif self.event.kind in ("media", "contact"):
            self.say("common/not_here")
        else:
            self.say("common/use_buttons")
        self.edit_target = None

    # --- the request's order and item (read once per turn) ----------------------------------

    async def order(self) -> OrderView:
        order_id = self.draft.order_id
        assert order_id is not None
        if self._order is None or self._order.id != order_id:
            # With the customer's standing claims, which the policy facts need on most of the
            # same turns: one look at the shop instead of two.
            order, claims = await self.shop.order_with_claims(order_id, self.claims_since)
            assert order is not None and order.customer_id == self.conv.customer_id
            self._order, self._claims = order, claims
        return self._order

    @property
    def claims_since(self) -> datetime:
        return claims_since(self.policy, self.now)

    async def item(self) -> tuple[OrderView, ItemView]:
        order = await self.order()
        return order, next(i for i in order.items if i.id == self.draft.item_id)

    async def facts(self) -> ItemFacts:
        order, item = await self.item()
        key = (item.id, self.draft.quantity)
        if self._facts is None or self._facts[0] != key:
            facts = ItemFacts(
                category=item.category,
                purchased_at=order.placed_at,
                paid_at=order.paid_at,
                shipped_at=order.shipped_at,
                delivered_at=order.delivered_at,
                payment=order.payment_method,
                price=item.unit_price * self.draft.quantity,
                order_value=order.total,
                prior_claims=self._claims,
            )
            self._facts = (key, facts)
        return self._facts[1]

    # --- buttons ----------------------------------------------------------------------------

    def button_value(self, data: str) -> Any:
        if data.startswith(STANDING):
            return data
        nonce, _, key = data.partition(":")
        if nonce != f"{self.ctx.nonce:x}" or key not in self.ctx.opts:
            return STALE
        return self.ctx.opts[key]

    def answer_button(self, stale: bool) -> None:
        text = self.label("common/stale_button") if stale else None
        self.out.append(CallbackAnswer(self.event.chat_id, self.event.callback_id or "", text))


def clean(text: str, *, keep_newlines: bool = False) -> str:
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


def claims_since(policy: Policy, now: datetime) -> datetime:
    """The start of the window in which a customer's earlier claims count against a new one."""
    return now - timedelta(days=policy.repeat_claims_days)
