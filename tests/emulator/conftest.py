"""An emulator served on a free port and an aiogram Bot pointed at it."""

from collections.abc import AsyncIterator, Iterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.emulator import Emulator, EmulatorServer
from bot.emulator.core import DEFAULT_TOKEN

TOKEN = DEFAULT_TOKEN


@pytest.fixture
async def server() -> AsyncIterator[EmulatorServer]:
    async with EmulatorServer() as running:
        yield running


@pytest.fixture
def emu(server: EmulatorServer) -> Iterator[Emulator]:
    yield server.emulator
    # every answer must carry the fields the spec (and aiogram) require
    assert server.emulator.result_errors == []


@pytest.fixture
async def bot(server: EmulatorServer) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(server.base_url))
    async with Bot(TOKEN, session=session) as client:
        yield client
