"""A report as Markdown (for people), CSV and JSON (for the shop's spreadsheets and scripts).

CSV and JSON are the same list of facts, so they cannot disagree; Markdown is rendered from
the same report by the templates (`report/markdown`), in the shop's language.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dialogs.texts import Texts

from .figures import Change, Report

Value = int | float | str | None
COLUMNS = ("section", "name", "label", "value", "previous", "change_pct")


@dataclass(frozen=True, slots=True)
class Fact:
    section: str
    name: str
    value: Value
    previous: Value = None
    label: str = ""  # a product's name beside its SKU
    change_pct: float | None = None

    def row(self) -> dict[str, Value]:
        return {
            "section": self.section,
            "name": self.name,
            "label": self.label,
            "value": self.value,
            "previous": self.previous,
            "change_pct": self.change_pct,
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _money(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))


def facts(report: Report) -> list[Fact]:
    """Every figure of the report, one per line, in the order the Markdown gives them."""
    out: list[Fact] = []
    add = out.append
    for name, change in report.key:
        digits = 4 if name.endswith("share") else 2
        add(
            Fact(
                "key",
                name,
                _round(change.value, digits),
                _round(change.previous, digits),
                change_pct=_round(change.percent, 1),
            )
        )
    add(Fact("volume", "questions", report.questions))
    for section, lines in (
        ("service", report.by_service),
        ("reason", report.by_reason),
        ("category", report.by_category),
        ("decision", report.decisions),
    ):
        for line in lines:
            add(
                Fact(
                    section,
                    line.name,
                    line.count,
                    line.previous,
                    change_pct=_round(Change(line.count, line.previous).percent, 1),
                )
            )
    for p in report.products_by_claims:
        add(Fact("product_claims", p.sku, p.claims, label=p.name))
    for p in report.products_by_rate:
        add(Fact("product_claim_rate", p.sku, round(p.claims / p.units_sold, 4), label=p.name))
    for rule in report.rules:
        add(Fact("rule", rule.name, rule.count))
    add(Fact("times", "first_response_answered", report.first_response.count))
    add(Fact("times", "first_response_waiting", report.waiting_first_response))
    add(Fact("times", "resolved", report.resolution.count))
    for clock in report.clocks:
        add(Fact("clock_met", clock.name, clock.met))
        add(Fact("clock_breached", clock.name, clock.breached))
        add(Fact("clock_running", clock.name, clock.running))
        add(Fact("clock_met_share", clock.name, _round(clock.share_met, 4)))
    for method, currency, count, amount in report.refunds:
        add(Fact("refund_count", f"{method}.{currency}", count))
        add(Fact("refund_amount", f"{method}.{currency}", _money(amount)))
    for currency, amount in report.refund_amounts:
        add(Fact("refund_total", currency, _money(amount)))
    add(Fact("csat", "answers", report.csat_answers))
    for line in report.ratings:
        add(Fact("rating", line.name, line.count, line.previous))
    for name, average in report.dimensions:
        add(Fact("dimension", name, _round(average, 2)))
    for agent in report.agents:
        add(Fact("agent_csat", agent.name, round(agent.average, 2), label=str(agent.answers)))
    add(Fact("repeat", "claims", report.repeat_claims))
    add(Fact("evidence", "reused_files", report.reused_evidence_files))
    return out


def to_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for fact in facts(report):
        writer.writerow({k: "" if v is None else v for k, v in fact.row().items()})
    return buffer.getvalue()


def to_json(report: Report) -> str:
    document: dict[str, Any] = {
        "period": {"from": report.period.first.isoformat(), "to": report.period.last.isoformat()},
        "previous_period": {
            "from": report.previous_period.first.isoformat(),
            "to": report.previous_period.last.isoformat(),
        },
        "empty": report.empty,
        "facts": [fact.row() for fact in facts(report)],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def md_cell(text: str) -> str:
    """A value that sits in a Markdown table cell: a `|` would end the cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report, texts: Texts, locale: str) -> str:
    # Plain text, not Telegram's HTML: the template's escaping undone (`texts.plain` would do
    # the same but keep every report in its memo of labels).
    return (
        html.unescape(str(texts.render(locale, "report/markdown", report=report, cell=md_cell)))
        + "\n"
    )
