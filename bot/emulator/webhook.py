"""Webhook delivery: POST each update to the bot, redelivering with backoff until it gets a 2xx."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from bot.emulator.core import EmulatorCore

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    update_id: int
    attempt: int
    at: float
    status: int | None
    error: str | None
    # which delivery this attempt belongs to: update ids may repeat (reset_update_ids, redeliver)
    delivery: int = 0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(slots=True)
class WebhookConfig:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    ip_address: str | None = None


@dataclass(slots=True)
class WebhookStats:
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    last_error_date: int | None = None
    last_error_message: str | None = None
    in_flight: int = 0


class Webhook:
    """Runs on the loop of the emulator's server; inert while no URL is set."""

    def __init__(self, core: EmulatorCore) -> None:
        self.core = core
        self.config = WebhookConfig()
        self.stats = WebhookStats()
        self.retry_base = 0.5
        self.retry_max = 10.0
        self.timeout = 10.0
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._wakeup: asyncio.Event | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        # by delivery serial, so repeated update ids never collide; insertion is queue order
        self._in_flight: dict[int, dict[str, Any]] = {}
        self._serials = itertools.count(1)

    @property
    def active(self) -> bool:
        return bool(self.config.url)

    def notify(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    async def set(self, config: WebhookConfig) -> None:
        await self.stop()
        self.config = config
        if config.url:
            self._wakeup = asyncio.Event()
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self.config = WebhookConfig()
        tasks = [t for t in (self._task, *self._deliveries) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Updates still being delivered go back to the queue, as Telegram keeps them pending.
        self.core.updates.requeue(list(self._in_flight.values()))
        self._in_flight.clear()
        self.stats.in_flight = 0
        self._task = None
        self._deliveries.clear()
        self._wakeup = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def pending_count(self) -> int:
        return len(self.core.updates) + self.stats.in_flight

    async def _run(self) -> None:
        assert self._wakeup is not None
        limit = asyncio.Semaphore(self.config.max_connections)
        while True:
            self._wakeup.clear()
            while (update := self.core.updates.pop()) is not None:
                # tracked before waiting for a slot, so stop() requeues it instead of losing it
                serial = self._track(update)
                await limit.acquire()
                task = asyncio.create_task(self._deliver(serial, update, limit))
                self._deliveries.add(task)
                task.add_done_callback(self._deliveries.discard)
            await self._wakeup.wait()

    def _track(self, update: dict[str, Any]) -> int:
        serial = next(self._serials)
        self._in_flight[serial] = update
        self.stats.in_flight = len(self._in_flight)
        return serial

    def _untrack(self, serial: int) -> None:
        self._in_flight.pop(serial, None)
        self.stats.in_flight = len(self._in_flight)

    async def _deliver(self, serial: int, update: dict[str, Any], limit: asyncio.Semaphore) -> None:
        try:
            attempt = 0
            while True:
                attempt += 1
                status, error = await self._post(update)
                self.stats.attempts.append(
                    DeliveryAttempt(
                        update["update_id"], attempt, self.core.clock(), status, error, serial
                    )
                )
                if error is None:
                    self._untrack(serial)
                    return
                self.stats.last_error_date = self.core.now()
                self.stats.last_error_message = error
                await asyncio.sleep(min(self.retry_max, self.retry_base * 2 ** (attempt - 1)))
        finally:
            limit.release()

    async def _post(self, update: dict[str, Any]) -> tuple[int | None, str | None]:
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        if self.config.secret_token:
            headers[SECRET_HEADER] = self.config.secret_token
        try:
            async with self._session.post(
                self.config.url, data=json.dumps(update), headers=headers
            ) as response:
                body = await response.read()
                if not 200 <= response.status < 300:
                    return response.status, f"Wrong response from the webhook: {response.status}"
        except TimeoutError:
            return None, "Read timeout expired"
        except aiohttp.ClientError as exc:
            return None, f"Connection failed: {exc.__class__.__name__}"
        await self._answer_in_response(body)
        return response.status, None

    async def _answer_in_response(self, body: bytes) -> None:
        """A webhook may answer with a method call in its response body, as Telegram allows."""
        if not body.strip():
            return
        try:
            payload = json.loads(body)
        except ValueError:
            return
        if isinstance(payload, dict) and isinstance(payload.get("method"), str):
            method = payload.pop("method")
            await self.core.execute(method, payload, {})
