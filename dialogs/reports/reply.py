"""The report as a message for the agents' group: the chart as a photo, the key figures as
its caption, both in the group's language.

A `ChartReply` is a `Reply` (the unit of work stores every Reply's payload in the outbox as
it is); its payload is a "chart" the outbox draws and uploads when it leaves (bot/reports/
send.py), so the picture is made by bot/, never here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dialogs.events import Reply
from dialogs.texts import Texts

from .chart import ChartSpec, chart_spec
from .figures import Report


@dataclass
class ChartReply(Reply):
    chart: dict[str, Any] = field(default_factory=dict)  # ChartSpec.as_dict()

    def as_payload(self) -> dict[str, Any]:
        return {"kind": "chart", "chat_id": self.chat_id, "caption": self.text,
                "chart": self.chart}  # fmt: skip


def report_reply(chat_id: int, thread_id: int | None, report: Report, texts: Texts,
                 locale: str, *, digest: bool = False) -> ChartReply:  # fmt: skip
    caption = str(texts.render(locale, "report/summary", report=report, digest=digest))
    spec: ChartSpec = chart_spec(report, texts, locale)
    return ChartReply(chat_id, caption, thread_id=thread_id, chart=spec.as_dict())
