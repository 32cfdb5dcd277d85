"""`aftersales customer export|erase PHONE`: a customer's personal data read out or erased (PIPL).

The phone is read as the importer reads it (E.164; without "+" a Chinese number). The SQL is
in storage/customer_data.py; this module finds the customer, prints, and deletes the evidence
files once the database has let go of them.

Only argparse at import time: the parser is built for every `aftersales` command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EPILOG = """\
exit status: 0 done, 1 some evidence files could not be deleted (listed in the log),
2 not a phone number, no customer with it (an erased customer is no longer found), or erase
without --yes and no terminal to confirm on.
"""
FILE_MODE = 0o600  # an export is personal data: readable by this user only


def add_parser(sub: Any) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    customer = sub.add_parser(
        "customer",
        help="a customer's personal data: export it as JSON, or erase it",
        description="A customer's personal data, found by phone: everything stored about them as "
        "JSON (export), or deleted with their cases kept anonymised (erase).",
        epilog=EPILOG,
        formatter_class=raw,
    )
    commands = customer.add_subparsers(
        title="commands", dest="customer_command", required=True, metavar="COMMAND"
    )
    exp = commands.add_parser(
        "export",
        help="everything stored about a customer, as JSON (evidence as file paths)",
        description="Print everything stored about the customer as one JSON object: their row, "
        "orders with items, cases with events, evidence (as file paths) and surveys, "
        "conversations, identification failures, messages still in the inbox and outbox.",
        epilog=EPILOG,
        formatter_class=raw,
    )
    exp.add_argument("phone", metavar="PHONE", help="the customer's phone, e.g. +8613912345678")
    exp.add_argument("--out", metavar="FILE", help="write the JSON to FILE (mode 0600)")
    era = commands.add_parser(
        "erase",
        help="delete a customer's personal data and evidence; cases kept anonymised",
        description="Delete the customer's personal data: name and phone (an anonymous marker "
        "instead), Telegram link, conversations, identification failures, evidence rows and "
        "files, messages to their chat; their cases are anonymised with an `erased` event. "
        "Orders and case statistics stay. Cannot be undone.",
        epilog=EPILOG,
        formatter_class=raw,
    )
    era.add_argument("phone", metavar="PHONE", help="the customer's phone, e.g. +8613912345678")
    era.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def customer(args: argparse.Namespace) -> int:
    from bot.settings import load_settings
    from storage import migrate
    from storage.customer_data import normalised_phone

    phone = normalised_phone(args.phone)
    if phone is None:
        return _usage(f"{args.phone!r} is not a phone number (write e.g. +8613912345678)")
    settings = load_settings()
    migrate.upgrade(settings.database_url)
    if args.customer_command == "export":
        return asyncio.run(_export(settings.database_url, phone, args.out))
    if not args.yes and not _confirmed(phone):
        return _usage(f"erasing {phone} cannot be undone: confirm with --yes")
    return asyncio.run(_erase(settings.database_url, phone))


def _usage(sentence: str) -> int:
    print(f"aftersales: {sentence}", file=sys.stderr)
    return EXIT_USAGE


def _unknown(phone: str) -> int:
    return _usage(f"no customer with phone {phone}")


def _confirmed(phone: str) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = input(f"Erase the personal data of {phone}? This cannot be undone. [y/N] ")
    return answer.strip().lower() in ("y", "yes")


async def _export(url: str, phone: str, out: str | None) -> int:
    from storage.customer_data import export, find_customer, jsonable
    from storage.db import Database

    db = Database(url)
    try:
        async with db.read() as session:
            customer_id = await find_customer(session, phone)
            if customer_id is None:
                return _unknown(phone)
            data = await export(session, customer_id)
    finally:
        await db.dispose()
    text = json.dumps(data, ensure_ascii=False, indent=1, default=jsonable) + "\n"
    if out is None:
        sys.stdout.write(text)
        return EXIT_OK
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    print(f"{phone}: exported to {out}")
    return EXIT_OK


async def _erase(url: str, phone: str) -> int:
    from bot.pruning import delete_files
    from storage.customer_data import erase, find_customer
    from storage.db import Database

    db = Database(url)
    try:
        async with db.transaction() as session:
            customer_id = await find_customer(session, phone)
            if customer_id is None:
                return _unknown(phone)
            report = await erase(session, customer_id, now=datetime.now(UTC))
    finally:
        await db.dispose()
    failed = delete_files(report.evidence_paths)  # after the commit: no row points at a gap
    print(f"{phone}: erased: {report.summary()}")
    if failed:
        print(f"aftersales: {failed} evidence files could not be deleted (see the log)",
              file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    return EXIT_OK
