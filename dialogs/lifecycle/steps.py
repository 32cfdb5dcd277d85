"""One step of a case's life after the decision, whoever takes it: the customer (a waybill, a
cancellation), the shop (CLI, HTTP API, a command in the case's topic), a carrier's tracking
update, or a clock.

Pure: the shop through `ShopPort`, words from templates. A step is checked against the
lifecycle table (`machine.py`) and its own rules (a waybill's format, a refund's amount); a
refused step raises `Refused` before anything is written, so the unit of work keeps nothing.
A step taken is: the case changed, one case event with who took it, the customer told in
their language, a line in the case's topic where it has one, and its clocks started or
stopped (`clocks.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from dialogs.agents.topic import DeskInfo, TopicWriter
from dialogs.events import Button, Outgoing, Reply, Resume
from dialogs.policy import Policy
from dialogs.shop import ShopPort
from dialogs.texts import Texts
from storage.domain import Actor, CaseStatus, Desk, Service
from storage.views import CaseView

from . import carriers as carrier_table
from . import clocks, survey
from .machine import CUSTOMER, LIFECYCLE, PARTIAL_REFUND, SHOP, SYSTEM, path_of

ACTOR_OF = {CUSTOMER: Actor.CUSTOMER, SHOP: Actor.AGENT, SYSTEM: Actor.SYSTEM, "bot": Actor.BOT}


class Refused(Exception):
    """The step cannot be taken: `code` for machines (the HTTP API's `error`), `key` and
    `values` for the sentence (`lifecycle/refused_<key>`)."""

    def __init__(self, code: str, **values: Any) -> None:
        super().__init__(code)
        self.code = code
        self.values = values

    def text(self, texts: Texts, locale: str) -> str:
        return texts.plain(locale, f"lifecycle/refused_{self.code}", **self.values)


@dataclass(frozen=True, slots=True)
class Step:
    """What is asked: the trigger (machine.TRIGGERS), who asks, and what it needs."""

    trigger: str
    by: str = SHOP  # machine.SHOP | CUSTOMER | SYSTEM
    actor_id: int | None = None  # the agent's (or customer's) Telegram user id, if any
    via: str = ""  # cli, api, topic, tracking, chat, clock: kept in the case event
    carrier: str | None = None
    number: str | None = None  # a waybill number
    amount: str | None = None  # a refund's amount, as typed
    note: str = ""
    resolution: str | None = None  # unrepairable: "exchange" or "refund"
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. a pickup's day and window


@dataclass
class Lifecycle:
    texts: Texts
    policy: Policy
    desk: DeskInfo = field(default_factory=DeskInfo)

    async def apply(self, shop: ShopPort, case: CaseView, step: Step, now: datetime,
                    out: list[Outgoing] | None = None) -> CaseView:  # fmt: skip
        """Take the step or raise `Refused`; what is to be sent goes to `out`."""
        out = out if out is not None else []
        if case.kind != "request":
            raise Refused("not_a_request", case_no=case.case_no)
        path = path_of(case.service, case.details.get("resolution"))
        dest = LIFECYCLE.step(case.status, step.trigger, path, step.by)
        if dest is None:
            raise Refused("not_now", case_no=case.case_no, status=case.status,
                          trigger=step.trigger)  # fmt: skip
        values, data, told = await self._effects(shop, case, step, now)
        if dest != case.status:
            values["status"] = dest
        if dest == CaseStatus.CLOSED:
            values["closed_at"] = now
        ended = dest in (CaseStatus.CLOSED, CaseStatus.CANCELLED)
        if ended and case.desk not in (None, Desk.CLOSED):
            values["desk"] = Desk.CLOSED.value
        changed = await shop.update_case(case.id, now, **values)
        if step.via:
            data["via"] = step.via
        if step.note:
            data["note"] = step.note[:2000]
        await shop.add_case_event(case.id, ACTOR_OF.get(step.by, Actor.SYSTEM), step.trigger,
                                  data, now, step.actor_id)  # fmt: skip
        changed = await clocks.after_step(shop, self.policy, changed, step.trigger, now)
        self._tell(changed, step, out, told)
        if dest == CaseStatus.CLOSED:
            await survey.ask(shop, self.texts, changed, now, out)
        writer = TopicWriter(shop, self.texts, self.desk, now, out)
        if changed.agent_chat_id is not None:
            await writer.say(changed, "desk/lifecycle", join=True, trigger=step.trigger,
                             by=step.by, via=step.via, **{**told, "note": step.note})  # fmt: skip
            if changed.card_message_id is not None:
                await writer.card(changed, new=False)
            if ended and changed.topic_id:  # nothing more to do there, from wherever it closed
                await writer.post(changed, {"kind": "topic_state", "closed": True})
        if ended and changed.chat_id is not None:
            out.append(Resume(changed.chat_id))  # a person had the chat: the bot has it again
        return changed

    # --- what each step changes ---------------------------------------------------------------

    async def _effects(self, shop: ShopPort, case: CaseView, step: Step, now: datetime
                       ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:  # fmt: skip
        """(columns to set, the event's data, values for the customer's message)."""
        trigger = step.trigger
        if trigger == "waybill":
            return await self._waybill(shop, case, step)
        if trigger == "shipped":
            found, number = _parcel(step)
            outbound = {"carrier": found.code, "waybill": number, "at": now.isoformat()}
            told = {"carrier": found.name, "number": number}
            return ({"details": {**case.details, "outbound": outbound}},
                    {"carrier": found.code, "waybill": number}, told)  # fmt: skip
        if trigger == "refunded":
            return await self._refund(shop, case, step, now)
        if trigger == "unrepairable":
            if step.resolution not in (Service.EXCHANGE, Service.REFUND):
                raise Refused("resolution_needed", case_no=case.case_no)
            details = {**case.details, "resolution": step.resolution}
            return {"details": details}, {"resolution": step.resolution}, {
                "resolution": step.resolution}  # fmt: skip
        if trigger in ("inspected_ok", "inspected_fail"):
            if trigger == "inspected_fail" and not step.note:
                raise Refused("note_needed", case_no=case.case_no)
            return {}, {"ok": trigger == "inspected_ok"}, {"note": step.note}
        if trigger == "received":
            return {}, {}, {}
        if trigger == "approve":
            return {"outcome": "approve"}, {}, {}
        if trigger == "reject":
            return {"outcome": "reject"}, {}, {"note": step.note}
        return {}, {}, {"note": step.note}

    async def _waybill(self, shop: ShopPort, case: CaseView, step: Step
                       ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:  # fmt: skip
        found, number = _parcel(step)
        others = [c for c in await shop.cases_with_waybill(number) if c.id != case.id]
        if others:
            raise Refused("waybill_used", number=number, case_no=case.case_no)
        by_shop = step.by == SHOP
        return ({"carrier": found.code, "waybill": number},
                {"carrier": found.code, "waybill": number, "issued_by_shop": by_shop},
                {"carrier": found.name, "number": number, "issued_by_shop": by_shop})  # fmt: skip

    async def _refund(self, shop: ShopPort, case: CaseView, step: Step, now: datetime
                      ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:  # fmt: skip
        order = await shop.order(case.order_id) if case.order_id is not None else None
        full = refund_due(case, order)
        amount = full
        if step.amount not in (None, ""):
            try:
                amount = Decimal(str(step.amount).strip().replace(",", ".")).quantize(
                    Decimal("0.01")
                )
            except InvalidOperation:
                raise Refused("bad_amount", amount=str(step.amount), full=str(full)) from None
            if amount <= 0 or (full > 0 and amount > full):
                raise Refused("bad_amount", amount=str(step.amount), full=str(full))
        payment = order.payment_method if order is not None else "online"
        arrives_by = self.policy.sla_deadline("refund_after_receipt", now, payment)
        currency = order.currency if order is not None else "CNY"
        data = {"amount": str(amount), "payment_method": payment, "full": str(full)}
        told = {"amount": amount, "currency": currency, "payment_method": payment,
                "arrives_by": arrives_by if payment == "online" else None,
                "partial": amount < full}  # fmt: skip
        return {"refund_amount": amount, "refunded_at": now}, data, told

    # --- telling the customer -----------------------------------------------------------------

    def _tell(self, case: CaseView, step: Step, out: list[Outgoing], told: dict[str, Any]) -> None:
        if case.chat_id is None:
            return
        text = self.texts.render(case.locale, f"lifecycle/{step.trigger}", case=case,
                                 step=step, **{"note": step.note, **told})  # fmt: skip
        buttons: list[list[Button]] = []
        if case.status == CaseStatus.AWAITING_RETURN:
            buttons.append([Button(self.texts.plain(case.locale, "labels/enter_waybill"),
                                   f"lc:waybill:{case.id}")])  # fmt: skip
        buttons.append([Button(self.texts.plain(case.locale, "labels/menu"), "g:menu")])
        out.append(Reply(case.chat_id, str(text), buttons))


def _parcel(step: Step) -> tuple[carrier_table.Carrier, str]:
    """The step's carrier and its waybill number, normalised; `Refused` if either is wrong."""
    found = carrier_table.carrier(step.carrier)
    number = carrier_table.check(step.carrier or "", step.number or "")
    if found is None or number is None:
        raise Refused("bad_waybill", carrier=step.carrier or "", number=step.number or "",
                      example=found.example if found else "")  # fmt: skip
    return found, number


def refund_due(case: CaseView, order: Any) -> Decimal:
    """What a refund gives back: the item's price × quantity, plus the order's shipping fee
    when the customer gets everything back for the shop's fault (the profile has the shop pay
    the shipping) or the parcel never came; an accepted partial refund: its amount."""
    offer = case.details.get("offer") or {}
    if case.details.get("resolution") == PARTIAL_REFUND and offer.get("amount"):
        return Decimal(str(offer["amount"])).quantize(Decimal("0.01"))  # what was agreed
    if order is None:
        return Decimal("0.00")
    item = next((i for i in order.items if i.id == case.item_id), None)
    amount = (item.unit_price * case.quantity) if item is not None else Decimal("0.00")
    if case.service == Service.REFUND or case.shipping_paid_by == "merchant":
        amount += order.shipping_fee
    return Decimal(amount).quantize(Decimal("0.01"))
