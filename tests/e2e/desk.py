"""The agents' group in the emulator: a forum supergroup, two agents, a supervisor and a
stranger, and what each of them sees and does there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.emulator.state import SentMessage, SimChat, SimUser

GROUP_ID = -1001234567890
AGENT_1, AGENT_2, SUPERVISOR, STRANGER = 7001, 7002, 7003, 7004


@dataclass
class Desk:
    emu: Any
    group: SimChat
    lin: SimUser  # an agent
    mei: SimUser  # another agent
    boss: SimUser  # a supervisor
    stranger: SimUser  # a member of the group who is none of these

    def topics(self) -> dict[int, str]:
        return {tid: t.name for tid, t in self.group.topics.items()}

    def messages(self, thread: int | None = None) -> list[SentMessage]:
        found = self.emu.sent_messages(self.group.id, include_deleted=False)
        return [m for m in found if thread is None or m.thread_id == thread]

    def texts(self, thread: int | None = None) -> str:
        return "\n".join(m.text or "" for m in self.messages(thread))

    def mentioned(self, user_id: int, thread: int | None = None) -> bool:
        """Whether a message of the bot's there links to this user (a mention)."""
        url = f"tg://user?id={user_id}"
        return any(e.get("url") == url or (e.get("user") or {}).get("id") == user_id
                   for m in self.messages(thread) for e in m.entities)  # fmt: skip

    def card(self, thread: int) -> SentMessage:
        cards = [m for m in self.messages(thread) if m.buttons and "AS-" in (m.text or "")]
        assert cards, self.texts(thread)
        return cards[0]

    def only_topic(self) -> int:
        [topic] = self.topics()
        return topic

    async def wait(self, predicate: Any, seconds: float = 10) -> None:
        await self.emu.wait_until(predicate, seconds)

    async def write(self, who: SimUser, thread: int | None, text: str) -> None:
        await self.emu.member_sends_text(self.group, who, text, thread_id=thread)

    async def press(self, who: SimUser, message: SentMessage, label: str) -> str:
        """Press the card's button with this label; the callback query's id."""
        current = next(m for m in self.messages() if m.message_id == message.message_id)
        for button in current.buttons:
            if label in button.get("text", ""):
                update = await self.emu.user_clicks(who, current, button["callback_data"])
                return str(update["callback_query"]["id"])
        raise AssertionError(f"no button {label!r} on {current.text!r}: {current.buttons}")

    def answer_of(self, query_id: str) -> str | None:
        record = self.emu.callbacks[query_id]
        return (record.answer or {}).get("text") if record.answered else None


def make_desk(emu: Any, *, forum: bool = True) -> Desk:
    lin = emu.create_user(AGENT_1, first_name="Lin", language_code="zh")
    mei = emu.create_user(AGENT_2, first_name="Mei", language_code="zh")
    boss = emu.create_user(SUPERVISOR, first_name="Boss", language_code="zh")
    stranger = emu.create_user(STRANGER, first_name="Eve", language_code="en")
    group = emu.create_group("Agents", id=GROUP_ID, is_forum=forum,
                             members=[lin, mei, boss, stranger])  # fmt: skip
    return Desk(emu, group, lin, mei, boss, stranger)


DESK_SETTINGS = {
    "agent_chat_ids": [GROUP_ID],
    "agent_ids": [AGENT_1, AGENT_2],
    "supervisor_ids": [SUPERVISOR],
}
