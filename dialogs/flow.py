"""The customer conversation as data: states and the transition table (`transitions`).

The table is the single source of truth for where a customer can go from where; the logic in
`dialogs/customer/` reads input, picks a trigger and fires it here, so an input that is
not valid in the current state can never move the conversation. `docs/conversation.mmd` is
generated from this table (`python -m dialogs.flow > docs/conversation.mmd`).
"""

from __future__ import annotations

from enum import StrEnum
from itertools import pairwise
from typing import Any

from transitions import Machine, MachineError


class State(StrEnum):
    IDENTIFY = "identify"
    IDENTIFY_PHONE4 = "identify_phone4"
    MENU = "menu"
    CHOOSE_ORDER = "choose_order"
    CHOOSE_ITEM = "choose_item"
    CHOOSE_QUANTITY = "choose_quantity"
    CHOOSE_SERVICE = "choose_service"
    CHOOSE_REASON = "choose_reason"
    EXCHANGE_FOR = "exchange_for"
    CONDITIONS = "conditions"
    DESCRIBE = "describe"
    EVIDENCE = "evidence"
    SUMMARY = "summary"
    CASE_DONE = "case_done"
    WITH_AGENT = "with_agent"
    QUESTION = "question"  # a question for a person: the shop's FAQ is tried first
    # after the decision: the customer's own steps of a case (dialogs/customer/aftercare.py)
    WAYBILL_CARRIER = "waybill_carrier"
    WAYBILL_NUMBER = "waybill_number"
    PICKUP_DAY = "pickup_day"
    PICKUP_TIME = "pickup_time"
    CANCEL_CONFIRM = "cancel_confirm"


S = State
IDENTIFIED_STATES = [s for s in State if s not in (S.IDENTIFY, S.IDENTIFY_PHONE4)]

# The forward path of one request, in order; `back` walks it in reverse.
REQUEST_PATH = [
    S.CHOOSE_ORDER,
    S.CHOOSE_ITEM,
    S.CHOOSE_QUANTITY,
    S.CHOOSE_SERVICE,
    S.CHOOSE_REASON,
    S.EXCHANGE_FOR,
    S.CONDITIONS,
    S.DESCRIBE,
    S.EVIDENCE,
    S.SUMMARY,
]

# The first question of each step of a decided case: `back` leaves the step for the menu.
STEP_STARTS = (S.WAYBILL_CARRIER, S.PICKUP_DAY, S.CANCEL_CONFIRM)

TRANSITIONS: list[dict[str, Any]] = [
    # identification
    {"trigger": "contact_matched", "source": S.IDENTIFY, "dest": S.MENU},
    {"trigger": "order_no_given", "source": S.IDENTIFY, "dest": S.IDENTIFY_PHONE4},
    {"trigger": "phone_matched", "source": S.IDENTIFY_PHONE4, "dest": S.MENU},
    {"trigger": "back", "source": S.IDENTIFY_PHONE4, "dest": S.IDENTIFY},
    {"trigger": "back", "source": S.IDENTIFY, "dest": S.IDENTIFY},
    # the request, step by step
    {"trigger": "new_request", "source": S.MENU, "dest": S.CHOOSE_ORDER},
    {"trigger": "order_chosen", "source": S.CHOOSE_ORDER, "dest": S.CHOOSE_ITEM},
    {"trigger": "item_chosen", "source": S.CHOOSE_ITEM, "dest": S.CHOOSE_QUANTITY},
    {"trigger": "quantity_chosen", "source": S.CHOOSE_QUANTITY, "dest": S.CHOOSE_SERVICE},
    {"trigger": "service_chosen", "source": S.CHOOSE_SERVICE, "dest": S.CHOOSE_REASON},
    {"trigger": "reason_chosen", "source": S.CHOOSE_REASON, "dest": S.EXCHANGE_FOR},
    {"trigger": "exchange_chosen", "source": S.EXCHANGE_FOR, "dest": S.CONDITIONS},
    {"trigger": "conditions_done", "source": S.CONDITIONS, "dest": S.DESCRIBE},
    {"trigger": "described", "source": S.DESCRIBE, "dest": S.EVIDENCE},
    {"trigger": "evidence_done", "source": S.EVIDENCE, "dest": S.SUMMARY},
    {"trigger": "confirmed", "source": S.SUMMARY, "dest": S.CASE_DONE},
    # a refused request offers what is open instead: one tap continues it with that service
    {"trigger": "alternative_chosen", "source": S.SUMMARY, "dest": S.CHOOSE_REASON},
    # a deep link names the order: straight to its items once identified
    {"trigger": "order_linked", "source": IDENTIFIED_STATES, "dest": S.CHOOSE_ITEM},
    # back: one step up the request path, or to the menu
    {"trigger": "back", "source": S.CHOOSE_ORDER, "dest": S.MENU},
    *[{"trigger": "back", "source": here, "dest": prev} for prev, here in pairwise(REQUEST_PATH)],
    {"trigger": "back", "source": [S.MENU, S.CASE_DONE, S.WITH_AGENT], "dest": S.MENU},
    {"trigger": "back", "source": S.QUESTION, "dest": S.MENU},
    # a decided case's next step, from its button (under a message about it or "My requests")
    {"trigger": "waybill_asked", "source": IDENTIFIED_STATES, "dest": S.WAYBILL_CARRIER},
    {"trigger": "carrier_chosen", "source": S.WAYBILL_CARRIER, "dest": S.WAYBILL_NUMBER},
    {"trigger": "waybill_given", "source": S.WAYBILL_NUMBER, "dest": S.MENU},
    {"trigger": "back", "source": S.WAYBILL_NUMBER, "dest": S.WAYBILL_CARRIER},
    {"trigger": "pickup_asked", "source": IDENTIFIED_STATES, "dest": S.PICKUP_DAY},
    {"trigger": "day_chosen", "source": S.PICKUP_DAY, "dest": S.PICKUP_TIME},
    {"trigger": "pickup_booked", "source": S.PICKUP_TIME, "dest": S.MENU},
    {"trigger": "back", "source": S.PICKUP_TIME, "dest": S.PICKUP_DAY},
    {"trigger": "cancel_asked", "source": IDENTIFIED_STATES, "dest": S.CANCEL_CONFIRM},
    {"trigger": "cancel_answered", "source": S.CANCEL_CONFIRM, "dest": S.MENU},
    *[{"trigger": "back", "source": s, "dest": S.MENU} for s in STEP_STARTS],
    # reachable from everywhere once the customer is known
    {"trigger": "to_menu", "source": IDENTIFIED_STATES, "dest": S.MENU},
    {"trigger": "ask_human", "source": IDENTIFIED_STATES, "dest": S.WITH_AGENT},
    {"trigger": "ask_question", "source": IDENTIFIED_STATES, "dest": S.QUESTION},
    {"trigger": "restart", "source": list(State), "dest": S.IDENTIFY},
]


def _plain(transition: dict[str, Any]) -> dict[str, Any]:
    # transitions treats Enum members by name; the stored state is the plain value.
    def value(x: Any) -> Any:
        return [str(s) for s in x] if isinstance(x, list) else str(x)

    return {k: value(v) if k in ("source", "dest") else v for k, v in transition.items()}


class Position:
    """The model the machine moves: just a state name."""

    state: str

    def __init__(self, state: str) -> None:
        self.state = state


class Flow:
    """One machine shared by every conversation: a position is added, stepped and removed."""

    def __init__(self) -> None:
        self.machine = Machine(
            model=None,
            states=[s.value for s in State],
            transitions=[_plain(t) for t in TRANSITIONS],
            initial=S.IDENTIFY.value,
            auto_transitions=False,
        )
        self._position = Position(S.IDENTIFY.value)
        self.machine.add_model(self._position)

    def can(self, state: str, trigger: str) -> bool:
        return bool(self.machine.get_transitions(trigger=trigger, source=state))

    def fire(self, state: str, trigger: str) -> str:
        """The state after `trigger` from `state`; MachineError if the table does not allow it."""
        # One position, moved to `state` for each step: adding a model to the machine binds
        # every trigger to it, which cost more than the step. Nothing awaits in between.
        position = self._position
        self.machine.set_state(state, model=position)
        if not position.trigger(trigger):  # type: ignore[attr-defined]
            raise MachineError(f"{trigger} refused in {state}")
        return position.state


def mermaid() -> str:
    """A mermaid state diagram of the table, for docs/conversation.mmd."""
    lines = ["stateDiagram-v2", f"    [*] --> {S.IDENTIFY.value}"]
    seen: set[tuple[str, str, str]] = set()
    for t in TRANSITIONS:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        if len(sources) > 3:
            edge = ("any", str(t["dest"]), t["trigger"])
            if edge not in seen:
                seen.add(edge)
                lines.append(f"    note right of {t['dest']}: {t['trigger']} from any state")
            continue
        for src in sources:
            edge = (str(src), str(t["dest"]), t["trigger"])
            if edge in seen or src == t["dest"]:
                continue
            seen.add(edge)
            lines.append(f"    {State(src).value} --> {State(t['dest']).value}: {t['trigger']}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(mermaid(), end="")
