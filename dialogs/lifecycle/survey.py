"""The satisfaction survey (T6, T9, T14, T20): asked once when a case closes.

The customer rates the case 1–5 with one tap, then the three dimensions of T9 (the staff's
attitude, the speed, the result) one tap each, then may type a comment (or skip it). The
questions arrive in the chat outside any step of the conversation, so their buttons carry
what they stand for (`sv:<case id>:<dimension>:<n>`) and work from whatever state the
conversation is in; being untrusted, a tap counts only for the presser's own case and only
once (`dialogs/customer/survey.py`). Unanswered after 24 hours, the rating question comes once
more; nothing after that. A rating of 2 or less is an alert for the supervisors in the case's
topic.

Pure: the shop through `ShopPort`, words from templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dialogs.agents.topic import TopicWriter
from dialogs.events import Button, Outgoing, Reply
from dialogs.shop import ShopPort
from dialogs.texts import Texts
from storage.domain import Actor
from storage.views import CaseView, SurveyView

PREFIX = "sv"
DIMENSIONS = ("rating", "attitude", "speed", "result")  # asked in this order
SKIP = "skip"  # the comment's "Skip" button
COMMENT = "comment"
SCALE = (1, 2, 3, 4, 5)
LOW = 2  # a rating of this or less alerts the supervisors
MAX_COMMENT = 500
REMIND_AFTER = timedelta(hours=24)
SURVEY_REMINDER = "survey_reminder"  # the timer's kind (dialogs/lifecycle/clocks.py KINDS)


@dataclass(frozen=True, slots=True)
class Tap:
    """What a survey button says: whose case, which question, which answer."""

    case_id: int
    dimension: str  # one of DIMENSIONS, or SKIP
    value: int


def data(case_id: int, dimension: str, value: int = 0) -> str:
    return f"{PREFIX}:{case_id}:{dimension}:{value}"


def parse(raw: str) -> Tap | None:
    """A survey button's data, or None when it is not one that this bot could have sent."""
    parts = raw.split(":")
    if len(parts) != 4 or parts[0] != PREFIX:
        return None
    _, case_id, dimension, value = parts
    if not (case_id.isdigit() and value.isdigit()) or len(case_id) > 18:
        return None
    n = int(value)
    if dimension in DIMENSIONS and n in SCALE:
        return Tap(int(case_id), dimension, n)
    if dimension == SKIP and n == 0:
        return Tap(int(case_id), dimension, n)
    return None


def next_question(survey: SurveyView) -> str | None:
    """What is still to be asked: a dimension, the comment, or nothing (all answered)."""
    for dimension in DIMENSIONS:
        if getattr(survey, dimension) is None:
            return dimension
    return COMMENT if survey.comment is None else None


def question(texts: Texts, locale: str, case: CaseView, dimension: str, *,
             reminder: bool = False) -> tuple[str, list[list[Button]]]:  # fmt: skip
    """The text and buttons of one question of the survey (`dimension`, or COMMENT)."""
    if dimension == COMMENT:
        text = texts.render(locale, "survey/comment", case=case, max=MAX_COMMENT)
        return str(text), [[Button(texts.plain(locale, "survey/label_skip"), data(case.id, SKIP))]]
    text = texts.render(locale, f"survey/{dimension}", case=case, reminder=reminder)
    rows = [[Button(texts.plain(locale, "survey/label_score", n=n), data(case.id, dimension, n))]
            for n in reversed(SCALE)]  # fmt: skip
    return str(text), rows


async def ask(shop: ShopPort, texts: Texts, case: CaseView, now: datetime,
              out: list[Outgoing]) -> None:  # fmt: skip
    """Ask the customer to rate the closed case (once per case); a reminder in 24 hours."""
    if case.kind != "request" or case.chat_id is None:
        return
    if not await shop.ask_survey(case.id, now, case.owner_id):
        return  # asked before: one survey per case
    await shop.start_timer(SURVEY_REMINDER, now + REMIND_AFTER, now, case_id=case.id,
                           chat_id=case.chat_id)  # fmt: skip
    text, rows = question(texts, case.locale, case, "rating")
    out.append(Reply(case.chat_id, text, rows))


async def remind(shop: ShopPort, texts: Texts, case: CaseView, now: datetime) -> list[Outgoing]:
    """24 hours without a rating: the question once more (and never again)."""
    survey = await shop.survey(case.id)
    if survey is None or case.chat_id is None:
        return []
    if survey.rating is not None or survey.reminded_at is not None:
        return []  # answered meanwhile, or reminded already
    await shop.answer_survey(case.id, now, reminded_at=now)
    await shop.add_case_event(case.id, Actor.BOT, "survey_reminded", {}, now)
    text, rows = question(texts, case.locale, case, "rating", reminder=True)
    return [Reply(case.chat_id, text, rows)]


async def alert(writer: TopicWriter, case: CaseView, survey: SurveyView) -> CaseView:
    """A low rating: the supervisors are named in the case's topic (opened again if it was
    closed with the case); a case that never had one gets its topic (with the card) in the
    agents' group for it. The case after."""
    if writer.info.enabled and case.agent_chat_id is None:
        case = await writer.shop.update_case(case.id, writer.now,
                                             agent_chat_id=writer.info.group_for(case))  # fmt: skip
        await writer.card(case, new=True)
    elif case.topic_id:  # closed with the case: opened again for the supervisors
        await writer.post(case, {"kind": "topic_state", "closed": False})
    await writer.say(case, "desk/survey_low", survey=survey, mention=writer.mentions())
    return case
