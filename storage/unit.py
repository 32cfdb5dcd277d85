"""A unit of work: one transaction in which inputs are taken, conversations read and saved,
cases written and messages queued — all committed together, or none of it.

What a batch of inputs writes alike (conversation saves, outgoing messages, finished inbox
rows; case events and timers, `StorageShop.flush`) is held back and written with one
statement each when the unit finishes; that is what lets many customers' turns share one
commit. Errors come out as `Conflict` (somebody else changed a row this unit read: redo it)
or `AlreadyDone` (another worker finished the input), never as SQLAlchemy's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from storage.coalesce import Coalesced
from storage.db import Database
from storage.repos import (
    CaseRepo,
    ConversationRepo,
    ConversationSave,
    InboxRepo,
    OutboxRepo,
    TimerRepo,
)
from storage.repos.conversations import open_conversations
from storage.repos.lanes import LaneRepo
from storage.repos.outbox import NewMessage
from storage.shop import StorageShop
from storage.views import CaseView, ConversationRecord


class Conflict(Exception):
    """Another writer changed a conversation or case this unit read: nothing was kept."""


class AlreadyDone(Exception):
    """Another worker finished one of this unit's inputs first: nothing was kept."""


@dataclass
class _Writes:
    saves: list[ConversationSave] = field(default_factory=list)
    messages: list[NewMessage] = field(default_factory=list)
    inbox: list[int] = field(default_factory=list)  # stored updates: pending → done


class Unit:
    """The writes and reads of one transaction; see the module docstring."""

    def __init__(self, session: AsyncSession, timezone: str, now: datetime) -> None:
        self.session = session
        self.now = now
        self.shop = StorageShop(session, timezone)
        self._conversations = ConversationRepo(session)
        self._writes = _Writes()

    # --- inputs ------------------------------------------------------------------------------

    def finish_inbox(self, inbox_ids: Sequence[int]) -> None:
        """These stored updates are done when the unit commits (AlreadyDone if one was not
        pending any more: another worker did it)."""
        self._writes.inbox.extend(inbox_ids)

    async def fire_timer(self, timer_id: int) -> bool:
        """Mark the timer fired; False if it fired already or was cancelled (then do nothing)."""
        return await TimerRepo(self.session).fire(timer_id, self.now)

    # --- conversations -----------------------------------------------------------------------

    async def conversations(self, chat_ids: Sequence[int]) -> dict[int, ConversationRecord]:
        return await self._conversations.open_for_chats(chat_ids)

    async def new_conversation(
        self, chat_id: int, user_id: int, locale: str, state: str, customer_id: int | None
    ) -> ConversationRecord:
        return await self._conversations.create(
            chat_id, user_id, locale, state, {}, customer_id=customer_id, now=self.now
        )

    def save(
        self,
        record: ConversationRecord,
        *,
        state: str,
        context: dict[str, Any],
        locale: str,
        customer_id: int | None,
        mode: str,
    ) -> None:
        self._writes.saves.append(
            ConversationSave(
                record.id, record.version, state, context, locale, customer_id, mode, self.now
            )
        )

    # --- effects -----------------------------------------------------------------------------

    def send(self, chat_id: int, thread_id: int | None, payload: dict[str, Any]) -> None:
        self._writes.messages.append((chat_id, thread_id, payload))

    @property
    def sends(self) -> bool:
        return bool(self._writes.messages)

    async def note_membership(self, chat_id: int, blocked: bool) -> None:
        """The user blocked the bot (nothing more is sent) or came back."""
        outbox = OutboxRepo(self.session)
        if blocked:
            await outbox.mark_blocked(chat_id, self.now)
        else:
            await outbox.unblock(chat_id)

    async def finish(self) -> None:
        """Write what was held back (one statement each)."""
        writes = self._writes
        await self.shop.flush()
        await self._conversations.save_many(writes.saves)
        await OutboxRepo(self.session).add_many(writes.messages, self.now)
        if writes.inbox:
            done = await InboxRepo(self.session).finish_pending_many(writes.inbox, self.now)
            if len(done) != len(set(writes.inbox)):
                raise AlreadyDone(sorted(set(writes.inbox) - done))


class Units:
    """Opens units of work on the database."""

    def __init__(self, db: Database, timezone: str) -> None:
        self.db = db
        self.timezone = timezone
        self._conversations: Coalesced[int, ConversationRecord] = Coalesced(self._open_for)

    @asynccontextmanager
    async def open(self, now: datetime) -> AsyncIterator[Unit]:
        """A unit whose writes commit when the block ends without an error."""
        try:
            async with self.db.transaction() as session:
                unit = Unit(session, self.timezone, now)
                yield unit
                await unit.finish()
        except (StaleDataError, IntegrityError) as exc:
            raise Conflict(str(exc)) from exc

    async def conversation(self, chat_id: int) -> ConversationRecord | None:
        """A chat's open conversation as it stands (a read outside any unit, asked before
        every media event: the chats asking at the same moment share one query)."""
        return await self._conversations.get(chat_id)

    async def _open_for(self, chat_ids: Sequence[int]) -> dict[int, ConversationRecord]:
        # A plain connection rather than an ORM session: nothing here needs one.
        async with self.db.engine.connect() as conn:
            conn = await conn.execution_options(**self.db.read_options())
            try:
                return await open_conversations(conn, chat_ids)
            finally:
                await conn.rollback()

    async def missing_before(self, update_id: int, since: datetime) -> set[int]:
        """The updates just below `update_id` still on their way (`LaneRepo`)."""
        async with self.db.read() as session:
            return await LaneRepo(session).missing_before(update_id, since)

    async def case_lane(self, case_no: str) -> tuple[int, int] | None:
        """(case id, lane) of the case numbered `case_no`: its customer's chat is the lane of
        everything about it (a case without a chat has a lane of its own, -id)."""
        async with self.db.read() as session:
            case = await CaseRepo(session).view_by_no(case_no)
        if case is None:
            return None
        return case.id, case.chat_id if case.chat_id is not None else -case.id

    async def case_view(self, case_id: int) -> CaseView | None:
        async with self.db.read() as session:
            return await CaseRepo(session).view(case_id)

    async def fail_inputs(
        self,
        inbox_ids: Sequence[int],
        error: str,
        now: datetime,
        message: tuple[int, dict[str, Any]] | None = None,
    ) -> None:
        """Inputs that could not be handled: kept as failed, with the error; `message` (chat,
        payload) tells the customer."""
        async with self.db.transaction() as session:
            inbox = InboxRepo(session)
            for inbox_id in inbox_ids:
                await inbox.mark_failed(inbox_id, error[:500], now)
            if message is not None:
                await OutboxRepo(session).add_many([(message[0], None, message[1])], now)

    async def record_event(self, update_id: int, chat_id: int | None, payload: dict[str, Any],
                           now: datetime) -> int | None:  # fmt: skip
        """Store an input made up by a tool or test (identity `event:<id>`): its inbox row, or
        None if it was stored before."""
        async with self.db.transaction() as session:
            identity = f"event:{update_id}"
            return await InboxRepo(session).record(update_id, identity, chat_id, payload, now)
