"""The agents' forum group as the sandbox's agent sees it: its topics (one per case handed to a
person), the General chat, and one pane per place, so each remembers what was shown."""

from __future__ import annotations

from typing import Any

from bot.emulator import Emulator, SentMessage, SimChat, SimUser
from bot.emulator.state import Topic
from bot.sandbox.pane import Pane
from bot.sandbox.view import Style

GENERAL = 0  # the General chat among the threads (topic ids are message ids, 1 and up)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class AgentsGroup:
    def __init__(self, emu: Emulator, chat: SimChat, agent: SimUser, style: Style) -> None:
        self.emu = emu
        self.chat = chat
        self.agent = agent
        self.style = style
        self._panes: dict[int, Pane] = {}

    def topics(self) -> list[Topic]:
        """The group's topics, oldest first: topic N of the list is topics()[N - 1]."""
        return sorted(self.chat.topics.values(), key=lambda t: t.message_thread_id)

    def topic(self, thread: int) -> Topic | None:
        return self.chat.topics.get(thread)

    def number_of(self, thread: int) -> int | None:
        ids = [t.message_thread_id for t in self.topics()]
        return ids.index(thread) + 1 if thread in ids else None

    def pane(self, thread: int) -> Pane:
        if thread not in self._panes:
            self._panes[thread] = Pane(self.style, lambda: self.messages(thread))
        return self._panes[thread]

    def messages(self, thread: int) -> list[SentMessage]:
        """The bot's messages in a topic (or in General), deleted ones too."""
        return [m for m in self.emu.sent_messages(self.chat) if (m.thread_id or GENERAL) == thread]

    def seen(self, message: SentMessage) -> bool:
        pane = self._panes.get(message.thread_id or GENERAL)
        return pane is not None and pane.has_seen(message)

    def place(self, thread: int) -> str:
        """Where the agent is, for the prompt: the case number of a topic, or General."""
        if thread == GENERAL:
            return "General"
        topic = self.topic(thread)
        if topic is None:
            return "a deleted topic"
        return topic.name.split(" · ")[0]

    def header(self, thread: int) -> str:
        if thread == GENERAL:
            return "# General, the group's main chat (not a case's topic)"
        topic = self.topic(thread)
        if topic is None:
            return "# (this topic was deleted; :agents lists the topics there are)"
        closed = ", closed" if topic.closed else ""
        return f"# {topic.name}  (topic {self.number_of(thread)}{closed})"

    def listing(self, role: str) -> list[str]:
        topics = self.topics()
        lines = [f"Agents' group {self.chat.title!r}; you are {self.agent.first_name}, {role}."]
        if not topics:
            lines.append("  No topics yet: a case gets its own topic when it goes to a person "
                         "(as the customer, /human asks for one).")  # fmt: skip
        for number, topic in enumerate(topics, start=1):
            closed = "closed, " if topic.closed else ""
            lines.append(f"  [{number}] {topic.name}  "
                         f"({closed}{self._counts(topic.message_thread_id)})")  # fmt: skip
        lines.append(f"  [:general] General  ({self._counts(GENERAL)})")
        if topics:
            lines.append(self.style.dim(
                "Type a topic's number (or :topic N) to open it, :general for General, "
                ":customer to be the customer again."))  # fmt: skip
        else:
            lines.append(self.style.dim(":general opens General, :customer makes you the "
                                        "customer again."))  # fmt: skip
        return lines

    def _counts(self, thread: int) -> str:
        total = sum(not m.deleted for m in self.messages(thread)) + len(self._people(thread))
        pane = self._panes.get(thread)
        new = pane.news() if pane is not None else sum(not m.deleted for m in self.messages(thread))
        if not total:
            return "no messages"
        return plural(total, "message") + (f", {new} new" if new else "")

    def _people(self, thread: int) -> list[dict[str, Any]]:
        """Messages the agents wrote there (the customer's reach the group through the bot)."""
        return [
            m
            for m in self.chat.messages.values()
            if (m.get("message_thread_id") or GENERAL) == thread
            and not m.get("from", {}).get("is_bot")
        ]
