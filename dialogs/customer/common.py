"""What several steps and commands offer alike: the language choice, the customer's
requests, and asking for a person."""

from __future__ import annotations

from datetime import datetime

from dialogs.agents.escalate import start_answer_clock, to_the_desk
from dialogs.events import Button, Reply
from dialogs.lifecycle.clocks import start_review
from storage.views import CaseView, NewQuestion

from .turn import S, Turn


def ask_language(turn: Turn) -> None:
    turn.out.append(
        Reply(
            turn.event.chat_id,
            turn.t("common/lang_choose"),
            [[Button("中文", "g:lang:zh"), Button("English", "g:lang:en")]],
        )
    )


async def status(turn: Turn) -> None:
    """The customer's "My requests": each case's timeline, next step and the buttons to take it."""
    from . import status as requests

    await requests.show(turn)


async def human(turn: Turn, question: str | None = None) -> None:
    """A person is asked for: about the case this conversation is about, or — with no case
    at hand — a question of its own, so that a person has something to answer. Such a
    question is first put to the shop's FAQ (`question` is what the customer asked there)."""
    case_id = turn.ctx.case_id
    case = await turn.shop.case(case_id) if case_id is not None else None
    own = case is not None and case.customer_id == turn.conv.customer_id
    if not own and question is None and turn.info.faq is not None and not turn.draft.order_id:
        from . import question as questions

        await questions.start(turn)
        return
    draft = turn.draft
    turn.drop_draft()
    now = turn.now
    turn.ctx.question = None
    if case is None or case.customer_id != turn.conv.customer_id:
        note = question or ""
        if draft.order_id is not None:
            order = await turn.shop.order(draft.order_id)
            note = turn.label("human/about_order", order_no=order.order_no if order else "")
        assert turn.conv.customer_id is not None
        case = await turn.shop.create_question(
            NewQuestion(turn.conv.customer_id, turn.event.chat_id, note, turn.conv.locale), now
        )
    elif case.handed_over_at is None:
        case = await turn.shop.hand_over(case.id, now) or case
        await turn.shop.add_case_event(case.id, "customer", "human_requested", {}, now)
    why = "misunderstood" if turn.ctx.misses >= MISSES_FOR_A_PERSON else "asked"
    deadline = await to_person(turn, case, why)
    turn.say("human/handed_over", case=case, deadline=deadline)
    await turn.prompt()


async def to_person(turn: Turn, case: CaseView, why: str) -> datetime | None:
    """The case goes to a person: the answer-by clock starts (the time the customer is
    promised), the agents' group gets the case, and what the customer writes reaches them."""
    turn.ctx.case_id = case.id
    turn.ctx.handover_at = turn.now.isoformat()
    turn.ctx.heard = False
    deadline = await start_answer_clock(turn.desk, turn.policy, case.id, turn.event.chat_id)
    await start_review(turn.shop, turn.policy, case, turn.now)  # a request's decision is due
    await to_the_desk(turn.desk, case, why)
    if turn.state is not S.WITH_AGENT:
        turn.fire("ask_human")
    return deadline


MISSES_FOR_A_PERSON = 3  # inputs in a row not understood: a person takes over
