from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.emulator.server import EmulatorServer


@pytest.fixture
async def emulator() -> AsyncIterator[EmulatorServer]:
    async with EmulatorServer() as server:
        yield server
        assert server.emulator.validation_errors == [], server.emulator.validation_errors
