"""Retention: processed rows pruned after RETENTION_PROCESSED_DAYS, finished cases anonymised
after the profile's retention_days with their statistics kept (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from storage.db import Database
from storage.models import Case, CaseEvent, Evidence, Inbox, Outbox, Survey
from storage.retention import prune, prune_in_batches
from tests.factories import NOW, make_case, make_customer, make_order

OLD, RECENT = NOW - timedelta(days=8), NOW - timedelta(days=6)
LONG_AGO = NOW - timedelta(days=1100)


def _inbox(n: int, status: str, at: object) -> Inbox:
    return Inbox(
        update_id=n,
        identity=f"m:{n}",
        chat_id=7,
        payload={"text": "hi"},
        status=status,
        received_at=at,
        processed_at=at if status != "pending" else None,
    )


def _outbox(status: str, at: object) -> Outbox:
    return Outbox(
        chat_id=7,
        payload={"text": "hello"},
        status=status,
        created_at=at,
        sent_at=at if status == "sent" else None,
    )


async def _seed(db: Database) -> dict[str, int]:
    async with db.transaction() as s:
        s.add_all(
            [
                _inbox(1, "done", OLD),
                _inbox(2, "done", RECENT),
                _inbox(3, "pending", OLD),
                _inbox(4, "failed", OLD),
            ]
        )
        s.add_all([_outbox("sent", OLD), _outbox("sent", RECENT), _outbox("pending", OLD)])
        customer = await make_customer(s, telegram_user_id=7)
        order = await make_order(s, customer)
        old = await make_case(
            s,
            order,
            status="closed",
            created_at=LONG_AGO,
            closed_at=LONG_AGO,
            description="屏幕裂了, call me on 13912345678",
            chat_id=7,
            return_address="北京市朝阳区某路 1 号",
            waybill="SF1234567890123",
            carrier="sf",
            refund_amount=Decimal("99.00"),
            rules=["standard.return.7d"],
        )
        open_ = await make_case(
            s,
            order,
            status="awaiting_return",
            created_at=LONG_AGO,
            description="still open",
            chat_id=7,
        )
        young = await make_case(
            s,
            order,
            status="closed",
            created_at=RECENT,
            closed_at=RECENT,
            description="recent words",
        )
        for case in (old, open_):
            s.add(
                Evidence(
                    case_id=case.id,
                    kind="photo",
                    file_id=f"f{case.id}",
                    file_unique_id=f"u{case.id}",
                    local_path=f"/ev/{case.id}.jpg",
                )
            )
            s.add(
                CaseEvent(
                    case_id=case.id,
                    at=LONG_AGO,
                    actor="customer",
                    kind="message",
                    data={"text": "my address is ...", "files": 1},
                )
            )
            s.add(
                CaseEvent(
                    case_id=case.id,
                    at=LONG_AGO,
                    actor="agent",
                    kind="inspected_ok",
                    data={"note": "sealed", "via": "cli"},
                )
            )
        s.add(Survey(case_id=old.id, rating=4, comment="王先生 was nice"))
        return {"old": old.id, "open": open_.id, "young": young.id}


async def _case(db: Database, case_id: int) -> tuple[Case, list[CaseEvent], list[Evidence]]:
    async with db.read() as s:
        case = await s.get(Case, case_id)
        events = (
            await s.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            )
        ).all()
        evidence = (await s.scalars(select(Evidence).where(Evidence.case_id == case_id))).all()
        assert case is not None
        s.expunge_all()
        return case, list(events), list(evidence)


async def test_processed_rows_older_than_the_window_are_pruned(db: Database):
    await _seed(db)
    async with db.transaction() as s:
        report = await prune(s, now=NOW, processed_days=7, retention_days=1095)
    assert (report.inbox, report.outbox) == (2, 1)
    async with db.read() as s:
        inbox = sorted((await s.scalars(select(Inbox.update_id))).all())
        outbox = (await s.execute(select(Outbox.status, Outbox.created_at))).all()
    assert inbox == [2, 3]  # the recent one, and the one not processed yet
    assert sorted(status for status, _ in outbox) == ["pending", "sent"]
    assert all(at == RECENT for status, at in outbox if status == "sent")


async def test_an_old_finished_case_is_anonymised_and_keeps_its_statistics(db: Database):
    ids = await _seed(db)
    before, _, _ = await _case(db, ids["old"])
    async with db.transaction() as s:
        report = await prune(s, now=NOW, processed_days=7, retention_days=1095)
    assert (report.cases, report.evidence) == (1, 1)
    assert report.evidence_paths == (f"/ev/{ids['old']}.jpg",)
    case, events, evidence = await _case(db, ids["old"])
    assert (case.description, case.return_address, case.chat_id, case.waybill) == (
        "",
        None,
        None,
        None,
    )
    assert case.customer_id == before.customer_id  # the link, as an anonymous id
    kept = (
        "service",
        "reason",
        "status",
        "outcome",
        "rules",
        "created_at",
        "closed_at",
        "refund_amount",
        "carrier",
        "order_id",
        "item_id",
    )
    assert {k: getattr(case, k) for k in kept} == {k: getattr(before, k) for k in kept}
    assert evidence == []
    assert [e.data for e in events] == [{"text": "", "files": 1}, {"note": "", "via": "cli"}, {}]
    assert (events[-1].kind, events[-1].actor) == ("anonymised", "system")
    async with db.read() as s:
        survey = (await s.execute(select(Survey.rating, Survey.comment))).one()
    assert tuple(survey) == (4, None)

    # Once is enough: a second run finds nothing more.
    async with db.transaction() as s:
        again = await prune(s, now=NOW, processed_days=7, retention_days=1095)
    assert (again.inbox, again.outbox, again.cases, again.evidence) == (0, 0, 0, 0)


async def test_open_and_recent_cases_are_untouched(db: Database):
    ids = await _seed(db)
    async with db.transaction() as s:
        await prune(s, now=NOW, processed_days=7, retention_days=1095)
    case, events, evidence = await _case(db, ids["open"])
    assert (case.description, case.chat_id) == ("still open", 7)
    assert len(evidence) == 1 and events[0].data["text"] == "my address is ..."
    young, young_events, _ = await _case(db, ids["young"])
    assert young.description == "recent words" and young_events == []


async def test_a_dry_run_counts_and_changes_nothing(db: Database):
    ids = await _seed(db)
    async with db.transaction() as s:
        report = await prune(s, now=NOW, processed_days=7, retention_days=1095, dry_run=True)
    assert (report.inbox, report.outbox, report.cases, report.evidence) == (2, 1, 1, 1)
    case, _, evidence = await _case(db, ids["old"])
    assert case.description.startswith("屏幕裂了") and len(evidence) == 1
    async with db.read() as s:
        assert len((await s.scalars(select(Inbox))).all()) == 4


async def test_a_long_history_is_pruned_a_bounded_batch_per_transaction(db: Database):
    """The running bot's pruning: however many cases are due, a transaction anonymises at most
    `batch` of them (memory and the writer's hold stay bounded), and each batch's evidence
    files are handed over once it has committed."""
    ids = await _seed(db)
    async with db.transaction() as s:
        s.add_all(_inbox(100 + n, "done", OLD) for n in range(25))
        order = await make_order(s, await make_customer(s, telegram_user_id=8))
        for n in range(4):
            case = await make_case(s, order, status="cancelled", created_at=LONG_AGO,
                                   closed_at=LONG_AGO, description=f"words {n}")  # fmt: skip
            s.add(Evidence(case_id=case.id, kind="photo", file_id=f"g{n}", file_unique_id=f"v{n}",
                           local_path=f"/ev/more{n}.jpg"))  # fmt: skip
    handed: list[tuple[str, ...]] = []

    async def committed(paths: tuple[str, ...]) -> None:
        async with db.read() as s:  # committed already: another session sees the batch
            gone = select(Evidence.id).where(Evidence.local_path.in_(paths))
            assert (await s.scalars(gone)).all() == []
        handed.append(paths)

    report = await prune_in_batches(db, now=NOW, processed_days=7, retention_days=1095,
                                    committed=committed, batch=2)  # fmt: skip
    assert (report.inbox, report.outbox, report.cases, report.evidence) == (27, 1, 5, 5)
    assert report.evidence_paths == ()
    assert [len(paths) for paths in handed] == [2, 2, 1]
    async with db.read() as s:
        left = (await s.scalars(select(Case.description).where(Case.status != "closed"))).all()
        assert sorted(left) == ["", "", "", "", "still open"]
        assert sorted((await s.scalars(select(Inbox.update_id))).all()) == [2, 3]
    case, _, _ = await _case(db, ids["old"])
    assert case.description == ""
    again = await prune_in_batches(db, now=NOW, processed_days=7, retention_days=1095,
                                   committed=committed, batch=2)  # fmt: skip
    assert (again.inbox, again.outbox, again.cases, again.evidence) == (0, 0, 0, 0)
