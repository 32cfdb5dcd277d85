"""/healthz and /metrics: on the webhook's server, and on HEALTH_PORT in polling mode."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.emulator.server import EmulatorServer
from bot.metrics import Health, Metrics, task_alive
from dialogs.clock import SystemClock
from storage import migrate
from storage.db import Database
from tests.e2e.harness import Customer, _free_port, running_bot, seed_demo

NAMES = (
    "aftersales_inbox_pending",
    "aftersales_inbox_oldest_age_seconds",
    "aftersales_outbox_pending",
    "aftersales_outbox_oldest_age_seconds",
    "aftersales_telegram_429_total",
    "aftersales_outbox_retries_total",
    "aftersales_handler_errors_total",
    "aftersales_update_latency_seconds_bucket",
    "aftersales_cases",
    "aftersales_timers_due",
)


@pytest.fixture
async def shop_url(database_url: str) -> str:
    await asyncio.to_thread(migrate.upgrade, database_url)
    await seed_demo(database_url)
    return database_url


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


def figure(metrics: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


async def test_polling_serves_healthz_and_metrics_on_health_port(
    server: EmulatorServer, shop_url: str, tmp_path: Path
):
    port = _free_port()
    async with running_bot(server, shop_url, tmp_path, health_port=port) as bot:
        alice = Customer(bot.emu, bot.emu.create_user(first_name="Alice", language_code="en"))
        await alice.say("/start", expect=2)
        status, body = await get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200
        assert body.replace(" ", "") == '{"ok":true,"database":true,"intake":true,"outbox":true}'
        status, metrics = await get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        for name in NAMES:
            assert name in metrics
        assert figure(metrics, "aftersales_update_latency_seconds_count") >= 1
        assert figure(metrics, "aftersales_inbox_pending") == 0
        assert figure(metrics, "aftersales_telegram_429_total") == 0
    assert not bot.runtime.health.intake()  # stopped: the poller has ended


async def test_no_health_port_no_server(server: EmulatorServer, shop_url: str, tmp_path: Path):
    async with running_bot(server, shop_url, tmp_path) as bot:
        assert bot.runtime.settings.health_port is None
        health = bot.runtime.health
        await bot.emu.wait_until(lambda: bool(bot.emu.calls_to("getUpdates")), 10)
        assert health.intake() and health.outbox()


async def test_a_429_is_counted(server: EmulatorServer, shop_url: str, tmp_path: Path):
    port = _free_port()
    async with running_bot(server, shop_url, tmp_path, health_port=port) as bot:
        emu = bot.emu
        alice = Customer(emu, emu.create_user(first_name="Alice", language_code="en"))
        emu.faults.fail_next("sendMessage", status=429, retry_after=1)
        await alice.say("/start", expect=2, seconds=15)
        assert [c.error_code for c in emu.calls_to("sendMessage")][:2] == [429, None]
        _, metrics = await get(f"http://127.0.0.1:{port}/metrics")
        assert figure(metrics, "aftersales_telegram_429_total") == 1


async def test_the_webhook_server_serves_them(
    server: EmulatorServer, shop_url: str, tmp_path: Path
):
    async with running_bot(server, shop_url, tmp_path, webhook=True) as bot:
        emu = bot.emu
        await emu.wait_until(lambda: bool(emu.calls_to("setWebhook")), 10)
        base = bot.runtime.settings.webhook_url.rsplit("/tg/hook", 1)[0]  # type: ignore[union-attr]
        status, body = await get(f"{base}/healthz")
        assert status == 200 and '"ok": true' in body
        status, metrics = await get(f"{base}/metrics")
        assert status == 200 and "aftersales_outbox_pending" in metrics


async def _client(health: Health) -> TestClient:
    client = TestClient(TestServer(health.app()))
    await client.start_server()
    return client


async def test_503_when_the_database_does_not_answer():
    # A server that is not there (asyncpg: no driver thread left behind to outlive the loop).
    db = Database("postgresql+asyncpg://postgres@127.0.0.1:9/none")
    health = Health(db, SystemClock(), Metrics())
    health.intake = health.outbox = lambda: True
    client = await _client(health)
    try:
        response = await client.get("/healthz")
        assert response.status == 503
        assert await response.json() == {
            "ok": False, "database": False, "intake": True, "outbox": True,
        }  # fmt: skip
        metrics = await client.get("/metrics")  # the counters, without the database's figures
        assert metrics.status == 200 and "aftersales_telegram_429_total" in await metrics.text()
    finally:
        await client.close()
        await db.dispose()


async def test_503_when_the_outbox_task_is_done(database_url: str):
    await asyncio.to_thread(migrate.upgrade, database_url)
    db = Database(database_url)
    health = Health(db, SystemClock(), Metrics())
    ended = asyncio.create_task(asyncio.sleep(0))
    await ended
    health.intake = lambda: True
    health.outbox = task_alive(ended)
    client = await _client(health)
    try:
        response = await client.get("/healthz")
        assert response.status == 503
        assert await response.json() == {
            "ok": False, "database": True, "intake": True, "outbox": False,
        }  # fmt: skip
    finally:
        await client.close()
        await db.dispose()


async def test_each_runtime_has_its_own_registry():
    a, b = Metrics(), Metrics()
    a.telegram_429.inc()
    assert b.registry.get_sample_value("aftersales_telegram_429_total") == 0
    assert a.registry.get_sample_value("aftersales_telegram_429_total") == 1
