"""`aftersales report --from DATE --to DATE [--format md|csv|json|png] [--out FILE]`.

The report of the days from one date to another (both included, in the shop's TIMEZONE),
compared with as many days just before; times in working hours on the POLICY profile's
calendar. Markdown in the shop's language (--lang), CSV and JSON with the same figures, or
the chart the agents' group gets from /report.

Only argparse at import time: the parser is built for every `aftersales` command.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dialogs.reports import Period, Report

EXIT_OK, EXIT_USAGE = 0, 2
FORMATS = ("md", "csv", "json", "png")
EPILOG = """\
DATE is YYYY-MM-DD, a day in the shop's time zone (TIMEZONE). --to is included.
exit status: 0 the report was written, 2 a bad option (the sentence says which).
"""


class UsageError(ValueError):
    """A bad option: one sentence naming it, exit 2."""


def add_parser(sub: Any) -> None:
    report = sub.add_parser(
        "report",
        help="what the after-sales desk learns from its cases, for a period (md, csv, json, png)",
        description="A period's after-sales figures beside the period before: volume, decisions, "
        "times in working hours, service clocks, refunds, satisfaction, repeat claims.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument(
        "--from", dest="first", required=True, metavar="DATE", help="the first day of the period"
    )
    report.add_argument(
        "--to",
        dest="last",
        required=True,
        metavar="DATE",
        help="the last day of the period (included)",
    )
    report.add_argument(
        "--format", default="md", metavar="FORMAT", help="md (default), csv, json or png"
    )
    report.add_argument(
        "--out", metavar="FILE", help="write here instead of standard output (needed for png)"
    )
    report.add_argument("--lang", metavar="LANG", help="zh or en (default: DEFAULT_LOCALE)")


def _date(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a date; write it as YYYY-MM-DD") from None


def parse_period(first: str, last: str) -> Period:
    from dialogs.reports import Period

    start, end = _date("--from", first), _date("--to", last)
    if start > end:
        raise UsageError(f"--from {start} is after --to {end}: the period would have no days")
    return Period(start, end)


def _options(args: argparse.Namespace, default_locale: str) -> tuple[Period, str, str]:
    period = parse_period(args.first, args.last)
    if args.format not in FORMATS:
        raise UsageError(f"--format: {args.format!r} is not one of {', '.join(FORMATS)}")
    if args.format == "png" and not args.out:
        raise UsageError("--format png needs --out FILE: a picture does not go to a terminal")
    locale = args.lang or default_locale
    if locale not in ("zh", "en"):
        raise UsageError(f"--lang: {locale!r} is not one of zh, en")
    return period, args.format, locale


def report(args: argparse.Namespace) -> int:
    from bot.settings import check_policy, load_settings

    settings = load_settings()
    try:
        period, kind, locale = _options(args, settings.default_locale)
    except UsageError as exc:
        print(f"aftersales report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    policy = check_policy(settings)
    from storage import migrate

    migrate.upgrade(settings.database_url)  # the indexes the report walks
    built = asyncio.run(_build(settings.database_url, period, settings.timezone, policy.calendar))
    output = render_output(built, kind, locale, settings.timezone)
    try:
        if args.out:
            Path(args.out).write_bytes(output)
        else:
            sys.stdout.buffer.write(output)
            sys.stdout.flush()
    except OSError as exc:
        print(f"aftersales report: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def render_output(built: Report, kind: str, locale: str, timezone: str) -> bytes:
    from dialogs.reports import outputs
    from dialogs.reports.chart import chart_spec
    from dialogs.texts import Texts

    if kind == "csv":
        return outputs.to_csv(built).encode("utf-8")
    if kind == "json":
        return outputs.to_json(built).encode("utf-8")
    texts = Texts(timezone=timezone)
    if kind == "png":
        from bot.reports.chart import render

        return render(chart_spec(built, texts, locale))
    return outputs.to_markdown(built, texts, locale).encode("utf-8")


async def _build(url: str, period: Period, timezone: str, calendar: Any) -> Report:
    from dialogs.reports import build_report
    from storage.db import Database
    from storage.repos.reports import ReportRepo

    db = Database(url)
    try:
        async with ReportRepo.reading(db) as repo:
            return await build_report(repo, period, timezone, calendar)
    finally:
        await db.dispose()
