"""Satisfaction surveys, one per closed case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from storage.models import Survey
from storage.repos.base import Repo, dialect_insert
from storage.views import SurveyView

ANSWERS = ("rating", "attitude", "speed", "result", "comment", "reminded_at")


class SurveyRepo(Repo):
    async def ask(self, case_id: int, at: datetime, agent_id: int | None = None) -> bool:
        """Record that the survey was sent; False if it was already asked for this case."""
        stmt = (
            dialect_insert(self.session, Survey.__table__)
            .values(case_id=case_id, asked_at=at, agent_id=agent_id)
            .on_conflict_do_nothing(index_elements=["case_id"])
            .returning(Survey.__table__.c.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def for_case(self, case_id: int) -> Survey | None:
        return await self.session.scalar(select(Survey).where(Survey.case_id == case_id))

    async def answer(
        self, case_id: int, at: datetime, rating: int | None = None, comment: str | None = None
    ) -> Survey | None:
        survey = await self.for_case(case_id)
        if survey is None:
            return None
        if rating is not None:
            survey.rating = rating
        if comment is not None:
            survey.comment = comment
        survey.answered_at = at
        await self.session.flush()
        return survey

    async def view(self, case_id: int) -> SurveyView | None:
        found = await self.for_case(case_id)
        if found is None:
            return None
        return SurveyView(found.case_id, found.asked_at, found.rating, found.attitude,
                          found.speed, found.result, found.comment, found.reminded_at,
                          found.answered_at)  # fmt: skip

    async def record(self, case_id: int, at: datetime, **values: object) -> SurveyView | None:
        """Set some of the answers (`ANSWERS`); `answered_at` moves with every answer."""
        unknown = set(values) - set(ANSWERS)
        if unknown:
            raise ValueError(f"not a survey answer: {sorted(unknown)}")
        survey = await self.for_case(case_id)
        if survey is None:
            return None
        for name, value in values.items():
            setattr(survey, name, value)
        if set(values) - {"reminded_at"}:
            survey.answered_at = at
        await self.session.flush()
        return await self.view(case_id)
