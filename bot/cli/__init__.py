"""The `aftersales` command line. Subcommands live in small modules imported only when used."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from bot.errors import StartupError


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aftersales", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply all migrations")

    orders = sub.add_parser("orders", help="order data")
    orders_sub = orders.add_subparsers(dest="orders_command", required=True)
    imp = orders_sub.add_parser("import", help="import orders (JSON array or JSON Lines)")
    imp.add_argument("file")

    demo = sub.add_parser("demo-data", help="load a demo shop generated relative to today")
    demo.add_argument("--now", help="ISO 8601 instant to generate relative to (default: now)")

    policy = sub.add_parser("policy", help="policy profiles")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    val = policy_sub.add_parser("validate", help="validate a policy file or profile name")
    val.add_argument("file")
    chk = policy_sub.add_parser("check", help="dry-run one decision")
    chk.add_argument("--profile", required=True)
    chk.add_argument("--service", required=True)
    chk.add_argument("--reason", required=True)
    chk.add_argument("--category", required=True)
    chk.add_argument("--purchased-at", required=True)
    chk.add_argument("--delivered-at")
    chk.add_argument("--paid-at")
    chk.add_argument("--shipped-at")
    chk.add_argument("--payment", choices=["online", "cod"], default="online")
    chk.add_argument("--price")
    chk.add_argument("--evidence", type=int, default=0)
    chk.add_argument("--condition", action="append", default=[])
    chk.add_argument("--now")
    chk.add_argument("--json", action="store_true")
    run = sub.add_parser("run", help="run the bot (long polling, or --webhook)")
    run.add_argument("--webhook", action="store_true", help="serve a webhook at WEBHOOK_URL")
    run.add_argument("--host", default="0.0.0.0", help="webhook listen address")
    run.add_argument("--port", type=int, default=8080, help="webhook listen port")

    link = sub.add_parser("link", help="print a signed deep link that opens one order")
    link.add_argument("order_no")
    link.add_argument("--bot-username", help="default: BOT_USERNAME, or asked from Telegram")
    link.add_argument(
        "--days", type=int, help="how many days the link stays valid (default: LINK_TTL_DAYS, 30)"
    )

    sandbox = sub.add_parser("sandbox", help="offline: emulator + demo shop + the real bot")
    sandbox.add_argument("--database", help="SQLite file (default: a fresh one per run)")
    sandbox.add_argument("--language", choices=["zh", "en"], default="zh")
    return parser


def _handler(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    if args.command == "db":
        from bot.cli.data import db_upgrade

        return db_upgrade
    if args.command == "orders":
        from bot.cli.data import orders_import

        return orders_import
    if args.command == "demo-data":
        from bot.cli.data import demo_data

        return demo_data
    if args.command == "policy":
        from bot.cli import policy as cli_policy

        return cli_policy.validate if args.policy_command == "validate" else cli_policy.check
    if args.command == "run":
        from bot.cli.run import run

        return run
    if args.command == "link":
        from bot.cli.run import link

        return link
    if args.command == "sandbox":
        from bot.sandbox import main as sandbox

        return sandbox
    raise SystemExit(f"unknown command {args.command}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        return _handler(args)(args)
    except StartupError as exc:  # the operator's to fix; anything else is a bug: a traceback
        print(f"aftersales: {exc}", file=sys.stderr)
        return exc.exit_code
