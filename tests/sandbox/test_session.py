"""The sandbox's session end to end: the real bot behind the emulator, as a person sees it."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.sandbox.session import AGENTS_CHAT_ID, SandboxSession
from tests.sandbox.conftest import config_in, number_of


def joined(lines: list[str]) -> str:
    return "\n".join(lines)


async def test_banner_names_the_demo_customer_and_the_way_to_press_buttons(
    session: SandboxSession,
) -> None:
    banner = joined(session.banner())
    assert "王小明 (+8613800138000)" in banner
    assert "type the number to press one" in banner
    assert ":help" in banner
    assert str(session.config.database) in banner


async def test_a_return_from_start_to_the_policy_answer(session: SandboxSession) -> None:
    greeting = joined(await session.send_line("/start"))
    assert "🤖 您好！这里是Demo Shop售后自助服务。" in greeting
    assert "⌨ keyboard: [📱 分享我的手机号] → type :contact" in greeting

    menu = await session.send_line(":contact")
    assert "🤖 验证成功，王小明，欢迎！" in menu
    assert "   [1] 🧾 申请售后" in menu
    assert "   [2] 📋 我的售后单" in menu

    orders = await session.send_line("1")
    assert orders[0] == "(pressed 🧾 申请售后)"
    assert orders[1].startswith("🤖 (edited) DD")  # each order with what is in it
    assert any("请选择订单" in line for line in orders)
    assert any(line.startswith("   [1] DD") for line in orders)

    await session.send_line(number_of(session, "¥1,599.00"))
    await session.send_line(number_of(session, "退货退款"))
    ask = joined(await session.send_line(number_of(session, "质量问题")))
    assert "请简单描述一下问题" in ask
    evidence = joined(await session.send_line("屏幕有划痕"))
    assert "请发送至少 1 张照片" in evidence

    photo = joined(await session.send_line(":photo"))
    assert "已收到 1 张" in photo
    album = joined(await session.send_line(":album 2"))
    assert "已收到 3 张" in album

    summary = joined(await session.send_line(number_of(session, "完成")))
    assert "照片和视频：3 个" in summary
    assert "政策预审" not in summary  # no internal words for the customer
    assert "可以直接通过" in summary
    done = joined(await session.send_line(number_of(session, "确认提交")))
    assert "售后单号 AS-" in done
    assert len(list((session.config.evidence_dir).iterdir())) == 3


async def test_numbers_outside_the_buttons_and_long_numbers(session: SandboxSession) -> None:
    await session.send_line("/start")
    assert session.buttons == []
    await session.send_line(":contact")
    assert len(session.buttons) == 4
    assert "There is no button 9; the buttons are 1-4." in joined(await session.send_line("9"))
    # four digits are text (the last digits of a phone number), never a button
    reply = joined(await session.send_line("8000"))
    assert "(pressed" not in reply
    assert reply.startswith("🤖 ")


async def test_me_lists_demo_phones_and_orders_from_the_database(session: SandboxSession) -> None:
    text = joined(await session.send_line(":me"))
    assert "You are 王小明, Telegram user 7000000001, app language 'zh'" in text
    for phone in ("+8613800138000", "+8613912345678", "+447700900123", "+8618612345678"):
        assert phone in text
    assert "Redmi Note 14 Pro" in text
    assert "delivered 200 days ago" in text
    assert "paid 6 hours ago" in text


async def test_sandbox_commands(session: SandboxSession) -> None:
    help_text = joined(await session.send_line(":help"))
    assert ":album [N]" in help_text and ":topic N" in help_text and ":customer" in help_text
    assert "No topics yet" in joined(await session.send_line(":agents"))
    assert session.prompt == "[agent · topics] > "
    assert "customer, again" in joined(await session.send_line(":customer"))
    assert session.prompt == "[customer] > "
    assert "Unknown sandbox command ':nope'" in joined(await session.send_line(":nope"))
    assert "2 to 10" in joined(await session.send_line(":album 11"))
    assert "No such file" in joined(await session.send_line(":photo /no/such.png"))
    switched = joined(await session.send_line(":lang en"))
    assert "type /lang" in switched
    assert session.user.language_code == "en"
    assert not session.finished
    assert await session.send_line(":quit") == []
    assert session.finished


async def test_english_persona(tmp_path: Path) -> None:
    sandbox = SandboxSession(config_in(tmp_path, language="en"))
    await sandbox.start()
    try:
        assert "Alice Johnson (+447700900123)" in joined(sandbox.banner())
        await sandbox.send_line("/start")
        menu = joined(await sandbox.send_line(":contact"))
        assert "[1] 🧾 New request" in menu
    finally:
        assert await sandbox.close() == []


async def test_a_kept_database_resumes_the_conversation(tmp_path: Path) -> None:
    first = SandboxSession(config_in(tmp_path))
    await first.start()
    try:
        await first.send_line("/start")
        await first.send_line(":contact")
    finally:
        await first.close()
    # A new emulator starts its update ids afresh; the sandbox must carry on after the stored
    # ones, or the bot would drop every update of the second run as a duplicate.
    second = SandboxSession(config_in(tmp_path, fresh=False))
    await second.start()
    try:
        menu = joined(await second.send_line("/menu"))
        assert "[1] 🧾 申请售后" in menu
    finally:
        assert await second.close() == []


async def test_a_kept_database_gives_new_topics_ids_no_old_case_had(tmp_path: Path) -> None:
    """The bot finds a case by its topic's id: a topic of the new emulator taking the id an
    old case's topic had would mix two cases up."""
    first = SandboxSession(config_in(tmp_path))
    await first.start()
    try:
        for line in ("/start", ":contact", "/human", "能在盒子上刻字吗？", ":agents"):
            await first.send_line(line)
        [old] = first.group.topics()
    finally:
        assert await first.close() == []
    second = SandboxSession(config_in(tmp_path, fresh=False))
    await second.start()
    try:
        await second.send_line("还在吗？")  # still with a person: relayed, the topic made again
        listing = joined(await second.send_line(":agents"))
        [new] = second.group.topics()
        assert new.message_thread_id > old.message_thread_id
        assert "[1] AS-" in listing
        assert "还在吗？" in joined(await second.send_line("1"))
    finally:
        assert await second.close() == []


async def test_messages_nobody_asked_for_edits_deletions_and_the_agents_group(
    session: SandboxSession,
) -> None:
    """What `collect()` shows between two lines: the terminal prints it above the prompt."""
    await session.send_line("/start")
    bot = session.runtime.bot
    chat = session.user.id
    sent = await bot.send_message(chat, "Case <b>AS-1</b> &amp; <code>DD1</code>")
    assert session.collect() == ["🤖 Case AS-1 & DD1"]
    assert session.collect() == []
    await bot.edit_message_text("Case <b>AS-1</b> closed", chat_id=chat, message_id=sent.message_id)
    assert session.collect() == ["🤖 (edited) Case AS-1 closed"]
    await bot.delete_message(chat, sent.message_id)
    assert session.collect() == ["🤖 (deleted: Case AS-1 closed)"]

    topic = await bot.create_forum_topic(AGENTS_CHAT_ID, "AS-1 王小明")
    await bot.send_message(AGENTS_CHAT_ID, "New case", message_thread_id=topic.message_thread_id)
    note = session.collect()
    assert note == [
        "📣 The bot posted 1 message in the agents' group (:agents to look as the agent)."
    ]
    assert session.collect() == []  # said once
    agents = await session.send_line(":agents")
    assert "  [1] AS-1 王小明  (1 message, 1 new)" in agents
    opened = await session.send_line("1")
    assert opened[0] == "# AS-1 王小明  (topic 1)" and opened[-1] == "🤖 New case"
    # As the agent, what reaches the customer is one line, and the topic shows its news.
    await bot.send_message(chat, "Hello customer")
    await bot.send_message(AGENTS_CHAT_ID, "More", message_thread_id=topic.message_thread_id)
    assert session.collect() == [
        "🤖 More",
        "📣 The customer got 1 message (:customer shows it).",
    ]
    assert "🤖 Hello customer" in await session.send_line(":customer")


async def test_the_person_at_the_keyboard_is_the_agent_too(session: SandboxSession) -> None:
    """The whole handoff: the customer asks for a person, the agent answers in the case's
    topic, keeps a note, closes the case on its card, and the customer sees the result."""
    await session.send_line("/start")
    await session.send_line(":contact")
    assert "请用一句话描述您的问题" in joined(await session.send_line("/human"))
    handed = joined(await session.send_line("能在盒子上刻字吗？"))  # the FAQ does not know
    assert "已将您的问题转给客服" in handed

    listing = await session.send_line(":agents")
    assert session.prompt == "[agent · topics] > "
    topics = [line for line in listing if line.startswith("  [") and "AS-" in line]
    assert len(topics) == 1
    assert topics[0].startswith("  [1] AS-") and "咨询" in topics[0] and "new" in topics[0]
    assert any(line.startswith("  [:general] General") for line in listing)

    opened = joined(await session.send_line(":topic 1"))
    assert session.prompt.startswith("[agent · AS-") and "·" not in session.prompt[9:]
    assert "客户描述：能在盒子上刻字吗？" in opened
    # A question: nothing to approve or refuse on its card.
    assert "[1] 认领\n" in opened and "同意" not in opened and "[4] 关闭" in opened
    assert [b.label for b in session.buttons][-1] == "关闭"

    replied = joined(await session.send_line("您好，可以刻字，请告诉我要刻的内容。"))
    assert "📣 The customer got 1 message (:customer shows it)." in replied
    assert "负责人 Agent Zhang" in replied  # answering took the case: the card says so
    noted = await session.send_line("//客户想在盒子上刻字")
    assert noted == ["(a note: it stays in the topic; the customer got nothing)"]

    closed = await session.send_line(number_of(session, "关闭"))
    assert closed[0] == "(pressed 关闭)"
    assert "已完结" in joined(closed)  # the card, edited
    assert "📣 The customer got 1 message (:customer shows it)." in closed
    assert session.buttons == []  # a closed case's card has no buttons left

    back = joined(await session.send_line(":customer"))
    assert session.prompt == "[customer] > "
    assert "您好，可以刻字，请告诉我要刻的内容。" in back
    assert "刻字，已" not in back and "客户想在盒子上刻字" not in back  # the note stayed
    assert "已关闭" in back

    again = joined(await session.send_line(":agents"))
    assert "closed" in again and "new" not in again.split("\n")[1]


async def test_the_agent_is_told_where_nothing_can_be_written(session: SandboxSession) -> None:
    assert await session.send_line(":topic 9") == [
        "There is no topic 9: no case has reached the agents yet "
        "(as the customer, /human asks for a person)."
    ]
    assert session.prompt == "[customer] > "  # an unknown topic leaves you where you were
    assert "Usage: :topic N" in joined(await session.send_line(":topic x"))
    await session.send_line(":agents")
    for line in ("hello", "/approve", ":say hi"):
        [hint] = await session.send_line(line)
        assert hint.startswith("No case has reached the agents yet, so there is no topic")
        assert ":customer" in hint and ":general" in hint
    assert "There is no topic 1" in joined(await session.send_line("1"))
    assert "Only the customer" in joined(await session.send_line(":contact"))
    # General is there from the start: /queue answers in it.
    general = await session.send_line(":general")
    assert session.prompt == "[agent · General] > "
    assert general[0].startswith("# General")
    assert "🤖 没有等待客服处理的售后单。" in await session.send_line("/queue")
    assert "no answer: in General" in joined(await session.send_line("hello"))


async def test_the_agent_is_a_supervisor_too(session: SandboxSession) -> None:
    assert session.runtime.settings.supervisor_ids == [session.group.agent.id]
    await session.send_line("/start")
    await session.send_line(":contact")
    await session.send_line("/human")
    await session.send_line("能在盒子上刻字吗？")
    await session.send_line(":topic 1")
    await session.send_line("/close")  # a question is answered and closed, never refused
    await session.send_line(":customer")
    assert "投诉" in joined(await session.send_line("/complain"))
    await session.send_line(":topic 1")
    await session.send_line("/accept")
    resolved = joined(await session.send_line("/resolve 我们为您免费刻字"))
    assert "只有主管" not in resolved
    assert "我们为您免费刻字" in joined(await session.send_line(":customer"))


async def test_malformed_requests_are_reported_at_exit(tmp_path: Path) -> None:
    sandbox = SandboxSession(config_in(tmp_path))
    await sandbox.start()
    try:
        await sandbox.send_line("/start")
        with pytest.raises(TelegramBadRequest):
            await sandbox.runtime.bot.send_message(sandbox.user.id, "<b>never closed")
    finally:
        report = await sandbox.close()
    assert report[0] == "The emulator refused 1 malformed request(s); these are bugs:"
    assert report[1].startswith("  sendMessage: Bad Request: can't parse entities")


async def test_buttons_of_every_new_message_can_be_pressed(session: SandboxSession) -> None:
    """As in Telegram: an approval's "Enter the waybill number" stays pressable although
    "Anything else?" with its "Main menu" came after it."""
    await session.send_line("/start")
    bot, chat = session.runtime.bot, session.user.id

    def keyboard(label: str, data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text=label, callback_data=data)]]
        )

    await bot.send_message(chat, "Approved", reply_markup=keyboard("Enter the waybill", "g:menu"))
    await bot.send_message(chat, "Anything else?", reply_markup=keyboard("Main menu", "g:x"))
    shown = joined(session.collect())
    assert "[1] Enter the waybill" in shown and "[2] Main menu" in shown
    assert [b.label for b in session.buttons] == ["Enter the waybill", "Main menu"]
    assert session.collect() == []  # a look with nothing new keeps the same numbers
    assert [b.label for b in session.buttons] == ["Enter the waybill", "Main menu"]
