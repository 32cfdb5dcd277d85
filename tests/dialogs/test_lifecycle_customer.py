"""After the decision, as the customer lives it: the return's instructions (the warehouse's
address, the freight insurance, the deadline), the waybill typed in the chat, courier pickup,
"My requests" with each case's timeline and next step, cancelling, and buttons naming a case
that is not theirs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.errors import StartupError
from bot.settings import Settings
from bot.warehouses import load_warehouses, read_warehouses
from dialogs.clock import FrozenClock
from dialogs.customer import ReturnAddress, Warehouses
from dialogs.events import CallbackAnswer
from dialogs.flow import State
from dialogs.lifecycle.steps import Step
from dialogs.paths import POLICIES_DIR
from dialogs.policy import load_policy
from storage.db import Database
from storage.models import Case, CaseEvent, Conversation, Order
from tests.dialogs.harness import RETURNS, Chat, make_service
from tests.dialogs.harness import Service as ConversationService
from tests.dialogs.shop_data import WANG_PHONE, Shop, build_shop
from tests.factories import make_case, make_customer, make_order

SZ = ReturnAddress(
    address={"zh": "深圳市南山区示例大道 1 号", "en": "1 Example Avenue, Nanshan, Shenzhen"},
    recipient={"zh": "深圳仓", "en": "Shenzhen warehouse"},
    phone="0755-5555-0100",
)
STOCK = Warehouses({"main": RETURNS, "sz": SZ})
SF_OK = "SF1234567890123"


def profile(tmp_path: Path, **changes: dict[str, object]) -> str:
    """The standard profile with some services or categories changed, as a file."""
    spec = yaml.safe_load((POLICIES_DIR / "standard.yaml").read_text(encoding="utf-8"))
    for where, values in changes.items():
        section, name = where.split("__")
        spec[section].setdefault(name, {}).update(values)
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return str(path)


@pytest.fixture
async def shop(db: Database) -> Shop:
    return await build_shop(db)


async def identified(service: ConversationService, user_id: int = 501, lang: str = "en") -> Chat:
    chat = Chat(service, user_id=user_id, language_code=lang)
    await chat.command("start")
    await chat.contact(WANG_PHONE)
    return chat


async def approved_phone_return(chat: Chat, order_no: str) -> None:
    """A return of the phone for a quality problem, approved at once (we pay the postage)."""
    await chat.press("New request" if chat.language_code == "en" else "申请售后")
    await chat.text(order_no)
    await chat.press("Return and refund" if chat.language_code == "en" else "退货退款")
    await chat.press("Quality problem" if chat.language_code == "en" else "质量问题")
    await chat.text("The screen flickers all the time")
    await chat.photos(1)
    await chat.press("Done" if chat.language_code == "en" else "完成")
    await chat.press("Confirm" if chat.language_code == "en" else "确认提交")


async def the_case(db: Database, case_no: str | None = None) -> Case:
    async with db.read() as s:
        query = select(Case).order_by(Case.id.desc())
        if case_no:
            query = query.where(Case.case_no == case_no)
        case = (await s.scalars(query)).first()
        assert case is not None
        s.expunge_all()  # readable after the session closes
        return case


async def event_kinds(db: Database, case_id: int) -> list[str]:
    async with db.read() as s:
        rows = await s.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)
                               .order_by(CaseEvent.id))  # fmt: skip
        return list(rows.all())


async def state_of(db: Database, chat: Chat) -> str:
    async with db.read() as s:
        conv = await s.scalar(select(Conversation).where(Conversation.chat_id == chat.chat_id))
        assert conv is not None
        return conv.state


# ----------------------------------------------------------------------------- the approval


async def test_the_approval_says_where_to_send_it_what_is_covered_and_by_when(
    db: Database, shop: Shop, clock: FrozenClock, tmp_path: Path
):
    service = make_service(db, clock, profile(tmp_path, categories__apparel={"warehouse": "sz"}),
                           warehouses=STOCK)  # fmt: skip
    async with db.transaction() as s:
        order = await s.scalar(select(Order).where(Order.order_no == shop.orders["shirts"]))
        assert order is not None
        order.freight_insurance = Decimal("12.00")
    chat = await identified(service)
    await chat.press("New request")
    await chat.text(shop.orders["shirts"])
    await chat.press("Linen shirt")
    await chat.press("1")
    await chat.press("Exchange")
    await chat.press("Wrong size or colour")
    await chat.text("XL")
    for label in ("Yes", "Yes", "Skip", "Confirm"):
        await chat.press(label)
    text = chat.texts_since(chat.last_out)
    case = await the_case(db)
    # The apparel category's warehouse, not the main one; the case keeps which it is.
    assert "1 Example Avenue, Nanshan, Shenzhen" in text and "0755-5555-0100" in text
    assert "88 Example Road" not in text
    assert (case.warehouse, case.status) == ("sz", "awaiting_return")
    assert case.return_address == SZ.line("en")
    # The customer pays the postage back; the order's freight insurance covers it up to 12.
    assert "You pay the return postage" in text
    assert "freight insurance covers the return postage up to CN¥12.00" in text
    # The ship-back clock's deadline (7 days from Thursday 26 November), said once.
    assert case.details["ship_by"].startswith("2026-12-03") and text.count("Dec 3, 2026") == 1
    assert f"request number {case.case_no}" in text
    approval = next(m for m in chat.messages if "Approved" in m.text)
    assert [b.data for row in approval.buttons for b in row] == [f"lc:waybill:{case.id}"]


async def test_a_return_paid_by_the_shop_says_nothing_of_insurance_in_chinese(
    service: ConversationService, shop: Shop, db: Database
):
    async with db.transaction() as s:
        order = await s.scalar(select(Order).where(Order.order_no == shop.orders["phone"]))
        assert order is not None
        order.freight_insurance = Decimal("12.00")
    chat = await identified(service, lang="zh")
    await approved_phone_return(chat, shop.orders["phone"])
    text = chat.texts_since(chat.last_out)
    assert "上海市浦东新区示例路 88 号" in text and "2026年12月3日" in text
    assert "运费险" not in text  # we pay the postage anyway
    assert (await the_case(db)).warehouse == "main"


# ----------------------------------------------------------------------------- the waybill


async def test_a_wrong_waybill_number_is_explained_and_asked_again_then_taken(
    service: ConversationService, shop: Shop, db: Database
):
    chat = await identified(service)
    await approved_phone_return(chat, shop.orders["phone"])
    await chat.press("Enter the waybill number")
    assert "Which carrier" in chat.last_text
    assert chat.has_button("SF Express") and chat.has_button("ZTO Express")
    assert chat.has_button("Other carrier")
    await chat.press("SF Express")
    assert "type the SF Express waybill number" in chat.last_text
    await chat.text("12345")
    said = chat.texts_since(chat.last_out)
    assert "“12345” is not a waybill number of SF Express" in said and SF_OK in said
    assert await state_of(db, chat) == State.WAYBILL_NUMBER  # asked again
    case = await the_case(db)
    assert (case.status, case.waybill) == ("awaiting_return", None)
    await chat.text("sf 1234 5678 9012 3")
    said = chat.texts_since(chat.last_out)
    assert f"SF Express {SF_OK} is recorded" in said.replace("<code>", "").replace("</code>", "")
    case = await the_case(db)
    assert (case.status, case.carrier, case.waybill) == ("in_transit", "sf", SF_OK)
    assert await state_of(db, chat) == State.MENU
    assert "How can I help?" in chat.last_text
    kinds = await event_kinds(db, case.id)
    assert kinds[-1] == "waybill"


async def test_the_number_typed_at_the_carrier_question_names_its_carrier(
    service: ConversationService, shop: Shop, db: Database
):
    chat = await identified(service)
    await approved_phone_return(chat, shop.orders["phone"])
    await chat.press("Enter the waybill number")
    await chat.text("123456789012345")  # ZTO, STO, Best...: which one?
    assert "pick the carrier first" in chat.texts_since(chat.last_out)
    await chat.text("JDVA12345678901")  # only JD Logistics writes JD…
    case = await the_case(db)
    assert (case.status, case.carrier, case.waybill) == ("in_transit", "jd", "JDVA12345678901")


async def test_back_and_menu_leave_the_waybill_questions(
    service: ConversationService, shop: Shop, db: Database
):
    chat = await identified(service)
    await approved_phone_return(chat, shop.orders["phone"])
    await chat.press("Enter the waybill number")
    await chat.press("EMS")
    await chat.command("back")
    assert "Which carrier" in chat.last_text
    await chat.press("Back")
    assert await state_of(db, chat) == State.MENU
    await chat.press("Enter the waybill number")
    await chat.press("YTO Express")
    await chat.command("menu")
    assert await state_of(db, chat) == State.MENU
    await chat.press("Enter the waybill number")
    await chat.command("cancel")  # leaves the question; the case stays as it is
    assert (await the_case(db)).status == "awaiting_return"


async def test_a_number_used_on_another_case_goes_to_a_person(
    service: ConversationService, shop: Shop, db: Database
):
    async with db.transaction() as s:
        other = await make_customer(s, phone="+8613700000001", name="李雷")
        order = await make_order(s, other)
        await make_case(s, order, case_no="AS-20261120-0009", status="in_transit",
                        carrier="sf", waybill=SF_OK)  # fmt: skip
    chat = await identified(service)
    await approved_phone_return(chat, shop.orders["phone"])
    await chat.press("Enter the waybill number")
    await chat.press("SF Express")
    await chat.text(SF_OK)
    said = chat.texts_since(chat.last_out)
    assert "already recorded on another request" in said and "a person will check it" in said
    assert "AS-20261120-0009" not in said  # another customer's case stays theirs
    case = await the_case(db)
    assert (case.status, case.waybill) == ("awaiting_return", None)
    assert case.handed_over_at is not None and case.desk == "queued"
    assert await state_of(db, chat) == State.WITH_AGENT
    assert "waybill_used" in await event_kinds(db, case.id)


# ----------------------------------------------------------------------------- my requests


async def test_status_shows_the_timeline_and_the_next_step_with_its_deadline(
    service: ConversationService, shop: Shop, db: Database
):
    chat = await identified(service)
    await approved_phone_return(chat, shop.orders["phone"])
    case = await the_case(db)
    await chat.command("status")
    [listing] = [m for m in chat.messages if "Your requests" in m.text]
    assert case.case_no in listing.text and "waiting for your parcel" in listing.text
    assert "submitted" in listing.text and "approved" in listing.text
    assert "Next: send the parcel by Dec 3, 2026 and enter its waybill number." in listing.text
    data = [b.data for row in listing.buttons for b in row]
    assert data == [f"lc:waybill:{case.id}", f"lc:cancel:{case.id}"]
    await chat.press("Waybill for", message=listing)
    await chat.press("SF Express")
    await chat.text(SF_OK)
    await chat.command("status")
    text = chat.texts_since(chat.last_out)
    assert "parcel on its way" in text and f"parcel sent back: SF Express <code>{SF_OK}" in text
    assert "Next: we tell you when the parcel arrives." in text
    last = next(m for m in reversed(chat.messages) if "Your requests" in m.text)
    assert last.buttons == []  # nothing left for the customer to do


async def test_a_request_can_be_cancelled_before_the_parcel_is_sent(
    service: ConversationService, shop: Shop, db: Database
):
    chat = await identified(service)
    await approved_phone_return(chat, shop.orders["phone"])
    case = await the_case(db)
    await chat.command("status")
    await chat.press(f"Cancel {case.case_no}")
    assert f"Cancel request <code>{case.case_no}</code>" in chat.last_text
    await chat.press("No")
    assert "stays open" in chat.texts_since(chat.last_out)
    assert (await the_case(db)).status == "awaiting_return"
    await chat.command("status")
    await chat.press(f"Cancel {case.case_no}")
    await chat.press("Yes")
    assert "is <b>cancelled</b>" in chat.texts_since(chat.last_out)
    case = await the_case(db)
    assert case.status == "cancelled"
    assert (await event_kinds(db, case.id))[-1] == "cancel"
    assert await state_of(db, chat) == State.MENU


async def test_cancelling_is_refused_once_the_parcel_is_on_its_way(
    service: ConversationService, shop: Shop, db: Database
):
    chat = await identified(service)
    await approved_phone_return(chat, shop.orders["phone"])
    case = await the_case(db)
    await chat.command("status")
    listing = chat.messages[-2]  # the list, then the question of where the customer is
    assert "Your requests" in listing.text
    await chat.press("Enter the waybill number")
    await chat.press("SF Express")
    await chat.text(SF_OK)
    await chat.press(f"Cancel {case.case_no}", message=listing)  # an old button
    assert "can no longer be cancelled: its status is “parcel on its way”" in chat.texts_since(
        chat.last_out
    )
    assert (await the_case(db)).status == "in_transit"


async def test_a_confirmation_pending_when_the_case_moves_on_changes_nothing(
    service: ConversationService, shop: Shop, db: Database
):
    chat = await identified(service)
    await approved_phone_return(chat, shop.orders["phone"])
    case = await the_case(db)
    await chat.command("status")
    await chat.press(f"Cancel {case.case_no}")
    await service.work.step(case.case_no, Step("waybill", carrier="sf", number=SF_OK))  # shop's
    await chat.press("Yes")
    assert "can no longer be cancelled" in chat.texts_since(chat.last_out)
    assert (await the_case(db)).status == "in_transit"


async def test_a_button_naming_another_customers_case_is_refused(
    service: ConversationService, shop: Shop, db: Database
):
    async with db.transaction() as s:
        order = await s.scalar(select(Order).where(Order.order_no == shop.orders["alice"]))
        assert order is not None
        alices = await make_case(s, order, status="awaiting_return")
        alices_id, alices_no = alices.id, alices.case_no
    chat = await identified(service)
    for action in ("waybill", "cancel", "pickup", "nonsense"):
        before = len(chat.messages)
        await chat.press_data(f"lc:{action}:{alices_id}")
        [answer] = [o for o in chat.last_out if isinstance(o, CallbackAnswer)]
        assert answer.text == "This button is out of date. Please use the latest message."
        assert len(chat.messages) == before
    assert (await the_case(db, alices_no)).status == "awaiting_return"
    assert await state_of(db, chat) == State.MENU


async def test_a_stranger_cannot_press_a_case_button(
    service: ConversationService, shop: Shop, db: Database
):
    async with db.transaction() as s:
        order = await s.scalar(select(Order).where(Order.order_no == shop.orders["phone"]))
        assert order is not None
        case = await make_case(s, order, status="awaiting_return")
        case_id, case_no = case.id, case.case_no
    stranger = Chat(service, user_id=999, language_code="en")
    await stranger.command("start")
    await stranger.press_data(f"lc:cancel:{case_id}")
    [answer] = [o for o in stranger.last_out if isinstance(o, CallbackAnswer)]
    assert answer.text and "out of date" in answer.text
    assert (await the_case(db, case_no)).status == "awaiting_return"


# ----------------------------------------------------------------------------- courier pickup


async def test_courier_pickup_asks_a_day_and_a_time_and_keeps_them(
    db: Database, shop: Shop, clock: FrozenClock, tmp_path: Path
):
    path = profile(tmp_path, services__return={"return_method": "pickup"})
    service = make_service(db, clock, path)
    chat = await identified(service)
    await approved_phone_return(chat, shop.orders["phone"])
    text = chat.texts_since(chat.last_out)
    assert "a courier will collect the item" in text and "88 Example Road" not in text
    # The next three working days after Thursday 26 November 2026.
    assert "When should a courier collect the parcel" in chat.last_text
    assert chat.button_labels()[:3] == ["Nov 27, 2026", "Nov 30, 2026", "Dec 1, 2026"]
    await chat.press("Nov 30, 2026")
    assert "At what time on Nov 30, 2026?" in chat.last_text
    assert chat.button_labels()[:3] == ["9:00–12:00", "12:00–15:00", "15:00–18:00"]
    await chat.press("12:00–15:00")
    said = chat.texts_since(chat.last_out)
    assert "a courier will collect the parcel" in said and "Nov 30, 2026, 12:00–15:00" in said
    case = await the_case(db)
    assert case.details["pickup"]["day"] == "2026-11-30"
    assert case.details["pickup"]["window"] == "12-15"
    assert "pickup_booked" in await event_kinds(db, case.id)
    await chat.command("status")
    listing = next(m for m in reversed(chat.messages) if "Your requests" in m.text)
    assert "courier pickup booked: Nov 30, 2026, 12:00–15:00" in listing.text
    assert "Next: a courier collects the parcel on Nov 30, 2026, 12:00–15:00." in listing.text
    assert any("Pickup time for" in b.text for row in listing.buttons for b in row)


async def test_pickup_is_not_offered_where_the_customer_sends_the_parcel(
    service: ConversationService, shop: Shop, db: Database
):
    chat = await identified(service)
    await approved_phone_return(chat, shop.orders["phone"])
    case = await the_case(db)
    await chat.press_data(f"lc:pickup:{case.id}")
    assert "not collected by a courier" in chat.texts_since(chat.last_out)
    assert "pickup" not in (await the_case(db)).details


# ----------------------------------------------------------------------------- configuration


def test_warehouses_come_from_a_file_and_the_profile_must_name_known_ones(tmp_path: Path):
    file = tmp_path / "warehouses.yaml"
    file.write_text(yaml.safe_dump({
        "sz": {"address": {"zh": "深圳市南山区示例大道 1 号"}, "recipient": "深圳仓",
               "phone": "0755-5555-0100"},
        "main": {"address": {"zh": "上海", "en": "Shanghai"}, "phone": "021"},
    }, allow_unicode=True), encoding="utf-8")  # fmt: skip
    stock = read_warehouses(file)
    assert stock.default == "main" and set(stock.by_code) == {"sz", "main"}
    assert stock.get("sz").for_locale("en") == ("深圳市南山区示例大道 1 号", "深圳仓")
    assert stock.get("nowhere") is stock.get("main")
    named = load_policy(profile(tmp_path, services__repair={"warehouse": "bj"}))
    settings = Settings(_env_file=None, warehouses=str(file))
    with pytest.raises(StartupError) as found:
        load_warehouses(settings, named)
    assert str(found.value).startswith("POLICY: services.repair.warehouse names warehouse 'bj'")
    with pytest.raises(StartupError, match="WAREHOUSES is not set"):
        load_warehouses(Settings(_env_file=None), named)
    one = load_warehouses(Settings(_env_file=None), load_policy("standard"))
    assert list(one.by_code) == ["main"] and "88" in one.get(None).line("zh")
    file.write_text("sz: {adress: x}", encoding="utf-8")
    with pytest.raises(StartupError, match="unknown key 'adress'"):
        read_warehouses(file)
    file.write_text("[1, 2", encoding="utf-8")
    with pytest.raises(StartupError, match="not valid YAML or JSON"):
        read_warehouses(file)
