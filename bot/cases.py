"""The shop's side of a case, shared by `aftersales case …` (bot/cli/case.py) and the HTTP API
(bot/api.py): the operations they offer, each one lifecycle step, and cases read and shown as
JSON. No rules here: whether a step may be taken is the lifecycle's answer (`Work.step`), and
a refusal is its `Refused`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialogs.lifecycle.machine import LIFECYCLE, SHOP, path_of
from dialogs.lifecycle.steps import Step
from storage.domain import CaseStatus
from storage.shop import StorageShop
from storage.unit import Units
from storage.views import CaseEventView, CaseView

# What the shop can do to a case from the CLI or the API, in the order a case meets them.
OPERATIONS = ("waybill", "received", "inspected", "unrepairable", "refunded", "shipped",
              "cancel", "close")  # fmt: skip
# The lifecycle's triggers each operation takes (inspected: passed or failed).
OPERATION_TRIGGERS = {"inspected": ("inspected_ok", "inspected_fail")}
STATUSES = tuple(s.value for s in CaseStatus)
RESOLUTIONS = ("exchange", "refund")
LIST_LIMIT = 50
MAX_LIMIT = 500


def step_for(
    operation: str,
    *,
    via: str,
    by: str = SHOP,
    actor_id: int | None = None,
    note: str = "",
    ok: bool | None = None,
    amount: str | None = None,
    carrier: str | None = None,
    number: str | None = None,
    resolution: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Step:
    """The lifecycle step an operation asks for; whether it is possible is not decided here."""
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}")
    trigger = operation
    if operation == "inspected":
        trigger = "inspected_ok" if ok else "inspected_fail"
    return Step(
        trigger,
        by=by,
        actor_id=actor_id,
        via=via,
        carrier=carrier if operation in ("shipped", "waybill") else None,
        number=number if operation in ("shipped", "waybill") else None,
        amount=amount if operation == "refunded" else None,
        note=note,
        resolution=resolution if operation == "unrepairable" else None,
        extra=extra or {},
    )


def next_operations(case: CaseView) -> list[str]:
    """What the shop can do to the case now (none for a question)."""
    if case.kind != "request":
        return []
    path = path_of(case.service, case.details.get("resolution"))
    possible = set(LIFECYCLE.triggers_from(case.status, path, SHOP))
    return [op for op in OPERATIONS if possible & set(OPERATION_TRIGGERS.get(op, (op,)))]


def normal_case_no(text: str) -> str:
    """Case numbers as typed: `as-20261203-0001 ` is AS-20261203-0001."""
    return text.strip().upper()


@dataclass
class CaseReader:
    """Cases as they stand, read outside any unit of work."""

    units: Units

    async def list(self, status: str | None, limit: int, offset: int = 0) -> list[CaseView]:
        async with self.units.db.read() as session:
            shop = StorageShop(session, self.units.timezone)
            return await shop.cases_by_status(status, limit, offset)

    async def show(self, case_no: str) -> tuple[CaseView, list[CaseEventView]] | None:
        async with self.units.db.read() as session:
            shop = StorageShop(session, self.units.timezone)
            case = await shop.case_by_no(normal_case_no(case_no))
            if case is None:
                return None
            return case, await shop.case_events(case.id)

    async def with_waybill(self, number: str) -> list[CaseView]:
        async with self.units.db.read() as session:
            return await StorageShop(session, self.units.timezone).cases_with_waybill(number)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def case_json(case: CaseView, events: list[CaseEventView] | None = None) -> dict[str, Any]:
    """A case for machines: its fields, what the shop can do next, and (given) its events."""
    outbound = case.details.get("outbound") or None
    found: dict[str, Any] = {
        "case_no": case.case_no,
        "kind": case.kind,
        "status": case.status,
        "service": case.service,
        "reason": case.reason,
        "outcome": case.outcome,
        "order_no": case.order_no,
        "item": case.item_name,
        "quantity": case.quantity,
        "description": case.description,
        "locale": case.locale,
        "created_at": _time(case.created_at),
        "deadline_at": _time(case.deadline_at),
        "desk": case.desk,
        "dispute": case.dispute,
        "owner": case.owner_name,
        "shipping_paid_by": case.shipping_paid_by,
        "warehouse": case.warehouse,
        "return_address": case.return_address,
        "return_waybill": (
            {"carrier": case.carrier, "number": case.waybill} if case.waybill else None
        ),
        "outbound_waybill": (
            {"carrier": outbound.get("carrier"), "number": outbound.get("waybill")}
            if isinstance(outbound, dict)
            else None
        ),
        "resolution": case.details.get("resolution"),
        "refund_amount": str(case.refund_amount) if case.refund_amount is not None else None,
        "refunded_at": _time(case.refunded_at),
        "closed_at": _time(case.closed_at),
        "next": next_operations(case),
    }
    if events is not None:
        found["events"] = [event_json(e) for e in events]
    return found


def event_json(event: CaseEventView) -> dict[str, Any]:
    return {"at": _time(event.at), "actor": event.actor, "actor_id": event.actor_id,
            "kind": event.kind, "data": event.data}  # fmt: skip
