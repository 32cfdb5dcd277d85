"""`aftersales db prune [--dry-run]`: retention (storage/retention.py) run once, with counts.

Processed inbox and sent outbox rows older than RETENTION_PROCESSED_DAYS are deleted; finished
cases older than the profile's `retention_days` are anonymised and their evidence files
deleted. Safe to run while the bot runs (which prunes once a day itself, bot/pruning.py),
and as often as wanted.

Only argparse at import time: the parser is built for every `aftersales` command.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.retention import PruneReport

EXIT_OK = 0


def add_parser(db_sub: Any) -> None:
    """`prune` on the `db` command's subparsers."""
    prune_parser = db_sub.add_parser(
        "prune",
        help="delete or anonymise personal data past its retention (see README: Personal data)",
        description="Delete processed inbox and sent outbox rows older than "
        "RETENTION_PROCESSED_DAYS (7), and anonymise closed, cancelled and rejected cases older "
        "than the profile's retention_days (1095), deleting their evidence files. Prints the "
        "counts.",
    )
    prune_parser.add_argument(
        "--dry-run", action="store_true", help="only count what would be pruned; change nothing"
    )


def prune(args: argparse.Namespace) -> int:
    from bot.settings import check_policy, load_settings
    from storage import migrate

    settings = load_settings()
    policy = check_policy(settings)
    migrate.upgrade(settings.database_url)
    report = asyncio.run(
        run_prune(
            settings.database_url,
            settings.retention_processed_days,
            policy.retention_days,
            dry_run=args.dry_run,
        )
    )
    from bot.pruning import delete_files

    failed = 0 if args.dry_run else delete_files(report.evidence_paths)
    prefix = "would prune" if args.dry_run else "pruned"
    print(f"{prefix}: {report.summary()}")
    if failed:
        print(f"aftersales: {failed} evidence files could not be deleted (see the log)",
              file=sys.stderr)  # fmt: skip
    return EXIT_OK


async def run_prune(url: str, processed_days: int, retention_days: int, *, dry_run: bool,
                    now: datetime | None = None) -> PruneReport:  # fmt: skip
    from storage.db import Database
    from storage.retention import prune as prune_storage

    db = Database(url)
    try:
        async with db.transaction() as session:
            return await prune_storage(
                session, now=now or datetime.now(UTC), processed_days=processed_days,
                retention_days=retention_days, dry_run=dry_run,
            )  # fmt: skip
    finally:
        await db.dispose()
