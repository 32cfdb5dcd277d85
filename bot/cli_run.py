"""`aftersales run` and `aftersales link`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable

from bot.settings import load_settings
from dialogs.links import LinkSigner

NO_TOKEN = "BOT_TOKEN is not set. To try the bot offline with a demo shop, run: aftersales sandbox"


def run(args: argparse.Namespace) -> int:
    from bot import logs
    from bot.app import build, run_polling, run_webhook

    logging.basicConfig(level=logging.INFO, format=logs.FORMAT)
    logs.quiet_libraries()
    settings = load_settings()
    if settings.bot_token is None:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    runtime = build(settings)
    main = run_webhook(runtime, host=args.host, port=args.port) if args.webhook else None
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(main or run_polling(runtime))
    return 0


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (Linux and macOS): the same asyncio, in C, so the
    event loop's own work per update (wake-ups, callbacks, sockets) costs a fraction."""
    try:
        import uvloop
    except ImportError:  # e.g. Windows: the standard loop
        return None
    return uvloop.new_event_loop


def link(args: argparse.Namespace) -> int:
    settings = load_settings()
    username = args.bot_username or settings.bot_username
    if username is None:
        if settings.bot_token is None:
            print("Give --bot-username (or set BOT_USERNAME or BOT_TOKEN)", file=sys.stderr)
            return 2
        username = asyncio.run(_ask_username(settings.bot_token.get_secret_value(),
                                             settings.telegram_api_base))  # fmt: skip
    print(LinkSigner(settings.link_secret.get_secret_value()).url(username, args.order_no))
    return 0


async def _ask_username(token: str, api_base: str) -> str:
    from bot.app import make_bot

    bot = make_bot(token, api_base)
    try:
        me = await bot.get_me()
    finally:
        await bot.session.close()
    return me.username or ""
