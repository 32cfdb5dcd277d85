"""An emulator served on a free port, an aiogram Bot pointed at it, a webhook receiver."""

from collections.abc import AsyncIterator, Iterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

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


class Receiver:
    """A tiny webhook endpoint that fails the first `failures` deliveries."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, str | None]] = []
        self.failures = 0
        self.reply: dict | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if self.failures:
            self.failures -= 1
            return web.Response(status=500)
        update = await request.json()
        self.received.append((update, request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        if self.reply is not None:
            return web.json_response(self.reply)
        return web.Response()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    target = Receiver()
    app = web.Application()
    app.router.add_post("/hook", target.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield target, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()
