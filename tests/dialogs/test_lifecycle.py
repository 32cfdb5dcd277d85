"""A case's life after the decision, step by step through `Work.step` (the path the CLI and the
HTTP API take): every service to its end, refusals that keep nothing, what the customer is told."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from dialogs.lifecycle.machine import LIFECYCLE, SHOP, TRIGGERS, mermaid, path_of
from dialogs.lifecycle.steps import Refused, Step
from storage.db import Database
from storage.models import Case, CaseEvent, Outbox, Timer
from tests.dialogs.harness import Service
from tests.factories import make_case, make_customer, make_order

CHAT = 4242


async def a_case(db: Database, service: str, status: str, *, payment: str = "online",
                 **fields: object) -> str:  # fmt: skip
    async with db.transaction() as s:
        customer = await make_customer(s, language="en")
        order = await make_order(s, customer, payment_method=payment,
                                 items=[{"unit_price": "199.00", "quantity": 2}])  # fmt: skip
        case = await make_case(s, order, service=service, status=status, chat_id=CHAT,
                               locale="en", shipping_paid_by="merchant", **fields)  # fmt: skip
        return case.case_no


async def told(db: Database) -> list[str]:
    async with db.read() as s:
        rows = (await s.scalars(select(Outbox).order_by(Outbox.id))).all()
        return [r.payload.get("text", "") for r in rows if r.chat_id == CHAT]


async def events(db: Database, case_no: str) -> list[tuple[str, str]]:
    async with db.read() as s:
        case = await s.scalar(select(Case).where(Case.case_no == case_no))
        assert case is not None
        rows = await s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                               .order_by(CaseEvent.id))  # fmt: skip
        return [(e.actor, e.kind) for e in rows]


async def test_a_return_goes_from_the_parcel_to_the_refund_and_closes(service: Service, db):
    no = await a_case(db, "return", "awaiting_return")
    work = service.work
    case = await work.step(no, Step("waybill", carrier="sf", number="sf 1234 5678 9012 3"))
    assert (case.status, case.carrier, case.waybill) == ("in_transit", "sf", "SF1234567890123")
    assert (await work.step(no, Step("received"))).status == "received"
    assert (await work.step(no, Step("inspected_ok"))).status == "inspected"
    case = await work.step(no, Step("refunded"))
    # Price × quantity of the case (1 of 2) plus the shipping fee: the shop was at fault.
    assert (case.status, case.refund_amount) == ("refunded", Decimal("209.00"))
    case = await work.step(no, Step("close"))
    assert case.status == "closed" and case.closed_at is not None
    texts = await told(db)
    assert "SF1234567890123" in texts[0] and "arrived" in texts[1]
    assert "Refunded" in texts[3] and "209.00" in texts[3] and "original payment method" in texts[3]
    assert "closed" in texts[4]
    assert [k for _, k in await events(db, no)] == [
        "waybill", "received", "inspected_ok", "refunded", "close"]  # fmt: skip


async def test_an_impossible_step_is_refused_and_changes_nothing(service: Service, db):
    no = await a_case(db, "return", "awaiting_return")
    with pytest.raises(Refused) as refused:
        await service.work.step(no, Step("refunded"))
    assert refused.value.code == "not_now"
    sentence = refused.value.text(service.work.conversations.texts, "en")
    assert no in sentence and "waiting for the customer's parcel" in sentence
    rejected = await a_case(db, "exchange", "rejected")
    with pytest.raises(Refused):
        await service.work.step(rejected, Step("shipped", carrier="sf", number="SF1234567890123"))
    async with db.read() as s:
        statuses = [c.status for c in (await s.scalars(select(Case).order_by(Case.id))).all()]
    assert statuses == ["awaiting_return", "rejected"]
    assert await told(db) == [] and await events(db, no) == []


async def test_a_wrong_waybill_is_explained_and_a_used_one_refused(service: Service, db):
    first = await a_case(db, "return", "awaiting_return")
    second = await a_case(db, "return", "awaiting_return")
    with pytest.raises(Refused) as bad:
        await service.work.step(first, Step("waybill", carrier="sf", number="12345"))
    assert bad.value.code == "bad_waybill" and bad.value.values["example"] == "SF1234567890123"
    await service.work.step(first, Step("waybill", carrier="yto", number="YT1234567890123"))
    with pytest.raises(Refused) as used:
        await service.work.step(second, Step("waybill", carrier="yto", number="yt1234567890123"))
    assert used.value.code == "waybill_used"


async def test_an_exchange_and_a_repair_end_with_goods_shipped(service: Service, db):
    work = service.work
    for service_name, end in (("exchange", "exchange_shipped"), ("repair", "repaired_returned")):
        no = await a_case(db, service_name, "awaiting_return")
        for trigger in ("received", "inspected_ok"):
            await work.step(no, Step(trigger))
        case = await work.step(no, Step("shipped", carrier="jd", number="JDVA12345678901"))
        assert case.status == end and case.details["outbound"]["waybill"] == "JDVA12345678901"
    assert "replacement" in (await told(db))[2] and "repaired item" in (await told(db))[-1]


async def test_an_unrepairable_repair_is_refunded(service: Service, db):
    no = await a_case(db, "repair", "received")
    work = service.work
    await work.step(no, Step("inspected_ok"))
    with pytest.raises(Refused):  # a repair is not refunded...
        await work.step(no, Step("refunded"))
    with pytest.raises(Refused) as missing:
        await work.step(no, Step("unrepairable"))
    assert missing.value.code == "resolution_needed"
    await work.step(no, Step("unrepairable", resolution="refund"))  # ...unless it cannot be done
    case = await work.step(no, Step("refunded", amount="150"))
    assert (case.status, case.refund_amount) == ("refunded", Decimal("150.00"))
    assert "cannot be repaired" in (await told(db))[1] and "agreed partial amount" in (
        await told(db))[2]  # fmt: skip


async def test_missing_parts_are_reshipped_and_a_refund_needs_no_return(service: Service, db):
    parts = await a_case(db, "missing_parts", "approved", reason="missing_parts")
    case = await service.work.step(parts, Step("shipped", carrier="ems", number="EA123456789CN"))
    assert case.status == "exchange_shipped"
    assert "missing parts" in (await told(db))[-1]
    refund = await a_case(db, "refund", "approved", reason="not_received", payment="cod")
    with pytest.raises(Refused) as too_much:
        await service.work.step(refund, Step("refunded", amount="9999"))
    assert too_much.value.code == "bad_amount"
    case = await service.work.step(refund, Step("refunded"))
    assert case.refund_amount == Decimal("209.00")
    assert "bank transfer" in (await told(db))[-1]  # cash on delivery is paid back another way


async def test_a_customer_cancels_before_shipping_but_not_after(service: Service, db):
    no = await a_case(db, "return", "awaiting_return")
    case = await service.work.step(no, Step("cancel", by="customer"))
    assert case.status == "cancelled"
    later = await a_case(db, "return", "in_transit")
    with pytest.raises(Refused):
        await service.work.step(later, Step("cancel", by="customer"))


async def test_the_clocks_follow_the_steps(service: Service, db):
    no = await a_case(db, "return", "in_transit")
    await service.work.step(no, Step("received"))

    async def pending() -> list[str]:
        async with db.read() as s:
            rows = await s.scalars(select(Timer).where(Timer.fired_at.is_(None),
                                                       Timer.cancelled_at.is_(None)))  # fmt: skip
            return sorted(t.kind for t in rows)

    assert await pending() == ["refund_after_receipt"]  # the refund is now due by the profile
    await service.work.step(no, Step("inspected_ok"))
    await service.work.step(no, Step("refunded"))
    assert await pending() == []


async def test_a_missing_case_and_a_question_are_refused(service: Service, db):
    with pytest.raises(Refused) as missing:
        await service.work.step("AS-00000000-0000", Step("received"))
    assert missing.value.code == "no_case"
    no = await a_case(db, "return", "pending_review", kind="question")
    with pytest.raises(Refused) as question:
        await service.work.step(no, Step("received"))
    assert question.value.code == "not_a_request"


def test_every_trigger_leads_somewhere_and_the_diagram_shows_every_row() -> None:
    diagram = mermaid()
    for trigger in TRIGGERS:
        assert f": {trigger}" in diagram
    assert LIFECYCLE.step("awaiting_return", "refunded", "return", SHOP) is None
    assert LIFECYCLE.step("inspected", "refunded", path_of("repair", "refund"), SHOP) == "refunded"
    assert LIFECYCLE.step("in_transit", "cancel", "return", "customer") is None
    # The shop cannot pretend to be the customer, nor the customer the shop.
    assert LIFECYCLE.step("received", "inspected_ok", "return", "customer") is None
