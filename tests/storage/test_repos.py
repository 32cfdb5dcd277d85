from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from storage.db import Database
from storage.repos import (
    AgentRepo,
    CaseRepo,
    ConversationRepo,
    CustomerRepo,
    EvidenceRepo,
    OrderRepo,
    OutboxRepo,
    SurveyRepo,
    TimerRepo,
)
from tests.factories import NOW, make_case, make_customer, make_order


async def test_customer_lookup_and_telegram_link_moves(db: Database) -> None:
    async with db.transaction() as s:
        a = await make_customer(s, phone="+8613800138000", telegram_user_id=42)
        b = await make_customer(s, phone="+447700900123", name="Alice", language="en")
    async with db.transaction() as s:
        repo = CustomerRepo(s)
        assert (await repo.by_phone("+8613800138000")).id == a.id
        assert (await repo.by_telegram_user(42)).id == a.id
        b2 = await repo.get(b.id)
        await repo.link_telegram(b2, 42)
    async with db.transaction() as s:
        repo = CustomerRepo(s)
        assert (await repo.by_telegram_user(42)).id == b.id
        assert (await repo.get(a.id)).telegram_user_id is None


async def test_orders_listing_newest_first_with_items(db: Database) -> None:
    async with db.transaction() as s:
        c = await make_customer(s)
        old = await make_order(s, c, delivered_days_ago=30)
        new = await make_order(
            s, c, delivered_days_ago=1, items=[{"sku": "A"}, {"sku": "B", "unit_price": "9.90"}]
        )
    async with db.transaction() as s:
        repo = OrderRepo(s)
        orders = await repo.list_for_customer(c.id, 0, 10)
        assert [o.id for o in orders] == [new.id, old.id]
        assert [i.sku for i in orders[0].items] == ["A", "B"]
        assert orders[0].items[1].unit_price == Decimal("9.90")
        assert await repo.count_for_customer(c.id) == 2
        assert [o.id for o in await repo.list_for_customer(c.id, 1, 10)] == [old.id]
        got = await repo.by_no(new.order_no)
        assert got is not None and len(got.items) == 2
        item = await repo.item(got.items[0].id)
        assert item is not None and item.order.order_no == new.order_no
        assert got.delivered_at == NOW - timedelta(days=1)
        assert got.delivered_at.tzinfo is not None


async def test_order_rows_with_items_and_recent_claims(db: Database) -> None:
    async with db.transaction() as s:
        c = await make_customer(s)
        order = await make_order(s, c, items=[{"sku": "A"}, {"sku": "B"}])
        await make_case(s, order, created_at=NOW - timedelta(days=5))
        await make_case(s, order, created_at=NOW - timedelta(days=50))
    async with db.read() as s:
        repo = OrderRepo(s)
        rows = await repo.rows_with_items(order.id)
        assert [(r.id, r.order_no, r.sku) for r in rows] == [
            (order.id, order.order_no, "A"),
            (order.id, order.order_no, "B"),
        ]
        with_claims = await repo.rows_with_items(order.id, NOW - timedelta(days=30))
        assert {r.claims_since for r in with_claims} == {1}
        assert await repo.rows_with_items(order.id + 999) == []


async def test_a_page_of_orders_with_items_and_the_total(db: Database) -> None:
    async with db.transaction() as s:
        c = await make_customer(s)
        old = await make_order(s, c, delivered_days_ago=30)
        mid = await make_order(s, c, delivered_days_ago=10, items=[{"sku": "A"}, {"sku": "B"}])
        new = await make_order(s, c, delivered_days_ago=1)
    async with db.read() as s:
        repo = OrderRepo(s)
        first = await repo.page_rows(c.id, 0, 2)
        assert [(r.id, r.sku) for r in first] == [(new.id, new.items[0].sku), (mid.id, "A"),
                                                  (mid.id, "B")]  # fmt: skip
        assert {r.total for r in first} == {3}
        assert [r.id for r in await repo.page_rows(c.id, 2, 2)] == [old.id]
        assert await repo.page_rows(c.id, 3, 2) == []  # past the last page


async def test_case_create_get_events(db: Database) -> None:
    async with db.transaction() as s:
        c = await make_customer(s)
        o = await make_order(s, c)
        repo = CaseRepo(s)
        case = await repo.create(
            now=NOW,
            tz="Asia/Shanghai",
            order_id=o.id,
            item_id=o.items[0].id,
            customer_id=c.id,
            quantity=1,
            service="return",
            reason="quality",
            description="屏幕有裂痕",
            status="submitted",
            outcome="approve",
            rules=["R1", "R2"],
            explanation_values={"days": 7},
        )
        await repo.add_event(case, "customer", "submitted", {"a": 1}, NOW)
        await repo.add_event(case, "bot", "approved", None, NOW + timedelta(seconds=1))
    assert case.case_no == "AS-20261126-0001"
    assert case.version == 1
    async with db.transaction() as s:
        repo = CaseRepo(s)
        got = await repo.by_no("AS-20261126-0001")
        assert got is not None and got.rules == ["R1", "R2"]
        assert got.item.sku == o.items[0].sku and got.order.order_no == o.order_no
        assert [e.kind for e in await repo.events(got.id)] == ["submitted", "approved"]
        assert [x.id for x in await repo.list_for_customer(c.id)] == [got.id]
        got.status = "approved"
    async with db.transaction() as s:
        assert (await CaseRepo(s).get(case.id)).version == 2


async def test_evidence_used_elsewhere(db: Database) -> None:
    async with db.transaction() as s:
        c = await make_customer(s)
        o = await make_order(s, c)
        c1 = await make_case(s, o)
        c2 = await make_case(s, o)
        repo = EvidenceRepo(s)
        await repo.add(c1.id, "photo", "f1", "u1", created_at=NOW)
        await repo.add(c2.id, "photo", "f2", "u2", created_at=NOW, sha256="ab" * 32)
    async with db.transaction() as s:
        repo = EvidenceRepo(s)
        assert await repo.used_elsewhere(["u1", "u2", "u3"]) == {"u1", "u2"}
        assert await repo.used_elsewhere(["u1", "u2"], exclude_case_id=c2.id) == {"u1"}
        assert await repo.used_elsewhere([]) == set()


async def test_conversation_open_for_chat(db: Database) -> None:
    async with db.transaction() as s:
        repo = ConversationRepo(s)
        assert await repo.open_for_chat(7) is None
        conv = await repo.create(7, 7, "zh", "identify", {"k": [1]})
    async with db.transaction() as s:
        repo = ConversationRepo(s)
        got = await repo.open_for_chat(7)
        assert got is not None and got.id == conv.id and got.context == {"k": [1]}
        got.context = {**got.context, "step": 2}
        got.state = "menu"
    async with db.transaction() as s:
        got = await ConversationRepo(s).open_for_chat(7)
        assert got.state == "menu" and got.context == {"k": [1], "step": 2}
        assert got.version == 2
        await ConversationRepo(s).close(got)
        await ConversationRepo(s).create(7, 7, "en", "identify")


async def test_outbox_due_order_and_retry(db: Database) -> None:
    t0 = datetime(2026, 11, 26, tzinfo=UTC)
    async with db.transaction() as s:
        repo = OutboxRepo(s)
        a = await repo.add(1, {"text": "a"}, t0)
        b = await repo.add(2, {"text": "b"}, t0)
        c = await repo.add(1, {"text": "c"}, t0)
        await repo.add_many([], t0)
        await repo.add_many([(3, {"text": "d"}), (3, {"text": "e"})], t0)
    async with db.transaction() as s:
        repo = OutboxRepo(s)
        due = await repo.due(t0)
        assert [r.id for r in due][:3] == [a.id, b.id, c.id]
        assert [r.payload["text"] for r in due] == ["a", "b", "c", "d", "e"]
        await repo.reschedule(a.id, t0 + timedelta(seconds=30), "429")
        await repo.mark_sent(b.id, t0, 555)
        await repo.mark_blocked(1, t0)
    async with db.transaction() as s:
        repo = OutboxRepo(s)
        assert [r.chat_id for r in await repo.due(t0 + timedelta(minutes=1))] == [3, 3]
        got = await repo.get(b.id)
        assert got.status == "sent" and got.telegram_message_id == 555 and got.attempts == 1
        assert (await repo.get(a.id)).status == "blocked"
        assert await repo.is_blocked(1)
        await repo.mark_blocked(1, t0)  # idempotent
        await repo.unblock(1)
        assert not await repo.is_blocked(1)


async def test_timers(db: Database) -> None:
    async with db.transaction() as s:
        repo = TimerRepo(s)
        t1 = await repo.add("waybill_reminder", NOW + timedelta(hours=1), payload={"n": 1})
        await repo.add("survey", NOW + timedelta(days=1))
    async with db.transaction() as s:
        repo = TimerRepo(s)
        assert await repo.due(NOW) == []
        due = await repo.due(NOW + timedelta(hours=2))
        assert [t.id for t in due] == [t1.id]
        assert await repo.mark_fired(t1.id, NOW)
        assert not await repo.mark_fired(t1.id, NOW)
    async with db.transaction() as s:
        assert await TimerRepo(s).due(NOW + timedelta(hours=2)) == []


async def test_agents_and_surveys(db: Database) -> None:
    async with db.transaction() as s:
        agents = AgentRepo(s)
        a = await agents.upsert(1001, "小张")
        await agents.upsert(1001, "小张", "supervisor")
        c = await make_customer(s)
        case = await make_case(s, await make_order(s, c))
        surveys = SurveyRepo(s)
        assert await surveys.ask(case.id, NOW)
        assert not await surveys.ask(case.id, NOW)
        assert await surveys.answer(case.id, NOW, rating=5, comment="好") is not None
    async with db.transaction() as s:
        got = await AgentRepo(s).by_telegram_user(1001)
        assert got.id == a.id and got.role == "supervisor"
        assert [x.id for x in await AgentRepo(s).active()] == [a.id]
        survey = await SurveyRepo(s).for_case(case.id)
        assert (survey.rating, survey.comment) == (5, "好")
        assert await SurveyRepo(s).answer(999, NOW) is None


async def test_inbox_records_a_batch_and_reports_only_new_updates(db):
    from datetime import UTC, datetime

    from storage.repos import InboxRepo

    at = datetime(2026, 11, 26, tzinfo=UTC)
    async with db.transaction() as s:
        first = await InboxRepo(s).record_many([(1, "a", 10, {"update_id": 1})], at)
    async with db.transaction() as s:
        batch = [(1, "a", 10, {"update_id": 1}), (2, "b", 10, {"update_id": 2}),
                 (3, "c", 11, {"update_id": 3})]  # fmt: skip
        fresh = await InboxRepo(s).record_many(batch, at)
        assert set(fresh) == {(2, "b"), (3, "c")}
        pending = await InboxRepo(s).pending()
        assert [r.update_id for r in pending] == [1, 2, 3]
        assert [r.id for r in pending] == [first[(1, "a")], fresh[(2, "b")], fresh[(3, "c")]]


async def test_conversations_saved_together_unless_one_changed_meanwhile(db: Database) -> None:
    import pytest
    from sqlalchemy.orm.exc import StaleDataError

    from storage.repos import ConversationSave

    async with db.transaction() as s:
        a = await ConversationRepo(s).create(1, 1, "zh", "identify")
        b = await ConversationRepo(s).create(2, 2, "zh", "identify")

    def save(conv, state: str, version: int) -> ConversationSave:
        return ConversationSave(conv.id, version, state, {"step": state}, "en", None, "bot", NOW)

    async with db.transaction() as s:
        await ConversationRepo(s).save_many([save(a, "menu", 1), save(b, "menu", 1)])
    with pytest.raises(StaleDataError):  # b was read at version 1 but is at 2 now
        async with db.transaction() as s:
            await ConversationRepo(s).save_many([save(a, "order", 2), save(b, "order", 1)])
    async with db.read() as s:
        got = await ConversationRepo(s).open_for_chats([1, 2])
        # Nothing of the failed save stayed, not even a's part of it.
        assert {c: (v.state, v.locale, v.context, v.version) for c, v in got.items()} == {
            1: ("menu", "en", {"step": "menu"}, 2),
            2: ("menu", "en", {"step": "menu"}, 2),
        }


async def test_inbox_finishes_a_batch_and_names_those_that_were_pending(db):
    from storage.repos import InboxRepo

    async with db.transaction() as s:
        rows = [(n, "x", 10 + n, {"update_id": n}) for n in (1, 2, 3)]
        ids = [v for _, v in sorted((await InboxRepo(s).record_many(rows, NOW)).items())]
        await InboxRepo(s).mark_done(ids[1], NOW)
    async with db.transaction() as s:
        assert await InboxRepo(s).finish_pending_many(ids, NOW) == {ids[0], ids[2]}
        assert await InboxRepo(s).pending() == []
