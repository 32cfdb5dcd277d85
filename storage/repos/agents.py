"""Agents and supervisors who work escalated cases."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from storage.models import Agent
from storage.repos.base import Repo


class AgentRepo(Repo):
    async def get(self, agent_id: int) -> Agent | None:
        return await self.session.get(Agent, agent_id)

    async def by_telegram_user(self, user_id: int) -> Agent | None:
        return await self.session.scalar(select(Agent).where(Agent.telegram_user_id == user_id))

    async def upsert(self, user_id: int, name: str, role: str = "agent") -> Agent:
        """Create or update the agent for this Telegram user (from settings or first contact)."""
        agent = await self.by_telegram_user(user_id)
        if agent is None:
            agent = Agent(telegram_user_id=user_id, name=name, role=role, active=True)
            self.session.add(agent)
        else:
            agent.name, agent.role, agent.active = name, role, True
        await self.session.flush()
        return agent

    async def active(self) -> Sequence[Agent]:
        rows = await self.session.scalars(select(Agent).where(Agent.active).order_by(Agent.id))
        return rows.all()
