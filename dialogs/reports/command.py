"""`/report [week|month]` in the agents' group: the last 7 or 30 days, today included, beside
as many days before. Who may ask is checked before (dialogs/agents/handler.py: agents and
supervisors only)."""

from __future__ import annotations

from datetime import datetime

from dialogs.events import Event, Outgoing, Reply
from dialogs.policy.calendar import WorkingCalendar
from dialogs.texts import Texts

from . import FiguresSource, build_report
from .period import SPANS, recent
from .reply import report_reply

DEFAULT_SPAN = "week"


async def answer(source: FiguresSource, event: Event, texts: Texts, locale: str,
                 calendar: WorkingCalendar, now: datetime) -> Outgoing:  # fmt: skip
    span = event.text.strip().lower() or DEFAULT_SPAN
    if span not in SPANS:
        text = texts.render(locale, "report/usage", given=event.text.strip())
        return Reply(event.chat_id, str(text), thread_id=event.thread_id)
    period = recent(now, calendar.timezone, span)
    report = await build_report(source, period, calendar.timezone, calendar)
    return report_reply(event.chat_id, event.thread_id, report, texts, locale)
