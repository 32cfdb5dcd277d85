"""The case card in the agents' topic, the topic's name, and what is shown of a customer.

Agents see what they need to decide, and no more of the customer than that: the name masked
after its first character, the phone number except its last four digits.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from dialogs.events import Button
from dialogs.texts import Texts
from storage.domain import Desk, Dispute
from storage.views import CaseCard, CaseView

from .desk import AT_THE_DESK, DESK, DISPUTE, relays

# Callback data of the card's buttons: "ag:<action>:<case id>[:<choice>]" (at most 64 bytes).
PREFIX = "ag"
REJECT_REASONS = ("policy", "period", "evidence", "damage")


def masked_name(name: str) -> str:
    name = name.strip()
    return f"{name[0]}**" if name else "**"


def masked_phone(phone: str | None) -> str:
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    if len(digits) <= 4:
        return "****"
    return "*" * (len(digits) - 4) + digits[-4:]


def topic_name(texts: Texts, locale: str, case: CaseView, customer_name: str) -> str:
    service = texts.plain(locale, "desk/topic_service", case=case)
    return f"{case.case_no} · {service} · {masked_name(customer_name)}"


def data(action: str, case_id: int, choice: str = "") -> str:
    return f"{PREFIX}:{action}:{case_id}" + (f":{choice}" if choice else "")


def parse(value: str) -> tuple[str, int, str] | None:
    """(action, case id, choice) of a card button's data, or None if it is not one."""
    parts = value.split(":")
    if len(parts) not in (3, 4) or parts[0] != PREFIX or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2]), parts[3] if len(parts) == 4 else ""


def card_text(texts: Texts, locale: str, card: CaseCard, answer_by: datetime | None) -> str:
    return str(
        texts.render(
            locale, "desk/card", c=card, case=card.case, phone=masked_phone(card.customer.phone),
            name=masked_name(card.customer.name), answer_by=answer_by,
            why=_why(texts, locale, card), relays=relays(card.case.desk),
            price=(card.unit_price * card.case.quantity) if card.unit_price is not None else None,
        )
    )  # fmt: skip


def _why(texts: Texts, locale: str, card: CaseCard) -> str:
    """Why a person decides, in the agents' words: the policy's own explanation (what the
    customer was told, less its promise of a date), else the rules that sent it."""
    if card.case.outcome != "needs_agent" or not card.explanation_key:
        return ""
    values = dict(card.explanation_values)
    for key, value in values.items():  # stored as JSON: instants come back as text
        if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and "T" in value:
            with contextlib.suppress(ValueError):
                values[key] = datetime.fromisoformat(value)
    # Without the promise made to the customer ("you will have our decision by …"): the card
    # has a line of its own for the deadline, and speaks to agents.
    values["deadline"] = None
    try:
        return texts.plain(locale, card.explanation_key, **values)
    except Exception:  # an explanation of an older version: its rule ids say enough
        return card.needs_agent_reason or ""


def buttons(texts: Texts, locale: str, case: CaseView, evidence: int = 0) -> list[list[Button]]:
    """What can be done with the case now (the desk table decides); `evidence`: how many
    files the case has (a button posts them again)."""

    def b(key: str, action: str, choice: str = "") -> Button:
        return Button(texts.plain(locale, f"desk/button_{key}"), data(action, case.id, choice))

    rows: list[list[Button]] = []
    desk = case.desk
    if desk in AT_THE_DESK:
        first = [b("take", "take")] if case.owner_id is None else []
        # A question has nothing to approve: it is answered, or made a request with /order.
        decide = [b("approve", "approve"), b("reject", "reject")] if case.kind == "request" else []
        if first or decide:
            rows.append([*first, *decide])
        row = [b("ask", "ask")]
        if DESK.can(desk, "offer") and case.kind == "request":
            row.insert(0, b("offer", "offer"))
        rows.append(row)
    if DESK.can(desk, "hand_back") and evidence:
        rows.append([b("evidence", "evidence")])
    if DESK.can(desk, "hand_back"):
        rows.append([b("hand_back", "hand_back"), b("close", "close")])
    elif DESK.can(desk, "close"):
        rows.append([b("close", "close")])
    if case.dispute in (Dispute.SUBMITTED, Dispute.ACCEPTED, Dispute.INVESTIGATING):
        row = []
        for action in ("accept", "investigate", "resolve"):
            if DISPUTE.can(case.dispute, action):
                row.append(b(action, action))
        rows.append(row)
    return rows


def reject_buttons(texts: Texts, locale: str, case: CaseView) -> list[list[Button]]:
    rows = [[Button(texts.plain(locale, f"desk/reject_{r}"), data("reject", case.id, r))]
            for r in REJECT_REASONS]  # fmt: skip
    rows.append([Button(texts.plain(locale, "desk/button_back"), data("card", case.id))])
    return rows


def offer_buttons(texts: Texts, locale: str, case: CaseView, services: list[str]
                  ) -> list[list[Button]]:  # fmt: skip
    rows = [[Button(texts.plain(locale, "desk/offer_service", service=s),
                    data("offer", case.id, s))] for s in services if s != case.service]  # fmt: skip
    rows.append([Button(texts.plain(locale, "desk/button_back"), data("card", case.id))])
    return rows


def is_open(case: CaseView) -> bool:
    return case.desk in AT_THE_DESK or case.dispute in (
        Dispute.SUBMITTED, Dispute.ACCEPTED, Dispute.INVESTIGATING,
    )  # fmt: skip


__all__ = ["Desk", "buttons", "card_text", "data", "masked_name", "masked_phone", "parse"]
