"""A case goes to a person: it joins the agents' queue, its topic gets the card and the
evidence, and the answer-by clock starts. Used by the customer's side (a `needs_agent`
decision, asking for a person, three misunderstood messages, a complaint)."""

from __future__ import annotations

from datetime import datetime

from dialogs.policy import Policy
from storage.domain import Actor, Desk
from storage.views import CaseView

from .desk import DESK
from .topic import FIRST_RESPONSE, TopicWriter

HALF_TIME = "first_response_half"


async def to_the_desk(writer: TopicWriter, case: CaseView, why: str) -> CaseView:
    """Queue the case for a person and tell the agents' group (if the shop has one)."""
    shop, now = writer.shop, writer.now
    if not DESK.can(case.desk, "escalate") and case.desk is not None:
        return case  # already with a person: the card stands
    first_time = case.agent_chat_id is None
    values: dict[str, object] = {"desk": Desk.QUEUED.value}
    if writer.info.enabled and first_time:
        values["agent_chat_id"] = writer.info.group_for(case)
    case = await shop.update_case(case.id, now, **values)
    await shop.add_case_event(case.id, Actor.SYSTEM, "queued", {"why": why}, now)
    if not writer.info.enabled:
        return case
    if first_time or case.card_message_id is None:
        await writer.card(case, new=True, evidence=True)
    else:  # back again (asked anew, a complaint): reopen its topic, say why, show the card
        await writer.post(case, {"kind": "topic_state", "closed": False})
        await writer.say(case, "desk/back_in_queue", why=why)
        await writer.card(case, new=False)
    return case


async def start_answer_clock(
    writer: TopicWriter, policy: Policy, case_id: int, chat_id: int
) -> datetime | None:
    """The answer-by time promised to the customer (the profile's first_reply, on its working
    hours and holidays), kept as a timer; a second at half time reminds the topic."""
    shop, now = writer.shop, writer.now
    deadline = policy.sla_deadline("first_reply", now)
    if deadline is None:
        return None
    existing = (await shop.running_clocks(case_id)).get(FIRST_RESPONSE)
    if existing is not None:
        return existing
    await shop.start_timer(FIRST_RESPONSE, deadline, now, case_id=case_id, chat_id=chat_id)
    if writer.info.enabled:
        await shop.start_timer(HALF_TIME, now + (deadline - now) / 2, now, case_id=case_id,
                               chat_id=chat_id)  # fmt: skip
    return deadline
