"""Which service, for which reason — and, for an exchange, what the customer wants instead."""

from __future__ import annotations

from typing import Any

from . import common
from .turn import Options, Turn, clean

EXCHANGE_CHOICES = ("same_model", "other_variant")
MAX_EXCHANGE_NOTE = 200


# --- service -----------------------------------------------------------------------------------


async def ask_service(turn: Turn) -> None:
    _, item = await turn.item()
    open_case = await turn.shop.open_case_for_item(item.id)
    if open_case is not None:
        # One request per item at a time: point to it instead of starting a second one.
        turn.ctx.case_id = open_case.id
        turn.ask(
            turn.t("service/open_case", item=item, case=open_case),
            [[(turn.label("labels/my_requests"), "mine")],
             [(turn.label("labels/human"), "human")], turn.back_row()],
        )  # fmt: skip
        return
    options = turn.policy.options(await turn.facts(), turn.now)
    offered = [o for o in options if o.available]
    refused = [o for o in options if not o.available]
    rows: Options = [
        [(turn.label("labels/service", service=o.service), o.service)] for o in offered
    ]
    if not offered:
        rows.append([(turn.label("labels/human"), "human")])
    rows.append(turn.back_row())
    refused_lines = _why_not(turn, refused)
    turn.ask(turn.t("service/ask", item=item, offered=offered, refused=refused_lines), rows)


def _why_not(turn: Turn, refused: list[Any]) -> list[tuple[list[str], str]]:
    """One line per reason: services refused for the same reason share it ("return, exchange
    and missing parts: the order has not been delivered yet"), not one line each."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for option in refused:
        if option.explanation is None:
            continue
        values = {k: v for k, v in option.explanation.values.items() if k != "service"}
        key = (option.explanation.key, repr(sorted(values.items(), key=lambda kv: kv[0])))
        groups.setdefault(key, []).append(option)
    lines = []
    for options in groups.values():
        first = options[0].explanation
        services = [o.service for o in options]
        lines.append((services, turn.t(first.key, **{**first.values, "service": services})))
    return lines


async def on_service(turn: Turn, value: Any) -> None:
    if value == "back":
        turn.ctx.case_id = None
        await turn.back()
        return
    if value == "human":
        await common.human(turn)
        return
    if value == "mine":
        await common.status(turn)
        return
    offered = {o.service for o in turn.policy.options(await turn.facts(), turn.now) if o.available}
    if value not in offered:
        await turn.bad_input()
        return
    turn.draft.start_service(str(value))
    turn.fire("service_chosen")
    await turn.enter()


# --- reason ------------------------------------------------------------------------------------


async def _reasons(turn: Turn) -> list[str]:
    _, item = await turn.item()
    assert turn.draft.service is not None
    return turn.policy.reasons(turn.draft.service, item.category)


async def auto_reason(turn: Turn) -> bool:
    reasons = await _reasons(turn)
    if len(reasons) == 1:
        _reason_chosen(turn, reasons[0])
        return True
    return False


async def ask_reason(turn: Turn) -> None:
    rows: Options = [[(turn.label("labels/reason", reason=r), r)] for r in await _reasons(turn)]
    rows.append(turn.back_row())
    turn.ask(turn.t("reason/ask", service=turn.draft.service), rows)


async def on_reason(turn: Turn, value: Any) -> None:
    if value == "back":
        await turn.back()
        return
    if value not in await _reasons(turn):
        await turn.bad_input()
        return
    _reason_chosen(turn, str(value))
    await turn.enter()


def _reason_chosen(turn: Turn, reason: str) -> None:
    draft = turn.draft
    draft.reason = reason
    draft.conditions, draft.declined, draft.cond_index = [], [], 0
    turn.fire("reason_chosen")


# --- what an exchange is for (T16 size or colour, T20 same model) ------------------------------


async def auto_exchange(turn: Turn) -> bool:
    """Only an exchange asks what it is for."""
    if turn.draft.service != "exchange":
        turn.fire("exchange_chosen")
        return True
    return False


async def ask_exchange(turn: Turn) -> None:
    draft = turn.draft
    if draft.exchange_for is None and len(_choices(turn)) == 1:
        draft.exchange_for = _choices(turn)[0]
    if draft.exchange_for == "other_variant":
        turn.ask(turn.t("exchange/ask_variant", max=MAX_EXCHANGE_NOTE), [turn.back_row()])
        return
    rows: Options = [[(turn.label(f"labels/exchange_{c}"), c)] for c in _choices(turn)]
    rows.append(turn.back_row())
    turn.ask(turn.t("exchange/ask", reason=draft.reason), rows)


def _choices(turn: Turn) -> tuple[str, ...]:
    # A wrong size or colour is swapped for another one; a faulty item for a new one of the
    # same model, or (the shop permitting) another variant at the same price.
    return ("other_variant",) if turn.draft.reason == "size_colour" else EXCHANGE_CHOICES


async def on_exchange(turn: Turn, value: Any) -> None:
    draft = turn.draft
    if value == "back":
        if draft.exchange_for == "other_variant" and len(_choices(turn)) > 1:
            draft.exchange_for = None
            await turn.prompt()
            return
        draft.exchange_for = None
        await turn.back()
        return
    if draft.exchange_for == "other_variant" and turn.event.kind == "text":
        note = clean(turn.event.text)
        if not 1 <= len(note) <= MAX_EXCHANGE_NOTE:
            await turn.bad_input("exchange/bad_variant", max=MAX_EXCHANGE_NOTE)
            return
        draft.exchange_note = note
        turn.fire("exchange_chosen")
        await turn.enter()
        return
    if value not in _choices(turn):
        await turn.bad_input()
        return
    draft.exchange_for = str(value)
    if value == "other_variant":
        await turn.prompt()  # which size or colour, typed
        return
    turn.fire("exchange_chosen")
    await turn.enter()
