"""What the conversation asks the policy, and what the policy answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

ShippingPayer = Literal["merchant", "customer"]


@dataclass(frozen=True)
class Message:
    """A sentence for the customer: a template key under templates/<locale>/ and its values."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemFacts:
    """Everything the policy may look at about one order line and the customer's history."""

    category: str
    purchased_at: datetime
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    discovered_at: datetime | None = None
    payment: str = "online"  # online | cod
    price: Decimal | None = None  # price of the claimed quantity
    order_value: Decimal | None = None
    prior_claims: int = 0  # this customer's cases inside the profile's repeat-claim lookback


@dataclass(frozen=True)
class Claim:
    """A concrete request: an item, a service and a reason, with what the customer provided."""

    item: ItemFacts
    service: str
    reason: str
    evidence_count: int = 0
    conditions: frozenset[str] = frozenset()  # conditions the customer confirmed
    evidence_reused: bool = False  # a photo already attached to another case
    deliberate_damage: bool = False  # reported false proof or man-made damage (T8, T18)
    disputed: bool = False  # the customer disputes an earlier decision (T9)


@dataclass(frozen=True)
class EvidenceNeed:
    kind: str  # photo | video | photo_or_video | proof_of_purchase
    count: int
    proof_of_purchase: bool = False  # one of the `count` files must show the receipt (T5, T12)


@dataclass(frozen=True)
class ServiceOption:
    """One line of the service menu for an item: offered now (with its deadline) or why not."""

    service: str
    available: bool
    deadline: datetime | None
    explanation: Message | None = None  # why not, when unavailable
    needs_agent: bool = False  # offered, but past the plain window a person decides


@dataclass(frozen=True)
class Decision:
    outcome: Literal["approve", "reject", "needs_agent"]
    rules: tuple[str, ...]
    explanation: Message
    alternatives: tuple[str, ...] = ()
    shipping_paid_by: ShippingPayer | None = None
    # Who pays to send something (a replacement, the repaired item, parts) to the customer.
    replacement_paid_by: ShippingPayer | None = None
    evidence_required: EvidenceNeed | None = None  # still missing; None when satisfied
    conditions_required: tuple[str, ...] = ()  # still to confirm
    deadline: datetime | None = None  # of the next step
    next_step: str | None = None  # ship_back | await_review | none

    def as_json(self) -> dict[str, Any]:
        return {
            "decision": self.outcome,
            "rules": list(self.rules),
            "explanation": {
                "key": self.explanation.key,
                "values": _jsonable(self.explanation.values),
            },
            "alternatives": list(self.alternatives),
            "shipping_paid_by": self.shipping_paid_by,
            "replacement_paid_by": self.replacement_paid_by,
            "evidence_required": (
                None
                if self.evidence_required is None
                else {"kind": self.evidence_required.kind, "count": self.evidence_required.count}
            ),
            "conditions_required": list(self.conditions_required),
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "next_step": self.next_step,
        }


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in values.items():
        if isinstance(v, datetime):
            out[k] = v.isoformat()
        elif isinstance(v, Decimal):
            out[k] = str(v)
        elif isinstance(v, (list, tuple)):
            out[k] = [str(x) if isinstance(x, Decimal) else x for x in v]
        else:
            out[k] = v
    return out
