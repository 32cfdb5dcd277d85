"""Cases, their numbers and their audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm.exc import StaleDataError

from storage.domain import CaseKind, CaseStatus
from storage.models import Agent, Case, CaseCounter, CaseEvent, Order, OrderItem
from storage.repos.base import Repo, insert_on, on_postgresql
from storage.views import CaseView

_cases, _orders, _items = Case.__table__, Order.__table__, OrderItem.__table__
_agents = Agent.__table__
_events = CaseEvent.__table__
_VIEW_COLUMNS = (
    _cases.c.id, _cases.c.case_no, _cases.c.kind, _orders.c.order_no,
    _items.c.name.label("item_name"), _cases.c.service, _cases.c.reason, _cases.c.status,
    _cases.c.outcome, _cases.c.created_at, _cases.c.deadline_at, _cases.c.customer_id,
    _cases.c.chat_id, _cases.c.order_id, _cases.c.item_id, _cases.c.locale,
    _cases.c.handed_over_at, _cases.c.first_response_at, _cases.c.quantity,
    _cases.c.description, _cases.c.desk, _cases.c.dispute, _cases.c.agent_chat_id,
    _cases.c.topic_id, _cases.c.card_message_id,
    _agents.c.telegram_user_id.label("owner_id"), _agents.c.name.label("owner_name"),
    _cases.c.shipping_paid_by, _cases.c.return_address, _cases.c.warehouse, _cases.c.carrier,
    _cases.c.waybill, _cases.c.refund_amount, _cases.c.refunded_at, _cases.c.closed_at,
    _cases.c.details,
)  # fmt: skip
_VIEWS = select(*_VIEW_COLUMNS).select_from(
    _cases.outerjoin(_orders, _orders.c.id == _cases.c.order_id)
    .outerjoin(_items, _items.c.id == _cases.c.item_id)
    .outerjoin(_agents, _agents.c.id == _cases.c.assigned_agent_id)
)
# With a person: the agents' queue.
AT_THE_DESK = ("queued", "taken", "asked", "offered")
# Finished one way or another: nothing more happens to them unless disputed.
ENDED = (CaseStatus.REJECTED, CaseStatus.CANCELLED, CaseStatus.CLOSED)


async def chat_of_topic(
    conn: AsyncConnection, agent_chat_id: int, topic_id: int | None, card_ref: int | None
) -> int | None:
    """The customer chat of the case a forum topic carries (or whose card is `card_ref`)."""
    found = None
    if topic_id:
        found = await conn.scalar(
            select(_cases.c.chat_id)
            .where(_cases.c.agent_chat_id == agent_chat_id, _cases.c.topic_id == topic_id)
            .order_by(_cases.c.id.desc())
            .limit(1)
        )
    if found is None and card_ref is not None:
        found = await conn.scalar(
            select(_cases.c.chat_id).where(
                _cases.c.agent_chat_id == agent_chat_id, _cases.c.card_message_id == card_ref
            )
        )
    return found


class CaseRepo(Repo):
    async def next_case_no(self, now: datetime, tz: str) -> str:
        """`AS-YYYYMMDD-NNNN`: the shop's local day and a per-day counter.

        One atomic upsert-increment, so concurrent workers on PostgreSQL never share a number.
        There it commits on its own at once: the day's row stays locked until the increment
        commits, and a unit of work holds its transaction for a whole batch, so every other
        batch creating a case waited for that batch's commit (11.8 ms a number under load).
        A unit that then fails leaves a gap in the day's numbers, never a repeat. SQLite has
        one writer, the unit itself: there the number is the unit's.
        """
        day = now.astimezone(ZoneInfo(tz)).strftime("%Y%m%d")
        params = {"b_day": day}
        postgres, engine = on_postgresql(self.session), self.session.bind
        if postgres and isinstance(engine, AsyncEngine):
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                number = (await conn.execute(_NEXT_NUMBER[True], params)).scalar_one()
        else:  # SQLite, or a session bound to one connection: the number is the session's
            number = (await self.session.execute(_NEXT_NUMBER[postgres], params)).scalar_one()
        return f"AS-{day}-{number:04d}"

    async def create(self, *, now: datetime, tz: str, **fields: Any) -> tuple[int, str]:
        """A new case numbered for `now` in the shop's time zone `tz`: its id and number."""
        case_no = await self.next_case_no(now, tz)
        values = {"case_no": case_no, "created_at": now, "updated_at": now, "version": 1,
                  **_columns(fields)}  # fmt: skip
        result = await self.session.execute(_INSERT, values)
        return int(result.scalar_one()), case_no

    async def view(self, case_id: int) -> CaseView | None:
        row = (await self.session.execute(_VIEW_BY_ID, {"b_id": case_id})).first()
        return _view(row) if row is not None else None

    async def view_by_no(self, case_no: str) -> CaseView | None:
        row = (await self.session.execute(_VIEWS.where(_cases.c.case_no == case_no))).first()
        return _view(row) if row is not None else None

    async def with_waybill(self, waybill: str) -> list[CaseView]:
        rows = await self.session.execute(
            _VIEWS.where(_cases.c.waybill == waybill).order_by(_cases.c.id)
        )
        return [_view(row) for row in rows]

    async def views_by_status(self, status: str | None, limit: int, offset: int = 0
                              ) -> list[CaseView]:  # fmt: skip
        """Oldest first; every status when `status` is None."""
        query = _VIEWS if status is None else _VIEWS.where(_cases.c.status == status)
        rows = await self.session.execute(
            query.order_by(_cases.c.created_at, _cases.c.id).limit(limit).offset(offset)
        )
        return [_view(row) for row in rows]

    async def views_for_customer(self, customer_id: int, limit: int = 10) -> list[CaseView]:
        """Newest first."""
        rows = await self.session.execute(
            _VIEWS.where(_cases.c.customer_id == customer_id)
            .order_by(_cases.c.created_at.desc(), _cases.c.id.desc())
            .limit(limit)
        )
        return [_view(row) for row in rows]

    async def open_for_item(self, item_id: int) -> CaseView | None:
        """The item's request that is still under way, if there is one."""
        row = (
            await self.session.execute(
                _VIEWS.where(
                    _cases.c.item_id == item_id,
                    _cases.c.kind == CaseKind.REQUEST,
                    _cases.c.status.not_in(ENDED),
                ).order_by(_cases.c.id.desc())
            )
        ).first()
        return _view(row) if row is not None else None

    async def by_topic(self, agent_chat_id: int, topic_id: int) -> CaseView | None:
        row = (
            await self.session.execute(
                _VIEWS.where(_cases.c.agent_chat_id == agent_chat_id, _cases.c.topic_id == topic_id)
                .order_by(_cases.c.id.desc())
                .limit(1)
            )
        ).first()
        return _view(row) if row is not None else None

    async def by_card(self, agent_chat_id: int, message_id: int) -> CaseView | None:
        row = (
            await self.session.execute(
                _VIEWS.where(
                    _cases.c.agent_chat_id == agent_chat_id,
                    _cases.c.card_message_id == message_id,
                )
            )
        ).first()
        return _view(row) if row is not None else None

    async def at_the_desk(self, agent_chat_id: int, owner_agent_id: int | None = None,
                          limit: int = 30) -> list[CaseView]:  # fmt: skip
        """The group's cases with a person (or a complaint open), oldest first."""
        stmt = _VIEWS.where(
            _cases.c.agent_chat_id == agent_chat_id,
            (_cases.c.desk.in_(AT_THE_DESK))
            | (_cases.c.dispute.in_(("submitted", "accepted", "investigating"))),
        )
        if owner_agent_id is not None:
            stmt = stmt.where(_cases.c.assigned_agent_id == owner_agent_id)
        rows = await self.session.execute(
            stmt.order_by(_cases.c.handed_over_at, _cases.c.id).limit(limit)
        )
        return [_view(row) for row in rows]

    async def card_facts(self, case_id: int) -> Any:
        """The columns of a case the card shows that its view leaves out."""
        return (
            await self.session.execute(
                select(
                    _cases.c.rules, _cases.c.needs_agent_reason, _cases.c.explanation_key,
                    _cases.c.explanation_values, _cases.c.details, _items.c.unit_price,
                    _orders.c.currency,
                )
                .select_from(
                    _cases.outerjoin(_orders, _orders.c.id == _cases.c.order_id).outerjoin(
                        _items, _items.c.id == _cases.c.item_id
                    )
                )
                .where(_cases.c.id == case_id)
            )
        ).first()  # fmt: skip

    async def set_topic(self, case_id: int, topic_id: int | None) -> None:
        """Where the case's topic is (not versioned: only the outbox writes it, and no
        conversation or agent reads it to decide anything)."""
        await self.session.execute(
            update(_cases).where(_cases.c.id == case_id).values(topic_id=topic_id)
        )

    async def set_card(self, case_id: int, message_id: int | None) -> None:
        await self.session.execute(
            update(_cases).where(_cases.c.id == case_id).values(card_message_id=message_id)
        )

    async def change(self, case_id: int, version: int, now: datetime, **values: Any) -> int:
        """Set columns of the case as read at `version`; the new version. StaleDataError if
        somebody changed it meanwhile (the agent and the customer cannot both win)."""
        params = {**_columns(values), "updated_at": now, "version": version + 1, "b_id": case_id,
                  "b_version": version}  # fmt: skip
        result = await self.session.execute(_CHANGE, params)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleDataError(f"case {case_id} changed since version {version}")
        return version + 1

    async def version(self, case_id: int) -> int | None:
        return await self.session.scalar(_VERSION, {"b_id": case_id})

    async def insert_events(self, rows: list[dict[str, Any]]) -> None:
        """Rows made by `event_row`, of any cases, in one statement."""
        if rows:
            await self.session.execute(_ADD_EVENT, rows)

    async def events(self, case_id: int) -> Sequence[CaseEvent]:
        rows = await self.session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id)
            .order_by(CaseEvent.at, CaseEvent.id)
        )
        return rows.all()

    async def get(self, case_id: int) -> Case | None:
        """The ORM object, for tools and tests."""
        return await self.session.get(Case, case_id)


def event_row(case_id: int, actor: str, kind: str, data: dict[str, Any], at: datetime,
              actor_id: int | None = None) -> dict[str, Any]:  # fmt: skip
    """One row of the audit trail, as `CaseRepo.insert_events` takes it."""
    return {"b_case_id": case_id, "b_at": at, "b_actor": actor, "b_actor_id": actor_id,
            "b_kind": kind, "b_data": data}  # fmt: skip


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    """`values`, checked to name columns: the prebuilt statements take their columns from
    the parameters and would pass over a misspelt one without a word."""
    unknown = values.keys() - _NAMES
    if unknown:
        raise ValueError(f"no such case columns: {sorted(unknown)}")
    return values


_NAMES = frozenset(_cases.c.keys())
_counters = CaseCounter.__table__
_NEXT_NUMBER = {
    pg: insert_on(pg, _counters)
    .values(day=bindparam("b_day"), last=1)
    .on_conflict_do_update(index_elements=[_counters.c.day], set_={"last": _counters.c.last + 1})
    .returning(_counters.c.last)
    for pg in (True, False)
}
# Built once: the hot statements' construction costs more than their execution on a busy bot.
_INSERT = insert(_cases).returning(_cases.c.id)  # the columns are the parameters' keys
_VIEW_BY_ID = _VIEWS.where(_cases.c.id == bindparam("b_id"))
_VERSION = select(_cases.c.version).where(_cases.c.id == bindparam("b_id"))
# SET takes the parameters that name columns; b_* are the WHERE's.
_CHANGE = update(_cases).where(
    _cases.c.id == bindparam("b_id"), _cases.c.version == bindparam("b_version")
)
_ADD_EVENT = insert(_events).values(
    case_id=bindparam("b_case_id"),
    at=bindparam("b_at", type_=_events.c.at.type),
    actor=bindparam("b_actor"),
    actor_id=bindparam("b_actor_id"),
    kind=bindparam("b_kind"),
    data=bindparam("b_data", type_=_events.c.data.type),
)


def _view(row: Any) -> CaseView:
    values = dict(row._mapping)
    values["details"] = dict(values["details"] or {})
    return CaseView(**values)
