"""The menu, then which order, which item and how many of it."""

from __future__ import annotations

from typing import Any

from storage.views import OrderView

from . import common
from .identify import ORDER_NO, open_order
from .turn import Options, Turn, clean

ORDERS_PER_PAGE = 5
MAX_QUANTITY_BUTTONS = 10


# --- menu --------------------------------------------------------------------------------------


async def ask_menu(turn: Turn) -> None:
    turn.ask(
        turn.t("menu/ask"),
        [
            [(turn.label("labels/new_request"), "new")],
            [(turn.label("labels/my_requests"), "mine")],
            [(turn.label("labels/human"), "human")],
            [(turn.label("labels/language"), "lang")],
        ],
    )


async def on_menu(turn: Turn, value: Any) -> None:
    if value == "new":
        turn.drop_draft()
        turn.fire("new_request")
        await turn.enter()
    elif value == "mine":
        await common.status(turn)
        await turn.prompt()
    elif value == "human":
        await common.human(turn)
    elif value == "lang":
        common.ask_language(turn)
    elif turn.event.kind == "text" and (order := await _typed_order(turn)) is not None:
        # An order number typed at the menu: a request for it, without the detour.
        turn.fire("new_request")
        await _chosen(turn, order)
    elif turn.event.kind == "text" and await _faq(turn):
        return  # a question the shop's FAQ answers
    else:
        await turn.bad_input()


async def _faq(turn: Turn) -> bool:
    from .question import answer

    text = clean(turn.event.text)
    return len(text) >= 2 and await answer(turn, text[:500])


# --- order -------------------------------------------------------------------------------------


async def ask_order(turn: Turn) -> None:
    assert turn.conv.customer_id is not None
    page = turn.draft.page
    orders, total = await turn.shop.orders_page(
        turn.conv.customer_id, page * ORDERS_PER_PAGE, ORDERS_PER_PAGE
    )
    if total == 0:
        turn.ask(turn.t("order/none"), [[(turn.label("labels/menu"), "menu")]])
        return
    rows: Options = [[(turn.label("labels/order", order=o), o.id)] for o in orders]
    nav: list[tuple[str, Any]] = []
    if page > 0:
        nav.append((turn.label("labels/prev"), "prev"))
    if (page + 1) * ORDERS_PER_PAGE < total:
        nav.append((turn.label("labels/next"), "next"))
    if nav:
        rows.append(nav)
    rows.append(turn.back_row())
    pages = (total + ORDERS_PER_PAGE - 1) // ORDERS_PER_PAGE
    turn.ask(turn.t("order/ask", orders=orders, page=page + 1, pages=pages), rows)


async def on_order(turn: Turn, value: Any) -> None:
    if value in ("prev", "next"):
        turn.draft.page = max(0, turn.draft.page + (1 if value == "next" else -1))
        await turn.prompt()
    elif value == "back":
        await turn.back()
    elif value == "menu":
        await turn.to_start(welcome=False)
    elif isinstance(value, int):
        order = await turn.shop.order(value)
        if order is None or order.customer_id != turn.conv.customer_id:
            await turn.bad_input()
            return
        await _chosen(turn, order)
    elif turn.event.kind == "text":
        order = await _typed_order(turn)
        if order is None:
            # Same answer whether the order exists or not: nothing to learn by guessing.
            await turn.bad_input("order/not_found")
            return
        await _chosen(turn, order)
    else:
        await turn.bad_input()


async def _typed_order(turn: Turn) -> OrderView | None:
    """The customer's own order whose number was typed (None: not one of theirs)."""
    text = clean(turn.event.text).replace(" ", "").upper()
    if not ORDER_NO.match(text):
        return None
    order = await turn.shop.order_by_no(text)
    return order if order is not None and order.customer_id == turn.conv.customer_id else None


async def _chosen(turn: Turn, order: OrderView) -> None:
    await open_order(turn, order.id, "order_chosen")


# --- item and quantity -------------------------------------------------------------------------


async def auto_item(turn: Turn) -> bool:
    order = await turn.order()
    if len(order.items) == 1:
        turn.draft.item_id = order.items[0].id
        turn.fire("item_chosen")
        return True
    return False


async def ask_item(turn: Turn) -> None:
    order = await turn.order()
    rows: Options = [[(turn.label("labels/item", item=i), i.id)] for i in order.items]
    rows.append(turn.back_row())
    turn.ask(turn.t("item/ask", order=order), rows)


async def on_item(turn: Turn, value: Any) -> None:
    if value == "back":
        await turn.back()
        return
    order = await turn.order()
    if not isinstance(value, int) or value not in {i.id for i in order.items}:
        await turn.bad_input()
        return
    turn.draft.item_id = value
    turn.fire("item_chosen")
    await turn.enter()


async def auto_quantity(turn: Turn) -> bool:
    _, item = await turn.item()
    if item.quantity == 1:
        turn.draft.quantity = 1
        turn.fire("quantity_chosen")
        return True
    return False


async def ask_quantity(turn: Turn) -> None:
    _, item = await turn.item()
    rows: Options = []
    if item.quantity <= MAX_QUANTITY_BUTTONS:
        numbers = [(str(n), n) for n in range(1, item.quantity + 1)]
        rows = [numbers[i : i + 5] for i in range(0, len(numbers), 5)]
    rows.append(turn.back_row())
    turn.ask(turn.t("item/ask_quantity", item=item), rows)


async def on_quantity(turn: Turn, value: Any) -> None:
    if value == "back":
        await turn.back()
        return
    _, item = await turn.item()
    if turn.event.kind == "text":
        text = clean(turn.event.text)
        if not text.isdigit():
            await turn.bad_input()
            return
        value = int(text)
    if not isinstance(value, int) or not 1 <= value <= item.quantity:
        await turn.bad_input("item/bad_quantity", max=item.quantity)
        return
    turn.draft.quantity = value
    turn.fire("quantity_chosen")
    await turn.enter()
