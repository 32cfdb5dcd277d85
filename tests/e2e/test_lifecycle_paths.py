"""Every service's path to its end through the real bot and the emulator: the customer enters
the waybill in the chat, the shop moves the case through the running bot's HTTP API, the
customer is told of each step and, at the end, asked to rate it."""

from __future__ import annotations

import asyncio

import pytest

from storage import migrate
from storage.models import Case
from tests.e2e.harness import Customer, orders_of, seed_demo
from tests.e2e.test_agents import alice_at_menu, rows
from tests.e2e.test_shop_side import Api, bot_with_api, told

ALICE = "+447700900123"
POWER_BANK = "Anker 737 Power Bank (PowerCore 24K), 140W"


@pytest.fixture
async def shop_url(database_url: str) -> str:
    await asyncio.to_thread(migrate.upgrade, database_url)
    await seed_demo(database_url)
    return database_url


async def request(alice: Customer, url: str, item: str, service: str, reason: str) -> None:
    await alice.tap("New request")
    await alice.tap((await orders_of(url, ALICE))[POWER_BANK])
    await alice.tap(item)
    await alice.tap(service)
    if alice.has_button(reason):  # a service with one reason takes it without asking
        await alice.tap(reason)
    if alice.has_button("same model"):  # an exchange: for what
        await alice.tap("same model")
    await alice.say("Please look at the photo")
    await alice.send_photo(b"\xff\xd8\xff" + b"q" * 4000)
    await alice.tap("Done")
    await alice.tap("Confirm")
    assert "Approved" in alice.texts(), alice.texts()


async def case_no(api: Api) -> str:
    _, listed = await api.get("/cases")
    return str(listed["cases"][-1]["case_no"])


async def test_an_exchange_from_the_customers_waybill_to_the_replacement_and_the_survey(
    emulator, shop_url, tmp_path
):
    async with bot_with_api(emulator, shop_url, tmp_path) as (bot, api):
        alice = await alice_at_menu(bot.emu)
        await request(alice, shop_url, "Anker 737", "Exchange", "Quality problem")
        no = await case_no(api)
        await alice.tap("Enter the waybill number")
        await alice.tap("SF Express")
        await alice.say("12345")
        assert "it looks like" in alice.last.text  # explained with an example, asked again
        await alice.say("SF 1234 5678 9012 3")
        await told(alice, bot, "is recorded")
        assert "SF1234567890123" in alice.texts()
        for step, said in (("received", "has arrived"), ("inspected", "passed our check")):
            status, _ = await api.post(f"/cases/{no}/{step}", {"ok": True})
            assert status == 200
            await told(alice, bot, said)
        status, body = await api.post(f"/cases/{no}/shipped",
                                      {"carrier": "jd", "waybill": "JDVA12345678901"})  # fmt: skip
        assert (status, body["status"]) == (200, "exchange_shipped")
        await told(alice, bot, "JDVA12345678901")
        assert "Your replacement" in alice.last.text and "on its way" in alice.last.text
        await api.post(f"/cases/{no}/close")
        await told(alice, bot, "How would you rate")
        await alice.tap("5 · Excellent")
        assert "attitude" in alice.last.text
    [case] = await rows(shop_url, Case)
    assert (case.status, case.carrier, case.waybill) == ("closed", "sf", "SF1234567890123")
    assert bot.emu.validation_errors == []


async def test_an_unrepairable_repair_is_refunded_and_missing_parts_are_reshipped(
    emulator, shop_url, tmp_path
):
    async with bot_with_api(emulator, shop_url, tmp_path) as (bot, api):
        alice = await alice_at_menu(bot.emu)
        await request(alice, shop_url, "Anker 737", "Repair", "Quality problem")
        repair = await case_no(api)
        for step in ("received", "inspected"):
            assert (await api.post(f"/cases/{repair}/{step}", {"ok": True}))[0] == 200
        status, body = await api.post(f"/cases/{repair}/refunded")
        assert (status, body["error"]) == (409, "not_now")  # a repair is not refunded...
        status, _ = await api.post(f"/cases/{repair}/unrepairable", {"resolution": "refund"})
        assert status == 200
        await told(alice, bot, "cannot be repaired")
        status, body = await api.post(f"/cases/{repair}/refunded")  # ...unless it cannot be done
        assert (status, body["status"]) == (200, "refunded")
        await told(alice, bot, "Refunded")

        await alice.tap("Main menu")
        await request(alice, shop_url, "Merino wool scarf", "Send missing parts",
                      "Missing parts")  # fmt: skip
        parts = await case_no(api)
        assert parts != repair
        status, body = await api.post(f"/cases/{parts}/shipped",
                                      {"carrier": "ems", "waybill": "EA123456789CN"})  # fmt: skip
        assert (status, body["status"]) == (200, "exchange_shipped")
        await told(alice, bot, "The missing parts")
    statuses = sorted((c.service, c.status) for c in await rows(shop_url, Case))
    assert statuses == [("missing_parts", "exchange_shipped"), ("repair", "refunded")]
    assert bot.emu.validation_errors == []
