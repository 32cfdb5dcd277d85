"""What an agent (or a supervisor) does to a case, button or command alike.

Every action: checked against the desk or dispute table and against who holds the case,
recorded as a case event with the agent's id, the card edited in place, the customer told in
their language where it concerns them. A refused action returns the key of its one-line
refusal and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dialogs.events import Button, Event, Reply, Resume
from dialogs.lifecycle import clocks as lifecycle_clocks
from dialogs.lifecycle.machine import LIFECYCLE, SHOP, approved_status, path_of
from dialogs.lifecycle.steps import Lifecycle, Refused, Step
from dialogs.policy import Policy
from storage.domain import Actor, CaseStatus, Desk, Dispute, Outcome
from storage.views import CaseView

from . import card as cards
from .desk import DESK, DISPUTE
from .topic import TopicWriter

GOODS_COME_BACK = ("return", "exchange", "repair")
DISPUTE_ACTIONS = ("accept", "investigate", "resolve")
ANSWER_CLOCKS = ["first_response", "first_response_half"]
# Actions only the case's owner (or a supervisor) may take once somebody owns it.
DECISIONS = ("approve", "reject", "offer")  # of a request; a question is answered instead
OWNERS_ONLY = ("approve", "reject", "offer", "ask", "hand_back", "close")
# The shop's steps of the case's life after the decision, typed in its topic (dialogs/lifecycle).
LIFECYCLE_COMMANDS = ("received", "inspected", "refunded", "shipped", "waybill", "unrepairable")


def typed_step(command: str, arg: str, user_id: int) -> Step | None:
    """The lifecycle step a command typed in a case's topic asks for, or None when it is not
    typed as `/help` shows: `/received [note]`, `/inspected ok [note]`, `/inspected fail note`,
    `/refunded [amount] [note]`, `/shipped CARRIER NUMBER`, `/waybill CARRIER NUMBER`,
    `/unrepairable exchange|refund [note]`, `/close [note]`."""
    head, _, rest = arg.strip().partition(" ")
    head, rest = head.strip(), rest.strip()

    def step(trigger: str, **values: Any) -> Step:
        return Step(trigger, by=SHOP, actor_id=user_id, via="topic", **values)

    if command in ("received", "close"):
        return step(command, note=arg.strip())
    if command == "inspected":
        verdict = {"ok": "inspected_ok", "fail": "inspected_fail"}.get(head.lower())
        return step(verdict, note=rest) if verdict else None
    if command == "refunded":
        return step("refunded", amount=head or None, note=rest)
    if command in ("shipped", "waybill"):
        # The number may be typed as printed, in groups: `/shipped sf SF 1234 5678 9012 3`.
        return step(command, carrier=head.lower(), number=rest) if head and rest else None
    if command == "unrepairable":
        return step(command, resolution=head.lower(), note=rest) if head else None
    return None


class Actions:
    def __init__(self, writer: TopicWriter, policy: Policy, returns: Any,
                 lifecycle: Lifecycle | None = None) -> None:  # fmt: skip
        self.writer = writer
        self.shop = writer.shop
        self.policy = policy
        self.returns = returns  # dialogs.customer.ReturnAddress, for approvals
        self.lifecycle = lifecycle

    @property
    def now(self) -> datetime:
        return self.writer.now

    async def run(self, case: CaseView, action: str, choice: str, words: str, event: Event,
                  role: str, *, on_card: bool) -> str | None:  # fmt: skip
        """Do `action`; None when done, else the key of the refusal."""
        if action == "card":
            await self.writer.card(case, new=not on_card)
            return None
        if action == "evidence":  # posted again on an agent's tap (it costs the group's budget)
            found = await self.shop.case_card(case.id)
            if not found or not found.evidence:
                return "desk/no_evidence"
            await self.writer.evidence(case, found.evidence)
            return None
        if action == "order":
            return await self._suggest_order(case, words, event)
        if action in DISPUTE_ACTIONS:
            if role != "supervisor":
                return "desk/supervisors_only"
            if not DISPUTE.can(case.dispute, action):
                return "desk/not_now"
            return await self._dispute(case, action, words, event)
        if not DESK.can(case.desk, action):
            return "desk/not_now"
        if action in DECISIONS and case.kind != "request":
            return "desk/question_no_decision"
        owner = case.owner_id
        others = owner is not None and owner != event.user_id and role != "supervisor"
        if others and (action == "take" or action in OWNERS_ONLY):
            return "desk/owned_by_other"
        if action == "take":
            await self._take(case, event)
            return None
        if action == "reject" and not choice and not words:
            if on_card:  # the card shows the reasons to pick from
                await self._edit_card(
                    case, cards.reject_buttons(self.writer.texts, self.writer.info.locale, case)
                )
                return None
            return "desk/type_reject"
        if action == "offer" and (not choice or choice == "bad_amount"):
            if choice == "bad_amount" or not on_card:
                return "desk/type_offer"
            services = [s for s in self.policy.services() if s != case.service]
            await self._edit_card(
                case,
                cards.offer_buttons(self.writer.texts, self.writer.info.locale, case, services),
            )
            return None
        if action == "ask" and not words:
            return "desk/type_ask"
        handler = {
            "approve": self._approve, "reject": self._reject, "offer": self._offer,
            "ask": self._ask, "hand_back": self._hand_back, "close": self._close,
        }[action]  # fmt: skip
        await handler(case, choice, words, event)
        return None

    # --- the case's life after the decision ---------------------------------------------------

    def closes_by_lifecycle(self, case: CaseView) -> bool:
        """A finished or refused request is closed by its lifecycle (the customer is told and
        asked to rate it); anything else by the desk."""
        path = path_of(case.service, case.details.get("resolution"))
        closes = LIFECYCLE.step(case.status, "close", path, SHOP) is not None
        return case.kind == "request" and closes

    async def step(self, case: CaseView, step: Step) -> None:
        """A step of the case's life, typed in its topic; `Refused` (nothing written) if the
        case cannot take it."""
        if self.lifecycle is None:
            raise Refused("not_now", case_no=case.case_no, status=case.status,
                          trigger=step.trigger)  # fmt: skip
        await self.lifecycle.apply(self.shop, case, step, self.now, self.writer.out)

    # --- helpers ------------------------------------------------------------------------------

    async def _agent(self, event: Event, role: str) -> int:
        return await self.shop.agent_id(event.user_id, event.user_name or str(event.user_id), role)

    async def _event(self, case: CaseView, what: str, event: Event, **data: Any) -> None:
        await self.shop.add_case_event(case.id, Actor.AGENT, what, data, self.now, event.user_id)

    async def _edit_card(self, case: CaseView, rows: list[list[Button]]) -> None:
        found = await self.shop.case_card(case.id)
        if found is None:
            return
        answer_by = await self.writer.answer_by(case.id)
        text = cards.card_text(self.writer.texts, self.writer.info.locale, found, answer_by)
        buttons = [[{"text": b.text, "data": b.data} for b in row] for row in rows]
        await self.writer.post(case, {"kind": "message", "text": text, "buttons": buttons,
                                      "edit_card": True})  # fmt: skip

    def _tell(self, case: CaseView, key: str, buttons: list[list[Button]] | None = None,
              **values: Any) -> None:  # fmt: skip
        if case.chat_id is None:
            return
        text = self.writer.texts.render(case.locale, key, case=case, **values)
        self.writer.out.append(Reply(case.chat_id, str(text), buttons or []))

    def _complain_button(self, case: CaseView) -> list[list[Button]]:
        """Under a decision: complain about it (once per case), or carry on with the bot."""
        texts = self.writer.texts
        rows = [[Button(texts.plain(case.locale, "labels/menu"), "g:menu")]]
        if case.dispute is None:
            rows.insert(0, [Button(texts.plain(case.locale, "labels/complain"),
                                   f"g:complain:{case.id}")])  # fmt: skip
        return rows

    async def _change(self, case: CaseView, event: Event, role: str = "agent",
                      **values: Any) -> CaseView:  # fmt: skip
        """Change the case; the agent who acts owns it from then on, and has answered."""
        if case.owner_id is None:
            values["assigned_agent_id"] = await self._agent(event, role)
        if case.first_response_at is None:
            values["first_response_at"] = self.now
            await self.shop.cancel_timers(case.id, ANSWER_CLOCKS, self.now)
        return await self.shop.update_case(case.id, self.now, **values)

    # --- the desk -----------------------------------------------------------------------------

    async def _take(self, case: CaseView, event: Event) -> None:
        agent = await self._agent(event, "agent")
        case = await self.shop.update_case(case.id, self.now, desk=Desk.TAKEN.value,
                                           assigned_agent_id=agent)  # fmt: skip
        await self._event(case, "taken", event)
        await self.writer.say(case, "desk/taken", join=True, agent=event.user_name or "")
        await self.writer.card(case, new=False)

    async def answered(self, case: CaseView, event: Event) -> None:
        """An agent wrote to the customer: the first answer stops the answer-by clock, and an
        unowned case becomes the writer's."""
        values: dict[str, Any] = {}
        if case.desk == Desk.QUEUED:
            values["desk"] = Desk.TAKEN.value
        if values or case.owner_id is None or case.first_response_at is None:
            changed = await self._change(case, event, **values)
            if changed.owner_id != case.owner_id or changed.desk != case.desk:
                await self.writer.card(changed, new=False)

    async def note(self, case: CaseView, event: Event, text: str) -> None:
        """Internal: kept in the topic and the audit trail, never sent to the customer."""
        await self._event(case, "note", event, text=text[:2000])

    async def _approve(self, case: CaseView, _choice: str, words: str, event: Event) -> None:
        case = await self._change(
            case, event, desk=Desk.DECIDED.value, outcome=Outcome.APPROVE.value,
            status=approved_status(case.service, case.details.get("resolution")),
        )  # fmt: skip
        await self._event(case, "approved", event, note=words)
        case = await lifecycle_clocks.after_step(self.shop, self.policy, case, "approve", self.now)
        self._tell_approved(case, words)
        await self._done_with(case)

    def _tell_approved(self, case: CaseView, words: str, *, refund: str | None = None) -> None:
        goods_back = case.service in GOODS_COME_BACK and refund is None
        address = recipient = phone = ""
        if goods_back and self.returns is not None:
            # dialogs.customer.Warehouses: the case's warehouse (or one ReturnAddress)
            returns = self.returns.get(case.warehouse) if hasattr(self.returns, "get") else (
                self.returns)  # fmt: skip
            address, recipient = returns.for_locale(case.locale)
            phone = returns.phone
        # The ship-back clock's deadline, kept on the case when the approval started it.
        ship_by = (lifecycle_clocks.ship_by(case) or self.policy.sla_deadline(
            "ship_back", self.now)) if goods_back else None  # fmt: skip
        rows = self._complain_button(case)
        if case.status == CaseStatus.AWAITING_RETURN:
            label = self.writer.texts.plain(case.locale, "labels/enter_waybill")
            rows.insert(0, [Button(label, f"lc:waybill:{case.id}")])
        self._tell(case, "person/approved", rows, words=words, goods_back=goods_back,
                   address=address, recipient=recipient, phone=phone, ship_by=ship_by,
                   refund=refund)  # fmt: skip

    async def _reject(self, case: CaseView, choice: str, words: str, event: Event) -> None:
        case = await self._change(
            case, event, desk=Desk.DECIDED.value, status=CaseStatus.REJECTED.value,
            outcome=Outcome.REJECT.value,
        )  # fmt: skip
        await self._event(case, "rejected", event, reason=choice, text=words)
        self._tell(case, "person/rejected", self._complain_button(case), reason=choice,
                   words=words)  # fmt: skip
        await self._done_with(case)

    async def _offer(self, case: CaseView, choice: str, _words: str, event: Event) -> None:
        offer: dict[str, Any]
        if choice.startswith("refund="):
            offer = {"kind": "partial_refund", "amount": choice.partition("=")[2]}
        else:
            offer = {"kind": "service", "service": choice}
        found = await self.shop.case_card(case.id)
        details = {**(found.details if found else {}), "offer": offer}
        case = await self._change(case, event, desk=Desk.OFFERED.value, details=details)
        await self._event(case, "offered", event, offer=offer)
        texts = self.writer.texts
        rows = [[
            Button(texts.plain(case.locale, "labels/accept"), f"g:offer:yes:{case.id}"),
            Button(texts.plain(case.locale, "labels/decline"), f"g:offer:no:{case.id}"),
        ]]  # fmt: skip
        currency = found.currency if found else "CNY"
        self._tell(case, "person/offer", rows, offer=offer, currency=currency)
        await self.writer.card(case, new=False)

    async def _ask(self, case: CaseView, _choice: str, words: str, event: Event) -> None:
        case = await self._change(case, event, desk=Desk.ASKED.value,
                                  status=CaseStatus.INFO_REQUESTED.value)  # fmt: skip
        await self._event(case, "info_requested", event, text=words)
        self._tell(case, "person/asked", question=words)
        await self.writer.card(case, new=False)

    async def _hand_back(self, case: CaseView, _choice: str, words: str, event: Event) -> None:
        case = await self._change(case, event, desk=Desk.RETURNED.value)
        await self._event(case, "handed_back", event, text=words)
        self._tell(case, "person/handed_back", self._complain_button(case)[-1:], words=words)
        await self._done_with(case)

    async def _close(self, case: CaseView, _choice: str, words: str, event: Event) -> None:
        case = await self._change(case, event, desk=Desk.CLOSED.value,
                                  status=CaseStatus.CLOSED.value)  # fmt: skip
        await self._event(case, "closed", event, text=words)
        self._tell(case, "person/closed", self._complain_button(case)[-1:], words=words)
        await self._done_with(case)
        await self.writer.post(case, {"kind": "topic_state", "closed": True})

    async def _done_with(self, case: CaseView) -> None:
        """The person is done: the card shows it, the bot has the customer's chat again."""
        await self.writer.card(case, new=False)
        if case.chat_id is not None:
            self.writer.out.append(Resume(case.chat_id))

    async def _suggest_order(self, case: CaseView, order_no: str, event: Event) -> str | None:
        """A question about an order: the customer gets one tap that starts a request for it
        (the bot then asks item, service, reason and evidence as for any request)."""
        if case.kind != "question":
            return "desk/not_now"
        order = await self.shop.order_by_no(order_no.strip()) if order_no.strip() else None
        if order is None or order.customer_id != case.customer_id:
            return "desk/order_not_theirs"
        await self._event(case, "order_suggested", event, order_no=order.order_no)
        label = self.writer.texts.plain(case.locale, "labels/start_request")
        self._tell(case, "person/order_suggested", [[Button(label, f"g:order:{order.id}")]],
                   order_no=order.order_no)  # fmt: skip
        await self.writer.say(case, "desk/order_suggested", join=True, order_no=order.order_no)
        return None

    # --- complaints (supervisors) -------------------------------------------------------------

    async def _dispute(self, case: CaseView, action: str, words: str, event: Event) -> str | None:
        after = DISPUTE.after(case.dispute, action)
        values: dict[str, Any] = {"dispute": after}
        if after == Dispute.RESOLVED:
            if not words:
                return "desk/type_resolve"
            values["desk"] = Desk.DECIDED.value
            found = await self.shop.case_card(case.id)
            # The case stands as it did before the complaint, unless the supervisor changes it.
            values["status"] = (found.details if found else {}).get(
                "status_before_dispute", CaseStatus.CLOSED.value
            )
        case = await self._change(case, event, "supervisor", **values)
        await self._event(case, f"dispute_{after}", event, text=words)
        timeline = await self.timeline(case)
        rows = self._complain_button(case)[-1:] if after == Dispute.RESOLVED else []
        self._tell(case, f"person/complaint_{after}", rows, words=words, timeline=timeline)
        await self.writer.card(case, new=False)
        if after == Dispute.RESOLVED and case.chat_id is not None:
            self.writer.out.append(Resume(case.chat_id))
        return None

    async def timeline(self, case: CaseView) -> list[tuple[str, datetime]]:
        """The complaint's steps so far, with when each happened."""
        events = await self.shop.case_events(case.id)
        return [(e.kind.removeprefix("dispute_"), e.at) for e in events
                if e.kind.startswith("dispute_")]  # fmt: skip
