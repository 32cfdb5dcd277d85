"""The summary with the policy's answer, and what follows it.

A request the policy approves, or leaves to a person, is confirmed with one tap and becomes a
case. One it refuses is not offered for submission: the summary says why and offers what is
open instead (one tap continues the same request with another service, keeping what the
customer already gave), or a person to look at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from dialogs.events import Button, Reply
from dialogs.lifecycle import clocks as lifecycle_clocks
from dialogs.lifecycle.machine import approved_status
from dialogs.policy.types import Claim, Decision
from storage.domain import CaseStatus, Outcome
from storage.views import CaseView, NewCase, OrderView

from .common import to_person
from .logistics import by_pickup, warehouse_for
from .state import CaseStep
from .turn import Options, ReturnAddress, Turn

GOODS_COME_BACK = ("return", "exchange", "repair")
STATUS_OF = {Outcome.APPROVE: CaseStatus.APPROVED, Outcome.NEEDS_AGENT: CaseStatus.PENDING_REVIEW}
CUSTOMER_ASKED = "customer_asked"  # the rule id of a refusal a customer asked a person about


async def _claim(turn: Turn) -> Claim:
    draft = turn.draft
    assert draft.service is not None and draft.reason is not None
    reused = await turn.shop.evidence_used_elsewhere([e["file_unique_id"] for e in draft.evidence])
    return Claim(
        item=await turn.facts(),
        service=draft.service,
        reason=draft.reason,
        evidence_count=len(draft.evidence),
        conditions=frozenset(draft.conditions),
        evidence_reused=bool(reused),
    )


async def ask(turn: Turn) -> None:
    order, item = await turn.item()
    draft = turn.draft
    decision = turn.policy.decide(await _claim(turn), turn.now)
    refused = decision.outcome == Outcome.REJECT
    text = turn.t(
        "summary/ask",
        order=order,
        item=item,
        quantity=draft.quantity,
        service=draft.service,
        reason=draft.reason,
        exchange_for=draft.exchange_for,
        exchange_note=draft.exchange_note,
        description=draft.description or "",
        photos=len(draft.evidence),
        conditions=draft.conditions,
        declined=draft.declined,
        outcome=decision.outcome,
        explanation=turn.explain(decision),
    )
    rows: Options = []
    if refused:
        rows += [[(turn.label("labels/alternative", service=s), f"alt:{s}")]
                 for s in decision.alternatives]  # fmt: skip
        rows.append([(turn.label("labels/ask_person"), "person")])
    else:
        rows.append([(turn.label("labels/confirm"), "confirm")])
    rows.append([(turn.label("labels/back"), "back"), (turn.label("labels/cancel"), "cancel")])
    turn.ask(text, rows)


async def on(turn: Turn, value: Any) -> None:
    if value == "back":
        await turn.back()
        return
    if value == "cancel":
        turn.say("common/cancelled")
        await turn.to_start(welcome=False)
        return
    claim = await _claim(turn)
    decision = turn.policy.decide(claim, turn.now)
    refused = decision.outcome == Outcome.REJECT
    if isinstance(value, str) and value.startswith("alt:") and refused:
        service = value[4:]
        if service in decision.alternatives:
            _continue_with(turn, service)
            turn.fire("alternative_chosen")
            await turn.enter()
            return
    if value == "confirm" and not refused:
        await _submit(turn, claim, decision, person_asked=False)
        return
    if value == "person" and refused:
        await _submit(turn, claim, decision, person_asked=True)
        return
    await turn.bad_input()


def _continue_with(turn: Turn, service: str) -> None:
    """The same request with another service: the item, the words and the photos stay."""
    draft = turn.draft
    kept = (draft.description, draft.description_message_id, draft.evidence)
    draft.start_service(service)
    draft.description, draft.description_message_id, draft.evidence = kept


async def _submit(turn: Turn, claim: Claim, decision: Decision, *, person_asked: bool) -> None:
    order, item = await turn.item()
    draft = turn.draft
    assert draft.service is not None and draft.reason is not None
    outcome = Outcome.NEEDS_AGENT if person_asked else Outcome(decision.outcome)
    rules = [*decision.rules, CUSTOMER_ASKED] if person_asked else list(decision.rules)
    comes_back = draft.service in GOODS_COME_BACK
    goods_back = outcome == Outcome.APPROVE and comes_back
    # The warehouse is the case's from the start: a person approving it later sends it there.
    stock = turn.info.stock
    warehouse = stock.code(warehouse_for(turn.policy, draft.service, item.category))
    returns = stock.get(warehouse)
    details: dict[str, Any] = {}
    if draft.exchange_for:
        details = {"exchange_for": draft.exchange_for, "exchange_note": draft.exchange_note}
    case = await turn.shop.create_case(
        NewCase(
            order_id=order.id,
            item_id=item.id,
            order_no=order.order_no,
            item_name=item.name,
            customer_id=order.customer_id,
            chat_id=turn.event.chat_id,
            quantity=draft.quantity,
            service=draft.service,
            reason=draft.reason,
            description=draft.description or "",
            status=(
                approved_status(draft.service)
                if outcome == Outcome.APPROVE
                else STATUS_OF[outcome].value
            ),
            outcome=outcome.value,
            rules=rules,
            explanation_key=decision.explanation.key,
            explanation_values=_jsonable(decision.explanation.values),
            alternatives=list(decision.alternatives),
            shipping_paid_by=decision.shipping_paid_by,
            return_address=returns.line(turn.conv.locale) if goods_back else None,
            deadline_at=decision.deadline,
            needs_agent_reason=", ".join(rules) if outcome == Outcome.NEEDS_AGENT else None,
            locale=turn.conv.locale,
            conditions=list(claim.conditions),
            evidence=list(draft.evidence),
            details=details,
            warehouse=warehouse if comes_back else None,
        ),
        turn.now,
    )
    if outcome == Outcome.APPROVE:  # the ship-back deadline, or the shop's own clock
        case = await lifecycle_clocks.after_step(turn.shop, turn.policy, case, "approve", turn.now)
    answer_by = None
    turn.fire("confirmed")
    if outcome == Outcome.NEEDS_AGENT:
        # A person has it now: what the customer writes reaches them.
        answer_by = await to_person(turn, case, "customer_asked" if person_asked else "policy")
    turn.edit_target = None
    packing = turn.policy.conditions(case.service or "", case.reason or "", claim.item, turn.now)
    waiting = goods_back and case.status == CaseStatus.AWAITING_RETURN
    pickup = waiting and by_pickup(turn.policy, case.service)
    _say_decided(turn, case, decision, Decided(goods_back, answer_by, packing, returns, order),
                 person_asked=person_asked, waybill_button=waiting and not pickup)  # fmt: skip
    turn.drop_draft(files_kept=True)  # the case's evidence now
    turn.ctx.case_id = case.id
    if pickup:  # the courier's day and time, asked at once
        turn.ctx.step = CaseStep(case.id)
        turn.fire("pickup_asked")
    await turn.prompt()


@dataclass(frozen=True)
class Decided:
    """What the answer after submitting says besides the decision itself."""

    goods_back: bool
    answer_by: datetime | None
    packing: list[str]
    returns: ReturnAddress
    order: OrderView


def _say_decided(
    turn: Turn, case: CaseView, decision: Decision, facts: Decided, *, person_asked: bool,
    waybill_button: bool,
) -> None:  # fmt: skip
    assert case.service is not None and case.reason is not None
    address, recipient = facts.returns.for_locale(turn.conv.locale)
    # The ship-back deadline is the clock's (kept on the case); the policy's, without one.
    deadline = decision.deadline
    if facts.goods_back:
        deadline = lifecycle_clocks.ship_by(case) or deadline
    text = turn.t(
        "case/needs_agent" if person_asked else f"case/{decision.outcome}",
        case=case,
        service=case.service,
        explanation=turn.explain(decision),
        deadline=deadline,
        answer_by=facts.answer_by,
        shipping_paid_by=decision.shipping_paid_by,
        replacement_paid_by=decision.replacement_paid_by,
        goods_back=facts.goods_back,
        address=address,
        recipient=recipient,
        phone=facts.returns.phone,
        conditions=facts.packing,
        person_asked=person_asked,
        return_method=decision.explanation.values.get("return_method"),
        exchange_for=turn.draft.exchange_for,
        exchange_note=turn.draft.exchange_note,
        insurance=facts.order.freight_insurance,
        currency=facts.order.currency,
    )
    rows = []
    if waybill_button:
        rows.append([Button(turn.label("labels/enter_waybill"), f"lc:waybill:{case.id}")])
    turn.out.append(Reply(turn.event.chat_id, text, rows))


async def ask_done(turn: Turn) -> None:
    turn.ask(turn.t("case/next"), [[(turn.label("labels/menu"), "menu")]])


async def on_done(turn: Turn, value: Any) -> None:
    if value == "menu":
        await turn.to_start(welcome=False)
        return
    await turn.bad_input()


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
