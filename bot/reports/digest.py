"""The weekly digest's timer, set at start-up from the settings (REPORT_DIGEST, its weekday
and hour, the first AGENT_CHAT_ID, the profile's time zone).

Idempotent and safe with several workers starting at once: the live digest timer is kept if
it is set as the settings say, replaced if they changed, cancelled if the digest was turned
off; two workers inserting at once meet the partial unique index and one of them keeps the
other's timer. The timer itself fires once, like every timer (bot/timers.py), and sets the
next week's (dialogs/reports/digest.py).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from dialogs.clock import Clock
from dialogs.reports.digest import DIGEST, digest_payload
from dialogs.reports.period import next_digest
from storage.db import Database
from storage.models import Timer

if TYPE_CHECKING:
    from bot.settings import Settings
    from dialogs.policy import Policy

log = logging.getLogger(__name__)


async def schedule(db: Database, clock: Clock, settings: Settings, policy: Policy
                   ) -> datetime | None:  # fmt: skip
    """Set, keep, replace or cancel the live digest timer; when it is due (None: off)."""
    now, chat = clock.now(), settings.agent_chat_id
    wanted = None
    if settings.report_digest and chat is not None:
        wanted = digest_payload(chat, settings.report_digest_weekday,
                                settings.report_digest_hour, policy.calendar.timezone)  # fmt: skip
    live = (Timer.kind == DIGEST, Timer.fired_at.is_(None), Timer.cancelled_at.is_(None))
    try:
        async with db.transaction() as session:
            found = (
                await session.execute(select(Timer.payload, Timer.due_at).where(*live))
            ).first()
            if found is not None and found[0] == wanted:
                return found[1]
            if found is not None:
                await session.execute(update(Timer).where(*live).values(cancelled_at=now))
            if wanted is None:
                return None
            due = next_digest(now, wanted["timezone"], wanted["weekday"], wanted["hour"])
            session.add(Timer(kind=DIGEST, chat_id=chat, due_at=due, payload=wanted,
                              created_at=now))  # fmt: skip
    except IntegrityError:  # another worker set it at the same moment: theirs stands
        log.info("weekly digest already set by another worker")
        return None
    log.info("weekly digest due %s", due.isoformat())
    return due
