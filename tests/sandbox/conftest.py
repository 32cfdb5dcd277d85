from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sandbox.info import SandboxConfig
from bot.sandbox.session import SandboxSession


def config_in(folder: Path, *, language: str = "zh", fresh: bool = True) -> SandboxConfig:
    return SandboxConfig(
        database=folder / "sandbox.db",
        evidence_dir=folder / "evidence",
        log_file=folder / "sandbox.log",
        language=language,
        fresh=fresh,
        ansi=False,
    )


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[SandboxSession]:
    sandbox = SandboxSession(config_in(tmp_path))
    await sandbox.start()
    try:
        yield sandbox
    finally:
        assert await sandbox.close() == []  # nothing to report: no malformed request, clean stop
        assert sandbox.emu.validation_errors == []


def number_of(session: SandboxSession, label: str) -> str:
    """The number to type for the pressable button whose label contains `label`."""
    for number, button in enumerate(session.buttons, start=1):
        if label in button.label:
            return str(number)
    raise AssertionError(f"no button {label!r}; have {[b.label for b in session.buttons]}")
