"""Failed identifications by order number, counted across chats (see the model)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, literal, select

from storage.models import IdentificationFailure
from storage.repos.base import Repo
from storage.views import FailureCounts

_t = IdentificationFailure.__table__


class IdentificationRepo(Repo):
    async def record_failure(
        self, chat_id: int, order_no: str, customer_id: int | None, at: datetime
    ) -> None:
        values = {"chat_id": chat_id, "order_no": order_no[:64], "customer_id": customer_id}
        await self.session.execute(insert(_t).values(**values, at=at))

    async def counts(
        self,
        order_no: str,
        customer_id: int | None,
        *,
        order_since: datetime,
        everyone_since: datetime,
    ) -> FailureCounts:
        def since(when: datetime, *where: object) -> object:
            return select(func.count()).select_from(_t).where(_t.c.at >= when, *where)

        by_customer = (
            since(order_since, _t.c.customer_id == customer_id) if customer_id is not None else None
        )
        row = (
            await self.session.execute(
                select(
                    since(order_since, _t.c.order_no == order_no[:64]).scalar_subquery(),
                    by_customer.scalar_subquery() if by_customer is not None else literal(0),
                    since(everyone_since).scalar_subquery(),
                )
            )
        ).one()
        return FailureCounts(int(row[0]), int(row[1] or 0), int(row[2]))
