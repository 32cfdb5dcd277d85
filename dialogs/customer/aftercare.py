"""After the decision, the customer's own steps of a case: the return waybill (carrier, then
number), the courier's pickup day and time (上门取件), and cancelling before the goods are on
their way.

Each starts from a button that names the case (`lc:<action>:<case id>`: under the approval,
under a message about the case, in "My requests"). The case id of a button is never trusted:
a case that is not the customer's gets the stale-button answer. The step itself is the
lifecycle's (`dialogs/lifecycle/steps.py`): it checks the number's format and the case's
status, and refuses what cannot be done without changing anything.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from dialogs.events import Outgoing, Reply, Resume
from dialogs.lifecycle import carriers
from dialogs.lifecycle import clocks as lifecycle_clocks
from dialogs.lifecycle.machine import CANCELLABLE, CUSTOMER
from dialogs.lifecycle.steps import Refused, Step
from storage.domain import Actor, CaseStatus
from storage.views import CaseView

from .common import to_person
from .logistics import PICKUP_WINDOWS, by_pickup, pickup_days
from .state import CaseStep
from .turn import Options, Turn, clean

ACTIONS = ("waybill", "pickup", "cancel")
START = {"waybill": "waybill_asked", "pickup": "pickup_asked", "cancel": "cancel_asked"}
CARRIERS_PER_ROW = 2
MAX_NUMBER = 64  # what is typed; the carriers' own formats are shorter


async def button_case(turn: Turn, value: str) -> tuple[str, CaseView] | None:
    """(action, case) of a case's button, if the case is this customer's; else None."""
    _, action, case_id = [*value.split(":"), "", ""][:3]
    if action not in ACTIONS or not case_id.isdigit() or not turn.identified:
        return None
    case = await own_case(turn, int(case_id))
    return (action, case) if case is not None else None


async def own_case(turn: Turn, case_id: int | None) -> CaseView | None:
    if case_id is None:
        return None
    case = await turn.shop.case(case_id)
    if case is None or case.customer_id != turn.conv.customer_id or case.kind != "request":
        return None
    return case


async def start(turn: Turn, action: str, case: CaseView) -> None:
    """A case's button pressed: begin its step where the case allows it, else say why not."""
    turn.edit_target = None  # the message the button is under stays as it was
    if action == "cancel" and case.status not in CANCELLABLE:
        turn.say("status/cannot_cancel", case=case)
        await turn.prompt()
        return
    if action in ("waybill", "pickup") and case.status != CaseStatus.AWAITING_RETURN:
        turn.say("waybill/not_needed", case=case)
        await turn.prompt()
        return
    if action == "pickup" and not by_pickup(turn.policy, case.service):
        turn.say("pickup/not_offered", case=case)
        await turn.prompt()
        return
    turn.drop_draft()  # a request being put together is left for this
    turn.ctx.step = CaseStep(case.id)
    turn.ctx.case_id = case.id  # what /human is about from here
    turn.fire(START[action])
    await turn.prompt()


async def _case(turn: Turn) -> CaseView | None:
    """The case of the step in progress; None (and back at the menu) if it is gone."""
    case = await own_case(turn, turn.ctx.step.case_id)
    if case is None:
        turn.ctx.step = CaseStep()
        turn.fire("to_menu")
        await turn.prompt()
    return case


async def _navigated(turn: Turn, value: Any) -> bool:
    """Back or the menu, pressed at any question of the case's steps: done, True."""
    if value == "back":
        await turn.back()
    elif value == "menu":
        await turn.to_start(welcome=False)
    else:
        return False
    return True


def _finish(turn: Turn, trigger: str) -> None:
    turn.ctx.step = CaseStep()
    turn.fire(trigger)


def _take(turn: Turn, out: list[Outgoing]) -> None:
    """What the lifecycle says, in this turn: to this customer without a menu button (the
    menu follows), and no hand-back to the bot (this conversation is the bot's already)."""
    chat = turn.event.chat_id
    for item in out:
        if isinstance(item, Resume) and item.chat_id == chat:
            continue
        if isinstance(item, Reply) and item.chat_id == chat:
            item.buttons = [row for row in item.buttons if all(b.data != "g:menu" for b in row)]
        turn.out.append(item)


async def _apply(turn: Turn, case: CaseView, step: Step) -> CaseView:
    lifecycle = turn.info.lifecycle
    if lifecycle is None:  # a shop built without its lifecycle: nothing can be taken
        raise Refused("not_now", case_no=case.case_no, status=case.status, trigger=step.trigger)
    out: list[Outgoing] = []
    changed = await lifecycle.apply(turn.shop, case, step, turn.now, out)
    _take(turn, out)
    return changed


# --- the waybill: the carrier, then the number --------------------------------------------


async def ask_carrier(turn: Turn) -> None:
    case = await _case(turn)
    if case is None:
        return
    locale = turn.conv.locale
    buttons = [(turn.label("labels/carrier", name=c.name[locale]), c.code)
               for c in carriers.CARRIERS]  # fmt: skip
    rows: Options = [buttons[i : i + CARRIERS_PER_ROW]
                     for i in range(0, len(buttons), CARRIERS_PER_ROW)]  # fmt: skip
    rows.append([*turn.back_row(), (turn.label("labels/menu"), "menu")])
    turn.ask(turn.t("waybill/ask_carrier", case=case), rows)


async def on_carrier(turn: Turn, value: Any) -> None:
    if await _navigated(turn, value):
        return
    case = await _case(turn)
    if case is None:
        return
    if turn.event.kind == "text":
        # The number typed straight away: its format may name the carrier (SF…, JD…, YT…).
        typed = clean(turn.event.text)[:MAX_NUMBER]
        code = _only_carrier(typed)
        if code is None:
            await turn.bad_input("waybill/carrier_first")
            return
        turn.ctx.step.carrier = code
        turn.fire("carrier_chosen")
        await _submit(turn, case, typed)
        return
    if carriers.carrier(value if isinstance(value, str) else None) is None:
        await turn.bad_input()
        return
    turn.ctx.step.carrier = str(value)
    turn.fire("carrier_chosen")
    await turn.prompt()


def _only_carrier(number: str) -> str | None:
    """The one carrier (other than "other") whose format the number has, if just one has."""
    found = [c.code for c in carriers.CARRIERS
             if c.code != "other" and carriers.check(c.code, number)]  # fmt: skip
    return found[0] if len(found) == 1 else None


async def ask_number(turn: Turn) -> None:
    case = await _case(turn)
    if case is None:
        return
    found = carriers.carrier(turn.ctx.step.carrier)
    if found is None:  # nothing chosen (an old conversation): choose first
        turn.fire("back")
        await turn.prompt()
        return
    rows: Options = [[*turn.back_row(), (turn.label("labels/menu"), "menu")]]
    turn.ask(turn.t("waybill/ask_number", case=case, carrier=found.name[turn.conv.locale],
                    example=found.example), rows)  # fmt: skip


async def on_number(turn: Turn, value: Any) -> None:
    if value == "back":
        turn.ctx.step.carrier = None
    if await _navigated(turn, value):
        return
    if turn.event.kind != "text":
        await turn.bad_input("waybill/type_number")
        return
    case = await _case(turn)
    if case is None:
        return
    await _submit(turn, case, clean(turn.event.text)[:MAX_NUMBER])


async def _submit(turn: Turn, case: CaseView, typed: str) -> None:
    code = turn.ctx.step.carrier or ""
    found = carriers.carrier(code)
    assert found is not None
    step = Step("waybill", by=CUSTOMER, actor_id=turn.event.user_id, via="chat", carrier=code,
                number=typed)  # fmt: skip
    try:
        await _apply(turn, case, step)
    except Refused as refused:
        if refused.code == "bad_waybill":
            # Explained with what the number looks like; the question stays: type it again.
            await turn.bad_input("waybill/bad_number", carrier=found.name[turn.conv.locale],
                                 number=typed, example=found.example)  # fmt: skip
            return
        if refused.code == "waybill_used":
            await _used(turn, case, code, str(refused.values.get("number") or typed))
            return
        await _moved_on(turn, case)
        return
    _finish(turn, "waybill_given")
    await turn.prompt()


async def _used(turn: Turn, case: CaseView, code: str, number: str) -> None:
    """A number already on another case: a person looks at it (it may be a mistake, or a
    parcel claimed twice); the customer is told, and what they write reaches that person."""
    others = [c.case_no for c in await turn.shop.cases_with_waybill(number) if c.id != case.id]
    now = turn.now
    if case.handed_over_at is None:
        case = await turn.shop.hand_over(case.id, now) or case
    await turn.shop.add_case_event(case.id, Actor.CUSTOMER, "waybill_used",
                                   {"carrier": code, "waybill": number, "cases": others}, now,
                                   turn.event.user_id)  # fmt: skip
    turn.ctx.step = CaseStep()
    deadline = await to_person(turn, case, "waybill_used")
    case = await turn.shop.case(case.id) or case
    if case.agent_chat_id is not None:
        await turn.desk.say(case, "waybill/desk_used", join=True, number=number, others=others)
    turn.say("waybill/used", case=case, number=number, deadline=deadline)
    await turn.prompt()


async def _moved_on(turn: Turn, case: CaseView) -> None:
    """The case is no longer where the step was asked (the shop moved it meanwhile)."""
    case = await turn.shop.case(case.id) or case
    turn.say("status/moved_on", case=case)
    turn.ctx.step = CaseStep()
    turn.fire("to_menu")
    await turn.prompt()


# --- courier pickup: the day, then the time -------------------------------------------------


def _days(turn: Turn, case: CaseView) -> list[date]:
    return pickup_days(turn.policy, turn.now, lifecycle_clocks.ship_by(case))


async def ask_day(turn: Turn) -> None:
    case = await _case(turn)
    if case is None:
        return
    rows: Options = [[(turn.label("labels/pickup_day", day=d), d.isoformat())]
                     for d in _days(turn, case)]  # fmt: skip
    rows.append([*turn.back_row(), (turn.label("labels/menu"), "menu")])
    turn.ask(turn.t("pickup/ask_day", case=case, ship_by=lifecycle_clocks.ship_by(case)), rows)


async def on_day(turn: Turn, value: Any) -> None:
    if await _navigated(turn, value):
        return
    case = await _case(turn)
    if case is None:
        return
    if not await _still_waiting(turn, case):
        return
    if value not in {d.isoformat() for d in _days(turn, case)}:
        if turn.event.kind == "button":  # a day that has passed meanwhile: the days as now
            await turn.prompt()
        else:
            await turn.bad_input()
        return
    turn.ctx.step.day = str(value)
    turn.fire("day_chosen")
    await turn.prompt()


async def ask_time(turn: Turn) -> None:
    case = await _case(turn)
    if case is None:
        return
    day = turn.ctx.step.day
    if day is None:
        turn.fire("back")
        await turn.prompt()
        return
    rows: Options = [[(turn.label("labels/pickup_window", window=w), w) for w in PICKUP_WINDOWS]]
    rows.append([*turn.back_row(), (turn.label("labels/menu"), "menu")])
    turn.ask(turn.t("pickup/ask_time", case=case, day=date.fromisoformat(day)), rows)


async def on_time(turn: Turn, value: Any) -> None:
    if value == "back":
        turn.ctx.step.day = None
    if await _navigated(turn, value):
        return
    case = await _case(turn)
    if case is None:
        return
    day = turn.ctx.step.day
    if value not in PICKUP_WINDOWS or day is None:
        await turn.bad_input()
        return
    if not await _still_waiting(turn, case):
        return
    pickup = {"day": day, "window": str(value), "booked_at": turn.now.isoformat()}
    changed = await turn.shop.update_case(case.id, turn.now,
                                          details={**case.details, "pickup": pickup})  # fmt: skip
    await turn.shop.add_case_event(case.id, Actor.CUSTOMER, "pickup_booked",
                                   {"day": day, "window": value}, turn.now,
                                   turn.event.user_id)  # fmt: skip
    when = date.fromisoformat(day)
    if changed.agent_chat_id is not None:  # the shop books the courier
        await turn.desk.say(changed, "pickup/desk_booked", join=True, day=when, window=value)
    turn.say("pickup/booked", case=changed, day=when, window=value)
    _finish(turn, "pickup_booked")
    await turn.prompt()


async def _still_waiting(turn: Turn, case: CaseView) -> bool:
    if case.status == CaseStatus.AWAITING_RETURN:
        return True
    await _moved_on(turn, case)
    return False


# --- cancelling: asked once more, then the lifecycle's step ----------------------------------


async def ask_cancel(turn: Turn) -> None:
    case = await _case(turn)
    if case is None:
        return
    rows: Options = [[(turn.label("labels/yes"), "yes"), (turn.label("labels/no"), "no")]]
    turn.ask(turn.t("status/cancel_ask", case=case), rows)


async def on_cancel(turn: Turn, value: Any) -> None:
    if value in ("no", "back"):
        case = await own_case(turn, turn.ctx.step.case_id)
        if case is not None:
            turn.say("status/cancel_kept", case=case)
        _finish(turn, "cancel_answered")
        await turn.prompt()
        return
    if value != "yes":
        await turn.bad_input()
        return
    case = await _case(turn)
    if case is None:
        return
    step = Step("cancel", by=CUSTOMER, actor_id=turn.event.user_id, via="chat")
    try:
        await _apply(turn, case, step)
    except Refused:
        case = await turn.shop.case(case.id) or case
        turn.say("status/cannot_cancel", case=case)
    turn.ctx.case_id = None
    _finish(turn, "cancel_answered")
    await turn.prompt()
