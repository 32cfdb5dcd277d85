"""Serving an Emulator over HTTP on a local port (port 0 picks a free one)."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from aiohttp import web

from bot.emulator.app import create_app
from bot.emulator.emulator import Emulator


class EmulatorServer:
    """`async with EmulatorServer() as server:` then point a bot at `server.base_url`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        emulator: Emulator | None = None,
        **emulator_options: Any,
    ) -> None:
        self.host = host
        self.port = port
        self.emulator = emulator or Emulator(**emulator_options)
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        # A short shutdown timeout: pending long polls must not hold up stop().
        self._runner = web.AppRunner(
            create_app(self.emulator), access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self.emulator.webhook.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
