"""The sandbox's session end to end: the real bot behind the emulator, as a person sees it."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiogram.exceptions import TelegramBadRequest

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
    assert ":album [N]" in joined(await session.send_line(":help"))
    assert "nothing here yet" in joined(await session.send_line(":agents"))
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
    assert note == ["📣 The bot posted 1 message(s) in the agents' group (:agents shows them)."]
    agents = joined(await session.send_line(":agents"))
    assert "# AS-1 王小明\n🤖 New case" in agents


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
