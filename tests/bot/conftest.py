"""The emulator's fixtures (a served emulator, an aiogram Bot pointed at it), and for the bot's
own tests an `emu` that also holds every run to zero spec-validation errors (the emulator's
tests provoke such errors on purpose)."""

from collections.abc import Iterator

import pytest

from bot.emulator import Emulator, EmulatorServer
from tests.emulator.conftest import TOKEN, bot, server  # noqa: F401  (shared fixtures)


@pytest.fixture
def emu(server: EmulatorServer) -> Iterator[Emulator]:  # noqa: F811
    yield server.emulator
    assert server.emulator.validation_errors == []
    assert server.emulator.result_errors == []
