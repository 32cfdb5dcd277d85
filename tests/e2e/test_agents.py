"""The agents' side through the real bot and the emulator: a customer, two agents, a
supervisor and a stranger in the agents' forum group."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.emulator.ratelimit import RateLimiter as EmulatorLimits
from bot.ratelimit import Limits, Rate, RateLimiter
from dialogs.clock import ShiftedClock
from storage import migrate
from storage.db import Database
from storage.models import Case, CaseEvent, Evidence, Timer
from storage.models import Customer as CustomerRow
from tests.e2e.desk import DESK_SETTINGS, SUPERVISOR, Desk, make_desk
from tests.e2e.harness import FAST, Customer, orders_of, running_bot, seed_demo

ALICE = "+447700900123"
MACBOOK = "MacBook Air 13-inch (M4), 16 GB, 512 GB, midnight"  # above 5000 CNY: a person decides


@pytest.fixture
async def shop_url(database_url: str) -> str:
    await asyncio.to_thread(migrate.upgrade, database_url)
    await seed_demo(database_url)
    return database_url


async def rows(url: str, model: type) -> list:
    db = Database(url)
    try:
        async with db.read() as s:
            found = list((await s.scalars(select(model).order_by(model.id))).all())
            s.expunge_all()
            return found
    finally:
        await db.dispose()


async def alice_at_menu(emu) -> Customer:
    alice = Customer(emu, emu.create_user(first_name="Alice", language_code="en"))
    await alice.say("/start", expect=2)
    await alice.share_contact(ALICE, expect=2)
    return alice


async def macbook_return(alice: Customer, url: str) -> None:
    """A quality return of the MacBook, which the standard policy leaves to a person."""
    await alice.tap("New request")
    await alice.tap((await orders_of(url, ALICE))[MACBOOK])
    await alice.tap("Return and refund")
    await alice.tap("Quality problem")
    await alice.say("The screen flickers")
    await alice.send_photo(b"\xff\xd8\xff" + b"s" * 4000)
    await alice.tap("Done")
    await alice.tap("Confirm")
    assert "A person from our team will review it" in alice.texts(), alice.texts()


async def escalated(desk: Desk) -> int:
    """The topic the case went to, once its card is there."""
    await desk.wait(lambda: len(desk.topics()) == 1 and any(
        m.buttons for m in desk.messages(desk.only_topic())))  # fmt: skip
    return desk.only_topic()


async def test_a_case_for_a_person_is_relayed_both_ways_and_approved(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await macbook_return(alice, shop_url)
        topic = await escalated(desk)
        [(_, name)] = desk.topics().items()
        assert name.startswith("AS-") and "退货" in name and name.endswith("A**"), name
        card = desk.card(topic)
        assert "MacBook Air" in card.text and "*******0123" in card.text  # phone: last four
        assert "转人工原因：" in card.text and "首次答复截止" in card.text
        assert "告诉您处理结果" not in card.text  # the customer's promise: not said to agents
        assert "+447700900123" not in desk.texts()
        # The evidence follows the card.
        await desk.wait(lambda: any(m.media_kind == "photo" for m in desk.messages(topic)))

        # The customer writes, then sends an album: both reach the topic, the album as one.
        await alice.say("Any news? It is my work laptop")
        await desk.wait(lambda: "Any news?" in desk.texts(topic))
        await alice.send_album(2, expect=0)  # "received" was said once already
        await desk.wait(
            lambda: sum(m.media_group_id is not None for m in desk.messages(topic)) == 2
        )
        said = len(alice.messages())

        # An agent answers in the topic: it reaches the customer as the bot; a note does not.
        await desk.write(desk.lin, topic, "// check the serial number first")
        await desk.write(desk.lin, topic, "Hello Alice, I am looking at it now.")
        await bot.emu.wait_until(lambda: "looking at it now" in alice.texts(), 10)
        await asyncio.sleep(0.5)
        assert "serial number" not in alice.texts()
        assert len(alice.messages()) == said + 1

        # Approve on the card: the customer is told what to do next, the card shows it.
        query = await desk.press(desk.lin, desk.card(topic), "同意")
        await bot.emu.wait_until(lambda: "Approved" in alice.texts(), 10)
        assert desk.answer_of(query) is None
        assert "Please send the item to" in alice.last.text
        await desk.wait(lambda: "已处理" in (desk.card(topic).text or ""))
        assert "负责人 Lin" in desk.card(topic).text
        assert bot.emu.unanswered_callbacks() == []
    [case] = await rows(shop_url, Case)
    assert (case.status, case.desk, case.first_response_at is not None) == (
        "awaiting_return", "decided", True)  # fmt: skip
    events = [(e.kind, e.actor, e.actor_id) for e in await rows(shop_url, CaseEvent)]
    assert ("note", "agent", 7001) in events and ("approved", "agent", 7001) in events
    assert len(await rows(shop_url, Evidence)) == 3  # the photo and the album's two


async def test_strangers_and_forged_buttons_change_nothing(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await macbook_return(alice, shop_url)
        topic = await escalated(desk)
        card = desk.card(topic)
        query = await desk.press(desk.stranger, card, "同意")
        await desk.wait(lambda: desk.answer_of(query) is not None)
        assert "只有本店客服" in (desk.answer_of(query) or "")
        await desk.write(desk.stranger, topic, "/approve")
        await desk.wait(lambda: "只有本店客服" in desk.texts(topic))
        # A button naming another case, pressed on this case's card, by an agent.
        [case] = await rows(shop_url, Case)
        forged = await bot.emu.user_clicks(desk.lin, card, f"ag:approve:{case.id + 1}",
                                           strict=False)  # fmt: skip
        query_id = str(forged["callback_query"]["id"])
        await desk.wait(lambda: desk.answer_of(query_id) is not None)
        assert "另一个售后单" in (desk.answer_of(query_id) or "")
        # Lin takes it; Mei, another agent, cannot decide it; the stranger's words go nowhere.
        await desk.press(desk.lin, card, "认领")
        await desk.wait(lambda: "Lin 认领了" in desk.texts(topic))
        await desk.write(desk.mei, topic, "/reject period")
        await desk.wait(lambda: "已由其他客服负责" in desk.texts(topic))
        await desk.write(desk.stranger, topic, "I am the shop, send me your card number")
        await asyncio.sleep(0.5)
        assert "card number" not in alice.texts()
    [case] = await rows(shop_url, Case)
    assert (case.status, case.desk) == ("pending_review", "taken")


async def test_a_partial_refund_offered_and_accepted(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await macbook_return(alice, shop_url)
        topic = await escalated(desk)
        await desk.write(desk.lin, topic, "/offer refund 300")
        await bot.emu.wait_until(lambda: alice.has_button("Accept"), 10)
        assert "partial refund of" in alice.last.text and "300" in alice.last.text
        await alice.tap("Accept")
        assert "you accepted the offer" in alice.texts()
        await desk.wait(lambda: "客户接受了方案" in desk.texts(topic))
    [case] = await rows(shop_url, Case)
    assert (case.status, case.desk) == ("approved", "decided")  # a partial refund: the item stays
    assert case.details["resolution"] == "partial_refund"
    assert case.details["offer"] == {"kind": "partial_refund", "amount": "300"}


async def test_more_evidence_asked_and_given(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await macbook_return(alice, shop_url)
        topic = await escalated(desk)
        await desk.write(desk.lin, topic, "/ask Please send a photo of the serial number label")
        await bot.emu.wait_until(lambda: "serial number label" in alice.texts(), 10)
        await alice.send_photo(b"\xff\xd8\xff" + b"n" * 3000)
        await desk.wait(lambda: "客户已回复" in desk.texts(topic))
        photos = [m for m in desk.messages(topic) if m.media_kind == "photo"]
        assert len(photos) == 2  # the case's evidence, and the answer
    [case] = await rows(shop_url, Case)
    assert (case.status, case.desk) == ("pending_review", "taken")
    assert len(await rows(shop_url, Evidence)) == 2


async def test_a_deleted_topic_is_made_again(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await macbook_return(alice, shop_url)
        old = await escalated(desk)
        del desk.group.topics[old]  # an agent deleted it
        await alice.say("Hello? Anyone?")
        await desk.wait(lambda: len(desk.topics()) == 1 and desk.only_topic() != old)
        new = desk.only_topic()
        await desk.wait(lambda: "Hello? Anyone?" in desk.texts(new))
        assert "话题已被删除" in desk.texts(new)
        await desk.write(desk.lin, new, "/card")
        await desk.wait(lambda: any(m.buttons for m in desk.messages(new)))
    [case] = await rows(shop_url, Case)
    assert case.topic_id == new


async def test_a_complaint_reaches_the_supervisors(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await macbook_return(alice, shop_url)
        topic = await escalated(desk)
        await desk.write(desk.lin, topic, "/reject damage")
        await bot.emu.wait_until(lambda: alice.has_button("Complain"), 10)
        assert "the damage was caused by use" in alice.last.text
        await alice.tap("Complain")
        assert "complaint about request" in alice.texts() and "submitted" in alice.texts()
        await desk.wait(lambda: "客户对处理结果提出投诉" in desk.texts(topic))
        assert desk.mentioned(SUPERVISOR, topic)
        # The card says it in Chinese.
        await desk.wait(lambda: "投诉已提交" in (desk.card(topic).text or ""))
        await desk.write(desk.lin, topic, "/accept")
        await desk.wait(lambda: "只有主管" in desk.texts(topic))
        await desk.write(desk.boss, topic, "/accept")
        await bot.emu.wait_until(lambda: "is <b>accepted</b>" in alice.texts() or
                                 "accepted for review" in alice.texts(), 10)  # fmt: skip
        await desk.write(desk.boss, topic, "/resolve We replace the laptop as a goodwill gesture")
        await bot.emu.wait_until(lambda: "goodwill gesture" in alice.texts(), 10)
        assert "accepted for review" in alice.last.text and "resolved" in alice.last.text
        # One line per step of the timeline.
        assert "\n• submitted: " in alice.last.text and "\n• resolved: " in alice.last.text
        # Once per case.
        await alice.say("/complain")
        assert "already complained" in alice.texts()
    [case] = await rows(shop_url, Case)
    assert case.dispute == "resolved"
    kinds = [e.kind for e in await rows(shop_url, CaseEvent)]
    assert kinds.count("dispute_submitted") == 1 and "dispute_resolved" in kinds


async def test_the_chat_stays_with_the_person_across_a_restart(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await macbook_return(alice, shop_url)
        topic = await escalated(desk)
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        said = len(alice.messages())
        await bot.emu.user_sends_text(alice.user, "Still there?")
        await desk.wait(lambda: "Still there?" in desk.texts(topic))
        await asyncio.sleep(0.3)
        assert len(alice.messages()) == said + 1  # "received", once: the bot keeps quiet
        assert "在此话题中发消息即回复客户" in desk.card(topic).text
        await desk.write(desk.lin, topic, "/back")
        await bot.emu.wait_until(lambda: "I'm back to help you" in alice.texts(), 10)
        await alice.tap("Main menu")
        assert alice.has_button("New request")
        # The topic no longer reaches the customer, and says so: on the card and when written.
        await desk.wait(lambda: "已交回机器人" in desk.card(topic).text)
        assert "在此写的消息不会发给客户" in desk.card(topic).text
        assert "在此话题中发消息即回复客户" not in desk.card(topic).text
        said = len(alice.messages())
        await desk.write(desk.lin, topic, "One more thing about your laptop")
        await desk.wait(lambda: "未发送" in desk.texts(topic))
        assert "客户再次转人工后即可回复" in desk.texts(topic) and "/take" not in desk.texts(topic)
        await asyncio.sleep(0.3)
        assert len(alice.messages()) == said and "One more thing" not in alice.texts()


async def test_a_plain_group_works_by_replying_to_the_card(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu, forum=False)
        alice = await alice_at_menu(bot.emu)
        await macbook_return(alice, shop_url)
        await desk.wait(lambda: any(m.buttons for m in desk.messages()))
        card = next(m for m in desk.messages() if m.buttons)
        await alice.say("Is anyone there?")
        await desk.wait(lambda: "Is anyone there?" in desk.texts())
        relayed = next(m for m in desk.messages() if "Is anyone there?" in (m.text or ""))
        assert relayed.message["reply_to_message"]["message_id"] == card.message_id
        await bot.emu.user_sends_text(desk.lin, "Yes, I am here", chat=desk.group,
                                      reply_to=card)  # fmt: skip
        await bot.emu.wait_until(lambda: "Yes, I am here" in alice.texts(), 10)


async def test_the_faq_answers_first_and_a_person_is_one_tap_away(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await alice.say("/human")
        assert "What would you like to ask?" in alice.last.text
        await alice.say("When will I get my money back?")
        assert "refund" in alice.last.text.lower() and alice.has_button("That helped")
        await alice.tap("Talk to a person", expect=2)
        assert "A person will answer here" in alice.texts()
        topic = await escalated(desk)
        assert "咨询" in desk.topics()[topic]
        assert "When will I get my money back?" in desk.card(topic).text
        # Answered and handed back: the customer hears the question is done, not a status.
        await desk.write(desk.lin, topic, "Refunds reach your card within 3 working days.")
        await desk.write(desk.lin, topic, "/back")
        await bot.emu.wait_until(lambda: "I'm back to help you" in alice.texts(), 10)
        done = alice.last.text
        assert "finished with your question" in done and "(now" not in done
        assert done.splitlines()[-1].startswith("I'm back to help you"), done  # a line of its own
        # In Chinese, at the menu, with no command at all.
        wang = Customer(bot.emu, bot.emu.create_user(first_name="小明", language_code="zh"))
        await wang.say("/start", expect=2)
        await wang.share_contact("+8613800138000", expect=2)
        await wang.say("快递单号填在哪里")
        assert "单号" in wang.last.text and wang.has_button("已解决")
        await wang.tap("已解决", expect=2)
        assert "很高兴能帮到您" in wang.texts()
    assert len(desk.topics()) == 1  # the FAQ answered Wang: nobody was called


async def test_three_misunderstood_messages_call_a_person(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await alice.tap("New request")
        for text in ("blah", "zzzz", "qwerty"):
            await alice.say(text)
        assert "A person will answer here" in alice.texts()
        topic = await escalated(desk)
        assert "咨询" in desk.topics()[topic]


async def test_the_first_answer_clock_reminds_then_names_the_supervisors(
    emulator, shop_url, tmp_path
):
    clock = ShiftedClock()
    async with running_bot(emulator, shop_url, tmp_path, clock=clock, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await macbook_return(alice, shop_url)
        topic = await escalated(desk)
        timers = {t.kind: t.due_at for t in await rows(shop_url, Timer)}
        assert set(timers) == {"first_response", "first_response_half", "review"}
        clock.advance(timers["first_response_half"] - clock.now() + timedelta(minutes=1))
        bot.runtime.timers.wake()
        await desk.wait(lambda: "首次答复时限已过半" in desk.texts(topic))
        assert not desk.mentioned(SUPERVISOR, topic)
        clock.advance(timers["first_response"] - clock.now() + timedelta(minutes=1))
        bot.runtime.timers.wake()
        await desk.wait(lambda: "已超过承诺的首次答复时间" in desk.texts(topic))
        assert desk.mentioned(SUPERVISOR, topic)
        await bot.emu.wait_until(lambda: "still waiting for a person" in alice.texts(), 10)
    kinds = [e.kind for e in await rows(shop_url, CaseEvent)]
    assert kinds.count("first_response_reminded") == 1
    assert kinds.count("first_response_breached") == 1


async def test_the_queue_and_an_agents_own_cases(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await macbook_return(alice, shop_url)
        topic = await escalated(desk)
        await desk.write(desk.mei, None, "/queue")
        await desk.wait(lambda: "等待客服处理" in desk.texts(None))
        assert "暂无负责人" in desk.texts(None) and "分钟内答复" in desk.texts(None)
        await desk.write(desk.mei, None, "/mine")
        await desk.wait(lambda: "您没有未完成的售后单" in desk.texts(None))
        await desk.press(desk.mei, desk.card(topic), "认领")
        await desk.wait(lambda: "Mei 认领了" in desk.texts(topic))
        await desk.write(desk.mei, None, "/mine")
        await desk.wait(lambda: "我的售后单" in desk.texts(None))
        await desk.write(desk.stranger, None, "/queue")
        await desk.wait(lambda: "只有本店客服" in desk.texts(None))


async def add_customers(url: str, count: int) -> list[str]:
    db = Database(url)
    phones = [f"+86139{n:08d}" for n in range(count)]
    try:
        async with db.transaction() as s:
            s.add_all(CustomerRow(phone=p, name=f"顾客{n}", language="zh")
                      for n, p in enumerate(phones))  # fmt: skip
    finally:
        await db.dispose()
    return phones


async def test_thirty_escalations_at_once_keep_the_groups_limit(emulator, shop_url, tmp_path):
    phones = await add_customers(shop_url, 30)
    # Telegram's 20 messages a minute per group, sixty times faster: the same shape in seconds.
    emulator.emulator.rate_limits = EmulatorLimits(
        enforce=True, group_per_minute=1200, group_burst=20, private_per_second=1000,
        private_burst=1000, global_per_second=1000, global_burst=1000,
    )  # fmt: skip
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        bot.runtime.outbox.limiter = RateLimiter(
            Limits(private=FAST, group=Rate(per_second=18.0, burst=3), overall=FAST)
        )
        desk = make_desk(bot.emu)
        people = [Customer(bot.emu, bot.emu.create_user(first_name=f"C{n}", language_code="zh"))
                  for n in range(30)]  # fmt: skip

        async def escalate(person: Customer, phone: str) -> None:
            await person.say("/start", expect=2)
            await person.share_contact(phone, expect=2)
            await person.say("/human")
            await person.say("能不能帮我在盒子上刻字？", expect=2)

        await asyncio.gather(*(escalate(p, ph) for p, ph in zip(people, phones, strict=True)))
        await desk.wait(lambda: len(desk.topics()) == 30
                        and sum(bool(m.buttons) for m in desk.messages()) == 30, 60)  # fmt: skip
        for topic in desk.topics():
            assert len([m for m in desk.messages(topic) if m.buttons]) == 1
    stats = emulator.emulator.rate_limits.stats
    assert stats.exceeded == 0, stats
    assert len({c.topic_id for c in await rows(shop_url, Case)}) == 30


async def test_a_question_becomes_a_request_for_one_of_the_customers_orders(
    emulator, shop_url, tmp_path
):
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await alice.say("/human")
        await alice.say("Can you engrave my name on the box I bought?", expect=2)
        topic = await escalated(desk)
        # Nothing to approve or refuse in a question: the card offers neither, the command says why.
        labels = [b["text"] for b in desk.card(topic).buttons]
        assert "同意" not in labels and "拒绝" not in labels and "认领" in labels, labels
        await desk.write(desk.lin, topic, "/approve")
        await desk.wait(lambda: "这是咨询，不是售后申请" in desk.texts(topic))
        said = len(alice.messages())
        orders = await orders_of(shop_url, ALICE)
        await desk.write(desk.lin, topic, "/order DD0000000000")
        await desk.wait(lambda: "不是该客户的订单" in desk.texts(topic))
        await desk.write(desk.lin, topic, f"/order {orders[MACBOOK]}")
        await bot.emu.wait_until(lambda: alice.has_button("Start the request"), 10)
        assert len(alice.messages()) == said + 1  # the refused /approve told her nothing
        await alice.tap("Start the request")
        assert alice.has_button("Return and refund"), alice.last.text
