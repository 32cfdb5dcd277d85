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
    report, failed = asyncio.run(
        run_prune(
            settings.database_url,
            settings.retention_processed_days,
            policy.retention_days,
            dry_run=args.dry_run,
        )
    )
    prefix = "would prune" if args.dry_run else "pruned"
    print(f"{prefix}: {report.summary()}")
    if failed:
        print(f"aftersales: {failed} evidence files could not be deleted (see the log)",
              file=sys.stderr)  # fmt: skip
    return EXIT_OK


async def run_prune(url: str, processed_days: int, retention_days: int, *, dry_run: bool,
                    now: datetime | None = None) -> tuple[PruneReport, int]:  # fmt: skip
    """The report, and how many evidence files could not be deleted. For real, a bounded
    batch per transaction (`storage.retention.prune_in_batches`), each batch's files deleted
    once it has committed."""
    from bot.pruning import delete_files
    from storage.db import Database
    from storage.retention import prune as prune_storage
    from storage.retention import prune_in_batches

    now = now or datetime.now(UTC)
    failed = 0

    async def committed(paths: tuple[str, ...]) -> None:
        nonlocal failed
        failed += await asyncio.to_thread(delete_files, paths)

    db = Database(url)
    try:
        if dry_run:
            async with db.read() as session:
                report = await prune_storage(
                    session,
                    now=now,
                    processed_days=processed_days,
                    retention_days=retention_days,
                    dry_run=True,
                )
            return report, 0
        report = await prune_in_batches(
            db,
            now=now,
            processed_days=processed_days,
            retention_days=retention_days,
            committed=committed,
        )
        return report, failed
    finally:
        await db.dispose()
