"""`aftersales case …`: the shop moves a case from the command line, as from the HTTP API.

Each step is one unit of work on DATABASE_URL (`Work.step`): refused, it changes nothing and
the lifecycle's sentence is printed. What the step tells the customer goes to the outbox, and
the running bot sends it within a second; this process only writes the database.

Only argparse at import time: the parser is built for every `aftersales` command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from bot.settings import Settings
    from dialogs.lifecycle.steps import Refused
    from storage.views import CaseEventView, CaseView

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
CASE_NO_HELP = "the case number, e.g. AS-20261203-0001"
EPILOG = """\
exit status: 0 done, 1 the step was refused (the reason is printed; nothing changed),
2 a bad option or no such case.

The customer is told of every step through the outbox: a running bot sends it at once.
"""


def add_parser(sub: Any) -> None:
    """`case` and its commands, on the `aftersales` parser's subparsers."""
    from bot.cli import _one_of
    from dialogs.lifecycle.carriers import CARRIERS

    carriers = tuple(c.code for c in CARRIERS)
    statuses = _statuses()
    raw = argparse.RawDescriptionHelpFormatter
    case = sub.add_parser(
        "case",
        help="the shop's side of a case: list, show, received, inspected, refunded, shipped, ...",
        description="Move a case as the shop: the same steps as the HTTP API and the commands "
        "in the case's topic. Each step tells the customer in their language.",
        epilog=EPILOG,
        formatter_class=raw,
    )
    cmds = case.add_subparsers(title="commands", dest="case_command", required=True,
                               metavar="COMMAND")  # fmt: skip

    def command(name: str, help_text: str, *, note: bool = True) -> argparse.ArgumentParser:
        sentence = help_text[0].upper() + help_text[1:] + "."
        found = cmds.add_parser(name, help=help_text, description=sentence, epilog=EPILOG,
                                formatter_class=raw)  # fmt: skip
        if name != "list":
            found.add_argument("case_no", metavar="N", help=CASE_NO_HELP)
        if note:
            found.add_argument("--note", default="", metavar="TEXT",
                               help="kept in the case's events (and its topic)")  # fmt: skip
        found.add_argument("--json", action="store_true", help="print JSON instead of text")
        return found

    listing = command("list", "list cases, oldest first", note=False)
    listing.add_argument("--status", type=_one_of(statuses), metavar="S",
                         help=f"only cases in this status: {', '.join(statuses)}")  # fmt: skip
    listing.add_argument("--limit", type=_positive, default=50, metavar="N",
                         help="at most N cases (default 50)")  # fmt: skip
    listing.add_argument("--offset", type=_positive_or_zero, default=0, metavar="N",
                         help="skip the first N (default 0)")  # fmt: skip
    command("show", "show a case with its timeline (every event)", note=False)
    command("received", "the returned parcel arrived at the warehouse")
    inspected = command("inspected", "the item was checked: --ok, or --fail with what was found")
    verdict = inspected.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--ok", action="store_true", help="it passed the check")
    verdict.add_argument("--fail", metavar="NOTE",
                         help="it failed (man-made damage, a different item): what was found; "
                         "the request is then not covered")  # fmt: skip
    refunded = command("refunded", "the refund was paid (default: the full amount due)")
    refunded.add_argument("--amount", metavar="A", help="the amount paid, e.g. 12.50")
    shipped = command("shipped", "a replacement, reshipped parts or the repaired item left")
    shipped.add_argument("--carrier", required=True, type=_one_of(carriers), metavar="C",
                         help=f"the carrier: {', '.join(carriers)}")  # fmt: skip
    shipped.add_argument("--waybill", required=True, metavar="W", help="its waybill number")
    waybill = command("waybill", "the shop booked the return parcel: the customer gets the "
                      "waybill (T17)")  # fmt: skip
    waybill.add_argument("--carrier", required=True, type=_one_of(carriers), metavar="C",
                         help=f"the carrier: {', '.join(carriers)}")  # fmt: skip
    waybill.add_argument("--number", required=True, metavar="W", help="the waybill number")
    unrepairable = command("unrepairable", "the repair cannot be done: exchange or refund instead")
    instead = unrepairable.add_mutually_exclusive_group(required=True)
    instead.add_argument("--exchange", action="store_true", help="a replacement instead")
    instead.add_argument("--refund", action="store_true", help="a refund instead")
    command("cancel", "cancel the request (before the goods are on their way)")
    command("close", "close a finished or refused request (the customer is asked to rate it)")


def _statuses() -> tuple[str, ...]:
    from storage.domain import CaseStatus

    return tuple(s.value for s in CaseStatus)


def _positive(text: str) -> int:
    value = _positive_or_zero(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {text!r})")
    return value


def _positive_or_zero(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative (got {text!r})")
    return value


# --- running -------------------------------------------------------------------------------------


def case(args: argparse.Namespace) -> int:
    from bot.settings import check_policy, load_settings
    from storage import migrate

    settings = _without_links(load_settings())
    check_policy(settings)
    migrate.upgrade(settings.database_url)  # a fresh or older database just works
    return asyncio.run(_run(settings, args))


def _without_links(settings: Settings) -> Settings:
    """The CLI makes and reads no deep links: without LINK_SECRET a throwaway key stands in."""
    import secrets

    from pydantic import SecretStr

    from bot.errors import StartupError
    from bot.settings import require_link_secret

    try:
        require_link_secret(settings)
    except StartupError:
        return settings.model_copy(update={"link_secret": SecretStr(secrets.token_urlsafe(32))})
    return settings


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cases import MAX_LIMIT, CaseReader
    from bot.shop import build_shop
    from dialogs.clock import SystemClock
    from dialogs.lifecycle.steps import Refused
    from storage.db import Database

    db = Database(settings.database_url)
    try:
        shop = build_shop(settings, db, SystemClock())
        reader = CaseReader(shop.units)
        zone = ZoneInfo(settings.timezone)
        if args.case_command == "list":
            cases = await reader.list(args.status, min(args.limit, MAX_LIMIT), args.offset)
            _print_list(cases, zone, as_json=args.json)
            return EXIT_OK
        if args.case_command == "show":
            found = await reader.show(args.case_no)
            if found is None:
                return _refused(Refused("no_case", case_no=args.case_no.strip()), shop.texts,
                                args.json)  # fmt: skip
            _print_case(*found, zone=zone, as_json=args.json)
            return EXIT_OK
        try:
            changed = await shop.work.step(args.case_no.strip().upper(), _step(args))
        except Refused as refused:
            return _refused(refused, shop.texts, args.json)
        _print_list([changed], zone, as_json=args.json, one=True)
        return EXIT_OK
    finally:
        await db.dispose()


def _step(args: argparse.Namespace) -> Any:
    from bot.cases import step_for

    name = args.case_command
    note = args.note or ""
    if name == "inspected":
        return step_for(name, via="cli", ok=bool(args.ok), note=args.fail or note)
    if name == "refunded":
        return step_for(name, via="cli", amount=args.amount, note=note)
    if name == "shipped":
        return step_for(name, via="cli", carrier=args.carrier, number=args.waybill, note=note)
    if name == "waybill":
        return step_for(name, via="cli", carrier=args.carrier, number=args.number, note=note)
    if name == "unrepairable":
        resolution = "exchange" if args.exchange else "refund"
        return step_for(name, via="cli", resolution=resolution, note=note)
    return step_for(name, via="cli", note=note)


def _refused(refused: Refused, texts: Any, as_json: bool) -> int:
    sentence = refused.text(texts, "en")
    code = EXIT_USAGE if refused.code == "no_case" else EXIT_REFUSED
    if as_json:
        print(json.dumps({"error": refused.code, "message": sentence}, ensure_ascii=False))
    else:
        print(f"aftersales: {sentence}", file=sys.stderr)
    return code


# --- printing ------------------------------------------------------------------------------------


def _when(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def _line(case: CaseView, zone: ZoneInfo) -> str:
    from bot.cases import next_operations

    what = case.service or case.kind
    item = f"{case.item_name} ×{case.quantity}" if case.item_name else "-"
    steps = ", ".join(next_operations(case)) or "-"
    return (f"{case.case_no}  {case.status:<17} {what:<13} {_when(case.created_at, zone)}  "
            f"{case.order_no or '-'}  {item}  next: {steps}")  # fmt: skip


def _print_list(cases: list[CaseView], zone: ZoneInfo, *, as_json: bool, one: bool = False
                ) -> None:  # fmt: skip
    from bot.cases import case_json

    if as_json:
        found: Any = case_json(cases[0]) if one else [case_json(c) for c in cases]
        print(json.dumps(found, ensure_ascii=False, indent=None if one else 1))
        return
    for found in cases:
        print(_line(found, zone))
    if not cases and not one:
        print("no cases", file=sys.stderr)


def _print_case(case: CaseView, events: list[CaseEventView], *, zone: ZoneInfo,
                as_json: bool) -> None:  # fmt: skip
    from bot.cases import case_json, next_operations

    if as_json:
        print(json.dumps(case_json(case, events), ensure_ascii=False, indent=1))
        return
    resolution = case.details.get("resolution")
    rows: list[tuple[str, str]] = [
        ("status", case.status + (f" (resolution: {resolution})" if resolution else "")),
        ("service", f"{case.service or case.kind}, reason {case.reason or '-'}"),
        ("order", f"{case.order_no or '-'}, {case.item_name or '-'} ×{case.quantity}"),
        ("created", _when(case.created_at, zone)),
    ]
    if case.description:
        rows.append(("words", case.description.replace("\n", " ")[:200]))
    if case.deadline_at is not None:
        rows.append(("deadline", _when(case.deadline_at, zone)))
    if case.shipping_paid_by:
        rows.append(("postage", f"paid by {case.shipping_paid_by}"))
    if case.waybill:
        rows.append(("return", f"{case.carrier or '-'} {case.waybill}"))
    outbound = case.details.get("outbound")
    if isinstance(outbound, dict):
        rows.append(("shipped", f"{outbound.get('carrier')} {outbound.get('waybill')}"))
    if case.refund_amount is not None:
        rows.append(("refund", f"{case.refund_amount} on {_when(case.refunded_at, zone)}"))
    if case.closed_at is not None:
        rows.append(("closed", _when(case.closed_at, zone)))
    if case.desk:
        rows.append(("desk", case.desk + (f", {case.owner_name}" if case.owner_name else "")))
    rows.append(("next", ", ".join(next_operations(case)) or "-"))
    print(case.case_no)
    for name, value in rows:
        print(f"  {name:<9} {value}")
    print("  timeline")
    for event in events:
        who = event.actor + (f" {event.actor_id}" if event.actor_id is not None else "")
        print(f"    {_when(event.at, zone)}  {who:<16} {event.kind}{_data(event.data)}")


def _data(data: dict[str, Any]) -> str:
    """An event's data on its line: `key=value`, long values cut."""
    parts = []
    for key, value in data.items():
        if value in (None, "", [], {}):
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        text = text.replace("\n", " ")
        parts.append(f"{key}={text[:80]}")
    return ("  " + " ".join(parts)) if parts else ""
