"""The customer's answers to the satisfaction survey (`dialogs/lifecycle/survey.py` asks).

A survey button works in every state of the conversation and leaves that state as it is: the
survey's message is edited into its next question, nothing else moves. Its data is untrusted:
it counts only for a case of the presser's own, each question once; a repeated or stale tap
gets a polite word and changes nothing. After the last tap the conversation waits for the
optional comment (`Context.survey_case`): the next text typed is it, anything else ends the
wait.
"""

from __future__ import annotations

from dialogs.events import Button, CallbackAnswer, Reply
from dialogs.lifecycle import survey as surveys
from storage.domain import Actor
from storage.views import CaseView

from .turn import Turn, clean


async def take(turn: Turn) -> bool:
    """Handle the event if it belongs to the survey; False leaves it to the conversation."""
    ev = turn.event
    if ev.kind == "button" and ev.data.startswith(surveys.PREFIX + ":"):
        await _tap(turn)
        return True
    if turn.ctx.survey_case is None:
        return False
    if ev.kind == "text" and await _comment(turn):
        return True
    turn.ctx.survey_case = None  # the customer moved on: no comment is waited for
    return False


async def _own(turn: Turn, case_id: int) -> CaseView | None:
    case = await turn.shop.case(case_id)
    mine = case is not None and turn.identified and case.customer_id == turn.conv.customer_id
    return case if mine else None


def _answer(turn: Turn, key: str | None) -> None:
    text = turn.label(key) if key else None
    turn.out.append(CallbackAnswer(turn.event.chat_id, turn.event.callback_id or "", text))


async def _tap(turn: Turn) -> None:
    ev, shop, now = turn.event, turn.shop, turn.now
    tap = surveys.parse(ev.data)
    case = await _own(turn, tap.case_id) if tap is not None else None
    found = await shop.survey(case.id) if case is not None else None
    if tap is None or case is None or found is None:
        _answer(turn, "common/stale_button")  # forged, someone else's, or never asked
        return
    if tap.dimension == surveys.SKIP:
        if surveys.next_question(found) != surveys.COMMENT:
            _answer(turn, "survey/already")
            return
        await shop.answer_survey(case.id, now, comment="")
        await shop.add_case_event(case.id, Actor.CUSTOMER, "survey_comment_skipped", {}, now)
        turn.ctx.survey_case = None
        _answer(turn, None)
        _show(turn, str(turn.t("survey/thanks", case=case)), [])
        return
    if getattr(found, tap.dimension) is not None:
        _answer(turn, "survey/already")  # a second tap, or an old message's
        return
    answered = await shop.answer_survey(case.id, now, **{tap.dimension: tap.value})
    assert answered is not None
    await shop.add_case_event(case.id, Actor.CUSTOMER, "survey_answered",
                              {tap.dimension: tap.value}, now)  # fmt: skip
    if tap.dimension == "rating" and tap.value <= surveys.LOW:
        await surveys.alert(turn.desk, case, answered)
    _answer(turn, None)
    following = surveys.next_question(answered)
    if following is None:
        turn.ctx.survey_case = None
        _show(turn, str(turn.t("survey/thanks", case=case)), [])
        return
    text, rows = surveys.question(turn.texts, turn.conv.locale, case, following)
    if following == surveys.COMMENT:
        turn.ctx.survey_case = case.id
    _show(turn, text, rows)


def _show(turn: Turn, text: str, rows: list[list[Button]]) -> None:
    """The survey's message becomes its next question (edited in place, nothing piles up)."""
    turn.out.append(Reply(turn.event.chat_id, text, rows, edit_message_id=turn.event.message_id))


async def _comment(turn: Turn) -> bool:
    """The comment typed after the last tap; False if the survey no longer waits for it."""
    assert turn.ctx.survey_case is not None
    case = await _own(turn, turn.ctx.survey_case)
    found = await turn.shop.survey(case.id) if case is not None else None
    if case is None or found is None or surveys.next_question(found) != surveys.COMMENT:
        return False
    text = clean(turn.event.text, keep_newlines=True)
    if not text:
        return False
    if len(text) > surveys.MAX_COMMENT:
        turn.say("survey/comment_too_long", max=surveys.MAX_COMMENT, length=len(text))
        return True  # still waiting for a shorter one
    await turn.shop.answer_survey(case.id, turn.now, comment=text)
    await turn.shop.add_case_event(case.id, Actor.CUSTOMER, "survey_commented",
                                   {"text": text}, turn.now)  # fmt: skip
    if found.rating is not None and found.rating <= surveys.LOW:  # the supervisors read it too
        await turn.desk.say(case, "desk/survey_comment", join=True, text=text)
    turn.ctx.survey_case = None
    turn.say("survey/thanks", case=case)
    return True
