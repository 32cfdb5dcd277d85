"""The satisfaction survey: asked once when a case closes, answered with one tap per question
from whatever the conversation is doing, a comment or Skip, one reminder after 24 hours, a
low rating alerting the supervisors; taps that are stale, repeated or someone else's change
nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dialogs.clock import FrozenClock
from dialogs.events import CallbackAnswer, Outgoing, TopicPost
from dialogs.lifecycle import survey as surveys
from dialogs.lifecycle.steps import Step
from dialogs.work import CaseStepInput, Job
from storage.db import Database
from storage.models import Case, Conversation, Customer, Survey, Timer
from tests.dialogs.clock_helpers import (
    GROUP,
    SUPERVISOR,
    event_kinds,
    fire_due,
    make_service,
    pending,
    replies,
    show,
    the_case,
    topic_texts,
)
from tests.dialogs.harness import Chat, Service
from tests.dialogs.shop_data import ALICE_PHONE, WANG_PHONE, Shop, build_shop
from tests.factories import make_case, make_order

WANG_CHAT = 501


@pytest.fixture
async def shop(db: Database) -> Shop:
    return await build_shop(db)


@pytest.fixture
def service(db: Database, clock: FrozenClock) -> Service:
    return make_service(db, clock)


async def identified(service: Service, user_id: int, phone: str) -> Chat:
    chat = Chat(service, user_id=user_id, language_code="en")
    await chat.command("start")
    await chat.contact(phone)
    return chat


async def refunded_case(db: Database, shop: Shop) -> int:
    """A return of Wang's, refunded: the shop closes it next."""
    async with db.transaction() as s:
        wang = await s.get_one(Customer, shop.wang_id)
        order = await make_order(s, wang, items=[{"name": "Phone X", "unit_price": "3999.00"}])
        case = await make_case(s, order, status="refunded", chat_id=WANG_CHAT, locale="en")
        return case.id


async def close(service: Service, case_id: int, *chats: Chat) -> list[Outgoing]:
    out = await service.work.run(Job(WANG_CHAT, CaseStepInput(case_id, Step("close"))))
    show(out, *chats)
    return out


async def survey_row(db: Database, case_id: int) -> Survey:
    async with db.read() as s:
        found = await s.scalar(select(Survey).where(Survey.case_id == case_id))
        assert found is not None
        s.expunge_all()
        return found


async def state_of(db: Database, chat_id: int) -> tuple[str, dict]:
    async with db.read() as s:
        conv = await s.scalar(select(Conversation).where(Conversation.chat_id == chat_id))
        assert conv is not None
        return conv.state, dict(conv.context)


def answers(chat: Chat) -> list[str | None]:
    return [a.text for a in chat.answers]


async def test_a_closed_case_is_rated_in_four_taps_and_a_comment(service, shop, db):
    chat = await identified(service, WANG_CHAT, WANG_PHONE)
    await chat.press("New request")  # mid-way through something else
    before = await state_of(db, WANG_CHAT)
    case_id = await refunded_case(db, shop)
    out = await close(service, case_id, chat)
    text = replies(out, WANG_CHAT)
    assert "closed" in text and "How would you rate the handling of your request" in text
    assert chat.button_labels() == [
        "⭐⭐⭐⭐⭐ 5 · Excellent",
        "⭐⭐⭐⭐ 4 · Good",
        "⭐⭐⭐ 3 · OK",
        "⭐⭐ 2 · Poor",
        "⭐ 1 · Very poor",
    ]
    assert chat.last.buttons[0][0].data == f"sv:{case_id}:rating:5"
    asked = chat.last

    await chat.press("4 · Good")
    assert chat.last is asked and "attitude" in asked.text  # the same message, edited
    await chat.press("5 · Excellent")
    assert "speed" in asked.text
    await chat.press("3 · OK")
    assert "result" in asked.text
    await chat.press("4 · Good")
    assert "Type it here (up to 500 characters)" in asked.text and chat.has_button("Skip")
    await chat.text("Quick refund, thank you!")
    assert "Thank you for your feedback" in chat.last_text
    row = await survey_row(db, case_id)
    assert (row.rating, row.attitude, row.speed, row.result) == (4, 5, 3, 4)
    assert row.comment == "Quick refund, thank you!" and row.answered_at is not None
    # The conversation is where it was: the list of orders still answers its buttons.
    state, context = await state_of(db, WANG_CHAT)
    assert state == before[0] and context.get("nonce") == before[1].get("nonce")
    assert "survey_case" not in context
    await chat.text(shop.orders["phone"])  # typed text is the conversation's again
    assert chat.has_button("Return and refund")
    kinds = await event_kinds(db, case_id)
    assert kinds.count("survey_answered") == 4
    assert "survey_commented" in kinds
    assert not any(isinstance(o, TopicPost) for o in chat.last_out)  # no alert for a 4


async def test_a_low_rating_alerts_the_supervisors_in_the_agents_group(service, shop, db):
    chat = await identified(service, WANG_CHAT, WANG_PHONE)
    case_id = await refunded_case(db, shop)
    await close(service, case_id, chat)
    out = await chat.press("1 · Very poor")
    topic = topic_texts(out)
    assert "Low satisfaction rating" in topic and f"tg://user?id={SUPERVISOR}" in topic
    posts = [o for o in out if isinstance(o, TopicPost)]
    assert posts[0].payload.get("card")  # no topic before: it gets one, with the card
    assert {p.agent_chat_id for p in posts} == {GROUP}
    assert (await the_case(db, case_id)).agent_chat_id == GROUP
    for label in ("2 · Poor", "1 · Very poor", "2 · Poor"):
        await chat.press(label)
    out = await chat.text("Nobody answered for days")
    assert "Nobody answered for days" in topic_texts(out)  # the supervisors read it too


async def test_one_reminder_after_a_day_and_nothing_after(service, shop, db, clock):
    chat = await identified(service, WANG_CHAT, WANG_PHONE)
    case_id = await refunded_case(db, shop)
    await close(service, case_id, chat)
    assert (await pending(db))["survey_reminder"].due_at == clock.now() + timedelta(hours=24)
    clock.advance(timedelta(hours=23))
    assert await fire_due(service, chat) == []
    clock.advance(timedelta(hours=1, minutes=1))
    out = await fire_due(service, chat)
    assert "A gentle reminder" in replies(out, WANG_CHAT)
    assert chat.has_button("5 · Excellent")
    clock.advance(timedelta(days=7))
    assert await fire_due(service, chat) == []
    assert (await survey_row(db, case_id)).reminded_at is not None
    assert (await event_kinds(db, case_id)).count("survey_reminded") == 1
    await chat.press("5 · Excellent")  # the reminder's buttons work like the first's
    assert (await survey_row(db, case_id)).rating == 5


async def test_no_reminder_once_rated(service, shop, db, clock):
    chat = await identified(service, WANG_CHAT, WANG_PHONE)
    case_id = await refunded_case(db, shop)
    await close(service, case_id, chat)
    await chat.press("3 · OK")
    clock.advance(timedelta(hours=25))
    assert await fire_due(service, chat) == []
    assert (await survey_row(db, case_id)).reminded_at is None


async def test_repeated_stale_forged_and_foreign_taps_change_nothing(service, shop, db):
    chat = await identified(service, WANG_CHAT, WANG_PHONE)
    case_id = await refunded_case(db, shop)
    await close(service, case_id, chat)
    await chat.press_data(f"sv:{case_id}:rating:4")
    await chat.press_data(f"sv:{case_id}:rating:1")  # a second tap of the first question
    assert answers(chat)[-1] == "Already answered, thank you."
    alice = await identified(service, 502, ALICE_PHONE)
    await alice.press_data(f"sv:{case_id}:attitude:1")  # someone else's case
    assert "out of date" in (alice.answers[-1].text or "")
    for forged in (f"sv:{case_id}:rating:9", f"sv:{case_id}:mood:3", "sv:x:rating:3",
                   f"sv:{case_id}:rating", f"sv:{case_id + 99}:rating:3"):  # fmt: skip
        await chat.press_data(forged)
        assert "out of date" in (chat.answers[-1].text or ""), forged
    await chat.press_data(f"sv:{case_id}:skip:0")  # the comment is not asked yet
    assert answers(chat)[-1] == "Already answered, thank you."
    row = await survey_row(db, case_id)
    assert (row.rating, row.attitude, row.speed, row.result) == (4, None, None, None)
    assert row.comment is None
    assert (await event_kinds(db, case_id)).count("survey_answered") == 1
    # Every press got exactly one answer (Telegram wants one for each).
    assert all(isinstance(a, CallbackAnswer) for a in chat.answers)


async def test_skip_ends_the_survey_and_typing_is_the_conversations_again(service, shop, db):
    chat = await identified(service, WANG_CHAT, WANG_PHONE)
    case_id = await refunded_case(db, shop)
    await close(service, case_id, chat)
    for label in ("5 · Excellent", "5 · Excellent", "5 · Excellent", "5 · Excellent"):
        await chat.press(label)
    await chat.press("Skip")
    assert "Thank you for your feedback" in chat.last_text
    await chat.press_data(f"sv:{case_id}:skip:0")
    assert answers(chat)[-1] == "Already answered, thank you."
    await chat.text("hello")  # not a comment any more
    assert (await survey_row(db, case_id)).comment == ""
    assert "survey_commented" not in await event_kinds(db, case_id)


async def test_a_command_ends_the_wait_for_a_comment(service, shop, db):
    chat = await identified(service, WANG_CHAT, WANG_PHONE)
    case_id = await refunded_case(db, shop)
    await close(service, case_id, chat)
    for label in ("4 · Good", "4 · Good", "4 · Good", "4 · Good"):
        await chat.press(label)
    assert (await state_of(db, WANG_CHAT))[1].get("survey_case") == case_id
    await chat.command("menu")
    assert "survey_case" not in (await state_of(db, WANG_CHAT))[1]
    await chat.text("x" * 600)
    assert (await survey_row(db, case_id)).comment is None


async def test_a_long_comment_is_asked_shorter(service, shop, db):
    chat = await identified(service, WANG_CHAT, WANG_PHONE)
    case_id = await refunded_case(db, shop)
    await close(service, case_id, chat)
    for label in ("2 · Poor", "3 · OK", "3 · OK", "3 · OK"):
        await chat.press(label)
    await chat.text("y" * 501)
    assert "shorten your comment to 500" in chat.last_text
    await chat.text("y" * 500)
    assert (await survey_row(db, case_id)).comment == "y" * 500


async def test_one_survey_per_case(service, shop, db, clock):
    chat = await identified(service, WANG_CHAT, WANG_PHONE)
    case_id = await refunded_case(db, shop)
    await close(service, case_id, chat)
    case = await service.units.case_view(case_id)
    assert case is not None
    out: list[Outgoing] = []
    async with service.units.open(clock.now()) as unit:
        await surveys.ask(unit.shop, service.work.conversations.texts, case, clock.now(), out)
    assert out == []
    async with db.read() as s:
        kinds = list(await s.scalars(select(Timer.kind).where(Timer.case_id == case_id)))
    assert kinds.count("survey_reminder") == 1  # no second reminder either


async def test_a_low_rating_opens_the_closed_topic_of_the_case_again(service, shop, db):
    chat = await identified(service, WANG_CHAT, WANG_PHONE)
    case_id = await refunded_case(db, shop)
    async with db.transaction() as s:
        case = await s.get_one(Case, case_id)
        case.agent_chat_id, case.topic_id = GROUP, 77
    await close(service, case_id, chat)
    out = await chat.press("2 · Poor")
    posts = [o.payload for o in out if isinstance(o, TopicPost)]
    assert posts[0] == {"kind": "topic_state", "closed": False}
    assert "Low satisfaction rating" in str(posts[1]["text"])
    assert not any(p.get("card") for p in posts)  # it has its card already
