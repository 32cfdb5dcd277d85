"""Identification: the customer's own contact, or an order number and the phone's last four
digits; and deep links, which open an order once the customer is known.

Wrong digits are counted in every chat together (per order number, per customer and overall),
so fresh Telegram accounts get no new guesses; past a limit even the right digits are refused,
and only a shared contact identifies.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from dialogs.events import Reply
from storage.phones import to_e164

from .state import Ident
from .turn import Turn, clean

ORDER_NO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{3,39}$")
PHONE_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=30)  # one chat, after PHONE_ATTEMPTS wrong answers
# Across all chats: wrong digits per order number and per customer in FAILURE_WINDOW, and
# everyone's in EVERYONE_WINDOW; past any of them only a shared contact identifies.
ORDER_FAILURES, CUSTOMER_FAILURES, FAILURE_WINDOW = 5, 10, timedelta(hours=24)
EVERYONE_FAILURES, EVERYONE_WINDOW = 100, timedelta(hours=1)


async def ask(turn: Turn) -> None:
    locked = locked_until(turn)
    if locked:
        turn.say("identify/locked", until=locked)
    turn.ask(turn.t("identify/ask"), contact_button=turn.label("labels/share_contact"))


async def on(turn: Turn, _value: Any) -> None:
    ev = turn.event
    if ev.kind == "contact":
        await _by_contact(turn)
        return
    if ev.kind == "text" and not locked_until(turn):
        text = clean(ev.text).replace(" ", "")
        if ORDER_NO.match(text):
            await _order_number_given(turn, text.upper())
            return
        turn.say("identify/bad_order_no")
    elif ev.kind != "text":
        turn.say("common/send_text")
    await ask(turn)


async def _order_number_given(turn: Turn, order_no: str) -> None:
    order = await turn.shop.order_by_no(order_no)
    if await _digits_locked(turn, order_no, order.customer_id if order else None):
        turn.say("identify/locked_order")
        await ask(turn)
        return
    # Always ask for the phone digits, so order numbers cannot be probed.
    turn.ctx.ident = Ident(order.id if order else None, order_no, turn.ctx.ident.fails)
    turn.fire("order_no_given")
    await turn.prompt()


async def _by_contact(turn: Turn) -> None:
    ev = turn.event
    if ev.contact_user_id != ev.user_id:
        turn.say("identify/contact_not_own")
        await ask(turn)
        return
    phone = to_e164(ev.contact_phone or "", international_first=True)
    customer = await turn.shop.customer_by_phone(phone) if phone else None
    if customer is None:
        turn.say("identify/contact_unknown")
        await ask(turn)
        return
    await _identified(turn, customer.id, customer.name, take_over=True)
    turn.fire("contact_matched")
    await _after_identified(turn)


async def _identified(turn: Turn, customer_id: int, name: str, *, take_over: bool) -> None:
    await turn.shop.link_telegram(customer_id, turn.event.user_id, take_over=take_over)
    turn.conv.customer_id = customer_id
    turn.ctx.ident = Ident()
    # This message also takes away the "share my contact" keyboard.
    turn.out.append(
        Reply(turn.event.chat_id, turn.t("identify/done", name=name), remove_keyboard=True)
    )


async def _after_identified(turn: Turn) -> None:
    if not await follow_link(turn):
        await turn.prompt()


async def ask_phone4(turn: Turn) -> None:
    turn.ask(turn.t("identify/ask_phone4"), [turn.back_row()])


async def on_phone4(turn: Turn, value: Any) -> None:
    ev = turn.event
    if value == "back":
        turn.fire("back")
        await turn.prompt()
        return
    digits = clean(ev.text).replace(" ", "") if ev.kind == "text" else ""
    if not re.fullmatch(r"\d{4}", digits):
        turn.say("identify/bad_phone4")
        return
    ident = turn.ctx.ident
    order = await turn.shop.order(ident.order_id) if ident.order_id else None
    customer = await turn.shop.customer(order.customer_id) if order else None
    if await _digits_locked(turn, ident.order_no, customer.id if customer else None):
        # Even the right digits: guessers from many accounts must not get in at last.
        turn.ctx.ident = Ident(fails=ident.fails)
        turn.fire("back")
        turn.say("identify/locked_order")
        await turn.prompt()
        return
    if customer and customer.phone and customer.phone.endswith(digits):
        # Four digits are weaker proof than a shared contact: they identify this chat but
        # do not move the customer's Telegram link away from an account that has it.
        await _identified(turn, customer.id, customer.name, take_over=False)
        turn.fire("phone_matched")
        await _after_identified(turn)
        return
    await turn.shop.record_identification_failure(
        ev.chat_id, ident.order_no, customer.id if customer else None, turn.now
    )
    fails = ident.fails + 1
    turn.fire("back")
    if fails >= PHONE_ATTEMPTS:
        turn.ctx.ident = Ident(locked_until=(turn.now + LOCKOUT).isoformat())
    else:
        turn.ctx.ident = Ident(fails=fails)
        turn.say("identify/no_match", left=PHONE_ATTEMPTS - fails)
    await turn.prompt()


async def _digits_locked(turn: Turn, order_no: str, customer_id: int | None) -> bool:
    """Too many wrong digits for this order number or customer, from any chat, or from
    everyone at once (someone is guessing at scale): only a shared contact works then."""
    counts = await turn.shop.identification_failures(
        order_no,
        customer_id,
        order_since=turn.now - FAILURE_WINDOW,
        everyone_since=turn.now - EVERYONE_WINDOW,
    )
    return (
        counts.order_no >= ORDER_FAILURES
        or counts.customer >= CUSTOMER_FAILURES
        or counts.everyone >= EVERYONE_FAILURES
    )


def locked_until(turn: Turn) -> datetime | None:
    raw = turn.ctx.ident.locked_until
    if not raw:
        return None
    until = datetime.fromisoformat(raw)
    return until if until > turn.now else None


# --- deep links --------------------------------------------------------------------------------


async def deep_link(turn: Turn, token: str) -> None:
    """`/start <token>` from the shop's order page: open that order once identified."""
    signer = turn.info.links
    order_no = signer.order_no(token, turn.now) if signer else None
    order = await turn.shop.order_by_no(order_no) if order_no else None
    if order is None:
        # Forged, expired, or for an order that is gone: one answer, nothing to learn.
        turn.say("common/bad_link")
        return
    # Remembered even before identification; it only opens for the order's own customer.
    turn.ctx.link_order_id = order.id


async def follow_link(turn: Turn) -> bool:
    """A deep link named an order: open the request for it once the customer is known."""
    order_id, turn.ctx.link_order_id = turn.ctx.link_order_id, None
    if order_id is None:
        return False
    order = await turn.shop.order(order_id)
    if order is None or order.customer_id != turn.conv.customer_id:
        turn.say("common/bad_link")  # as for a forged link: whose order it is stays unsaid
        return False
    await open_order(turn, order.id, "order_linked")
    return True


async def open_order(turn: Turn, order_id: int, trigger: str) -> None:
    """Start a request for this order (from the list, a link or a typed number)."""
    draft = turn.drop_draft()
    draft.order_id = order_id
    turn.fire(trigger)
    await turn.enter()
