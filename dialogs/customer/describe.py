"""The customer's own words: a description of the problem, or — where there is no problem to
describe (a no-reason return, a size or colour swap) — an optional note."""

from __future__ import annotations

from typing import Any

from .turn import Turn, clean

MAX_DESCRIPTION = 1000
OPTIONAL_FOR = ("no_reason", "size_colour")


def optional(turn: Turn) -> bool:
    return turn.draft.reason in OPTIONAL_FOR


async def ask(turn: Turn) -> None:
    rows: list[list[tuple[str, Any]]] = []
    if optional(turn):
        rows.append([(turn.label("labels/skip"), "skip")])
    rows.append(turn.back_row())
    key = "describe/ask_note" if optional(turn) else "describe/ask"
    turn.ask(turn.t(key, max=MAX_DESCRIPTION), rows)


async def on(turn: Turn, value: Any) -> None:
    draft = turn.draft
    if value == "back":
        await turn.back()
        return
    if value == "skip" and optional(turn):
        draft.description, draft.description_message_id = "", None
    elif turn.event.kind == "text":
        text = clean(turn.event.text, keep_newlines=True)
        if len(text) > MAX_DESCRIPTION:
            await turn.bad_input("describe/too_long", max=MAX_DESCRIPTION, length=len(text))
            return
        if len(text) < 2:
            await turn.bad_input("describe/too_short")
            return
        draft.description = text
        draft.description_message_id = turn.event.message_id  # an edit replaces it
    else:
        await turn.bad_input("common/send_text")
        return
    turn.fire("described")
    await turn.enter()
