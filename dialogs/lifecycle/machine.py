"""A case's life after the customer confirmed it, as data: the lifecycle table (`transitions`).

Every step is one row: its trigger, the statuses it leaves, the status it reaches, the paths it
belongs to (a case's path is its service; a repair found unrepairable follows the path of what
replaces it, exchange or refund) and who may take it. A step not in the table from the case's
status, on its path, by that actor, is refused and changes nothing (`Lifecycle.check`).
`docs/lifecycle.mmd` is generated from this table (`python -m dialogs.lifecycle.machine >
docs/lifecycle.mmd`).
"""

from __future__ import annotations

from typing import Any

from transitions import Machine

from storage.domain import CaseStatus, Service

S = CaseStatus
GOODS_BACK = [Service.RETURN, Service.EXCHANGE, Service.REPAIR]  # the item comes to the shop
ALL = [*Service]
DECIDING = [S.SUBMITTED, S.PENDING_REVIEW, S.INFO_REQUESTED]
# Before the goods are on their way to the shop (or, without a return, before the shop acted).
CANCELLABLE = [*DECIDING, S.APPROVED, S.AWAITING_RETURN]
FINISHED = [S.REFUNDED, S.EXCHANGE_SHIPPED, S.REPAIRED_RETURNED]
ENDED = [S.CLOSED, S.CANCELLED]

SHOP, CUSTOMER, SYSTEM, BOT = "shop", "customer", "system", "bot"  # who takes a step
# The refund path of an unrepairable repair (T12); its exchange path is Service.EXCHANGE.
REPAIR_REFUNDED = "repair_refund"
# An agent's partial refund the customer accepted (T4/T14): the item stays, money goes back.
PARTIAL_REFUND = "partial_refund"

TRANSITIONS: list[dict[str, Any]] = [
    # the decision: the policy's at submission, or a person's (dialogs/agents)
    {"trigger": "review", "source": S.SUBMITTED, "dest": S.PENDING_REVIEW, "by": [BOT, SYSTEM]},
    {"trigger": "approve", "source": DECIDING, "dest": S.AWAITING_RETURN, "paths": GOODS_BACK,
     "by": [BOT, SHOP, SYSTEM]},
    {"trigger": "approve", "source": DECIDING, "dest": S.APPROVED,
     "paths": [Service.REFUND, Service.MISSING_PARTS], "by": [BOT, SHOP, SYSTEM]},
    {"trigger": "reject", "source": DECIDING, "dest": S.REJECTED, "by": [BOT, SHOP]},
    {"trigger": "request_info", "source": [S.PENDING_REVIEW, S.SUBMITTED],
     "dest": S.INFO_REQUESTED, "by": [SHOP]},
    {"trigger": "info_given", "source": S.INFO_REQUESTED, "dest": S.PENDING_REVIEW,
     "by": [CUSTOMER]},
    # the goods come back (a waybill from the customer or from the shop, T17)
    {"trigger": "waybill", "source": S.AWAITING_RETURN, "dest": S.IN_TRANSIT, "paths": GOODS_BACK,
     "by": [CUSTOMER, SHOP]},
    {"trigger": "received", "source": [S.AWAITING_RETURN, S.IN_TRANSIT], "dest": S.RECEIVED,
     "paths": GOODS_BACK, "by": [SHOP, SYSTEM]},
    {"trigger": "inspected_ok", "source": S.RECEIVED, "dest": S.INSPECTED, "paths": GOODS_BACK,
     "by": [SHOP]},
    # T17/T18: the inspection finds man-made damage or a different item: not covered
    {"trigger": "inspected_fail", "source": S.RECEIVED, "dest": S.REJECTED, "paths": GOODS_BACK,
     "by": [SHOP]},
    # T12: a repair that cannot be done becomes an exchange or a refund
    {"trigger": "unrepairable", "source": S.INSPECTED, "dest": S.INSPECTED,
     "paths": [Service.REPAIR], "by": [SHOP]},
    # the end of each path
    {"trigger": "refunded", "source": S.APPROVED, "dest": S.REFUNDED, "paths": [Service.REFUND],
     "by": [SHOP]},
    {"trigger": "refunded", "source": S.INSPECTED, "dest": S.REFUNDED,
     "paths": [Service.RETURN, REPAIR_REFUNDED], "by": [SHOP]},
    {"trigger": "shipped", "source": S.APPROVED, "dest": S.EXCHANGE_SHIPPED,
     "paths": [Service.MISSING_PARTS], "by": [SHOP]},  # T19: the missing parts reshipped
    {"trigger": "shipped", "source": S.INSPECTED, "dest": S.EXCHANGE_SHIPPED,
     "paths": [Service.EXCHANGE], "by": [SHOP]},
    {"trigger": "shipped", "source": S.INSPECTED, "dest": S.REPAIRED_RETURNED,
     "paths": [Service.REPAIR], "by": [SHOP]},
    {"trigger": "close", "source": [*FINISHED, S.REJECTED], "dest": S.CLOSED, "by": [SHOP, SYSTEM]},
    # the customer never sent the goods: closed when the ship-back clock runs out
    {"trigger": "expire", "source": S.AWAITING_RETURN, "dest": S.CLOSED, "paths": GOODS_BACK,
     "by": [SYSTEM]},
    {"trigger": "cancel", "source": CANCELLABLE, "dest": S.CANCELLED, "by": [CUSTOMER, SHOP]},
]  # fmt: skip

TRIGGERS = tuple(dict.fromkeys(t["trigger"] for t in TRANSITIONS))


def path_of(service: str | None, resolution: str | None) -> str:
    """The path a case follows: its service, or what replaced an unrepairable repair."""
    if service == Service.REPAIR and resolution == Service.EXCHANGE:
        return Service.EXCHANGE.value
    if service == Service.REPAIR and resolution == Service.REFUND:
        return REPAIR_REFUNDED
    if resolution == PARTIAL_REFUND:
        return Service.REFUND.value
    return str(service or "")


def approved_status(service: str | None, resolution: str | None = None) -> str:
    """Where an approval leads: waiting for the parcel, or straight to the shop's part."""
    dest = LIFECYCLE.step(S.PENDING_REVIEW, "approve", path_of(service, resolution), SHOP)
    return dest or S.APPROVED.value


def _plain(value: Any) -> Any:
    return [str(v) for v in value] if isinstance(value, list) else str(value)


class LifecycleTable:
    """The table, with `transitions` answering which step leads where."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        plain = [
            {"trigger": r["trigger"], "source": _plain(r["source"]), "dest": _plain(r["dest"])}
            for r in rows
        ]
        self.machine = Machine(
            model=None,
            states=[s.value for s in CaseStatus],
            transitions=plain,
            initial=S.SUBMITTED.value,
            auto_transitions=False,
        )

    def step(self, status: str, trigger: str, path: str, by: str) -> str | None:
        """The status `trigger` leads to from `status` on `path` taken `by`, or None."""
        status, path = str(status), str(path)  # transitions reads an Enum state by its name
        if not self.machine.get_transitions(trigger=trigger, source=status):
            return None
        for row in self.rows:
            sources = row["source"] if isinstance(row["source"], list) else [row["source"]]
            paths = row.get("paths", ALL)
            if (row["trigger"] == trigger and status in sources and path in paths
                    and by in row["by"]):  # fmt: skip
                return str(row["dest"])
        return None

    def triggers_from(self, status: str, path: str, by: str) -> list[str]:
        """What `by` can do with a case in `status` on `path` (for buttons and help)."""
        return [t for t in TRIGGERS if self.step(status, t, path, by) is not None]


LIFECYCLE = LifecycleTable(TRANSITIONS)


def mermaid() -> str:
    lines = ["stateDiagram-v2", "    [*] --> submitted"]
    seen: set[str] = set()
    for row in TRANSITIONS:
        sources = row["source"] if isinstance(row["source"], list) else [row["source"]]
        paths = row.get("paths")
        label = row["trigger"] + (f" [{', '.join(str(p) for p in paths)}]" if paths else "")
        for src in sources:
            line = f"    {src} --> {row['dest']}: {label}"
            if line not in seen:
                seen.add(line)
                lines.append(line)
    lines += ["    closed --> [*]", "    cancelled --> [*]"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(mermaid(), end="")
