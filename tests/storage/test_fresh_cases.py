"""A unit of work answers about the cases it created without reading them back, and holds
their events and timers until the unit ends or something reads them: what it answers must be
exactly what the database holds once the unit commits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from storage.db import Database
from storage.repos import AgentRepo, CaseRepo, TimerRepo
from storage.shop import StorageShop
from storage.views import NewCase, NewQuestion
from tests.factories import NOW, make_case, make_customer, make_order

TZ = "Asia/Shanghai"


async def _request(db: Database) -> NewCase:
    async with db.transaction() as s:
        customer = await make_customer(s)
        order = await make_order(s, customer)
    item = order.items[0]
    return NewCase(
        order_id=order.id, item_id=item.id, order_no=order.order_no, item_name=item.name,
        customer_id=customer.id, chat_id=customer.id + 1000, quantity=1, service="exchange",
        reason="quality", description="屏幕有裂痕", status="pending_review",
        outcome="needs_agent", rules=["R1"], explanation_key="needs_agent",
        explanation_values={"days": 7}, alternatives=[], shipping_paid_by="shop",
        return_address="上海市", deadline_at=(NOW + timedelta(days=2)).astimezone(ZoneInfo(TZ)),
        needs_agent_reason="R1", locale="zh", conditions=["unused"],
        evidence=[{"kind": "photo", "file_id": "F1", "file_unique_id": "U1"}],
        details={"exchange_for": {"sku": "B", "sizes": ("M", "L")}}, warehouse="SH",
    )  # fmt: skip


async def _stored(db: Database, case_id: int):
    async with db.read() as s:
        return await CaseRepo(s).view(case_id)


async def test_a_new_request_and_its_changes_are_what_the_database_holds(db: Database):
    new = await _request(db)
    async with db.transaction() as s:
        shop = StorageShop(s, TZ)
        created = await shop.create_case(new, NOW)
        assert await shop.case(created.id) == created
        details = {**created.details, "ship_by": "2026-12-01"}
        changed = await shop.update_case(
            created.id, NOW, desk="queued", agent_chat_id=-100, details=details
        )
        handed = await shop.hand_over(created.id, NOW + timedelta(minutes=1))
        assert handed == changed  # already with a person since it was made
    assert await _stored(db, created.id) == changed
    assert changed.desk == "queued" and changed.details["ship_by"] == "2026-12-01"
    assert changed.details["exchange_for"]["sizes"] == ["M", "L"]  # as JSON gives it back


async def test_a_change_the_view_joins_for_is_read_back(db: Database):
    new = await _request(db)
    async with db.transaction() as s:
        agent = await AgentRepo(s).upsert(77, "王芳", "agent")
        shop = StorageShop(s, TZ)
        created = await shop.create_case(new, NOW)
        refunded = await shop.update_case(created.id, NOW, refund_amount="12.30")
        assert refunded.refund_amount == Decimal("12.30")  # as the database gives it back
        taken = await shop.update_case(created.id, NOW, assigned_agent_id=agent.id, desk="taken")
        assert (taken.owner_id, taken.owner_name) == (77, "王芳")
    assert await _stored(db, created.id) == taken


async def test_a_new_question_is_what_the_database_holds(db: Database):
    async with db.transaction() as s:
        customer = await make_customer(s)
    async with db.transaction() as s:
        shop = StorageShop(s, TZ)
        asked = await shop.create_question(NewQuestion(customer.id, 555, "发票怎么开？", "zh"), NOW)
        later = await shop.hand_over(asked.id, NOW)
    assert await _stored(db, asked.id) == asked == later


async def test_held_events_and_clocks_are_seen_by_the_units_own_reads(db: Database):
    async with db.transaction() as s:
        order = await make_order(s, await make_customer(s))
        old = await make_case(s, order)
    new = await _request(db)
    due = NOW + timedelta(hours=4)
    async with db.transaction() as s:
        shop = StorageShop(s, TZ)
        await shop.add_case_event(old.id, "agent", "note", {"text": "已联系"}, NOW)
        assert [e.kind for e in await shop.case_events(old.id)][-1:] == ["note"]
        await shop.start_timer("review", due, NOW, case_id=old.id, chat_id=1)
        await shop.start_timer("review", due + timedelta(hours=1), NOW, case_id=old.id)
        assert await shop.running_clocks(old.id) == {"review": due}
        created = await shop.create_case(new, NOW)
        await shop.start_timer("first_response", due, NOW, case_id=created.id)
        await shop.start_timer("review", due, NOW, case_id=created.id)
        await shop.cancel_timers(created.id, ["review"], NOW)
        assert await shop.running_clocks(created.id) == {"first_response": due}
        await shop.flush()
    async with db.read() as s:
        live = {(t.case_id, t.kind) for t in await TimerRepo(s).pending()}
        kinds = [e.kind for e in await CaseRepo(s).events(created.id)]
    assert live == {(old.id, "review"), (created.id, "first_response")}
    assert kinds == ["submitted", "decided"]


async def test_what_a_unit_held_is_written_when_it_ends_and_lost_with_it(db: Database):
    new = await _request(db)
    async with db.transaction() as s:
        shop = StorageShop(s, TZ)
        kept = await shop.create_case(new, NOW)
        await shop.start_timer("review", NOW + timedelta(hours=1), NOW, case_id=kept.id)
        await shop.flush()  # what Unit.finish does before the commit
    try:
        async with db.transaction() as s:
            shop = StorageShop(s, TZ)
            await shop.add_case_event(kept.id, "agent", "note", {}, NOW)
            await shop.flush()
            raise RuntimeError("the unit fails after writing")
    except RuntimeError:
        pass
    async with db.read() as s:
        assert [t.kind for t in await TimerRepo(s).pending(kept.id)] == ["review"]
        assert [e.kind for e in await CaseRepo(s).events(kept.id)] == ["submitted", "decided"]


async def test_a_misspelt_column_is_refused_not_passed_over(db: Database):
    new = await _request(db)
    async with db.transaction() as s:
        shop = StorageShop(s, TZ)
        created = await shop.create_case(new, NOW)
        with pytest.raises(ValueError, match="no such case columns: \\['dessk'\\]"):
            await shop.update_case(created.id, NOW, dessk="queued")
