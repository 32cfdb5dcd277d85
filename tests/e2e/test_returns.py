"""A return after its approval, through the real bot and the Bot API emulator: the parcel's
instructions, the waybill typed with a wrong and then a right SF number, /status showing the
parcel on its way with the timeline; a request cancelled before the parcel leaves."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.emulator.server import EmulatorServer
from storage import migrate
from storage.db import Database
from storage.models import Case
from tests.e2e.harness import Customer as Tg
from tests.e2e.harness import orders_of, running_bot, seed_demo

ALICE = "+447700900123"
WANG = "+8613800138000"
POWER_BANK = "Anker 737 Power Bank (PowerCore 24K), 140W"  # freight insurance 15.00
REDMI = "Redmi Note 14 Pro 5G 手机 8+256GB 黑"
SF_OK = "SF1234567890123"


@pytest.fixture
async def shop_url(database_url: str) -> str:
    await asyncio.to_thread(migrate.upgrade, database_url)
    await seed_demo(database_url)
    return database_url


async def the_case(url: str) -> Case:
    db = Database(url)
    try:
        async with db.read() as s:
            case = (await s.scalars(select(Case).order_by(Case.id.desc()))).first()
            assert case is not None
            s.expunge_all()
            return case
    finally:
        await db.dispose()


async def at_menu(emu, phone: str, language: str) -> Tg:
    person = Tg(emu, emu.create_user(first_name="Customer", language_code=language))
    await person.say("/start", expect=2)
    await person.share_contact(phone, expect=2)
    return person


async def test_a_return_from_approval_to_the_parcel_on_its_way(
    emulator: EmulatorServer, shop_url, tmp_path
):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        alice = await at_menu(bot.emu, ALICE, "en")
        await alice.tap("New request")
        await alice.tap((await orders_of(shop_url, ALICE))[POWER_BANK])
        await alice.tap("Anker 737")
        await alice.tap("Return and refund")
        await alice.tap("Quality problem")
        await alice.say("It stops charging after a minute")
        await alice.send_photo(b"\xff\xd8\xff" + b"p" * 5000)
        await alice.tap("Done")
        await alice.tap("Confirm")
        approval = next(m for m in alice.messages() if "Approved" in (m.text or ""))
        assert "Address: 88 Example Road" in approval.text and "by " in approval.text
        assert "We pay the return postage" in approval.text
        await alice.tap("Enter the waybill number")
        await alice.tap("SF Express")
        await alice.say("SF12")
        assert "is not a waybill number of SF Express" in alice.last.text
        assert SF_OK in alice.last.text
        assert (await the_case(shop_url)).status == "awaiting_return"
        await alice.say(SF_OK, expect=2)  # recorded, and the menu
        assert f"SF Express {SF_OK} is recorded" in alice.texts()
        await alice.say("/status", expect=2)
        listing = next(m for m in reversed(alice.messages()) if "Your requests" in (m.text or ""))
        assert "parcel on its way" in listing.text
        for step in ("submitted", "approved", f"parcel sent back: SF Express {SF_OK}"):
            assert step in listing.text, listing.text
        assert "Next: we tell you when the parcel arrives." in listing.text
        assert bot.emu.unanswered_callbacks() == []
    case = await the_case(shop_url)
    assert (case.status, case.carrier, case.waybill, case.warehouse) == (
        "in_transit", "sf", SF_OK, "main",
    )  # fmt: skip


async def test_in_chinese_a_wrong_number_then_the_right_one_and_the_status(
    emulator: EmulatorServer, shop_url, tmp_path
):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        wang = await at_menu(bot.emu, WANG, "zh")
        await wang.tap("申请售后")
        await wang.tap((await orders_of(shop_url, WANG))[REDMI])
        await wang.tap("退货退款")
        await wang.tap("质量问题")
        await wang.say("屏幕一直闪烁")
        await wang.send_photo(b"\xff\xd8\xff" + b"q" * 5000)
        await wang.tap("完成")
        await wang.tap("确认提交")
        assert "寄回地址：上海市浦东新区示例路 88 号" in wang.texts()
        await wang.tap("填写退货运单号")
        await wang.tap("顺丰速运")
        await wang.say("123")
        assert "不是顺丰速运的运单号" in wang.last.text and SF_OK in wang.last.text
        await wang.say(SF_OK, expect=2)
        assert (await the_case(shop_url)).status == "in_transit"
        await wang.say("/status", expect=2)
        listing = next(m for m in reversed(wang.messages()) if "您的售后单" in (m.text or ""))
        assert "退货运输中" in listing.text and f"已寄回：顺丰速运 {SF_OK}" in listing.text
        assert "下一步：包裹到达后我们会通知您。" in listing.text


async def test_an_exchange_with_freight_insurance_is_cancelled_before_it_is_sent(
    emulator: EmulatorServer, shop_url, tmp_path
):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        alice = await at_menu(bot.emu, ALICE, "en")
        await alice.tap("New request")
        await alice.tap((await orders_of(shop_url, ALICE))[POWER_BANK])
        for label in ("Merino wool scarf", "Exchange", "Wrong size or colour"):
            await alice.tap(label)
        await alice.say("L, navy")
        for label in ("Yes", "Yes", "Skip", "Confirm"):
            await alice.tap(label)
        text = alice.texts()
        assert "You pay the return postage" in text
        assert "freight insurance covers the return postage up to CN¥15.00" in text
        case = await the_case(shop_url)
        await alice.say("/status", expect=2)
        await alice.tap(f"Cancel {case.case_no}")
        assert f"Cancel request {case.case_no}" in alice.last.text
        await alice.tap("Yes", expect=2)
        assert f"Request {case.case_no} is cancelled." in alice.texts()
        assert bot.emu.unanswered_callbacks() == []
    assert (await the_case(shop_url)).status == "cancelled"
