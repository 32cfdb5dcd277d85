"""Which module asks each state's question and reads its answer: the table the turn uses.

Together with the flow table (`dialogs/flow.py`: where a customer can go from where) this is
the whole conversation; `STEPS` must have an entry for every state (a test checks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dialogs.flow import State

from . import (
    aftercare,
    agent,
    conditions,
    describe,
    evidence,
    identify,
    order,
    question,
    request,
    summary,
)

if TYPE_CHECKING:
    from .turn import Turn

S = State


@dataclass(frozen=True)
class Step:
    ask: Callable[[Turn], Awaitable[None]]
    on: Callable[[Turn, Any], Awaitable[None]]
    # Answers the step for the customer when there is no choice (True: done, move on).
    auto: Callable[[Turn], Awaitable[bool]] | None = None


STEPS: dict[State, Step] = {
    S.IDENTIFY: Step(identify.ask, identify.on),
    S.IDENTIFY_PHONE4: Step(identify.ask_phone4, identify.on_phone4),
    S.MENU: Step(order.ask_menu, order.on_menu),
    S.CHOOSE_ORDER: Step(order.ask_order, order.on_order),
    S.CHOOSE_ITEM: Step(order.ask_item, order.on_item, order.auto_item),
    S.CHOOSE_QUANTITY: Step(order.ask_quantity, order.on_quantity, order.auto_quantity),
    S.CHOOSE_SERVICE: Step(request.ask_service, request.on_service),
    S.CHOOSE_REASON: Step(request.ask_reason, request.on_reason, request.auto_reason),
    S.EXCHANGE_FOR: Step(request.ask_exchange, request.on_exchange, request.auto_exchange),
    S.CONDITIONS: Step(conditions.ask, conditions.on, conditions.auto),
    S.DESCRIBE: Step(describe.ask, describe.on),
    S.EVIDENCE: Step(evidence.ask, evidence.on, evidence.auto),
    S.SUMMARY: Step(summary.ask, summary.on),
    S.CASE_DONE: Step(summary.ask_done, summary.on_done),
    S.WITH_AGENT: Step(agent.ask, agent.on),
    S.QUESTION: Step(question.ask, question.on),
    S.WAYBILL_CARRIER: Step(aftercare.ask_carrier, aftercare.on_carrier),
    S.WAYBILL_NUMBER: Step(aftercare.ask_number, aftercare.on_number),
    S.PICKUP_DAY: Step(aftercare.ask_day, aftercare.on_day),
    S.PICKUP_TIME: Step(aftercare.ask_time, aftercare.on_time),
    S.CANCEL_CONFIRM: Step(aftercare.ask_cancel, aftercare.on_cancel),
}
