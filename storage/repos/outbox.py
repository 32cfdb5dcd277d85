"""Outgoing messages, written in the same transaction as the state change that caused them,
and the worker's bookkeeping of sending them.

A row is `pending` until a worker takes it: `sending`, with the worker in `claimed_by` until
`lease_until`; then `sent`, `failed` or `blocked`. A chat's rows go in id order, so only a
chat's **head** (its oldest row not yet sent) is ever taken. Steps of a multi-part message
that Telegram accepted are recorded on the row (`steps_done`, `last_message_id`) and never
repeated. A `sending` row whose lease ran out belonged to a worker that vanished mid-call: it
may have been delivered, so it is failed "in doubt", never sent again.

The statements the worker runs all the time are built once, on the table (no ORM bookkeeping),
with their parameters bound at each call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    String,
    and_,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from storage.domain import OutboxStatus as S
from storage.models import OUTBOX_UNSENT, BlockedChat, Outbox
from storage.repos.base import Repo, dialect_insert, on_postgresql, one_of

IN_DOUBT = "in doubt: a worker stopped while sending; not retried, it may have been delivered"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """What the worker needs of a row."""

    id: int
    chat_id: int
    message_thread_id: int | None
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime | None
    claimed_by: str | None
    lease_until: datetime | None
    steps_done: int
    last_message_id: int | None
    coalesce_key: str | None = None
    created_at: datetime | None = None
    # Set by a claim: whether another pending row of the chat followed it then (None: unknown).
    more: bool | None = None

    def due(self, now: datetime) -> bool:
        return self.next_attempt_at is None or self.next_attempt_at <= now


# (chat_id, message_thread_id, payload)
NewMessage = tuple[int, int | None, dict[str, Any]]

_t = Outbox.__table__
_b = BlockedChat.__table__
_COLUMNS = tuple(_t.c[name] for name in OutboxRow.__slots__ if name != "more")
_NOW = bindparam("now", type_=_t.c.next_attempt_at.type)
_UNTIL = bindparam("until", type_=_t.c.lease_until.type)
# The statuses written out, not bound: then the queue's partial index serves the statement
# (migration 0013); SQLite, which uses a partial index only for a statement that repeats its
# condition, is given the queue's terms with a pending row's.
_UNSENT = text(OUTBOX_UNSENT)
_PENDING = and_(_UNSENT, _t.c.status == literal_column(f"'{S.PENDING.value}'"))
_DUE = or_(_t.c.next_attempt_at.is_(None), _t.c.next_attempt_at <= _NOW)
_ADD = insert(_t).values(status=S.PENDING, attempts=0, steps_done=0)
_ALL_HEADS = select(func.min(_t.c.id).label("id")).where(_UNSENT).group_by(_t.c.chat_id).subquery()
# A head is worth a look when it can be sent (pending and due) or was left by a vanished worker.
_WANTED = or_(
    and_(_t.c.status == S.PENDING, _DUE),
    and_(_t.c.status == S.SENDING, _t.c.lease_until <= _NOW),
)


@dataclass(frozen=True, slots=True)
class _Lookups:
    """The worker's statements over lists of chats, built for one way of binding a list."""

    due_chats: Any
    heads: Any
    claim_heads: Any


# Whether a pending row of the same chat follows the one claimed: if not, and nothing was
# committed since, the worker need not claim again to learn that the chat is done. Written
# out: SQLAlchemy renders SQLite's RETURNING columns unqualified, the subquery's too, which
# would compare the later row with itself. The queue's terms as well as the status: SQLite
# uses a partial index only for a statement that repeats its condition.
_MORE = literal_column(
    "EXISTS (SELECT 1 FROM outbox AS later WHERE later.chat_id = outbox.chat_id"
    f" AND later.id > outbox.id AND later.{OUTBOX_UNSENT}"
    f" AND later.status = '{S.PENDING.value}')",
    Boolean,
).label("more")


def _lookups(array: bool) -> _Lookups:
    head_ids = (
        select(func.min(_t.c.id))
        .where(one_of(_t.c.chat_id, "chats", array=array), _UNSENT)
        .group_by(_t.c.chat_id)
    )
    blocked = select(_b.c.chat_id).where(one_of(_b.c.chat_id, "chats", array=array))
    return _Lookups(
        due_chats=select(_t.c.chat_id)
        .join(_ALL_HEADS, _t.c.id == _ALL_HEADS.c.id)
        .where(_WANTED, ~one_of(_t.c.chat_id, "exclude", array=array))
        .order_by(_t.c.id)
        .limit(bindparam("limit")),
        heads=select(*_COLUMNS).where(_t.c.id.in_(head_ids)),
        claim_heads=update(_t)
        .where(_t.c.id.in_(head_ids), _PENDING, _DUE, _t.c.chat_id.not_in(blocked))
        .values(status=S.SENDING, claimed_by=bindparam("worker"), lease_until=_UNTIL)
        .returning(*_COLUMNS, _MORE),
    )


_LOOKUPS = {array: _lookups(array) for array in (False, True)}
# PostgreSQL: a unit's messages as arrays unnested into a table, one statement and one round
# of parameters where an executemany binds and executes each row. An INSERT has no plan to go
# stale (see mark_sent_many).
_NEW = (
    func.unnest(
        bindparam("chat_ids", type_=ARRAY(BigInteger)),
        bindparam("thread_ids", type_=ARRAY(BigInteger)),
        bindparam("payloads", type_=ARRAY(_t.c.payload.type)),
        bindparam("keys", type_=ARRAY(String)),
    )
    .table_valued("chat_id", "message_thread_id", "payload", "coalesce_key", with_ordinality="n")
    .render_derived(name="new")
)
_ADD_ARRAYS = insert(_t).from_select(
    ["chat_id", "message_thread_id", "payload", "coalesce_key", "status", "attempts",
     "steps_done", "created_at"],
    select(_NEW.c.chat_id, _NEW.c.message_thread_id, _NEW.c.payload, _NEW.c.coalesce_key,
           literal(S.PENDING.value), literal(0), literal(0),
           bindparam("at", type_=_t.c.created_at.type))
    .order_by(_NEW.c.n),  # ids in the order given: each chat's messages leave in that order
)  # fmt: skip
_SENT = (
    update(_t)
    .where(_t.c.id == bindparam("b_id"))
    .values(
        status=S.SENT,
        sent_at=bindparam("b_sent_at", type_=_t.c.sent_at.type),
        telegram_message_id=bindparam("b_message_id"),
        attempts=_t.c.attempts + 1,
        claimed_by=None,
        lease_until=None,
        error=None,
    )
)


class OutboxRepo(Repo):
    @property
    def _lookups(self) -> _Lookups:
        return _LOOKUPS[on_postgresql(self.session)]

    # --- what the conversation writes ------------------------------------------------------------

    async def add_many(self, messages: Sequence[NewMessage], at: datetime) -> None:
        """Several messages in one statement (a turn often says two or three things)."""
        if not messages:
            return
        if on_postgresql(self.session):
            await self.session.execute(_ADD_ARRAYS, {
                "chat_ids": [c for c, _, _ in messages],
                "thread_ids": [t for _, t, _ in messages],
                "payloads": [p for _, _, p in messages],
                "keys": [_key(p) for _, _, p in messages],
                "at": at,
            })  # fmt: skip
            return
        rows = [
            {"chat_id": c, "message_thread_id": t, "payload": p, "created_at": at,
             "coalesce_key": _key(p)}
            for c, t, p in messages
        ]  # fmt: skip
        await self.session.execute(_ADD, rows)  # Core executemany: no ORM bookkeeping

    # --- what the worker reads and claims ---------------------------------------------------------

    async def due_chats(self, now: datetime, limit: int, exclude: set[int]) -> list[int]:
        """Chats whose head wants the worker, oldest first. Only heads count: a chat whose head
        waits for a retry is skipped whole, and one busy chat cannot fill the batch."""
        params = {"now": now, "limit": limit, "exclude": sorted(exclude)}
        return list((await self.session.scalars(self._lookups.due_chats, params)).all())

    async def heads(self, chat_ids: Sequence[int]) -> dict[int, OutboxRow]:
        rows = await self.session.execute(self._lookups.heads, {"chats": list(chat_ids)})
        return {row.chat_id: OutboxRow(**row._mapping) for row in rows}

    async def claim_heads(
        self, chat_ids: Sequence[int], now: datetime, until: datetime, worker: str
    ) -> dict[int, OutboxRow]:
        """Take each chat's head that is pending, due, and not of a blocked chat."""
        params = {"chats": list(chat_ids), "now": now, "until": until, "worker": worker}
        rows = await self.session.execute(self._lookups.claim_heads, params)
        return {row.chat_id: OutboxRow(**row._mapping) for row in rows}

    async def followers(self, chat_id: int, after_id: int, key: str, limit: int = 20
                        ) -> list[OutboxRow]:  # fmt: skip
        """Pending rows of the chat after `after_id` that share `key` (one case's topic), in
        order: what may leave together with the head."""
        rows = await self.session.execute(
            select(*_COLUMNS)
            .where(_t.c.chat_id == chat_id, _PENDING, _t.c.id > after_id,
                   _t.c.coalesce_key == key)
            .order_by(_t.c.id)
            .limit(limit)
        )  # fmt: skip
        return [OutboxRow(**row._mapping) for row in rows]

    # --- what the worker records -----------------------------------------------------------------

    async def record_step(
        self, outbox_id: int, steps_done: int, last_message_id: int | None, until: datetime
    ) -> None:
        """Telegram accepted another part of the row; the lease goes on for the next."""
        await self._set(
            outbox_id, steps_done=steps_done, last_message_id=last_message_id, lease_until=until
        )

    async def mark_sent_many(self, rows: Sequence[tuple[int, datetime, int | None]]) -> None:
        """(id, sent_at, telegram_message_id) of rows Telegram accepted, as one executemany."""
        # An executemany of a statement by primary key on PostgreSQL too: an UPDATE … FROM
        # unnest(arrays) is planned once per connection as a hash join over the whole table
        # when the outbox is nearly empty (a fresh shop), and kept as it grows (1.3-5 ms a
        # batch where the lookups by key take 0.05 ms a row).
        params = [{"b_id": i, "b_sent_at": at, "b_message_id": m} for i, at, m in rows]
        if params:
            await self.session.execute(_SENT, params)

    async def release(self, outbox_id: int) -> None:
        """Stopped before a call: nothing is in flight, the row waits for the next worker."""
        await self._set(outbox_id, status=S.PENDING, claimed_by=None, lease_until=None)

    async def retry_at(self, outbox_id: int, at: datetime, error: str, *, count: bool) -> None:
        """Try again at `at` (a 429's retry_after: not counted as an attempt; 5xx, network)."""
        attempts = _t.c.attempts + 1 if count else _t.c.attempts
        await self._set(outbox_id, status=S.PENDING, claimed_by=None, lease_until=None,
                        next_attempt_at=at, error=error, attempts=attempts)  # fmt: skip

    async def mark_failed(self, outbox_id: int, error: str) -> None:
        await self._set(outbox_id, status=S.FAILED, claimed_by=None, lease_until=None,
                        error=error, attempts=_t.c.attempts + 1)  # fmt: skip

    async def give_up_in_doubt(self, outbox_id: int, now: datetime) -> bool:
        """At most once: a row whose worker vanished mid-call may have been delivered."""
        result = await self.session.execute(
            update(_t)
            .where(_t.c.id == outbox_id, _t.c.status == S.SENDING, _t.c.lease_until <= now)
            .values(status=S.FAILED, error=IN_DOUBT, claimed_by=None, lease_until=None)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def give_up_own(self, worker: str) -> int:
        """A worker started again under its old id: the rows it left mid-call are in doubt
        now, not when their lease runs out (until then they would hold up their chats)."""
        result = await self.session.execute(
            update(_t)
            .where(_t.c.status == S.SENDING, _t.c.claimed_by == worker)
            .values(status=S.FAILED, error=IN_DOUBT, claimed_by=None, lease_until=None)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # --- blocked chats ---------------------------------------------------------------------------

    async def mark_blocked(self, chat_id: int, at: datetime, error: str | None = None) -> None:
        """The user blocked the bot (or the group removed it): what is queued stays unsent."""
        await self.session.execute(
            update(_t)
            .where(_t.c.chat_id == chat_id, _UNSENT)
            .values(status=S.BLOCKED, claimed_by=None, lease_until=None, error=error)
        )
        await self.session.execute(
            dialect_insert(self.session, _b)
            .values(chat_id=chat_id, blocked_at=at)
            .on_conflict_do_nothing(index_elements=["chat_id"])
        )

    async def unblock(self, chat_id: int) -> None:
        await self.session.execute(_b.delete().where(_b.c.chat_id == chat_id))

    async def is_blocked(self, chat_id: int) -> bool:
        found = await self.session.scalar(select(_b.c.chat_id).where(_b.c.chat_id == chat_id))
        return found is not None

    # --- for tools and tests ---------------------------------------------------------------------

    async def rows(self, chat_id: int | None = None) -> list[OutboxRow]:
        stmt = select(*_COLUMNS).order_by(_t.c.id)
        if chat_id is not None:
            stmt = stmt.where(_t.c.chat_id == chat_id)
        return [OutboxRow(**row._mapping) for row in await self.session.execute(stmt)]

    async def _set(self, outbox_id: int, **values: Any) -> None:
        await self.session.execute(update(_t).where(_t.c.id == outbox_id).values(**values))


def _key(payload: dict[str, Any]) -> str | None:
    """Rows for one case's topic share a key (see `followers`)."""
    topic = payload.get("topic")
    return f"t:{topic['case_id']}" if isinstance(topic, dict) else None
