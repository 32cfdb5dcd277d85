"""`aftersales run` and `aftersales link`."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from bot.errors import StartupError
from bot.settings import check_policy, load_settings, require_link_secret, require_run_secrets
from dialogs.links import LinkSigner

NO_TOKEN = "BOT_TOKEN is not set. To try the bot offline with a demo shop, run: aftersales sandbox"


def run(args: argparse.Namespace) -> int:
    from bot import logs

    logging.basicConfig(level=logging.INFO, format=logs.FORMAT)
    logs.quiet_libraries()
    settings = load_settings()
    logs.setup(settings.log_format)
    if settings.bot_token is None:
        raise StartupError(NO_TOKEN)
    require_run_secrets(settings, webhook=args.webhook)
    check_policy(settings)  # build() loads it too, but would end in a traceback
    # Only now: aiogram takes seconds to import, and a refusal should not wait for it.
    from bot.app import build, run_polling, run_webhook

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
    secret = require_link_secret(settings)
    days = args.days if args.days is not None else settings.link_ttl_days
    if days < 1:
        raise StartupError("--days: a link must stay valid for at least 1 day")
    if not asyncio.run(_order_exists(settings.database_url, args.order_no)):
        raise StartupError(f"no order {args.order_no!r} in the database (DATABASE_URL); "
                           "import it first with: aftersales orders import FILE")  # fmt: skip
    username = args.bot_username or settings.bot_username
    if username is None:
        if settings.bot_token is None:
            raise StartupError("give --bot-username (or set BOT_USERNAME or BOT_TOKEN)")
        username = asyncio.run(_ask_username(settings.bot_token.get_secret_value(),
                                             settings.telegram_api_base))  # fmt: skip
    try:
        url = LinkSigner(secret, ttl_days=days).url(username, args.order_no, datetime.now(UTC))
    except ValueError as exc:  # too long for Telegram's start parameter
        raise StartupError(str(exc)) from None
    print(url)
    return 0


async def _order_exists(url: str, order_no: str) -> bool:
    from storage import migrate
    from storage.db import Database
    from storage.repos import OrderRepo

    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    try:
        async with db.read() as session:
            return await OrderRepo(session).by_no(order_no) is not None
    finally:
        await db.dispose()


async def _ask_username(token: str, api_base: str) -> str:
    from bot.app import make_bot

    bot = make_bot(token, api_base)
    try:
        me = await bot.get_me()
    finally:
        await bot.session.close()
    return me.username or ""
