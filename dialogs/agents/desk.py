"""Where a case stands with the shop's people, and the customer's complaint, as data.

Two `transitions` tables: the desk (who holds the case and what they did with it) and the
dispute (T9 平台介入: a complaint about a decision, once per case, worked by supervisors). An
action not in the table from the case's state is refused and changes nothing.
`docs/desk.mmd` is generated from both (`python -m dialogs.agents.desk > docs/desk.mmd`).
"""

from __future__ import annotations

from typing import Any

from transitions import Machine

from storage.domain import Desk, Dispute

D = Desk
AT_THE_DESK = [D.QUEUED, D.TAKEN, D.ASKED, D.OFFERED]  # a person is to act
NONE = "none"  # no complaint (yet)

DESK_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "take", "source": AT_THE_DESK, "dest": D.TAKEN},
    {"trigger": "approve", "source": AT_THE_DESK, "dest": D.DECIDED},
    {"trigger": "reject", "source": AT_THE_DESK, "dest": D.DECIDED},
    {"trigger": "offer", "source": [D.QUEUED, D.TAKEN, D.ASKED], "dest": D.OFFERED},
    {"trigger": "offer_accepted", "source": D.OFFERED, "dest": D.DECIDED},  # by the customer
    {"trigger": "offer_declined", "source": D.OFFERED, "dest": D.TAKEN},  # by the customer
    {"trigger": "ask", "source": AT_THE_DESK, "dest": D.ASKED},
    {"trigger": "answered", "source": D.ASKED, "dest": D.TAKEN},  # the customer wrote back
    {"trigger": "hand_back", "source": [*AT_THE_DESK, D.DECIDED], "dest": D.RETURNED},
    {"trigger": "close", "source": [*AT_THE_DESK, D.DECIDED, D.RETURNED], "dest": D.CLOSED},
    # the customer asks for a person again, or complains: back in the queue
    {"trigger": "escalate", "source": [NONE, D.DECIDED, D.RETURNED, D.CLOSED], "dest": D.QUEUED},
]

DISPUTE_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "complain", "source": NONE, "dest": Dispute.SUBMITTED},
    {"trigger": "accept", "source": Dispute.SUBMITTED, "dest": Dispute.ACCEPTED},
    {"trigger": "investigate", "source": Dispute.ACCEPTED, "dest": Dispute.INVESTIGATING},
    {"trigger": "resolve", "source": [Dispute.SUBMITTED, Dispute.ACCEPTED,
                                      Dispute.INVESTIGATING], "dest": Dispute.RESOLVED},
]  # fmt: skip


def _plain(transition: dict[str, Any]) -> dict[str, Any]:
    def value(x: Any) -> Any:
        return [str(s) for s in x] if isinstance(x, list) else str(x)

    return {k: value(v) if k in ("source", "dest") else v for k, v in transition.items()}


class _Table:
    def __init__(self, states: list[str], transitions: list[dict[str, Any]]) -> None:
        self.machine = Machine(
            model=None,
            states=states,
            transitions=[_plain(t) for t in transitions],
            initial=states[0],
            auto_transitions=False,
        )

    def can(self, state: str | None, trigger: str) -> bool:
        return bool(self.machine.get_transitions(trigger=trigger, source=state or NONE))

    def after(self, state: str | None, trigger: str) -> str:
        """The state `trigger` leads to from `state` (ValueError if the table refuses it)."""
        found = self.machine.get_transitions(trigger=trigger, source=state or NONE)
        if not found:
            raise ValueError(f"{trigger} refused in {state or NONE}")
        return str(found[0].dest)


DESK = _Table([NONE, *(d.value for d in Desk)], DESK_TRANSITIONS)
DISPUTE = _Table([NONE, *(d.value for d in Dispute)], DISPUTE_TRANSITIONS)


def relays(desk: str | None) -> bool:
    """Whether what an agent writes in the case's topic goes to the customer: while a person
    works the case, and after their decision (questions about it). Not once it is back with
    the bot or closed: the customer has to ask for a person again."""
    return DESK.can(desk, "take") or desk == D.DECIDED


def mermaid() -> str:
    lines = ["stateDiagram-v2"]
    for title, start, table in (("desk", "with_the_bot", DESK_TRANSITIONS),
                                ("dispute", "no_complaint", DISPUTE_TRANSITIONS)):  # fmt: skip
        lines += [f"    state {title} {{", f"        [*] --> {start}"]
        for t in table:
            sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
            for src in sources:
                if str(src) != str(t["dest"]):
                    name = start if src == NONE else src
                    lines.append(f"        {name} --> {t['dest']}: {t['trigger']}")
        lines.append("    }")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(mermaid(), end="")
