"""While a person has the conversation: what the customer sends reaches the case's topic,
and the bot keeps quiet. Also the customer's answers to a person: an offer accepted or
declined with one tap, and a complaint about a decision (once per case)."""

from __future__ import annotations

from typing import Any

from dialogs.agents.desk import DESK, DISPUTE
from dialogs.agents.escalate import to_the_desk
from dialogs.lifecycle import clocks as lifecycle_clocks
from dialogs.lifecycle.machine import PARTIAL_REFUND, approved_status
from storage.domain import Actor, CaseStatus, Desk, Dispute, Outcome
from storage.views import CaseView

from .describe import MAX_DESCRIPTION
from .turn import Turn, clean

DECIDED = (CaseStatus.APPROVED, CaseStatus.REJECTED, CaseStatus.CLOSED)


async def ask(turn: Turn) -> None:
    turn.ask(turn.t("human/ask"), [[(turn.label("labels/menu"), "menu")]])


async def on(turn: Turn, value: Any) -> None:
    if value == "menu":
        await turn.to_start(welcome=False)
        return
    ev = turn.event
    case = await _own_case(turn, turn.ctx.case_id)
    if case is None:
        await turn.bad_input()
        return
    text = clean(ev.text, keep_newlines=True)[:MAX_DESCRIPTION]
    files = [m.file_id for m in ev.media]
    await turn.shop.add_case_event(case.id, Actor.CUSTOMER, "message",
                                   {"text": text, "files": files}, turn.now)  # fmt: skip
    if ev.media:  # more evidence for the person deciding
        await turn.shop.add_evidence(case.id, [
            {"kind": m.kind, "file_id": m.file_id, "file_unique_id": m.file_unique_id,
             "media_group_id": ev.media_group_id, "local_path": m.local_path,
             "sha256": m.sha256, "size_bytes": m.size_bytes} for m in ev.media
        ], turn.now)  # fmt: skip
    await turn.desk.relay(case, ev)
    if case.desk == Desk.ASKED:  # the answer to the agent's question: their move again
        case = await turn.shop.update_case(case.id, turn.now, desk=Desk.TAKEN.value,
                                           status=CaseStatus.PENDING_REVIEW.value)  # fmt: skip
        await turn.desk.say(case, "desk/customer_answered", join=True)
        await turn.desk.card(case, new=False)
    if not turn.ctx.heard:  # said once: a person reads along from here
        turn.ctx.heard = True
        turn.say("human/received")


async def unsupported(turn: Turn) -> bool:
    """Stickers, voice, locations... reach a person as they are; True if one was there."""
    case = await _own_case(turn, turn.ctx.case_id)
    if case is None:
        return False
    await turn.desk.relay(case, turn.event)
    return True


# --- the customer answers a person ---------------------------------------------------------


async def offer_answer(turn: Turn, case_id: int, accepted: bool) -> None:
    """One tap on the offer an agent made (another service, a partial refund)."""
    case = await _own_case(turn, case_id)
    if case is None or case.desk != Desk.OFFERED:
        turn.say("person/offer_gone")
        return
    card = await turn.shop.case_card(case.id)
    offer = (card.details if card else {}).get("offer") or {}
    trigger = "offer_accepted" if accepted else "offer_declined"
    values: dict[str, Any] = {"desk": DESK.after(case.desk, trigger)}
    if accepted:
        service, resolution = case.service, case.details.get("resolution")
        if offer.get("kind") == "service" and offer.get("service"):
            service = values["service"] = offer["service"]
        elif offer.get("kind") == PARTIAL_REFUND:
            resolution = PARTIAL_REFUND
            values["details"] = {**case.details, "resolution": resolution}
        values |= {"status": approved_status(service, resolution),
                   "outcome": Outcome.APPROVE.value}  # fmt: skip
    case = await turn.shop.update_case(case.id, turn.now, **values)
    if accepted:
        case = await lifecycle_clocks.after_step(turn.shop, turn.policy, case, "approve", turn.now)
    await turn.shop.add_case_event(case.id, Actor.CUSTOMER, trigger, offer, turn.now)
    await turn.desk.say(case, f"desk/{trigger}", join=True, offer=offer)
    await turn.desk.card(case, new=False)
    if accepted:
        turn.say("person/offer_accepted", case=case, offer=offer)
        turn.ctx.case_id = None
        await turn.to_start(welcome=False)
    else:
        turn.say("person/offer_declined", case=case)


async def complain(turn: Turn, case_id: int | None) -> None:
    """A complaint about a decision (T9 平台介入): once per case, for the supervisors."""
    case = await _own_case(turn, case_id)
    if case is None:  # the newest decided one
        cases = [c for c in await turn.shop.cases(turn.conv.customer_id or 0, 10)
                 if c.status in DECIDED or c.dispute is not None]  # fmt: skip
        case = cases[0] if cases else None
    if case is None:
        turn.say("person/nothing_to_complain")
        await turn.prompt()
        return
    if not DISPUTE.can(case.dispute, "complain"):
        turn.say("person/complained_already", case=case)
        await turn.prompt()
        return
    card = await turn.shop.case_card(case.id)
    details = {**(card.details if card else {}), "status_before_dispute": case.status}
    case = await turn.shop.update_case(
        case.id, turn.now, dispute=Dispute.SUBMITTED.value, status=CaseStatus.DISPUTED.value,
        details=details,
    )  # fmt: skip
    before = {"status_before": details["status_before_dispute"]}
    await turn.shop.add_case_event(case.id, Actor.CUSTOMER, "dispute_submitted", before, turn.now)
    from .common import to_person

    deadline = await to_person(turn, case, "complaint")
    if turn.info.desk.enabled:
        await turn.desk.say(case, "desk/complaint", mention=turn.desk.mentions())
    turn.say("person/complaint_submitted", case=case, deadline=deadline,
             timeline=[("submitted", turn.now)])  # fmt: skip
    await turn.prompt()


async def _own_case(turn: Turn, case_id: int | None) -> CaseView | None:
    """The case, if it is this customer's (a button's case id is never trusted)."""
    if case_id is None:
        return None
    case = await turn.shop.case(case_id)
    if case is None or case.customer_id != turn.conv.customer_id:
        return None
    return case


__all__ = ["ask", "complain", "offer_answer", "on", "to_the_desk"]
