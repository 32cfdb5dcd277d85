"""The customer's "My requests" and /status: each case with its timeline (from its case
events) and what happens next, by when (the case's pending clocks); buttons for the steps the
customer can take (the waybill, the pickup time, cancelling), each naming its case
(`aftercare.py` checks it)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from dialogs.agents.topic import FIRST_RESPONSE
from dialogs.events import Button, Reply
from dialogs.lifecycle import carriers
from dialogs.lifecycle import clocks as lc
from dialogs.lifecycle.machine import CANCELLABLE, ENDED, FINISHED, path_of
from storage.domain import CaseStatus, Service
from storage.views import CaseEventView, CaseView

from .logistics import by_pickup
from .turn import Turn

S = CaseStatus
STATUS_LIMIT = 10  # cases shown, newest first
OVER = (*ENDED, S.REJECTED)  # nothing more happens (unless disputed): how it ended is enough
MAX_TEXT = 3800  # Telegram takes 4096 characters: timelines are dropped, oldest first, past it
# The case events a customer sees in a timeline (the rest are the shop's: notes, queues...).
TIMELINE = frozenset({
    "submitted", "decided", "approve", "approved", "reject", "rejected", "review",
    "request_info", "info_requested", "info_given", "offer_accepted", "human_requested",
    "waybill", "pickup_booked", "received", "inspected_ok", "inspected_fail", "unrepairable",
    "refunded", "shipped", "close", "closed", "expire", "cancel", "dispute_submitted",
})  # fmt: skip
# What the shop sends or does at the end of each path (the template names it).
WHAT_NEXT = {
    Service.RETURN.value: "refund",
    Service.REFUND.value: "refund",
    "repair_refund": "refund",
    Service.EXCHANGE.value: "replacement",
    Service.MISSING_PARTS.value: "parts",
    Service.REPAIR.value: "repair",
}


@dataclass(frozen=True)
class Moment:
    """One line of a timeline: what happened, when, and its particulars (a carrier, an
    amount, a pickup day)."""

    kind: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    case: CaseView
    timeline: list[Moment]
    next: str | None = None  # what happens next (status/_lines.j2 words it)
    due: datetime | None = None  # by when, from the case's clock
    pickup_day: date | None = None  # a courier's booked visit
    pickup_window: str | None = None

    @property
    def ended(self) -> bool:
        return self.case.status in OVER


async def show(turn: Turn) -> None:
    """The customer's cases, one message, with the buttons of what they can do now."""
    assert turn.conv.customer_id is not None
    cases = await turn.shop.cases(turn.conv.customer_id, STATUS_LIMIT)
    entries = [await _entry(turn, case) for case in cases]
    text = turn.t("status/list", entries=entries)
    shown = len(entries)
    while len(text) > MAX_TEXT and shown > 0:  # the newest keep their timelines longest
        shown -= 1
        entries[shown] = replace(entries[shown], timeline=entries[shown].timeline[-1:])
        text = turn.t("status/list", entries=entries)
    rows = [row for case in cases for row in buttons(turn, case)]
    turn.out.append(Reply(turn.event.chat_id, text, rows))


def buttons(turn: Turn, case: CaseView) -> list[list[Button]]:
    """The steps of a case the customer can take now, one button a row."""
    rows: list[list[Button]] = []
    if case.kind != "request":
        return rows
    no = case.case_no
    if case.status == S.AWAITING_RETURN:
        rows.append([Button(turn.label("labels/waybill_for", case_no=no), f"lc:waybill:{case.id}")])
        if by_pickup(turn.policy, case.service):
            rows.append([Button(turn.label("labels/pickup_for", case_no=no),
                                f"lc:pickup:{case.id}")])  # fmt: skip
    if case.status in CANCELLABLE:
        rows.append([Button(turn.label("labels/cancel_case", case_no=no), f"lc:cancel:{case.id}")])
    return rows


async def _entry(turn: Turn, case: CaseView) -> Entry:
    events = await turn.shop.case_events(case.id)
    moments = [_moment(e, turn) for e in events if e.kind in TIMELINE]
    if case.status in OVER:
        return Entry(case, moments[-1:])
    if case.status in FINISHED:  # the shop's part is done: the case closes next
        return Entry(case, moments)
    what, due = next_step(turn, case, await turn.shop.running_clocks(case.id))
    pickup = case.details.get("pickup") or {}
    day = date.fromisoformat(pickup["day"]) if isinstance(pickup.get("day"), str) else None
    return Entry(case, moments, what, due, day, pickup.get("window"))


def _moment(event: CaseEventView, turn: Turn) -> Moment:
    data = event.data
    shown: dict[str, Any] = {}
    if event.kind == "decided":
        shown["outcome"] = data.get("outcome")
    elif event.kind in ("waybill", "shipped"):
        found = carriers.carrier(data.get("carrier"))
        shown["carrier"] = found.name[turn.conv.locale] if found else str(data.get("carrier", ""))
        shown["number"] = str(data.get("waybill", ""))
    elif event.kind == "refunded" and data.get("amount"):
        shown["amount"], shown["currency"] = str(data["amount"]), turn.policy.currency
    elif event.kind == "pickup_booked" and isinstance(data.get("day"), str):
        shown["day"], shown["window"] = date.fromisoformat(data["day"]), data.get("window")
    return Moment(event.kind, event.at, shown)


def next_step(turn: Turn, case: CaseView, due: dict[str, datetime]
              ) -> tuple[str | None, datetime | None]:  # fmt: skip
    """What happens next to the case, and by when (`due`: its running clocks)."""
    status = case.status
    if case.kind != "request":
        return "answer", due.get(FIRST_RESPONSE)
    path = path_of(case.service, case.details.get("resolution"))
    if status == S.AWAITING_RETURN:
        what = "pickup" if by_pickup(turn.policy, case.service) else "ship_back"
        return what, lc.ship_by(case) or due.get(lc.SHIP_BACK)
    if status == S.IN_TRANSIT:
        return "arriving", None
    if status in (S.APPROVED, S.RECEIVED, S.INSPECTED):
        kind = lc.NEXT_CLOCK.get(path)
        return WHAT_NEXT.get(path), due.get(kind) if kind else None
    if status in (S.SUBMITTED, S.PENDING_REVIEW):
        return "review", due.get(lc.REVIEW) or due.get(FIRST_RESPONSE)
    if status == S.INFO_REQUESTED:
        return "info", None
    if status == S.DISPUTED:
        return "dispute", due.get(FIRST_RESPONSE)
    return None, None
