"""Who may act in the agents' group: the user ids of AGENT_IDS and SUPERVISOR_IDS, and the
group's administrators (asked with getChatMember, remembered for a few minutes so that a busy
group does not ask for every message)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError

from dialogs.agents.handler import Role

log = logging.getLogger(__name__)
CACHE_SECONDS = 300.0
ADMINS = ("creator", "administrator")


class Roles:
    def __init__(
        self,
        bot: Bot | None,
        agents: tuple[int, ...],
        supervisors: tuple[int, ...],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot = bot
        self.agents = set(agents)
        self.supervisors = set(supervisors)
        self.clock = clock
        self._admins: dict[tuple[int, int], tuple[bool, float]] = {}

    async def role(self, chat_id: int, user_id: int) -> Role:
        if user_id in self.supervisors:
            return "supervisor"
        if user_id in self.agents or await self._is_admin(chat_id, user_id):
            return "agent"
        return None

    async def _is_admin(self, chat_id: int, user_id: int) -> bool:
        now = self.clock()
        cached = self._admins.get((chat_id, user_id))
        if cached is not None and now - cached[1] < CACHE_SECONDS:
            return cached[0]
        if self.bot is None:
            return False
        try:
            member = await self.bot.get_chat_member(chat_id, user_id)
            admin = member.status in ADMINS and not getattr(member.user, "is_bot", False)
        except TelegramAPIError as error:  # unknown now: refuse, and ask again next time
            log.info("getChatMember %s in %s failed: %s", user_id, chat_id, error)
            return False
        self._admins[(chat_id, user_id)] = (admin, now)
        return admin
