"""One customer's personal data (PIPL): all of it read out (`export`), or erased (`erase`).

Found by phone in E.164, as the importer stores it. Erasing keeps the shop's records without
the person: the customer row stays as an anonymous id (name emptied, phone replaced by the
marker `erased:<id>`, no Telegram link), their orders stay (the shop's books), their cases are
anonymised as by retention with an `erased` audit event each, and the rest is deleted: their
conversations, identification failures, evidence (rows here, files by the caller from the
paths returned), messages to and from their chat still in the outbox and inbox, a block mark.
An erased customer is no longer found by their phone; erasing twice changes nothing.

Plain functions on a session, returning plain values; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    BlockedChat,
    Case,
    CaseEvent,
    Conversation,
    Customer,
    Evidence,
    IdentificationFailure,
    Inbox,
    Order,
    Outbox,
    Survey,
)
from storage.phones import to_e164
from storage.retention import ERASED, anonymise_cases

ERASED_PHONE_PREFIX = "erased:"


def normalised_phone(raw: str) -> str | None:
    """The phone as customers are stored (E.164), or None for something that is not one."""
    return to_e164(raw)


async def find_customer(session: AsyncSession, phone_e164: str) -> int | None:
    return await session.scalar(select(Customer.id).where(Customer.phone == phone_e164))


def _row(obj: Any) -> dict[str, Any]:
    """A model row as a dict of its columns (datetimes and decimals as they are)."""
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}


async def _chats(session: AsyncSession, customer_id: int) -> set[int]:
    """Every chat id known to be the customer's."""
    chats: set[int] = set()
    telegram = await session.scalar(
        select(Customer.telegram_user_id).where(Customer.id == customer_id)
    )
    if telegram is not None:
        chats.add(telegram)
    chats.update(
        (
            await session.scalars(
                select(Conversation.chat_id).where(Conversation.customer_id == customer_id)
            )
        ).all()
    )
    chats.update(
        c
        for c in (
            await session.scalars(select(Case.chat_id).where(Case.customer_id == customer_id))
        ).all()
        if c is not None
    )
    return chats


async def export(session: AsyncSession, customer_id: int) -> dict[str, Any]:
    """Everything stored about the customer: their row, orders with items, cases with events,
    evidence (with the files' paths) and survey, conversations, identification failures, and
    the messages to and from their chat still kept in the outbox and inbox."""
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise LookupError(customer_id)
    chats = await _chats(session, customer_id)
    orders = (
        await session.scalars(
            select(Order).where(Order.customer_id == customer_id).order_by(Order.id)
        )
    ).all()
    items = {o.id: [_row(i) for i in o.items] for o in orders}
    cases = (
        await session.scalars(select(Case).where(Case.customer_id == customer_id).order_by(Case.id))
    ).all()
    case_ids = [c.id for c in cases]
    events = (
        await session.scalars(
            select(CaseEvent).where(CaseEvent.case_id.in_(case_ids)).order_by(CaseEvent.id)
        )
    ).all()
    evidence = (
        await session.scalars(
            select(Evidence).where(Evidence.case_id.in_(case_ids)).order_by(Evidence.id)
        )
    ).all()
    surveys = (
        await session.scalars(
            select(Survey).where(Survey.case_id.in_(case_ids)).order_by(Survey.id)
        )
    ).all()
    conversations = (
        await session.scalars(
            select(Conversation)
            .where(or_(Conversation.customer_id == customer_id, Conversation.chat_id.in_(chats)))
            .order_by(Conversation.id)
        )
    ).all()
    failures = (
        await session.scalars(
            select(IdentificationFailure)
            .where(
                or_(
                    IdentificationFailure.customer_id == customer_id,
                    IdentificationFailure.chat_id.in_(chats),
                )
            )
            .order_by(IdentificationFailure.id)
        )
    ).all()
    outbox = (
        await session.scalars(select(Outbox).where(Outbox.chat_id.in_(chats)).order_by(Outbox.id))
    ).all()
    inbox = (
        await session.scalars(select(Inbox).where(Inbox.chat_id.in_(chats)).order_by(Inbox.id))
    ).all()

    def case_dict(case: Case) -> dict[str, Any]:
        return {
            **_row(case),
            "events": [_row(e) for e in events if e.case_id == case.id],
            "evidence": [_row(e) for e in evidence if e.case_id == case.id],
            "survey": next((_row(s) for s in surveys if s.case_id == case.id), None),
        }

    return {
        "customer": _row(customer),
        "orders": [{**_row(o), "items": items[o.id]} for o in orders],
        "cases": [case_dict(c) for c in cases],
        "evidence_files": [e.local_path for e in evidence if e.local_path],
        "conversations": [_row(c) for c in conversations],
        "identification_failures": [_row(f) for f in failures],
        "outbox": [_row(m) for m in outbox],
        "inbox": [_row(u) for u in inbox],
    }


@dataclass(frozen=True)
class EraseReport:
    already: bool = False  # erased before: nothing changed
    cases: int = 0
    evidence: int = 0
    conversations: int = 0
    identification_failures: int = 0
    outbox: int = 0
    inbox: int = 0
    evidence_paths: tuple[str, ...] = field(default=(), repr=False)

    def summary(self) -> str:
        if self.already:
            return "already erased: nothing changed"
        return (
            f"cases anonymised {self.cases}, evidence files {self.evidence}, conversations "
            f"{self.conversations}, identification failures {self.identification_failures}, "
            f"outbox rows {self.outbox}, inbox rows {self.inbox}"
        )


async def erase(session: AsyncSession, customer_id: int, *, now: datetime) -> EraseReport:
    """The customer's personal data deleted or anonymised (see the module's docstring)."""
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise LookupError(customer_id)
    marker = f"{ERASED_PHONE_PREFIX}{customer_id}"
    if customer.phone == marker:
        return EraseReport(already=True)
    chats = await _chats(session, customer_id)
    case_ids = list(
        (
            await session.scalars(
                select(Case.id).where(Case.customer_id == customer_id).order_by(Case.id)
            )
        ).all()
    )
    removed = await anonymise_cases(session, case_ids, now=now, kind=ERASED)
    conversations = await session.execute(
        delete(Conversation).where(
            or_(Conversation.customer_id == customer_id, Conversation.chat_id.in_(chats))
        )
    )
    failures = await session.execute(
        delete(IdentificationFailure).where(
            or_(
                IdentificationFailure.customer_id == customer_id,
                IdentificationFailure.chat_id.in_(chats),
            )
        )
    )
    outbox = await session.execute(delete(Outbox).where(Outbox.chat_id.in_(chats)))
    inbox = await session.execute(delete(Inbox).where(Inbox.chat_id.in_(chats)))
    await session.execute(delete(BlockedChat).where(BlockedChat.chat_id.in_(chats)))
    await session.execute(
        update(Customer)
        .where(Customer.id == customer_id)
        .values(name="", phone=marker, telegram_user_id=None)
    )
    await session.flush()
    return EraseReport(
        cases=len(case_ids),
        evidence=removed.count,
        conversations=_rowcount(conversations),
        identification_failures=_rowcount(failures),
        outbox=_rowcount(outbox),
        inbox=_rowcount(inbox),
        evidence_paths=tuple(removed.paths),
    )


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def jsonable(value: Any) -> Any:
    """`json.dumps(default=...)` for an export: times in ISO 8601, amounts as strings."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
