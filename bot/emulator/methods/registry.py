"""Method handlers by Bot API method name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.emulator.core import EmulatorCore

# (emulator, validated parameters, canonical method name) -> the "result" of the answer
Handler = Callable[[EmulatorCore, dict[str, Any], str], Awaitable[Any]]

HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = handler
        return handler

    return register
