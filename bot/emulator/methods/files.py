"""getFile (downloads are served by the app at /file/bot<token>/<file_path>)."""

from __future__ import annotations

from typing import Any

from bot.emulator.core import EmulatorCore
from bot.emulator.errors import state_error
from bot.emulator.methods.registry import handles

# Bots may download files up to 20 MB.
MAX_DOWNLOAD = 20 * 1024 * 1024


@handles("getFile")
async def get_file(emu: EmulatorCore, p: dict[str, Any], method: str) -> dict[str, Any]:
    record = emu.file(p["file_id"])
    if len(record.data) > MAX_DOWNLOAD:
        raise state_error("file is too big")
    return record.to_api()
