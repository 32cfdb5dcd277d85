"""The `aftersales` command line. Subcommands live in small modules imported only when used."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bot.errors import StartupError
from storage.domain import Category, Condition, PaymentMethod, Reason, Service

# The parser's own words are for the shop's operator and merchant; this module's docstring is
# for developers, so it is not reused as the description.
DESCRIPTION = """\
A Telegram bot that settles a shop's after-sales requests (return, exchange, repair, refund,
missing parts) on its own, from the shop's policy profile, and hands unclear cases to a person.
"""
EPILOG = """\
getting started:
  aftersales sandbox                try the bot offline: a demo shop and a chat in this terminal
  aftersales policy validate t12    check a policy profile (or your own YAML file)
  aftersales policy check --help    see what the bot would answer to one request
  aftersales run                    run the bot on Telegram (needs BOT_TOKEN and LINK_SECRET)
  aftersales case list              the shop's cases; "aftersales case --help" moves them

Settings come from environment variables or a .env file (BOT_TOKEN, DATABASE_URL, POLICY, ...).
"aftersales COMMAND --help" explains one command; README.md explains them all.
"""
TIME_FORMAT = """\
TIME is ISO 8601, e.g. 2026-11-12T10:00:00+08:00. A time with an offset is taken as given;
without one (2026-11-12T10:00, or a date alone for midnight) it is read in the profile's time
zone (its `timezone`, Asia/Shanghai in the profiles shipped).

exit status: 0 a decision was printed (whatever it decided), 1 the profile does not load,
2 a bad option (an unknown name, a malformed time or price).
"""
VALIDATE_EPILOG = """\
Prints "FILE: ok" and any warnings (e.g. a coming year without an official holiday schedule)
and exits 0, or one "FILE: dotted.path: problem" line per problem and exits 1.
"""

# Closed sets, in the order the domain lists them (the order of the menus and of the help).
SERVICES = tuple(s.value for s in Service)
REASONS = tuple(r.value for r in Reason)
CATEGORIES = tuple(c.value for c in Category)
CONDITIONS = tuple(c.value for c in Condition)
PAYMENTS = tuple(p.value for p in PaymentMethod)


def _one_of(names: tuple[str, ...]) -> Callable[[str], str]:
    """An argparse type: a name from the closed set, or an error that lists the set.

    Not `choices`: its message quotes every name and its help shows a {a,b,...} blob; this
    says `'retrun' is not one of return, exchange, ...` and exits 2 all the same."""

    def name(text: str) -> str:
        if text not in names:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(names)}")
        return text

    return name


class _Conditions(argparse.Action):
    """--condition a b, --condition a --condition b and --condition a,b all add up."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        chosen = list(getattr(namespace, self.dest, None) or [])  # never the shared default
        words = [values] if isinstance(values, str) else list(values or [])
        for word in words:
            names = [piece.strip() for piece in str(word).split(",") if piece.strip()]
            if not names:
                raise argparse.ArgumentError(self, f"expected a condition name, got {word!r}")
            for text in names:
                if text not in CONDITIONS:
                    raise argparse.ArgumentError(
                        self, f"{text!r} is not one of {', '.join(CONDITIONS)}"
                    )
                if text not in chosen:
                    chosen.append(text)
        setattr(namespace, self.dest, chosen)


def _build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="aftersales", description=DESCRIPTION, epilog=EPILOG, formatter_class=raw
    )
    sub = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")

    sandbox = sub.add_parser(
        "sandbox",
        help="try the bot offline: emulator, demo shop and a terminal chat as a customer",
        description="Try the bot offline: a local Telegram emulator, a demo shop in a fresh "
        "SQLite file and the real bot, with a terminal chat in which you are the demo customer. "
        "No token, no internet.",
    )
    sandbox.add_argument(
        "--database",
        metavar="FILE",
        help="SQLite file to keep and reuse between runs (default: a fresh one per run)",
    )
    sandbox.add_argument(
        "--language",
        choices=["zh", "en"],
        default="zh",
        help="the demo customer's language: zh (default) or en",
    )

    run = sub.add_parser(
        "run",
        help="run the bot on Telegram (long polling, or --webhook)",
        description="Run the bot on Telegram with the settings from the environment (BOT_TOKEN, "
        "LINK_SECRET, DATABASE_URL, POLICY, ...). Migrations are applied on start.",
    )
    run.add_argument(
        "--webhook", action="store_true", help="serve a webhook at WEBHOOK_URL instead of polling"
    )
    run.add_argument("--host", default="0.0.0.0", help="webhook listen address (default 0.0.0.0)")
    run.add_argument("--port", type=int, default=8080, help="webhook listen port (default 8080)")

    link = sub.add_parser(
        "link",
        help="print a signed Telegram link that opens one order, for e-mail or SMS",
        description="Print a signed https://t.me/<bot>?start=<token> link that opens one order "
        "in the bot, for the shop's order page, an e-mail or an SMS.",
    )
    link.add_argument("order_no", metavar="ORDER_NO", help="an order already in the database")
    link.add_argument(
        "--bot-username",
        metavar="NAME",
        help="the bot's username (default: BOT_USERNAME, or asked from Telegram)",
    )
    link.add_argument(
        "--days",
        type=int,
        metavar="N",
        help="how many days the link stays valid (default: LINK_TTL_DAYS, 30)",
    )

    db = sub.add_parser(
        "db",
        help="database maintenance (db upgrade, db prune)",
        description="Database maintenance on DATABASE_URL.",
    )
    db_sub = db.add_subparsers(
        title="commands", dest="db_command", required=True, metavar="COMMAND"
    )
    db_sub.add_parser(
        "upgrade",
        help="bring the database up to date (safe to run at every start)",
        description="Apply every migration to DATABASE_URL and print the revision it is at.",
    )
    from bot.cli.prune import add_parser as add_prune_parser

    add_prune_parser(db_sub)

    orders = sub.add_parser(
        "orders",
        help="the shop's orders (orders import FILE)",
        description="The shop's orders, which customers pick from in the bot.",
    )
    orders_sub = orders.add_subparsers(
        title="commands", dest="orders_command", required=True, metavar="COMMAND"
    )
    imp = orders_sub.add_parser(
        "import",
        help="import or update orders from a JSON array or JSON Lines file",
        description="Import orders, or update those already imported, from a JSON array or JSON "
        "Lines file. Bad records are listed and skipped (exit 1); the rest are imported.",
    )
    imp.add_argument("file", metavar="FILE", help="UTF-8 JSON array or JSON Lines of orders")

    from bot.cli.case import add_parser as add_case_parser  # argparse only at import time

    add_case_parser(sub)

    from bot.cli.customer import add_parser as add_customer_parser

    add_customer_parser(sub)

    from bot.cli.report import add_parser as add_report_parser

    add_report_parser(sub)

    demo = sub.add_parser(
        "demo-data",
        help="load a demo shop (customers and orders) dated relative to today",
        description="Load a demo shop, its customers and their orders dated relative to now, "
        "into DATABASE_URL. Running it again updates the same orders.",
    )
    demo.add_argument(
        "--cases",
        type=int,
        metavar="N",
        help="also generate a two-year history of N after-sales cases (for reports and their "
        "benchmark)",
    )
    demo.add_argument(
        "--now",
        metavar="TIME",
        help="ISO 8601 time with an offset to date the orders from (default: now)",
    )

    policy = sub.add_parser(
        "policy",
        help="check a policy profile, or dry-run one decision against it",
        description="A shop's after-sales rules are one YAML profile (POLICY). Check one, or "
        "see what the bot would decide for one request.",
    )
    policy_sub = policy.add_subparsers(
        title="commands", dest="policy_command", required=True, metavar="COMMAND"
    )
    val = policy_sub.add_parser(
        "validate",
        help="check a policy profile or YAML file and list its problems",
        description="Check a policy profile or YAML file: every problem on one line, with the\n"
        "key it is at.",
        epilog=VALIDATE_EPILOG,
        formatter_class=raw,
    )
    val.add_argument(
        "file",
        metavar="PROFILE_OR_FILE",
        help="a profile name in policies/ (standard, t2, t12, ...) or a path to a YAML file",
    )
    chk = policy_sub.add_parser(
        "check",
        help="dry-run one customer request and print the decision",
        description="Dry-run one customer request against a profile and print what the bot would\n"
        "decide: outcome, rules, the customer's message in zh and en, alternatives, deadline.\n"
        "Nothing is stored.",
        epilog=TIME_FORMAT,
        formatter_class=raw,
    )
    chk.add_argument(
        "--profile",
        required=True,
        metavar="PROFILE_OR_FILE",
        help="a profile name in policies/ (standard, t2, t12, ...) or a path to a YAML file",
    )
    chk.add_argument(
        "--service",
        required=True,
        type=_one_of(SERVICES),
        metavar="NAME",
        help=f"the service asked for: {', '.join(SERVICES)} (one the profile does not offer "
        "is answered as not offered)",
    )
    chk.add_argument(
        "--reason",
        required=True,
        type=_one_of(REASONS),
        metavar="NAME",
        help=f"the customer's reason: {', '.join(REASONS)}",
    )
    chk.add_argument(
        "--category",
        required=True,
        type=_one_of(CATEGORIES),
        metavar="NAME",
        help=f"the item's category: {', '.join(CATEGORIES)}",
    )
    chk.add_argument(
        "--purchased-at", required=True, metavar="TIME", help="when the order was placed"
    )
    chk.add_argument(
        "--delivered-at",
        metavar="TIME",
        help="when the customer received the item (omit: not delivered yet)",
    )
    chk.add_argument(
        "--paid-at", metavar="TIME", help="when the order was paid (default: when it was placed)"
    )
    chk.add_argument(
        "--shipped-at", metavar="TIME", help="when the item was shipped (omit: not shipped yet)"
    )
    chk.add_argument(
        "--payment",
        type=_one_of(PAYMENTS),
        default="online",
        metavar="NAME",
        help="how the order is paid: online (default) or cod (cash on delivery)",
    )
    chk.add_argument(
        "--price",
        metavar="AMOUNT",
        help="the claimed price in the profile's currency, also taken as the order value "
        "(e.g. 99.50)",
    )
    chk.add_argument(
        "--evidence",
        type=int,
        default=0,
        metavar="N",
        help="how many photo or video files the customer attached (default 0)",
    )
    chk.add_argument(
        "--condition",
        action=_Conditions,
        nargs="+",
        default=[],
        metavar="NAME",
        help=f"conditions the customer confirms: {', '.join(CONDITIONS)}; several after one "
        "--condition, repeated, or comma-separated",
    )
    chk.add_argument(
        "--now", metavar="TIME", help="the moment to decide at (default: the current time)"
    )
    chk.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a short summary"
    )
    return parser


def _handler(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    if args.command == "db" and args.db_command == "prune":
        from bot.cli.prune import prune

        return prune
    if args.command == "customer":
        from bot.cli.customer import customer

        return customer
    if args.command == "db":
        from bot.cli.data import db_upgrade

        return db_upgrade
    if args.command == "orders":
        from bot.cli.data import orders_import

        return orders_import
    if args.command == "case":
        from bot.cli.case import case

        return case
    if args.command == "report":
        from bot.cli.report import report

        return report
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
