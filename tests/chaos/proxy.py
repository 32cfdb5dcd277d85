"""A round-robin proxy in front of the webhook workers, as a load balancer would be, that
also misbehaves the way networks do: it sends some updates to two workers at once, and now
and then loses a worker's answer after the worker stored the update (Telegram then sends it
again). A worker that cannot be reached is skipped, as a balancer skips a dead upstream."""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web


@dataclass
class ProxyStats:
    forwarded: int = 0
    duplicated: int = 0
    answers_lost: int = 0
    unreachable: int = 0
    by_backend: dict[int, int] = field(default_factory=dict)


class RoundRobin:
    def __init__(self, ports: list[int], path: str, *, duplicate: float = 0.0,
                 lose_answer: float = 0.0, seed: int = 1) -> None:  # fmt: skip
        self.ports = ports
        self.path = path
        self.duplicate = duplicate
        self.lose_answer = lose_answer
        self.rng = random.Random(seed)
        self.stats = ProxyStats()
        self._next = itertools.cycle(range(len(ports)))
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> str:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(self.path, self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")}  # fmt: skip
        first = next(self._next)
        order = [self.ports[(first + i) % len(self.ports)] for i in range(len(self.ports))]
        self.stats.forwarded += 1
        if self.rng.random() < self.duplicate:  # the same update to a second worker at once
            self.stats.duplicated += 1
            other = asyncio.create_task(self._post(order[1], body, headers))
            status = await self._try(order, body, headers)
            await asyncio.gather(other, return_exceptions=True)
        else:
            status = await self._try(order, body, headers)
        if status == 200 and self.rng.random() < self.lose_answer:
            self.stats.answers_lost += 1
            return web.Response(status=502, text="answer lost")
        return web.Response(status=status, text="ok" if status == 200 else "upstream failed")

    async def _try(self, order: list[int], body: bytes, headers: dict[str, str]) -> int:
        for port in order:
            status = await self._post(port, body, headers)
            if status is not None:
                return status
        return 502

    async def _post(self, port: int, body: bytes, headers: dict[str, str]) -> int | None:
        assert self._session is not None
        try:
            async with self._session.post(f"http://127.0.0.1:{port}{self.path}", data=body,
                                          headers=headers) as response:  # fmt: skip
                await response.read()
                self.stats.by_backend[port] = self.stats.by_backend.get(port, 0) + 1
                return response.status
        except (aiohttp.ClientError, TimeoutError, OSError):
            self.stats.unreachable += 1
            return None
