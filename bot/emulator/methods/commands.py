"""setMyCommands / getMyCommands / deleteMyCommands, stored per scope and language."""

from __future__ import annotations

import json
import re
from typing import Any

from bot.emulator.core import EmulatorCore
from bot.emulator.errors import bad_request
from bot.emulator.methods.registry import handles

_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


def _key(p: dict[str, Any]) -> tuple[str, str]:
    scope = p.get("scope") or {"type": "default"}
    language = p.get("language_code") or ""
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise bad_request("language_code must be a two-letter ISO 639-1 code or empty")
    return json.dumps(scope, sort_keys=True), language


@handles("setMyCommands")
async def set_my_commands(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    commands = p["commands"]
    if len(commands) > 100:
        raise bad_request("too many commands: at most 100")
    for i, command in enumerate(commands):
        if not _COMMAND_RE.fullmatch(command["command"]):
            raise bad_request(
                f"BOT_COMMAND_INVALID: commands[{i}].command must be 1-32 characters of "
                "lowercase English letters, digits and underscores"
            )
        if not 1 <= len(command["description"]) <= 256:
            raise bad_request(f"BOT_COMMAND_DESCRIPTION_INVALID: commands[{i}].description")
    emu.commands[_key(p)] = [
        {"command": c["command"], "description": c["description"]} for c in commands
    ]
    return True


@handles("getMyCommands")
async def get_my_commands(
    emu: EmulatorCore, p: dict[str, Any], method: str
) -> list[dict[str, Any]]:
    return list(emu.commands.get(_key(p), []))


@handles("deleteMyCommands")
async def delete_my_commands(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    emu.commands.pop(_key(p), None)
    return True
