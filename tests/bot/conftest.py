"""An emulator and a real aiogram Bot talking to it over HTTP, for the bot's own tests."""

from collections.abc import AsyncIterator, Iterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.emulator import Emulator, EmulatorServer

TOKEN = "123456:" + "A" * 35


@pytest.fixture
async def server() -> AsyncIterator[EmulatorServer]:
    async with EmulatorServer() as running:
        yield running


@pytest.fixture
def emu(server: EmulatorServer) -> Iterator[Emulator]:
    yield server.emulator
    assert server.emulator.validation_errors == []
    assert server.emulator.result_errors == []


@pytest.fixture
async def bot(server: EmulatorServer) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(server.base_url))
    async with Bot(TOKEN, session=session) as client:
        yield client
