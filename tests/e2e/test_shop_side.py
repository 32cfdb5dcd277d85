"""The shop's side through the real bot and the emulator: the HTTP API of the running bot (on
API_PORT in polling mode, under /api/ of the webhook's server) and the commands in a case's
topic move an approved case to its end, and the customer is told of every step."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from storage import migrate
from tests.e2e.desk import AGENT_1, DESK_SETTINGS, make_desk
from tests.e2e.harness import Customer, orders_of, running_bot, seed_demo
from tests.e2e.test_agents import alice_at_menu, escalated, macbook_return

TOKEN = "shop-api-token-" + "k" * 20
AUTH = {"Authorization": f"Bearer {TOKEN}"}
POWER_BANK = "Anker 737 Power Bank (PowerCore 24K), 140W"


@pytest.fixture
async def shop_url(database_url: str) -> str:
    await asyncio.to_thread(migrate.upgrade, database_url)
    await seed_demo(database_url)
    return database_url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Api:
    """The shop's systems calling the bot's HTTP API."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base

    async def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        async with self.http.get(self.base + path, headers=AUTH if headers is None else headers
                                 ) as response:  # fmt: skip
            return response.status, await response.json()

    async def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.post(self.base + path, json=body, headers=AUTH) as response:
            return response.status, await response.json()


@contextlib.asynccontextmanager
async def bot_with_api(emulator: Any, url: str, tmp_path: Any) -> AsyncIterator[tuple[Any, Api]]:
    """The running bot with its HTTP API on a port of its own, and a client for it."""
    port = _free_port()
    async with (
        running_bot(emulator, url, tmp_path, api_token=TOKEN, api_port=port) as bot,
        aiohttp.ClientSession() as http,
    ):
        yield bot, Api(http, f"http://127.0.0.1:{port}/api/v1")


async def approved_return(alice: Customer, url: str) -> None:
    """A quality return of the power bank, which the standard policy approves at once."""
    await alice.tap("New request")
    await alice.tap((await orders_of(url, "+447700900123"))[POWER_BANK])
    await alice.tap("Anker 737")
    await alice.tap("Return and refund")
    await alice.tap("Quality problem")
    await alice.say("It stops charging after a minute")
    await alice.send_photo(b"\xff\xd8\xff" + b"p" * 5000)
    await alice.tap("Done")
    await alice.tap("Confirm")
    assert "Approved" in alice.texts(), alice.texts()


async def told(alice: Customer, bot: Any, words: str) -> None:
    await bot.emu.wait_until(lambda: words in alice.texts(), 10)


async def test_the_shop_moves_a_return_through_the_api_of_the_running_bot(
    emulator, shop_url, tmp_path
):
    async with bot_with_api(emulator, shop_url, tmp_path) as (bot, api):
        alice = await alice_at_menu(bot.emu)
        await approved_return(alice, shop_url)

        # Without the token: 401, and nothing is said to anyone.
        status, body = await api.get("/cases", headers={})
        assert (status, body["error"]) == (401, "unauthorized")
        status, listed = await api.get("/cases?status=awaiting_return")
        assert status == 200
        [case] = listed["cases"]
        case_no = case["case_no"]
        assert case["item"].startswith("Anker 737") and "received" in case["next"]

        # An impossible step: 409 with the reason; the customer hears nothing of it.
        said = len(alice.messages())
        status, body = await api.post(f"/cases/{case_no}/refunded", {"amount": "10"})
        assert (status, body["error"]) == (409, "not_now")
        await asyncio.sleep(0.7)
        assert len(alice.messages()) == said

        # The shop books the return parcel (T17); the carrier reports it delivered.
        status, body = await api.post(f"/cases/{case_no}/waybill",
                                      {"carrier": "sf", "number": "SF1234567890123"})  # fmt: skip
        assert (status, body["status"]) == (200, "in_transit")
        await told(alice, bot, "We booked the return")
        assert "SF1234567890123" in alice.last.text
        status, body = await api.post("/tracking", {"carrier": "sf", "waybill": "SF1234567890123",
                                                    "status": "delivered"})  # fmt: skip
        assert (status, body["case"]["status"]) == (200, "received")
        await told(alice, bot, "has arrived")

        status, _ = await api.post(f"/cases/{case_no}/inspected", {"ok": True})
        assert status == 200
        await told(alice, bot, "passed our check")
        status, body = await api.post(f"/cases/{case_no}/refunded")
        assert (status, body["status"]) == (200, "refunded")
        await told(alice, bot, "Refunded")
        assert body["refund_amount"] in alice.last.text.replace(",", "")
        status, body = await api.post(f"/cases/{case_no}/close", {"note": "Thank you!"})
        assert (status, body["status"]) == (200, "closed")
        await told(alice, bot, "is closed")

        status, shown = await api.get(f"/cases/{case_no}")
        vias = [e["data"].get("via") for e in shown["events"] if e["data"].get("via")]
        assert vias == ["api", "tracking", "api", "api", "api"]
    assert bot.emu.validation_errors == []


async def test_agents_move_a_case_from_its_topic_and_the_webhook_serves_the_api(
    emulator, shop_url, tmp_path
):
    async with (
        running_bot(emulator, shop_url, tmp_path, webhook=True, api_token=TOKEN,
                    **DESK_SETTINGS) as bot,
        aiohttp.ClientSession() as http,
    ):  # fmt: skip
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await macbook_return(alice, shop_url)
        topic = await escalated(desk)
        await desk.write(desk.lin, topic, "/approve")
        await told(alice, bot, "Approved")

        # Refused in the group's language, and the customer hears nothing of it.
        said = len(alice.messages())
        await desk.write(desk.lin, topic, "/refunded 100")
        await desk.wait(lambda: "现在不能执行「refunded」" in desk.texts(topic))
        await desk.write(desk.lin, topic, "/shipped sf")
        await desk.wait(lambda: "/shipped 快递公司 运单号" in desk.texts(topic))
        assert len(alice.messages()) == said

        await desk.write(desk.lin, topic, "/received the box is dented")
        await told(alice, bot, "has arrived")
        await desk.wait(lambda: "已签收退货 — the box is dented" in desk.texts(topic))
        await desk.write(desk.lin, topic, "/inspected ok")
        await told(alice, bot, "passed our check")
        await desk.write(desk.lin, topic, "/refunded 100")
        await told(alice, bot, "CN¥100.00")
        await desk.write(desk.lin, topic, "/close")
        await told(alice, bot, "is closed")
        await desk.wait(lambda: desk.group.topics[topic].closed)

        # The webhook's server answers the shop's API under /api/, with the token only.
        base = urlparse_base(bot.runtime.settings.webhook_url)
        api = Api(http, f"{base}/api/v1")
        status, _ = await api.get("/cases", headers={"Authorization": "Bearer nope"})
        assert status == 401
        status, listed = await api.get("/cases?status=closed")
        [case] = listed["cases"]
        status, shown = await api.get(f"/cases/{case['case_no']}")
        steps = [(e["kind"], e["actor_id"]) for e in shown["events"]
                 if e["data"].get("via") == "topic"]  # fmt: skip
        assert steps == [("received", AGENT_1), ("inspected_ok", AGENT_1),
                         ("refunded", AGENT_1), ("close", AGENT_1)]  # fmt: skip
        assert shown["refund_amount"] == "100.00"


def urlparse_base(url: str | None) -> str:
    from urllib.parse import urlparse

    parts = urlparse(url or "")
    return f"{parts.scheme}://{parts.netloc}"
