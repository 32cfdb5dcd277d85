"""The weekly digest: a timer that posts last week's report in the agents' group and starts
the next one. It fires once however many workers run (the timers' claim and fired mark), and
only one digest timer is ever live (migration 0010's partial unique index).

The timer's payload carries where and when (chat, weekday, hour, time zone), so the next one
is set the same way; bot/reports/digest.py sets the first at start-up from the settings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dialogs.events import Outgoing
from dialogs.policy.calendar import WorkingCalendar
from dialogs.shop import ShopPort
from dialogs.texts import Texts
from storage.views import TimerView

from . import build_report
from .period import last_week, next_digest
from .reply import report_reply

DIGEST = "report_digest"


def digest_payload(chat_id: int, weekday: int, hour: int, timezone: str) -> dict[str, Any]:
    return {"chat_id": chat_id, "weekday": weekday, "hour": hour, "timezone": timezone}


async def fire(timer: TimerView, shop: ShopPort, texts: Texts, locale: str,
               calendar: WorkingCalendar, now: datetime) -> list[Outgoing]:  # fmt: skip
    where = timer.payload
    chat_id, timezone = int(where["chat_id"]), str(where["timezone"])
    report = await build_report(shop, last_week(now, timezone), timezone, calendar)
    due = next_digest(now, timezone, int(where["weekday"]), int(where["hour"]))
    await shop.start_timer(DIGEST, due, now, chat_id=chat_id, payload=dict(where))
    return [report_reply(chat_id, None, report, texts, locale, digest=True)]
