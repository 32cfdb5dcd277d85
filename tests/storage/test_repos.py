from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm.exc import StaleDataError

from storage.db import Database
from storage.models import Outbox
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
from storage.repos.cases import event_row
from storage.shop import StorageShop
from tests.factories import NOW, make_case, make_customer, make_order


async def test_customer_lookup_and_telegram_link_moves(db: Database) -> None:
    async with db.transaction() as s:
        a = await make_customer(s, phone="+8613800138000", telegram_user_id=42)
        b = await make_customer(s, phone="+447700900123", name="Alice", language="en")
        c = await make_customer(s, phone="+447700900124", telegram_user_id=43)
    async with db.transaction() as s:
        repo = CustomerRepo(s)
        assert (await repo.view_by_phone("+8613800138000")).id == a.id
        assert (await repo.view_by_telegram_user(42)).id == a.id
        await repo.link_telegram(b.id, 42, take_over=True)
        # Weak proof never moves a link away from an account that has one.
        await repo.link_telegram(c.id, 99, take_over=False)
    async with db.transaction() as s:
        repo = CustomerRepo(s)
        assert (await repo.view_by_telegram_user(42)).id == b.id
        assert (await repo.view(a.id)).telegram_user_id is None
        assert (await repo.view(c.id)).telegram_user_id == 43


async def test_orders_as_views_newest_first_with_items(db: Database) -> None:
    async with db.transaction() as s:
        c = await make_customer(s)
        old = await make_order(s, c, delivered_days_ago=30)
        mid = await make_order(s, c, delivered_days_ago=10, items=[{"sku": "A"},
                               {"sku": "B", "unit_price": "9.90"}])  # fmt: skip
        new = await make_order(s, c, delivered_days_ago=1)
    async with db.read() as s:
        repo = OrderRepo(s)
        first, total = await repo.page(c.id, 0, 2)
        assert [o.id for o in first] == [new.id, mid.id] and total == 3
        assert [i.sku for i in first[1].items] == ["A", "B"]
        assert first[1].items[1].unit_price == Decimal("9.90")
        assert first[1].total == Decimal("3999.00") + Decimal("9.90")
        assert [o.id for o in (await repo.page(c.id, 2, 2))[0]] == [old.id]
        assert await repo.page(c.id, 3, 2) == ([], 3)  # past the last page
        got = await repo.view_by_no(new.order_no)
        assert got is not None and got.id == new.id
        assert got.delivered_at == NOW - timedelta(days=1) and got.delivered_at.tzinfo
        assert await repo.view(new.id + 999) is None


async def test_an_order_with_its_customers_standing_claims(db: Database) -> None:
    async with db.transaction() as s:
        c = await make_customer(s)
        order = await make_order(s, c, items=[{"sku": "A"}, {"sku": "B"}])
        await make_case(s, order, created_at=NOW - timedelta(days=5))
        await make_case(s, order, created_at=NOW - timedelta(days=50))  # too long ago
        await make_case(s, order, created_at=NOW - timedelta(days=2), status="rejected")
        await make_case(s, order, created_at=NOW - timedelta(days=1), status="cancelled")
    async with db.read() as s:
        view, claims = await OrderRepo(s).view_with_claims(order.id, NOW - timedelta(days=30))
        assert view is not None and [i.sku for i in view.items] == ["A", "B"]
        assert claims == 1  # a refused or cancelled request is no claim against the shop


async def test_orders_read_ahead_for_a_batch_are_what_each_turn_would_read(db: Database) -> None:
    """A batch's turns get their orders from one statement read ahead: the same order and
    prior claims a turn would read itself, each served once, and none once a case is written
    (a new claim changes the count the policy sees)."""
    since = NOW - timedelta(days=30)
    async with db.transaction() as s:
        a, b = await make_customer(s), await make_customer(s, phone="+8613800138001")
        first = await make_order(s, a, items=[{"sku": "A"}, {"sku": "B"}])
        second = await make_order(s, b)
        await make_case(s, second, created_at=NOW - timedelta(days=3))
    async with db.transaction() as s:
        shop, orders = StorageShop(s, "Asia/Shanghai"), OrderRepo(s)
        await shop.read_ahead_orders([first.id, second.id, second.id + 999], since)
        assert await shop.order_with_claims(first.id, since) == await orders.view_with_claims(
            first.id, since
        )
        view, claims = await shop.order_with_claims(second.id, since)
        assert view is not None and view.id == second.id and claims == 1
        assert await shop.order_with_claims(second.id + 999, since) == (None, 0)
        newest = await make_case(s, second, created_at=NOW - timedelta(days=1))
        assert (await shop.order_with_claims(second.id, since))[1] == 2  # served once only
        await shop.read_ahead_orders([first.id, second.id], since)
        await shop.update_case(newest.id, NOW, status="cancelled")
        assert (await shop.order_with_claims(second.id, since))[1] == 1  # read again, fresh


async def test_case_create_view_events(db: Database) -> None:
    async with db.transaction() as s:
        c = await make_customer(s)
        o = await make_order(s, c)
        repo = CaseRepo(s)
        case_id, case_no = await repo.create(
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
        await repo.insert_events([event_row(case_id, "customer", "submitted", {"a": 1}, NOW)])
        await repo.insert_events([event_row(case_id, "bot", "approved", {},
                                            NOW + timedelta(seconds=1))])  # fmt: skip
    async with db.transaction() as s:
        repo = CaseRepo(s)
        assert case_no == "AS-20261126-0001"
        got = await repo.view_by_no(case_no)
        assert got is not None and got.id == case_id and got.kind == "request"
        assert (got.order_no, got.item_name) == (o.order_no, o.items[0].name)
        assert [e.kind for e in await repo.events(case_id)] == ["submitted", "approved"]
        assert [x.id for x in await repo.views_for_customer(c.id)] == [case_id]
        assert (await repo.open_for_item(o.items[0].id)).id == case_id
        version = await repo.change(case_id, 1, NOW, status="approved")
        assert version == 2
        with pytest.raises(StaleDataError):  # read at version 1, changed since
            await repo.change(case_id, 1, NOW, status="closed")
    async with db.transaction() as s:
        assert (await CaseRepo(s).view(case_id)).status == "approved"


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
        conv = await repo.create(7, 7, "zh", "identify", {"k": [1]}, now=NOW)
    async with db.read() as s:
        got = await ConversationRepo(s).open_for_chat(7)
        assert got == conv and got.context == {"k": [1]} and got.version == 1


async def test_outbox_heads_claims_and_retries(db: Database) -> None:
    t0 = datetime(2026, 11, 26, tzinfo=UTC)
    async with db.transaction() as s:
        repo = OutboxRepo(s)
        await repo.add_many([(1, None, {"text": "a"}), (2, None, {"text": "b"}),
                             (1, None, {"text": "c"}), (3, 77, {"text": "d"})], t0)  # fmt: skip
        await repo.add_many([], t0)
    async with db.transaction() as s:
        repo = OutboxRepo(s)
        assert await repo.due_chats(t0, 10, set()) == [1, 2, 3]  # heads only, oldest first
        claimed = await repo.claim_heads([1, 2, 3], t0, t0 + timedelta(minutes=2), "w1")
        assert {c: r.payload["text"] for c, r in claimed.items()} == {1: "a", 2: "b", 3: "d"}
        assert claimed[3].message_thread_id == 77 and claimed[1].status == "sending"
        # A chat's next row waits behind its head, however due it is.
        assert await repo.claim_heads([1], t0, t0, "w2") == {}
        await repo.retry_at(claimed[1].id, t0 + timedelta(seconds=30), "429", count=False)
        await repo.mark_sent_many([(claimed[2].id, t0, 555)])
        await repo.mark_blocked(3, t0)
    async with db.transaction() as s:
        repo = OutboxRepo(s)
        assert await repo.due_chats(t0, 10, set()) == []  # 1 waits for its retry
        assert await repo.due_chats(t0 + timedelta(minutes=1), 10, set()) == [1]
        rows = {r.id: r for r in await repo.rows()}
        assert rows[claimed[2].id].status == "sent" and rows[claimed[2].id].attempts == 1
        assert rows[claimed[1].id].attempts == 0  # a 429 is not an attempt
        assert rows[claimed[3].id].status == "blocked"
        assert await repo.is_blocked(3)
        await repo.mark_blocked(3, t0)  # idempotent
        await repo.unblock(3)
        assert not await repo.is_blocked(3)


async def test_outbox_rows_of_a_batch_keep_their_order_and_are_recorded_sent(
    db: Database,
) -> None:
    """A unit's messages, many chats mixed, are queued in the order given (each chat's leave
    in that order) and marked sent together, each with its own Telegram message id."""
    t0 = datetime(2026, 11, 26, tzinfo=UTC)
    texts = [(chat, f"{chat}-{n}") for n in range(4) for chat in (5, 6, 7)]
    async with db.transaction() as s:
        messages = [(c, 9 if c == 7 else None, {"text": t}) for c, t in texts]
        await OutboxRepo(s).add_many(messages, t0)
    async with db.read() as s:
        queued = await OutboxRepo(s).rows()
    assert [r.payload["text"] for r in queued] == [t for _, t in texts]
    assert [r.id for r in queued] == sorted(r.id for r in queued)
    assert {r.chat_id: r.message_thread_id for r in queued} == {5: None, 6: None, 7: 9}
    assert {r.status for r in queued} == {"pending"}
    sent_at = t0 + timedelta(seconds=3)
    async with db.transaction() as s:
        await OutboxRepo(s).mark_sent_many([(r.id, sent_at, 1000 + r.id) for r in queued[:7]])
    async with db.read() as s:
        after = {r.id: r for r in await s.execute(select(Outbox.__table__))}
    for row in queued[:7]:
        got = after[row.id]
        assert (got.status, got.attempts, got.telegram_message_id) == ("sent", 1, 1000 + row.id)
        assert got.sent_at == sent_at and got.claimed_by is None
    assert {after[r.id].status for r in queued[7:]} == {"pending"}


async def test_a_vanished_workers_row_is_given_up_once(db: Database) -> None:
    t0 = datetime(2026, 11, 26, tzinfo=UTC)
    async with db.transaction() as s:
        repo = OutboxRepo(s)
        await repo.add_many([(1, None, {"text": "a"})], t0)
        [row] = (await repo.claim_heads([1], t0, t0 + timedelta(minutes=2), "gone")).values()
    later = t0 + timedelta(minutes=3)
    async with db.transaction() as s:
        repo = OutboxRepo(s)
        assert await repo.due_chats(later, 10, set()) == [1]  # its lease ran out
        assert await repo.give_up_in_doubt(row.id, later)
        assert not await repo.give_up_in_doubt(row.id, later)
        [failed] = await repo.rows()
        assert failed.status == "failed" and failed.claimed_by is None


async def test_timers_are_claimed_once_and_fire_once(db: Database) -> None:
    async with db.transaction() as s:
        repo = TimerRepo(s)
        t1 = await repo.add("first_response", NOW + timedelta(hours=1), now=NOW, chat_id=5)
        await repo.add("survey", NOW + timedelta(days=1), now=NOW)
    later = NOW + timedelta(hours=2)
    async with db.transaction() as s:
        repo = TimerRepo(s)
        assert await repo.claim_due(NOW, NOW, "w1") == []
        [claimed] = await repo.claim_due(later, later + timedelta(minutes=5), "w1")
        assert (claimed.id, claimed.chat_id) == (t1, 5)
        assert await repo.claim_due(later, later, "w2") == []  # w1 holds it
        assert await repo.fire(t1, later)
        assert not await repo.fire(t1, later)
    async with db.transaction() as s:
        assert await TimerRepo(s).claim_due(later + timedelta(hours=1), later, "w2") == []
        assert [t.kind for t in await TimerRepo(s).pending()] == ["survey"]


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


async def test_inbox_batch_keeps_its_order_lanes_payloads_and_drops_a_repeat_inside_it(db):
    from storage.repos import InboxRepo

    # Ids descending in the batch: the rows' ids follow the batch, not the update ids.
    batch = [(n, f"k{n}", None if n == 7 else 100 + n, {"update_id": n, "text": f"退货 <{n}>"})
             for n in range(9, 0, -1)]  # fmt: skip
    batch.insert(3, batch[0])  # a redelivery inside the same batch
    async with db.transaction() as s:
        fresh = await InboxRepo(s).record_many(batch, NOW, [500 + u for u, _, _, _ in batch])
    assert len(fresh) == 9
    assert [u for (u, _), _ in sorted(fresh.items(), key=lambda kv: kv[1])] == list(range(9, 0, -1))
    async with db.read() as s:
        got = [(r.update_id, r.chat_id, r.lane, r.payload["text"], r.status, r.received_at)
               for r in await InboxRepo(s).pending()]  # fmt: skip
    assert got == [(n, None if n == 7 else 100 + n, 500 + n, f"退货 <{n}>", "pending", NOW)
                   for n in range(9, 0, -1)]  # fmt: skip


async def test_conversations_saved_together_unless_one_changed_meanwhile(db: Database) -> None:
    from storage.repos import ConversationSave

    async with db.transaction() as s:
        a = await ConversationRepo(s).create(1, 1, "zh", "identify", now=NOW)
        b = await ConversationRepo(s).create(2, 2, "zh", "identify", now=NOW)

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


async def test_postgresql_queue_looks_pass_over_the_rows_already_sent(db: Database) -> None:
    """Every outbox row passes through pending and sending before it is sent, and each change
    leaves an index entry behind until a vacuum (autovacuum may be off or behind). The look
    for due chats reads the queue, not those: with 1,500 rows sent, it touches a few pages,
    not one for each row sent (measured on the statement the repository runs, in the generic
    plan a prepared statement ends up with)."""
    if not db.is_postgresql:
        pytest.skip("PostgreSQL's index entries and plans")
    t0 = datetime(2026, 11, 26, tzinfo=UTC)
    chats = list(range(1, 301))
    async with db.transaction() as s:
        messages = [(c, None, {"text": "m"}) for _ in range(5) for c in chats]
        await OutboxRepo(s).add_many(messages, t0)
    while True:  # each row claimed and sent the way the worker does
        async with db.transaction() as s:
            repo = OutboxRepo(s)
            claimed = await repo.claim_heads(chats, t0, t0 + timedelta(minutes=2), "w1")
            await repo.mark_sent_many([(row.id, t0, 1) for row in claimed.values()])
        if not claimed:
            break
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with db.read() as s:
            assert await OutboxRepo(s).due_chats(t0, 50, set()) == []
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
    [(statement, parameters)] = [(q, p) for q, p in seen if "outbox" in q]
    async with db.read(transaction=True) as s:
        await s.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        conn = await s.connection()
        explained = await conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters
        )
        plan = explained.scalar_one()[0]["Plan"]
    pages = plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]
    assert pages < 30, plan
