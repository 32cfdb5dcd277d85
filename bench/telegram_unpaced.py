"""`aftersales run` with Telegram's flood limits lifted, for `bench.telegram_bench --unpaced`.

    python -m bench.telegram_unpaced run

The production runner (`bot.cli`), unchanged, except that the outbox's rate limiter gets very
high limits, as the end-to-end tests do (tests/e2e/harness.py). Against real Telegram this
would earn 429s; here it shows what the rest of the bot (intake, processor, database, outbox
bookkeeping) sustains once the 25 messages/s overall pace is out of the way.
"""

from __future__ import annotations

import sys

import bot.ratelimit
from bot.cli import main

FAST = bot.ratelimit.Rate(per_second=100_000.0, burst=100_000)
_Limits = bot.ratelimit.Limits


def _unpaced() -> bot.ratelimit.Limits:
    return _Limits(private=FAST, group=FAST, overall=FAST)


if __name__ == "__main__":
    # RateLimiter() looks `Limits` up in its module when the app is built, so this replaces
    # the defaults for every limiter the runner creates and nothing else.
    bot.ratelimit.Limits = _unpaced  # type: ignore[misc,assignment]
    sys.exit(main(sys.argv[1:]))
