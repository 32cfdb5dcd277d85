"""Satisfaction surveys, one per closed case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from storage.models import Survey
from storage.repos.base import Repo, dialect_insert


class SurveyRepo(Repo):
    async def ask(self, case_id: int, at: datetime) -> bool:
        """Record that the survey was sent; False if it was already asked for this case."""
        stmt = (
            dialect_insert(self.session, Survey.__table__)
            .values(case_id=case_id, asked_at=at)
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
