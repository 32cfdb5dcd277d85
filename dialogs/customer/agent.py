"""While a person has the conversation: the customer is heard, and the bot keeps quiet."""

from __future__ import annotations

from typing import Any

from .describe import MAX_DESCRIPTION
from .turn import Turn, clean


async def ask(turn: Turn) -> None:
    turn.ask(turn.t("human/ask"), [[(turn.label("labels/menu"), "menu")]])


async def on(turn: Turn, value: Any) -> None:
    if value == "menu":
        await turn.to_start(welcome=False)
        return
    ev = turn.event
    if ev.kind in ("text", "media") and turn.ctx.case_id is not None:
        # Kept on the case the conversation is about, for the person who answers.
        text = clean(ev.text, keep_newlines=True)[:MAX_DESCRIPTION]
        await turn.shop.add_case_event(
            turn.ctx.case_id, "customer", "message",
            {"text": text, "files": [m.file_id for m in ev.media]}, turn.now,
        )  # fmt: skip
        turn.say("human/received")
        return
    await turn.bad_input()
