"""The shop's clocks after the decision (the profile's `sla`), as stored timers.

Each step of the lifecycle starts the clocks of what has to happen next and stops those of
what just happened: approved with the goods to come back → the ship-back deadline (and a
reminder a day before it); received → refund, replacement or repair by the profile's time; a
refund without return → the refund; missing parts → the reshipment. All of them count on the
profile's calendar (working days, holidays). What happens when one runs out is the profile's
`on_expiry` (`fire`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from dialogs.events import Outgoing
from dialogs.policy import Policy
from dialogs.shop import ShopPort
from storage.domain import CaseStatus, Service
from storage.views import CaseView, TimerView

from .machine import REPAIR_REFUNDED, path_of

if TYPE_CHECKING:
    from .steps import Lifecycle

REVIEW = "review"
SHIP_BACK = "ship_back"
SHIP_BACK_SOON = "ship_back_reminder"  # a day before the ship-back deadline
REFUND = "refund_after_receipt"
EXCHANGE_SHIP = "exchange_ship_after_receipt"
REPAIR = "repair_after_receipt"
SURVEY_REMINDER = "survey_reminder"
KINDS = (REVIEW, SHIP_BACK, SHIP_BACK_SOON, REFUND, EXCHANGE_SHIP, REPAIR, SURVEY_REMINDER)
REMIND_BEFORE = timedelta(days=1)

# What the shop has to do next on each path once the goods are in (or, without a return,
# once the case is approved): the clock that measures it.
NEXT_CLOCK = {
    Service.RETURN.value: REFUND,
    REPAIR_REFUNDED: REFUND,
    Service.REFUND.value: REFUND,
    Service.EXCHANGE.value: EXCHANGE_SHIP,
    Service.MISSING_PARTS.value: EXCHANGE_SHIP,
    Service.REPAIR.value: REPAIR,
}
DONE_WITH = {  # the step, and the clocks it stops
    "waybill": (SHIP_BACK, SHIP_BACK_SOON),
    "received": (SHIP_BACK, SHIP_BACK_SOON),
    "refunded": (REFUND,),
    "shipped": (EXCHANGE_SHIP, REPAIR),
    "approve": (REVIEW,),
    "reject": (REVIEW,),
    "inspected_fail": (REFUND, EXCHANGE_SHIP, REPAIR),
}
STOP_ALL = ("cancel", "close", "expire")


async def after_step(shop: ShopPort, policy: Policy, case: CaseView, trigger: str,
                     now: datetime) -> CaseView:  # fmt: skip
    """Stop and start the case's clocks for the step just taken; the case as it is after."""
    lane = case.chat_id
    if trigger in STOP_ALL:
        await shop.cancel_timers(case.id, [k for k in KINDS if k != SURVEY_REMINDER], now)
    elif trigger in DONE_WITH:
        await shop.cancel_timers(case.id, list(DONE_WITH[trigger]), now)
    path = path_of(case.service, case.details.get("resolution"))
    if trigger == "approve" and case.status == CaseStatus.AWAITING_RETURN:
        due = policy.sla_deadline(SHIP_BACK, now)
        if due is not None:
            await shop.start_timer(SHIP_BACK, due, now, case_id=case.id, chat_id=lane)
            if due - REMIND_BEFORE > now:
                await shop.start_timer(SHIP_BACK_SOON, due - REMIND_BEFORE, now,
                                       case_id=case.id, chat_id=lane)  # fmt: skip
            case = await shop.update_case(
                case.id, now, details={**case.details, "ship_by": due.isoformat()}
            )
    starts_next = (trigger == "received") or (
        trigger == "approve" and case.status == CaseStatus.APPROVED
    )
    if trigger == "unrepairable":  # what replaces the repair has its own clock
        await shop.cancel_timers(case.id, [REPAIR], now)
        starts_next = True
    if starts_next and path in NEXT_CLOCK:
        kind = NEXT_CLOCK[path]
        order = await shop.order(case.order_id) if case.order_id is not None else None
        payment = order.payment_method if order is not None else "online"
        due = policy.sla_deadline(kind, now, payment)
        if due is not None:
            await shop.start_timer(kind, due, now, case_id=case.id, chat_id=lane)
    return case


async def fire(timer: TimerView, shop: ShopPort, lifecycle: Lifecycle, now: datetime
               ) -> list[Outgoing]:  # fmt: skip
    """A clock of the lifecycle ran out: what the profile's `on_expiry` says. (Being built.)"""
    return []


def ship_by(case: CaseView) -> datetime | None:
    """The ship-back deadline the customer was given (kept on the case at approval)."""
    value = case.details.get("ship_by")
    return datetime.fromisoformat(value) if isinstance(value, str) else None
