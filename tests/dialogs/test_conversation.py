"""Whole conversations through the conversation service, as a customer lives them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from dialogs.clock import FrozenClock
from dialogs.events import CallbackAnswer, Event, Reply
from storage.db import Database
from storage.models import Case, CaseEvent, Conversation, Evidence, Order, Outbox
from storage.models import Customer as CustomerRow
from tests.dialogs.conftest import NOW
from tests.dialogs.harness import Chat, make_service
from tests.dialogs.harness import Service as ConversationService
from tests.dialogs.shop_data import WANG_PHONE, Shop, build_shop
from tests.factories import make_case, make_customer, make_order


@pytest.fixture
async def shop(db: Database) -> Shop:
    return await build_shop(db)


async def identified(service: ConversationService, user_id: int = 501, lang: str = "en") -> Chat:
    chat = Chat(service, user_id=user_id, language_code=lang)
    await chat.command("start")
    await chat.contact(WANG_PHONE)
    return chat


async def open_item(chat: Chat, order_no: str, item: str | None = None) -> None:
    await chat.press("New request")
    await chat.text(order_no)
    if item:
        await chat.press(item)


async def cases(db: Database) -> list[Case]:
    async with db.transaction() as s:
        return list((await s.scalars(select(Case).order_by(Case.id))).all())


async def count(db: Database, model: type) -> int:
    async with db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


# ----------------------------------------------------------------------------- identification


async def test_contact_identifies_and_opens_the_menu(service, shop):
    chat = Chat(service, user_id=501, language_code="en")
    await chat.command("start")
    assert "share your phone number" in chat.last_text
    await chat.contact("+86 138 0013 8000")
    assert "Thank you, 王小明" in "\n".join(m.text for m in chat.messages)
    assert chat.has_button("New request")


async def test_someone_elses_contact_is_refused(service, shop):
    chat = Chat(service, user_id=501, language_code="en")
    await chat.command("start")
    await chat.contact(WANG_PHONE, user_id=999)
    assert "only <b>your own</b> contact" in chat.texts_since(chat.last_out)
    await chat.command("status")
    assert "identify yourself first" in chat.texts_since(chat.last_out)


async def test_order_number_and_last_four_digits(service, shop):
    chat = Chat(service, user_id=502, language_code="en")
    await chat.command("start")
    await chat.text(shop.orders["phone"])
    assert "last four digits" in chat.last_text
    await chat.text("8000")
    assert chat.has_button("New request")


async def test_someone_elses_order_number_gets_nowhere(service, shop):
    chat = Chat(service, user_id=503, language_code="en")
    await chat.command("start")
    await chat.text(shop.orders["alice"])  # Alice's order, but Wang's phone digits
    await chat.text("8000")
    assert "don't match" in chat.texts_since(chat.last_out)
    await chat.command("status")
    assert "identify yourself first" in chat.texts_since(chat.last_out)


async def test_unknown_order_number_looks_the_same_as_a_wrong_one(service, shop):
    chat = Chat(service, user_id=504, language_code="en")
    await chat.command("start")
    await chat.text("DD0000000000000")
    assert "last four digits" in chat.last_text  # no hint whether the order exists
    await chat.text("8000")
    assert "don't match" in chat.texts_since(chat.last_out)


async def test_five_wrong_guesses_lock_the_chat_and_the_order(service, shop, clock):
    chat = Chat(service, user_id=505, language_code="en")
    await chat.command("start")
    for _ in range(5):
        await chat.text(shop.orders["phone"])
        await chat.text("1111")
    assert "Too many failed attempts" in chat.texts_since(chat.last_out)
    await chat.text(shop.orders["phone"])
    assert "last four digits" not in chat.last_text  # this chat is locked for 30 minutes
    clock.advance(timedelta(minutes=31))
    # The chat may try again, but that order was guessed at five times: only a contact now.
    await chat.text(shop.orders["phone"])
    assert "cannot be confirmed with phone digits" in chat.texts_since(chat.last_out)
    await chat.text(shop.orders["kettle"])  # another order of the same customer still works
    await chat.text("8000")
    assert chat.has_button("New request")


async def test_guessing_from_fresh_accounts_does_not_get_in(service, shop, db):
    """Three accounts guess five times each; a fourth with the right digits is not let in,
    and the customer's own Telegram link stays where it was."""
    owner = await identified(service, user_id=600)  # Wang shared his contact from 600
    for n in range(3):
        guesser = Chat(service, user_id=601 + n, language_code="en")
        await guesser.command("start")
        for _ in range(5):
            await guesser.text(shop.orders["phone"])
            if "last four digits" not in guesser.last_text:
                break
            await guesser.text(f"{1000 + n}")
    lucky = Chat(service, user_id=610, language_code="en")
    await lucky.command("start")
    await lucky.text(shop.orders["phone"])
    assert "cannot be confirmed with phone digits" in lucky.texts_since(lucky.last_out)
    assert not lucky.has_button("New request")
    async with db.read() as s:
        wang = await s.get(CustomerRow, shop.wang_id)
        assert wang.telegram_user_id == 600
    await owner.command("menu")
    assert owner.has_button("New request")


async def test_guesses_spread_over_a_customers_orders_lock_them_all(service, shop):
    orders = [shop.orders[k] for k in ("phone", "shirts", "portrait", "old_phone", "laptop")]
    for n, order_no in enumerate(orders):  # two guesses on each, from a fresh account each
        guesser = Chat(service, user_id=630 + n, language_code="en")
        await guesser.command("start")
        for guess in ("1111", "2222"):
            await guesser.text(order_no)
            await guesser.text(guess)
    lucky = Chat(service, user_id=640, language_code="en")
    await lucky.command("start")
    await lucky.text(shop.orders["kettle"])  # never guessed at, but the customer's: locked
    assert "cannot be confirmed with phone digits" in lucky.texts_since(lucky.last_out)
    await lucky.contact(WANG_PHONE)  # the customer's own contact still works
    assert lucky.has_button("New request")


async def test_right_digits_do_not_take_a_contact_verified_link(service, shop, db):
    await identified(service, user_id=620)
    other = Chat(service, user_id=621, language_code="en")
    await other.command("start")
    await other.text(shop.orders["phone"])
    await other.text("8000")
    assert other.has_button("New request")  # this chat is identified...
    async with db.read() as s:  # ...but the contact-verified account keeps the link
        assert (await s.get(CustomerRow, shop.wang_id)).telegram_user_id == 620


# ----------------------------------------------------------------------------- services


async def test_return_for_a_quality_problem_is_approved_with_instructions(service, shop, db):
    chat = await identified(service)
    await open_item(chat, shop.orders["phone"])
    assert chat.has_button("Return and refund")
    await chat.press("Return and refund")
    await chat.press("Quality problem")
    await chat.text("Dead pixels in the middle of the screen")
    assert "at least 1 photo (an album is fine)" in chat.last_text
    await chat.photos(2)
    await chat.press("Done")
    assert "Please check your request" in chat.last_text
    assert "can be approved straight away" in chat.last_text
    await chat.press("Confirm")
    text = chat.texts_since(chat.last_out)
    assert "Approved" in text and "AS-20261126-0001" in text
    assert "88 Example Road, Pudong, Shanghai" in text and "021-5555-0188" in text
    assert "上海" not in text  # an English-speaking customer gets the English address
    assert "We pay the return postage" in text
    [case] = await cases(db)
    assert (case.service, case.reason, case.status, case.outcome) == (
        "return",
        "quality",
        "awaiting_return",
        "approve",
    )
    assert (
        case.return_address == "88 Example Road, Pudong, Shanghai After-sales Dept. 021-5555-0188"
    )
    assert case.shipping_paid_by == "merchant"
    assert await count(db, Evidence) == 2


async def test_exchange_of_some_shirts_for_size(service, shop, db):
    chat = await identified(service)
    await open_item(chat, shop.orders["shirts"], "Linen shirt")
    assert "How many" in chat.last_text
    await chat.press("2")
    await chat.press("Exchange")
    await chat.press("Wrong size or colour")
    assert "Which size or colour would you like instead" in chat.last_text
    await chat.text("XL, dark blue")
    assert "unused" in chat.last_text
    await chat.press("Yes")
    assert "packaging" in chat.last_text
    await chat.press("Yes")
    assert "optional" in chat.last_text  # a size swap has no problem to describe
    await chat.press("Skip")
    assert "× 2" in chat.last_text and "XL, dark blue" in chat.last_text
    await chat.press("Confirm")
    [case] = await cases(db)
    assert (case.service, case.quantity, case.status) == ("exchange", 2, "awaiting_return")
    assert case.shipping_paid_by == "customer"
    assert case.details["exchange_for"] == "other_variant"
    assert case.details["exchange_note"] == "XL, dark blue"


async def test_a_faulty_item_is_exchanged_for_the_same_model(service, shop, db):
    chat = await identified(service)
    await open_item(chat, shop.orders["shirts"], "Linen shirt")
    await chat.press("1")
    await chat.press("Exchange")
    await chat.press("Quality problem")
    assert chat.has_button("same model") and chat.has_button("Another size or colour")
    await chat.press("same model")
    await chat.text("The seam came open after one wash")
    await chat.photos(1)
    await chat.press("Done")
    await chat.press("Confirm")
    [case] = await cases(db)
    assert case.details["exchange_for"] == "same_model" and case.shipping_paid_by == "merchant"


async def test_repair_after_the_return_window(service, shop, db):
    chat = await identified(service)
    await open_item(chat, shop.orders["old_phone"])
    services_text = chat.last_text
    assert "Not available" in services_text  # return window passed, with the reason
    assert not chat.has_button("Return and refund")
    await chat.press("Repair")
    await chat.text("Battery drains in an hour")
    await chat.photos(1)
    await chat.press("Done")
    await chat.press("Confirm")
    [case] = await cases(db)
    assert (case.service, case.status) == ("repair", "awaiting_return")


async def test_refund_for_a_parcel_that_never_arrived(service, shop, db):
    chat = await identified(service)
    await open_item(chat, shop.orders["in_transit"])
    await chat.press("Refund only")
    await chat.text("The tracking has not moved for a week")
    await chat.press("Confirm")
    [case] = await cases(db)
    assert (case.service, case.reason) == ("refund", "not_received")
    assert case.return_address is None  # nothing comes back


async def test_missing_parts_are_reshipped(service, shop, db):
    chat = await identified(service)
    await open_item(chat, shop.orders["kettle"])
    await chat.press("Send missing parts")
    await chat.text("The base plate was not in the box")
    await chat.photos(1)
    await chat.press("Done")
    await chat.press("Confirm")
    [case] = await cases(db)
    assert (case.service, case.reason, case.status) == (
        "missing_parts",
        "missing_parts",
        "approved",
    )


async def quality_return_to_summary(chat: Chat, order_no: str, description: str) -> None:
    """From the menu to the summary of a return for a quality problem, with one photo."""
    await open_item(chat, order_no)
    await chat.press("Return and refund")
    await chat.press("Quality problem")
    await chat.text(description)
    await chat.photos(1)
    await chat.press("Done")


async def test_high_value_goes_to_a_person(service, shop, db):
    chat = await identified(service)
    await quality_return_to_summary(chat, shop.orders["laptop"], "Keyboard has dead keys")
    assert "A person will decide on this request" in chat.last_text
    await chat.press("Confirm")
    assert "A person from our team will review it" in chat.texts_since(chat.last_out)
    [case] = await cases(db)
    assert (case.status, case.outcome) == ("pending_review", "needs_agent")
    assert case.needs_agent_reason and "order_value" in case.needs_agent_reason


@pytest.mark.parametrize(("days_ago", "to_a_person"), [(10, True), (200, False)])
async def test_a_fourth_claim_in_the_lookback_goes_to_a_person(
    service, shop, db, days_ago, to_a_person
):
    # The standard profile: the customer's 4th claim within 90 days is for a person to review.
    async with db.transaction() as s:
        order = await s.scalar(
            select(Order)
            .where(Order.order_no == shop.orders["shirts"])
            .options(selectinload(Order.items))
        )
        for _ in range(3):
            await make_case(s, order, created_at=NOW - timedelta(days=days_ago))
    chat = await identified(service)
    await quality_return_to_summary(chat, shop.orders["phone"], "Dead pixels in the middle")
    await chat.press("Confirm")
    case = (await cases(db))[-1]
    if to_a_person:
        assert (case.status, case.outcome) == ("pending_review", "needs_agent")
        assert "repeat_claims" in (case.needs_agent_reason or "")
    else:
        assert (case.status, case.outcome) == ("awaiting_return", "approve")


async def test_refusal_offers_alternatives_and_one_tap_picks_one(service, shop, db):
    chat = await identified(service)
    await open_item(chat, shop.orders["shirts"], "Wool socks")
    await chat.press("Return and refund")
    await chat.press("Changed my mind")
    await chat.press("No")  # accessories not complete: the no-reason return does not apply
    await chat.press("Skip")
    # A claim the policy refuses is not offered for submission: the reason and what is open.
    assert not chat.has_button("Confirm")
    assert chat.has_button("Exchange instead") and chat.has_button("Ask a person")
    assert await cases(db) == []
    await chat.press("Exchange instead")
    assert "Exchange: what is the reason?" in chat.last_text
    await chat.press("Wrong size or colour")
    await chat.text("M")
    await chat.press("Yes")
    await chat.press("Yes")
    await chat.press("Skip")
    await chat.press("Confirm")
    # One request, continued with the other service; a refusal is no claim against the shop.
    assert [(c.service, c.status) for c in await cases(db)] == [("exchange", "awaiting_return")]


async def test_a_refused_request_can_go_to_a_person(service, shop, db):
    chat = await identified(service)
    await open_item(chat, shop.orders["shirts"], "Wool socks")
    await chat.press("Return and refund")
    await chat.press("Changed my mind")
    await chat.press("No")
    await chat.press("Skip")
    await chat.press("Ask a person")
    [case] = await cases(db)
    assert (case.status, case.outcome) == ("pending_review", "needs_agent")
    assert "customer_asked" in case.rules


async def test_a_second_request_for_an_item_points_to_its_open_case(service, shop, db):
    chat = await identified(service)
    await open_item(chat, shop.orders["phone"])
    await chat.press("Return and refund")
    await chat.press("Quality problem")
    await chat.text("Dead pixels")
    await chat.photos(1)
    await chat.press("Done")
    await chat.press("Confirm")
    [case] = await cases(db)
    await chat.command("menu")
    await open_item(chat, shop.orders["phone"])
    assert f"already has a request under way: <code>{case.case_no}</code>" in chat.last_text
    assert not chat.has_button("Return and refund") and chat.has_button("My requests")
    assert len(await cases(db)) == 1


async def test_custom_made_goods_explain_why_no_reason_return_is_missing(service, shop):
    chat = await identified(service)
    await open_item(chat, shop.orders["portrait"])
    await chat.press("Return and refund")
    assert not chat.has_button("Changed my mind")


async def test_status_lists_the_customers_cases(service, shop):
    chat = await identified(service)
    await open_item(chat, shop.orders["in_transit"])
    await chat.press("Refund only")
    await chat.text("Never arrived")
    await chat.press("Confirm")
    await chat.command("status")
    text = chat.texts_since(chat.last_out)
    assert "AS-20261126-0001" in text and "Headphones" in text and "Refund only" in text


# ----------------------------------------------------------------------------- navigation


async def test_back_walks_up_and_skips_steps_answered_automatically(service, shop):
    chat = await identified(service)
    await open_item(chat, shop.orders["phone"])  # one item, quantity 1: both skipped
    await chat.press("Return and refund")
    await chat.command("back")
    assert "Please choose a service" in chat.last_text
    await chat.press("Back")
    assert "Choose an order" in chat.last_text
    await chat.press("Back")
    assert "How can I help?" in chat.last_text


async def test_cancel_drops_the_draft(service, shop, db):
    chat = await identified(service)
    await open_item(chat, shop.orders["phone"])
    await chat.press("Return and refund")
    await chat.command("cancel")
    assert "Cancelled" in chat.texts_since(chat.last_out)
    assert "How can I help?" in chat.last_text
    assert await cases(db) == []


@pytest.mark.parametrize("command", ["help", "lang", "status", "human", "menu", "back", "start"])
async def test_every_command_works_mid_flow(service, shop, command):
    chat = await identified(service)
    await open_item(chat, shop.orders["phone"])
    await chat.press("Return and refund")
    out = await chat.command(command)
    replies = [o for o in out if isinstance(o, Reply)]
    assert replies, f"/{command} said nothing"


async def test_language_switch_rerenders_the_question(service, shop):
    chat = await identified(service)
    await chat.command("lang")
    await chat.press("中文")
    assert "请问需要什么帮助" in chat.last_text


async def test_human_hands_over_and_menu_comes_back(service, shop, db):
    chat = await identified(service)
    await chat.command("human")
    said = chat.texts_since(chat.last_out)
    assert "passed your question to our team" in said and "A person will answer here by" in said
    await chat.text("My parcel is wet")
    assert "Received" in chat.last_text
    async with db.transaction() as s:
        conv = await s.scalar(select(Conversation))
        assert conv is not None and conv.mode == "agent"
    await chat.press("Main menu")
    assert "How can I help?" in chat.last_text


# ----------------------------------------------------------------------------- robustness


async def test_each_photo_gets_one_answer_that_counts_them(service, shop):
    chat = await identified(service)
    await open_item(chat, shop.orders["phone"])
    await chat.press("Return and refund")
    await chat.press("Quality problem")
    await chat.text("Dead pixels")
    assert not chat.has_button("Done")
    out = await chat.photos(1)
    [reply] = [o for o in out if isinstance(o, Reply)]  # not "received" and the question again
    assert "at least 1 photo (an album is fine). Received so far: 1." in reply.text
    assert chat.has_button("Done")
    await chat.photos(10)
    assert "Received so far: 10 (that's the maximum of 10)." in chat.last_text


async def test_a_new_service_on_the_same_database_continues_mid_flow(db, shop, clock):
    first = make_service(db, clock)
    chat = await identified(first)
    await open_item(chat, shop.orders["phone"])
    await chat.press("Return and refund")
    await chat.press("Quality problem")
    chat.service = make_service(db, clock)  # the process restarted
    await chat.text("Screen flickers")
    assert "at least 1 photo (an album is fine)" in chat.last_text
    await chat.photos(1)
    await chat.press("Done")
    await chat.press("Confirm")
    assert len(await cases(db)) == 1


async def test_a_duplicate_event_is_processed_once(service, shop, db):
    chat = await identified(service)
    await open_item(chat, shop.orders["in_transit"])
    await chat.press("Refund only")
    await chat.text("Never arrived")
    confirm = next(b for row in chat.last.buttons for b in row if "Confirm" in b.text)
    event = Event(
        event_id=424242,
        chat_id=chat.chat_id,
        user_id=chat.user_id,
        kind="button",
        data=confirm.data,
        callback_id="dup",
        message_id=chat.last.message_id,
    )
    outbox_before = await count(db, Outbox)
    first = await chat.deliver(event)
    second = await chat.deliver(event)
    assert first and second == []
    assert len(await cases(db)) == 1
    messages = [o for o in first if isinstance(o, Reply)]  # callback answers are not stored
    assert await count(db, Outbox) == outbox_before + len(messages)


async def test_a_stale_button_changes_nothing(service, shop, db):
    chat = await identified(service)
    await open_item(chat, shop.orders["phone"])
    old_menu = chat.last
    old_data = old_menu.buttons[0][0].data
    await chat.press("Return and refund")
    state_before = await _state(db)
    out = await chat.press_data(old_data, old_menu.message_id)
    assert [type(o) for o in out] == [CallbackAnswer]
    assert out[0].text and "out of date" in out[0].text
    assert await _state(db) == state_before


async def test_a_forged_button_cannot_name_another_customers_order(service, shop, db):
    chat = await identified(service)
    await chat.press("New request")
    nonce = chat.last.buttons[0][0].data.split(":")[0]
    # Button data carries only an index into this question's options; anything else is stale.
    older = f"{int(nonce, 16) - 1:x}"
    for forged in (f"{nonce}:99", f"{nonce}:-1", f"{older}:0", "0:0", "g:x", "x" * 64):
        state_before = await _state(db)
        await chat.press_data(forged)
        assert await _state(db) == state_before
    assert "Choose an order" in chat.last_text


async def _state(db: Database) -> tuple[str, dict]:
    async with db.transaction() as s:
        conv = await s.scalar(select(Conversation))
        assert conv is not None
        # What the customer's request is; the count of misunderstood inputs is not part of it.
        skip = ("nonce", "opts", "misses")
        return conv.state, {k: v for k, v in conv.context.items() if k not in skip}


BAD_INPUTS = [
    ("text", "hello?"),
    ("long", "x" * 5000),
    ("emoji", "😀🎉\u0000\u0007\u202e"),
    ("photo", None),
    ("sticker", None),
]


async def _bad(chat: Chat, kind: str, value: str | None) -> list:
    if kind == "photo":
        return await chat.photos(1)
    if kind == "sticker":
        return await chat.sticker()
    return await chat.text(value or "")


@pytest.mark.parametrize(("kind", "value"), BAD_INPUTS)
async def test_bad_input_where_a_button_is_expected(service, shop, db, kind, value):
    chat = await identified(service)
    await open_item(chat, shop.orders["phone"])
    question = chat.last
    before = await _state(db)
    out = await _bad(chat, kind, value)
    replies = [o for o in out if isinstance(o, Reply)]
    # One short answer; the question stays where it is (not sent again), its buttons live.
    assert len(replies) == 1 and len(replies[0].text) < 200 and not replies[0].buttons
    assert question in chat.messages and question.buttons
    await chat.press("Return and refund", message=question)
    assert "what is the reason" in chat.last_text
    assert before != await _state(db)


@pytest.mark.parametrize(("kind", "value"), BAD_INPUTS[1:])
async def test_bad_input_where_text_is_expected(service, shop, db, kind, value):
    chat = await identified(service)
    await open_item(chat, shop.orders["phone"])
    await chat.press("Return and refund")
    await chat.press("Quality problem")
    before = await _state(db)
    out = await _bad(chat, kind, value)
    if kind == "emoji":
        # Emoji are a fine description once control characters are dropped.
        state, ctx = await _state(db)
        assert state == "evidence" and ctx["description"] == "😀🎉"
    else:
        assert len([o for o in out if isinstance(o, Reply)]) == 1
        assert await _state(db) == before
        assert any("describe the problem" in m.text for m in chat.messages)


async def test_quantity_out_of_range(service, shop, db):
    chat = await identified(service)
    await open_item(chat, shop.orders["shirts"], "Linen shirt")
    before = await _state(db)
    await chat.text("7")
    assert "from 1 to 3" in chat.texts_since(chat.last_out)
    assert await _state(db) == before


async def test_typing_someone_elses_order_number_in_the_list(service, shop, db):
    chat = await identified(service)
    await chat.press("New request")
    before = await _state(db)
    await chat.text(shop.orders["alice"])
    someone_elses = chat.texts_since(chat.last_out)
    assert "can't find that order among yours" in someone_elses
    assert await _state(db) == before
    await chat.text("no order here")  # not even an order number: the same answer
    assert chat.texts_since(chat.last_out) == someone_elses


async def test_an_order_number_typed_at_the_menu_starts_a_request_for_it(service, shop):
    chat = await identified(service)
    await chat.text(shop.orders["phone"])
    assert "Please choose a service" in chat.last_text
    assert chat.has_button("Return and refund")


async def test_bad_input_in_chinese_is_answered_in_chinese(service, shop):
    chat = await identified(service, lang="zh")
    await chat.text("随便说点什么")
    assert "请点击上面消息里的按钮" in chat.texts_since(chat.last_out)


async def test_orders_are_newest_first_and_paginated(service, shop):
    chat = await identified(service)
    await chat.press("New request")
    first_page = chat.button_labels()
    assert "page 1 of 2" in chat.last_text
    await chat.press("Next")
    second_page = chat.button_labels()
    assert set(first_page).isdisjoint(set(second_page) - {"⬅️ Back", "◀️ Previous"})
    assert not any(shop.orders["alice"] in b for b in first_page + second_page)
    assert shop.orders["in_transit"] in first_page[0]  # placed most recently


async def test_many_customers_in_parallel_each_get_their_case(db, shop):
    service = make_service(db, FrozenClock(NOW))
    async with db.transaction() as s:
        customers = []
        for n in range(12):
            c = await make_customer(s, phone=f"+8613900{n:06d}", name=f"客户{n}")
            await make_order(
                s,
                c,
                order_no=f"PX{n:08d}",
                delivered_days_ago=None,
                status="shipped",
                items=[{"name": "Box", "unit_price": "99"}],
            )
            customers.append(c.phone)

    async def one(n: int, phone: str) -> None:
        chat = Chat(service, user_id=7000 + n, language_code="en")
        await chat.command("start")
        await chat.contact(phone)
        await chat.press("New request")
        await chat.press(f"PX{n:08d}")
        await chat.press("Refund only")
        await chat.text("Never came")
        await chat.press("Confirm")

    await asyncio.gather(*(one(n, p) for n, p in enumerate(customers)))
    numbers = [c.case_no for c in await cases(db)]
    assert len(numbers) == len(set(numbers)) == 12
    assert await count(db, CaseEvent) == 24  # submitted + decided, each
