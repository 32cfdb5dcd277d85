"""Explicit states: the outbox's claims and progress as columns, timers with leases, cases
that know their chat and topic, questions as cases, names checked against storage.domain.

Outbox rows a worker held (`error = 'in flight: <worker>'`, the lease in `next_attempt_at`,
the progress in the payload's `_progress`) become `sending` rows with `claimed_by`,
`lease_until`, `steps_done` and `last_message_id`; nothing else about a row changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 15:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
CLAIM_PREFIX = "in flight: "
PROGRESS = "_progress"
STATUSES = ("submitted", "approved", "rejected", "pending_review", "info_requested",
            "awaiting_return", "in_transit", "received", "inspected", "refunded",
            "exchange_shipped", "repaired_returned", "closed", "cancelled", "disputed")  # fmt: skip
SERVICES = ("return", "exchange", "repair", "refund", "missing_parts")
REASONS = ("no_reason", "quality", "not_as_described", "transit_damage", "wrong_item",
           "missing_parts", "size_colour", "not_received")  # fmt: skip


def _one_of(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    _cases_up()
    _outbox_up()
    _timers_up()
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("menu_message_id")


def _cases_up() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("details", JSON, nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("agent_chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("topic_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True)
        )
        for name in ("order_id", "item_id"):
            batch_op.alter_column(name, existing_type=sa.Integer(), nullable=True)
        for name in ("service", "reason"):
            batch_op.alter_column(name, existing_type=sa.String(length=32), nullable=True)
    op.execute("UPDATE cases SET kind = 'request'")
    # News about a case goes to the customer's private chat (its id is the user's).
    op.execute(
        "UPDATE cases SET chat_id = (SELECT telegram_user_id FROM customers"
        " WHERE customers.id = cases.customer_id)"
    )
    op.execute("UPDATE cases SET handed_over_at = created_at WHERE status = 'pending_review'")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.alter_column("kind", existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column("details", existing_type=JSON, server_default=None)
        batch_op.create_check_constraint(op.f("ck_cases_kind"), "kind IN ('request', 'question')")
        batch_op.create_check_constraint(op.f("ck_cases_status"), _one_of("status", STATUSES))
        batch_op.create_check_constraint(op.f("ck_cases_service"), _one_of("service", SERVICES))
        batch_op.create_check_constraint(op.f("ck_cases_reason"), _one_of("reason", REASONS))
        batch_op.create_index("ix_cases_topic", ["agent_chat_id", "topic_id"], unique=False)
        batch_op.create_check_constraint(
            op.f("ck_cases_request_names_its_item"),
            "kind = 'question' OR (order_id IS NOT NULL AND item_id IS NOT NULL"
            " AND service IS NOT NULL AND reason IS NOT NULL)",
        )


def _outbox_up() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending_chat")
        batch_op.drop_index("ix_outbox_status_next_id")
        batch_op.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch_op.add_column(sa.Column("message_thread_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("steps_done", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("last_message_id", sa.BigInteger(), nullable=True))
    outbox = sa.table(
        "outbox",
        sa.column("id", sa.Integer()),
        sa.column("status", sa.String()),
        sa.column("payload", JSON),
        sa.column("error", sa.Text()),
        sa.column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.column("claimed_by", sa.String()),
        sa.column("lease_until", sa.DateTime(timezone=True)),
        sa.column("steps_done", sa.Integer()),
        sa.column("last_message_id", sa.BigInteger()),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(outbox.c.id, outbox.c.payload, outbox.c.error, outbox.c.next_attempt_at).where(
            outbox.c.status == "pending"
        )
    ).all()
    for row in rows:
        payload = dict(row.payload)
        progress = payload.pop(PROGRESS, None) or {}
        values: dict[str, object] = {
            "payload": payload,
            "steps_done": int(progress.get("steps", 0)),
            "last_message_id": progress.get("message_id"),
        }
        if (row.error or "").startswith(CLAIM_PREFIX):
            values |= {
                "status": "sending",
                "claimed_by": row.error[len(CLAIM_PREFIX) :],
                "lease_until": row.next_attempt_at,
                "next_attempt_at": None,
                "error": None,
            }
        elif not progress:
            continue
        connection.execute(sa.update(outbox).where(outbox.c.id == row.id).values(**values))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("steps_done", existing_type=sa.Integer(), server_default=None)
        batch_op.create_check_constraint(
            op.f("ck_outbox_status"),
            "status IN ('pending', 'sending', 'sent', 'failed', 'blocked')",
        )
        batch_op.create_index("ix_outbox_status_chat_id", ["status", "chat_id", "id"], unique=False)


def _timers_up() -> None:
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_timers_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("menu_message_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timers_case_id"))
        for name in ("cancelled_at", "lease_until", "claimed_by", "chat_id"):
            batch_op.drop_column(name)
    # A row being sent goes back to the old encoding of a claim.
    op.execute(
        "UPDATE outbox SET status = 'pending', error = 'in flight: ' || claimed_by,"
        " next_attempt_at = lease_until WHERE status = 'sending'"
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_chat_id")
        batch_op.drop_constraint(op.f("ck_outbox_status"), type_="check")
        for name in ("last_message_id", "steps_done", "lease_until", "claimed_by",
                     "message_thread_id"):  # fmt: skip
            batch_op.drop_column(name)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_outbox_status"), "status IN ('pending', 'sent', 'failed', 'blocked')"
        )
        batch_op.create_index(
            "ix_outbox_status_next_id", ["status", "next_attempt_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_outbox_pending_chat",
            ["chat_id", "id"],
            unique=False,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
    questions = "SELECT id FROM cases WHERE kind = 'question'"
    for table in ("case_events", "evidence", "timers", "surveys"):
        op.execute(f"DELETE FROM {table} WHERE case_id IN ({questions})")
    op.execute("DELETE FROM cases WHERE kind = 'question'")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_topic")
        for name in ("request_names_its_item", "reason", "service", "status", "kind"):
            batch_op.drop_constraint(op.f(f"ck_cases_{name}"), type_="check")
        for name in ("order_id", "item_id"):
            batch_op.alter_column(name, existing_type=sa.Integer(), nullable=False)
        for name in ("service", "reason"):
            batch_op.alter_column(name, existing_type=sa.String(length=32), nullable=False)
        for name in ("first_response_at", "handed_over_at", "topic_id", "agent_chat_id",
                     "chat_id", "details", "kind"):  # fmt: skip
            batch_op.drop_column(name)
