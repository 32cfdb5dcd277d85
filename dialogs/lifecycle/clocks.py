"""The shop's clocks after the decision (the profile's `sla`), as stored timers.

Each step of the lifecycle starts the clocks of what has to happen next and stops those of
what just happened: approved with the goods to come back → the ship-back deadline (and a
reminder a day before it); received → refund, replacement or repair by the profile's time; a
refund without return → the refund; missing parts → the reshipment. All of them count on the
profile's calendar (working days, holidays). What happens when one runs out is the profile's
`on_expiry` (`fire`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dialogs.agents.desk import DESK
from dialogs.agents.escalate import HALF_TIME, to_the_desk
from dialogs.agents.topic import FIRST_RESPONSE, TopicWriter
from dialogs.events import Button, Outgoing, Reply, Resume
from dialogs.policy import Policy
from dialogs.shop import ShopPort
from storage.domain import Actor, CaseStatus, Desk, Service
from storage.views import CaseView, TimerView

from . import survey
from .machine import LIFECYCLE, REPAIR_REFUNDED, SYSTEM, path_of

if TYPE_CHECKING:
    from .steps import Lifecycle

REVIEW = "review"
SHIP_BACK = "ship_back"
SHIP_BACK_SOON = "ship_back_reminder"  # a day before the ship-back deadline
REFUND = "refund_after_receipt"
EXCHANGE_SHIP = "exchange_ship_after_receipt"
REPAIR = "repair_after_receipt"
SURVEY_REMINDER = survey.SURVEY_REMINDER  # 24 hours after the survey was asked
KINDS = (REVIEW, SHIP_BACK, SHIP_BACK_SOON, REFUND, EXCHANGE_SHIP, REPAIR, SURVEY_REMINDER)
REMIND_BEFORE = timedelta(days=1)
ANSWER_CLOCKS = (FIRST_RESPONSE, HALF_TIME)  # the first answer's, moot once decided

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


async def start_review(shop: ShopPort, policy: Policy, case: CaseView, now: datetime
                       ) -> datetime | None:  # fmt: skip
    """A request went to a person for the decision: the profile's review clock starts (once
    per case; a case already decided has none). When it is due."""
    if case.kind != "request" or case.status not in WAITING_FOR[REVIEW]:
        return None
    live = (await shop.running_clocks(case.id)).get(REVIEW)
    if live is not None:
        return live
    due = policy.sla_deadline(REVIEW, now)
    if due is not None:
        await shop.start_timer(REVIEW, due, now, case_id=case.id, chat_id=case.chat_id)
    return due


# The statuses in which each clock still measures something: a case that moved on (decided,
# shipped, refunded, closed) makes its clock do nothing.
WAITING_FOR: dict[str, tuple[str, ...]] = {
    REVIEW: (CaseStatus.SUBMITTED, CaseStatus.PENDING_REVIEW, CaseStatus.INFO_REQUESTED),
    SHIP_BACK: (CaseStatus.AWAITING_RETURN,),
    SHIP_BACK_SOON: (CaseStatus.AWAITING_RETURN,),
    REFUND: (CaseStatus.APPROVED, CaseStatus.RECEIVED, CaseStatus.INSPECTED),
    EXCHANGE_SHIP: (CaseStatus.APPROVED, CaseStatus.RECEIVED, CaseStatus.INSPECTED),
    REPAIR: (CaseStatus.RECEIVED, CaseStatus.INSPECTED),
}
# Where the ball is with the customer (asked for more, or to accept an offer), the shop
# has not failed to review: such a case is escalated rather than approved unseen.
CUSTOMERS_MOVE = (Desk.ASKED, Desk.OFFERED)


async def fire(timer: TimerView, shop: ShopPort, lifecycle: Lifecycle, now: datetime
               ) -> list[Outgoing]:  # fmt: skip
    """A clock of the lifecycle ran out: what the profile's `on_expiry` says. A clock whose
    case has moved on does nothing; every clock that acts is a case event."""
    case = await shop.case(timer.case_id) if timer.case_id is not None else None
    if case is None:
        return []
    if timer.kind == SURVEY_REMINDER:
        return await survey.remind(shop, lifecycle.texts, case, now)
    if case.kind != "request" or case.status not in WAITING_FOR.get(timer.kind, ()):
        return []
    expiring = Expiring(timer, shop, lifecycle, now, case)
    if timer.kind == SHIP_BACK_SOON:
        return await expiring.ship_back_soon()
    action = lifecycle.policy.sla_action(timer.kind) or "remind"
    if timer.kind == REVIEW:
        return await expiring.review(action)
    if timer.kind == SHIP_BACK:
        return await expiring.ship_back(action)
    return await expiring.shop_late(action)


@dataclass
class Expiring:
    """One clock running out on one case, and what it sends."""

    timer: TimerView
    shop: ShopPort
    lifecycle: Lifecycle
    now: datetime
    case: CaseView
    out: list[Outgoing] = field(default_factory=list)

    @property
    def writer(self) -> TopicWriter:
        return TopicWriter(self.shop, self.lifecycle.texts, self.lifecycle.desk, self.now,
                           self.out)  # fmt: skip

    async def note(self, action: str, **data: Any) -> None:
        await self.shop.add_case_event(self.case.id, Actor.SYSTEM, "clock_expired",
                                       {"clock": self.timer.kind, "action": action,
                                        "due": self.timer.due_at.isoformat(), **data},
                                       self.now)  # fmt: skip

    def tell(self, key: str, *, waybill_button: bool = False, **values: Any) -> None:
        """A message to the customer, in their language, with the buttons that help."""
        case, texts = self.case, self.lifecycle.texts
        if case.chat_id is None:
            return
        text = texts.render(case.locale, key, case=case, **values)
        rows: list[list[Button]] = []
        if waybill_button:
            rows.append([Button(texts.plain(case.locale, "labels/enter_waybill"),
                                f"lc:waybill:{case.id}")])  # fmt: skip
        rows.append([Button(texts.plain(case.locale, "labels/menu"), "g:menu")])
        self.out.append(Reply(case.chat_id, str(text), rows))

    async def escalate(self, why: str) -> None:
        """The supervisors are named in the case's topic; a case without one goes to the
        agents' group (queued for a person, with its card) first."""
        writer = self.writer
        if self.case.agent_chat_id is None:
            self.case = await to_the_desk(writer, self.case, why)
        await writer.say(self.case, "desk/clock_late", clock=self.timer.kind,
                         due=self.timer.due_at, mention=writer.mentions())  # fmt: skip

    async def remind_desk(self) -> None:
        """A line in the case's topic (where it has one) that a clock ran out."""
        await self.writer.say(self.case, "desk/clock_remind", join=True, clock=self.timer.kind,
                              due=self.timer.due_at)  # fmt: skip

    # --- each clock ---------------------------------------------------------------------------

    async def review(self, action: str) -> list[Outgoing]:
        """Nobody decided in the profile's review time."""
        case = self.case
        path = path_of(case.service, case.details.get("resolution"))
        shops_move = case.status != CaseStatus.INFO_REQUESTED and case.desk not in CUSTOMERS_MOVE
        can_approve = LIFECYCLE.step(case.status, "approve", path, SYSTEM) is not None
        if action == "auto_approve" and shops_move and can_approve:
            return await self.auto_approve()
        if action == "remind":
            await self.note(action)
            await self.remind_desk()
            return self.out
        await self.note("escalate")  # escalate, and what cannot apply to a review (auto_close)
        await self.escalate("review_late")
        self.tell("clocks/review_late", due=self.timer.due_at)
        return self.out

    async def auto_approve(self) -> list[Outgoing]:
        """As the large platforms do: the shop did not review in time, so the request is
        approved; the desk is done with it and the bot has the customer's chat again."""
        from .steps import Refused, Step  # steps.py imports this module

        case, texts, policy = self.case, self.lifecycle.texts, self.lifecycle.policy
        await self.note("auto_approve")
        if case.desk is not None and DESK.can(case.desk, "approve"):
            case = await self.shop.update_case(case.id, self.now, desk=Desk.DECIDED.value)
        await self.shop.cancel_timers(case.id, list(ANSWER_CLOCKS), self.now)
        path = path_of(case.service, case.details.get("resolution"))
        dest = LIFECYCLE.step(case.status, "approve", path, SYSTEM)
        goods_back = dest == CaseStatus.AWAITING_RETURN
        ship_by = policy.sla_deadline(SHIP_BACK, self.now) if goods_back else None
        note = texts.plain(case.locale, "clocks/auto_approved", goods_back=goods_back,
                           ship_by=ship_by, address=case.return_address or "")  # fmt: skip
        step = Step("approve", by=SYSTEM, via="clock", note=note)
        try:
            self.case = await self.lifecycle.apply(self.shop, case, step, self.now, self.out)
        except Refused:  # the table had the last word: a person decides after all
            await self.escalate("review_late")
            return self.out
        if self.case.chat_id is not None:
            self.out.append(Resume(self.case.chat_id))  # a person had the chat: the bot again
        return self.out

    async def ship_back_soon(self) -> list[Outgoing]:
        """A day before the ship-back deadline: the customer is reminded, with the button."""
        await self.note("remind")
        deadline = ship_by(self.case) or self.timer.due_at + REMIND_BEFORE
        self.tell("clocks/ship_back_soon", waybill_button=True, ship_by=deadline,
                  address=self.case.return_address or "")  # fmt: skip
        return self.out

    async def ship_back(self, action: str) -> list[Outgoing]:
        """The customer has not sent the goods back by the deadline."""
        if action == "auto_close":
            from .steps import Refused, Step  # steps.py imports this module

            await self.note(action)
            step = Step("expire", by=SYSTEM, via="clock")
            with contextlib.suppress(Refused):  # the table refused: nothing else to do
                await self.lifecycle.apply(self.shop, self.case, step, self.now, self.out)
            return self.out
        await self.note("escalate" if action == "escalate" else "remind")
        if action == "escalate":
            await self.escalate("ship_back_late")
        else:
            await self.remind_desk()
        self.tell("clocks/ship_back_passed", waybill_button=True, due=self.timer.due_at)
        return self.out

    async def shop_late(self, action: str) -> list[Outgoing]:
        """The shop's own part (refund, replacement, repair) is late after the goods came in
        (or, without a return, after the approval)."""
        if action != "remind":  # escalate (auto_close or auto_approve cannot apply here)
            await self.note("escalate")
            await self.escalate(f"{self.timer.kind}_late")
            self.tell("clocks/shop_late", clock=self.timer.kind, due=self.timer.due_at)
            return self.out
        await self.note(action)
        await self.remind_desk()
        return self.out


def ship_by(case: CaseView) -> datetime | None:
    """The ship-back deadline the customer was given (kept on the case at approval)."""
    value = case.details.get("ship_by")
    return datetime.fromisoformat(value) if isinstance(value, str) else None
