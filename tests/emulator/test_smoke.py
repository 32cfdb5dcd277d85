from aiogram import Bot

from bot.emulator import Emulator


async def test_get_me(bot: Bot, emu: Emulator):
    me = await bot.get_me()
    assert me.id == 123456789
    assert me.username == "aftersales_demo_bot"
    assert me.is_bot


async def test_text_roundtrip(bot: Bot, emu: Emulator):
    user = emu.create_user(first_name="Ann")
    await emu.user_sends_text(user, "/start")
    updates = await bot.get_updates(timeout=1)
    assert updates[0].message.text == "/start"
    sent = await bot.send_message(user.id, "<b>Hi</b> there", parse_mode="HTML")
    assert sent.text == "Hi there"
    assert sent.entities[0].type == "bold"
    assert emu.last_message(user).text == "Hi there"
    assert not emu.validation_errors and not emu.result_errors
