"""`aftersales run` with Telegram's flood limits lifted, for `bench.telegram_bench --unpaced`.

    python -m bench.telegram_unpaced run

The production runner (`bot.cli`), unchanged; the flood limits are lifted by its settings
(`TELEGRAM_RATE_OVERALL`, `TELEGRAM_RATE_PER_CHAT`, `TELEGRAM_RATE_PER_GROUP`, which
`bench.telegram_bench` sets for it, and which default to `UNPACED` here when unset). Against
real Telegram this would earn 429s; here it shows what the rest of the bot (intake, processor,
database, outbox bookkeeping) sustains once the 25 messages/s overall pace is out of the way.

Two switches measure what the bot's performance tricks are worth (README "Benchmarks"):
`BENCH_BATCH=1` turns group commit off (every job in a unit of its own), and
`BENCH_SQLITE=aiosqlite` uses aiosqlite as SQLAlchemy ships it instead of
`storage/sqlite_driver.py`.
"""

from __future__ import annotations

import os
import sys

import dialogs.work
import storage.db
from bot.cli import main

# Messages per second for each of Telegram's limits: far more than the bot can send.
UNPACED = {
    "TELEGRAM_RATE_OVERALL": "100000",
    "TELEGRAM_RATE_PER_CHAT": "100000",
    "TELEGRAM_RATE_PER_GROUP": "100000",
}


def count_statements(path: str) -> None:
    """Count the SQL statements the bot runs, by their first words, into `path` (JSON) at
    exit: where a turn's database round trips go."""
    import atexit
    import collections
    import json
    import re

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counts: collections.Counter[str] = collections.Counter()

    @event.listens_for(Engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        counts[re.sub(r"\s+", " ", statement)[:90] + " …" + statement[-60:]] += 1

    @event.listens_for(Engine, "commit")
    def commits(conn) -> None:
        counts["COMMIT"] += 1

    def dump() -> None:
        with open(path, "w") as out:
            json.dump(counts.most_common(), out, indent=1, ensure_ascii=False)

    atexit.register(dump)


if __name__ == "__main__":
    for name, value in UNPACED.items():
        os.environ.setdefault(name, value)
    if os.environ.get("BENCH_BATCH"):
        size = int(os.environ["BENCH_BATCH"])
        dialogs.work.Batcher.__init__.__defaults__ = (size, 1)  # type: ignore[attr-defined]
    if os.environ.get("BENCH_SQLITE") == "aiosqlite":
        _database_init = storage.db.Database.__init__

        def plain(self: storage.db.Database, url: str, **kwargs: object) -> None:
            import sqlite3

            import aiosqlite
            from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

            module = AsyncAdapt_aiosqlite_dbapi(aiosqlite, sqlite3)
            _database_init(self, url, module=module, **kwargs)  # type: ignore[arg-type]

        storage.db.Database.__init__ = plain  # type: ignore[method-assign]
    if os.environ.get("BENCH_STATEMENTS"):
        count_statements(os.environ["BENCH_STATEMENTS"])
    sys.exit(main(sys.argv[1:]))
