"""`python -m bot.emulator --port 8081 --token TOKEN`: serve the emulator standalone."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from bot.emulator.core import DEFAULT_BOT_USERNAME, DEFAULT_TOKEN
from bot.emulator.server import EmulatorServer

log = logging.getLogger("bot.emulator")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bot's token (sets its id)")
    parser.add_argument("--username", default=DEFAULT_BOT_USERNAME, help="the bot's username")
    parser.add_argument(
        "--enforce-rate-limits", action="store_true", help="answer 429 beyond Telegram's limits"
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    server = EmulatorServer(
        args.host,
        args.port,
        token=args.token,
        bot_username=args.username,
        enforce_rate_limits=args.enforce_rate_limits,
    )
    await server.start()
    log.info("Bot API emulator listening on %s (bot @%s)", server.base_url, args.username)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop it
        asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
