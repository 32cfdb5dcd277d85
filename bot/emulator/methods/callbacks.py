"""answerCallbackQuery."""

from __future__ import annotations

from typing import Any

from bot.emulator import limits
from bot.emulator.core import EmulatorCore
from bot.emulator.errors import bad_request, state_error
from bot.emulator.methods.registry import handles

_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


@handles("answerCallbackQuery")
async def answer_callback_query(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    text = p.get("text")
    if text is not None and len(text) > limits.MAX_CALLBACK_ANSWER:
        raise bad_request(
            f"MESSAGE_TOO_LONG: callback answer text must be at most "
            f"{limits.MAX_CALLBACK_ANSWER} characters, got {len(text)}"
        )
    record = emu.callbacks.get(p["callback_query_id"])
    if record is None or record.answered or emu.clock() - record.created_at > emu.callback_ttl:
        raise state_error(_TOO_OLD)
    record.answered = True
    record.answer = {k: v for k, v in p.items() if k != "callback_query_id"}
    return True
