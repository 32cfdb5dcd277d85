"""`aftersales db upgrade`, `orders import FILE` and `demo-data`: thin wrappers over storage."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from bot.settings import load_settings
from storage import migrate
from storage.db import Database
from storage.demo import CUSTOMERS, load_demo
from storage.history import HistoryReport, load_history
from storage.importer import ImportReport, import_file

EXIT_OK, EXIT_BAD_RECORDS, EXIT_USAGE = 0, 1, 2


def db_upgrade(args: argparse.Namespace) -> int:
    url = load_settings().database_url
    migrate.upgrade(url)
    print(f"database is at revision {migrate.current(url)}")
    return EXIT_OK


def orders_import(args: argparse.Namespace) -> int:
    url = load_settings().database_url
    # Importing into a fresh or older database should just work, as `db upgrade` would.
    migrate.upgrade(url)
    try:
        report = asyncio.run(_import(url, args.file))
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{args.file}: cannot read: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for line in report.errors:
        print(line, file=sys.stderr)
    print(report.summary())
    return EXIT_OK if report.ok else EXIT_BAD_RECORDS


def demo_data(args: argparse.Namespace) -> int:
    try:
        now = _parse_now(args.now)
    except ValueError as exc:
        print(f"--now: {exc}", file=sys.stderr)
        return EXIT_USAGE
    cases = getattr(args, "cases", None)
    if cases is not None and cases < 1:
        print(f"--cases: {cases} is not a number of cases; give 1 or more", file=sys.stderr)
        return EXIT_USAGE
    url = load_settings().database_url
    migrate.upgrade(url)
    report = asyncio.run(_demo(url, now))
    for line in report.errors:
        print(line, file=sys.stderr)
    print(f"demo shop: {report.summary()}")
    for customer in CUSTOMERS:
        print(f"  {customer['phone']}  {customer['name']} ({customer['language']})")
    if cases:
        history = asyncio.run(_history(url, cases, now))
        print(f"history: {history.summary()}, over the two years to {now:%Y-%m-%d}")
    return EXIT_OK if report.ok else EXIT_BAD_RECORDS


def _parse_now(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"needs a UTC offset, e.g. 2026-11-26T10:00:00+08:00 (got {value!r})")
    return parsed


async def _import(url: str, path: str) -> ImportReport:
    db = Database(url)
    try:
        return await import_file(db, path, now=datetime.now(UTC))
    finally:
        await db.dispose()


async def _history(url: str, cases: int, now: datetime) -> HistoryReport:
    db = Database(url)
    try:
        return await load_history(db, cases, now)
    finally:
        await db.dispose()


async def _demo(url: str, now: datetime) -> ImportReport:
    db = Database(url)
    try:
        return await load_demo(db, now)
    finally:
        await db.dispose()
