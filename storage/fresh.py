"""What one unit of work knows about the cases it wrote, so that it need not ask again.

A case created in this unit is seen by nobody else until the unit commits: its view, its
version and its running clocks are exactly what this unit made them, so they are kept here
instead of read back (a Confirm step used to read its new case three times and its clocks
twice). Case events and timers are held and written once, one statement each, when the unit
ends or before anything reads them: a batch's turns then share those statements.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

from storage.domain import CaseKind
from storage.views import CaseView, NewCase, NewQuestion

# Columns a view shows as they are stored; a change of any other column is read back: the
# agent who has the case, its order or item (the view shows what they join to), and an
# amount (the database gives it its own scale).
_PLAIN = frozenset(f.name for f in fields(CaseView)) - {
    "id", "case_no", "order_no", "item_name", "owner_id", "owner_name", "order_id", "item_id",
    "refund_amount",
}  # fmt: skip


def _stored(value: Any) -> Any:
    """A value as the database gives it back: instants in UTC, JSON as a copy of its own."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, dict | list):
        return json.loads(json.dumps(value))
    return value


@dataclass
class _Fresh:
    view: CaseView
    version: int = 1
    clocks: dict[str, datetime] = field(default_factory=dict)  # kind -> soonest due


@dataclass
class FreshCases:
    """The cases created in this unit."""

    _cases: dict[int, _Fresh] = field(default_factory=dict)

    def add(self, view: CaseView) -> CaseView:
        self._cases[view.id] = _Fresh(view)
        return view

    def view(self, case_id: int) -> CaseView | None:
        fresh = self._cases.get(case_id)
        return fresh.view if fresh is not None else None

    def version(self, case_id: int) -> int | None:
        fresh = self._cases.get(case_id)
        return fresh.version if fresh is not None else None

    def changed(self, case_id: int, version: int, values: dict[str, Any]) -> CaseView | None:
        """The case was changed to `version` with `values`: its view now, or None if it
        must be read back (or is not a fresh one)."""
        fresh = self._cases.get(case_id)
        if fresh is None:
            return None
        fresh.version = version
        if not values.keys() <= _PLAIN:
            del self._cases[case_id]  # read back from now on
            return None
        fresh.view = replace(fresh.view, **{k: _stored(v) for k, v in values.items()})
        return fresh.view

    def clocks(self, case_id: int) -> dict[str, datetime] | None:
        fresh = self._cases.get(case_id)
        return dict(fresh.clocks) if fresh is not None else None

    def started(self, case_id: int | None, kind: str, due_at: datetime) -> None:
        fresh = self._cases.get(case_id) if case_id is not None else None
        if fresh is not None:
            due = due_at.astimezone(UTC)
            fresh.clocks[kind] = min(due, fresh.clocks.get(kind, due))

    def cancelled(self, case_id: int, kinds: list[str]) -> None:
        fresh = self._cases.get(case_id)
        if fresh is not None:
            for kind in kinds:
                fresh.clocks.pop(kind, None)


def new_case_view(case_id: int, case_no: str, case: NewCase, now: datetime,
                  handed_over_at: datetime | None) -> CaseView:  # fmt: skip
    """The view of a request as `StorageShop.create_case` stores it."""
    return CaseView(
        id=case_id, case_no=case_no, kind=CaseKind.REQUEST.value, order_no=case.order_no,
        item_name=case.item_name, service=case.service, reason=case.reason,
        status=case.status, outcome=case.outcome, created_at=_stored(now),
        deadline_at=_stored(case.deadline_at), customer_id=case.customer_id,
        chat_id=case.chat_id, order_id=case.order_id, item_id=case.item_id, locale=case.locale,
        handed_over_at=_stored(handed_over_at), quantity=case.quantity,
        description=case.description, shipping_paid_by=case.shipping_paid_by,
        return_address=case.return_address, warehouse=case.warehouse,
        details=_stored(case.details),
    )  # fmt: skip


def new_question_view(case_id: int, case_no: str, question: NewQuestion, now: datetime,
                      status: str, outcome: str) -> CaseView:  # fmt: skip
    """The view of a question as `StorageShop.create_question` stores it."""
    at = _stored(now)
    return CaseView(
        id=case_id, case_no=case_no, kind=CaseKind.QUESTION.value, order_no=None, item_name=None,
        service=None, reason=None, status=status, outcome=outcome, created_at=at,
        customer_id=question.customer_id, chat_id=question.chat_id, locale=question.locale,
        handed_over_at=at, description=question.text,
    )  # fmt: skip
