"""Chats, members, forum topics, commands, pins and the menu button through aiogram."""

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    MenuButtonCommands,
)

from bot.emulator import Emulator


async def test_forum_topic_and_messages_in_it(bot: Bot, emu: Emulator):
    owner = emu.create_user(first_name="Shop owner")
    agent = emu.create_user(first_name="Agent")
    group = emu.create_group("Support desk", owner=owner, members=[agent])
    topic = await bot.create_forum_topic(group.id, "Ticket #17 — Ann")
    assert topic.name == "Ticket #17 — Ann"
    sent = await bot.send_message(group.id, "New ticket", message_thread_id=topic.message_thread_id)
    assert sent.message_thread_id == topic.message_thread_id and sent.is_topic_message
    assert emu.last_message(group).thread_id == topic.message_thread_id

    await emu.member_sends_text(group, agent, "I take it", thread_id=topic.message_thread_id)
    [update] = await bot.get_updates()
    assert update.message.message_thread_id == topic.message_thread_id
    assert update.message.chat.is_forum

    assert await bot.edit_forum_topic(group.id, topic.message_thread_id, name="Ticket #17 — done")
    assert await bot.close_forum_topic(group.id, topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="TOPIC_NOT_MODIFIED"):
        await bot.close_forum_topic(group.id, topic.message_thread_id)
    assert await bot.reopen_forum_topic(group.id, topic.message_thread_id)
    assert await bot.delete_forum_topic(group.id, topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(group.id, "x", message_thread_id=topic.message_thread_id)
    assert emu.validation_errors == []


async def test_topics_need_a_forum(bot: Bot, emu: Emulator):
    group = emu.create_group("Plain", is_forum=False)
    with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
        await bot.create_forum_topic(group.id, "x")


async def test_chat_and_member_results_parse_in_aiogram(bot: Bot, emu: Emulator):
    owner = emu.create_user(first_name="Owner")
    member = emu.create_user(first_name="Member")
    group = emu.create_group("Desk", owner=owner, members=[member], username="desk")
    chat = await bot.get_chat(group.id)
    assert chat.title == "Desk" and chat.is_forum
    assert (await bot.get_chat("@desk")).id == group.id
    me = await bot.get_chat_member(group.id, emu.bot_id)
    assert me.status == "administrator" and me.can_manage_topics
    assert (await bot.get_chat_member(group.id, owner.id)).status == "creator"
    assert (await bot.get_chat_member(group.id, member.id)).status == "member"
    admins = await bot.get_chat_administrators(group.id)
    assert {a.user.id for a in admins} == {owner.id, emu.bot_id}
    assert await bot.get_chat_member_count(group.id) == 3

    await emu.user_sends_text(member, "hi")
    private = await bot.get_chat(member.id)
    assert private.type == "private" and private.first_name == "Member"


async def test_commands_per_scope_and_language(bot: Bot, emu: Emulator):
    en = [
        BotCommand(command="start", description="Start"),
        BotCommand(command="help", description="Help"),
    ]
    de = [BotCommand(command="start", description="Starten")]
    assert await bot.set_my_commands(en)
    assert await bot.set_my_commands(de, language_code="de")
    staff = [BotCommand(command="queue", description="Open tickets")]
    assert await bot.set_my_commands(staff, scope=BotCommandScopeChat(chat_id=-100123))
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert [c.description for c in await bot.get_my_commands(language_code="de")] == ["Starten"]
    assert await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats()) == []
    queue = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=-100123))
    assert [c.command for c in queue] == ["queue"]
    assert await bot.delete_my_commands(language_code="de")
    assert await bot.get_my_commands(language_code="de") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Command", description="x")])


async def test_pin_menu_button_chat_action_and_logout(bot: Bot, emu: Emulator):
    user = emu.create_user()
    await emu.user_sends_text(user, "hi")
    sent = await bot.send_message(user.id, "Your ticket")
    assert await bot.pin_chat_message(user.id, sent.message_id)
    assert emu.last_message(user).pinned
    with pytest.raises(TelegramBadRequest, match="message to pin not found"):
        await bot.pin_chat_message(user.id, 999)
    assert await bot.set_chat_menu_button(chat_id=user.id, menu_button=MenuButtonCommands())
    assert (await bot.get_chat_menu_button(chat_id=user.id)).type == "commands"
    assert await bot.send_chat_action(user.id, "typing")
    assert await bot.log_out()
    assert await bot.close()


@pytest.mark.parametrize(
    "status", ["creator", "administrator", "member", "restricted", "left", "kicked"]
)
async def test_every_member_status_parses_in_aiogram(bot: Bot, emu: Emulator, status: str):
    user = emu.create_user()
    group = emu.create_group("Desk")
    group.member_status[user.id] = status
    member = await bot.get_chat_member(group.id, user.id)
    assert member.status == status
    assert member.user.id == user.id
