"""Inbox rows by order of arrival, duplicates by update_id and identity.

Telegram picks update ids at random after a week without updates, so an update_id alone does
not tell a redelivery from a new update. The table is rebuilt with its own `id` and an
`identity` column; the rows it held get their identity computed here, by the same rule as
`bot.update_shape.identity` (copied, so that this revision never changes with the code).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 12:00:00+00:00
"""

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BATCH = 1000


def _identity(update: dict[str, Any]) -> str:
    kinds = [k for k in update if k != "update_id"]
    kind = kinds[0] if kinds else "empty"
    body = update.get(kind) if isinstance(update.get(kind), dict) else {}
    chat = (body.get("chat") or {}).get("id")
    if kind == "message":
        return f"message:{chat}:{body.get('message_id')}"
    if kind == "edited_message":
        return f"edit:{chat}:{body.get('message_id')}:{body.get('edit_date', 0)}"
    if kind == "callback_query":
        return f"callback:{body.get('id')}"
    if kind == "my_chat_member":
        status = (body.get("new_chat_member") or {}).get("status")
        sender = (body.get("from") or {}).get("id")
        return f"member:{chat}:{sender}:{body.get('date')}:{status}"
    content = {k: v for k, v in update.items() if k != "update_id"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return f"{kind}:{digest[:40]}"


def _old_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    ]


COPIED = ("update_id", "chat_id", "payload", "status", "received_at", "processed_at", "error")


def _copy_aside() -> sa.Table:
    """The current rows into a plain table, so `inbox` can be made anew."""
    aside = op.create_table(
        "inbox_aside",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        *_old_columns(),
    )
    listed = ", ".join(COPIED)
    op.execute(f"INSERT INTO inbox_aside ({listed}) SELECT {listed} FROM inbox")
    return aside


def upgrade() -> None:
    aside = _copy_aside()
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_status_chat_update")
    op.drop_table("inbox")
    inbox = op.create_table(
        "inbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("identity", sa.String(length=160), nullable=False),
        *_old_columns(),
        sa.CheckConstraint("status IN ('pending', 'done', 'failed')", name=op.f("ck_inbox_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("update_id", "identity", name=op.f("uq_inbox_update_id_identity")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_status_id", ["status", "id"], unique=False)
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(aside).where(aside.c.seq > last).order_by(aside.c.seq).limit(BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].seq
        connection.execute(
            inbox.insert(),
            [{name: getattr(r, name) for name in COPIED} | {"identity": _identity(r.payload)}
             for r in rows],
        )  # fmt: skip
    op.drop_table("inbox_aside")


def downgrade() -> None:
    op.create_table(
        "inbox_aside",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        *_old_columns(),
    )
    # update_id was the key: of the updates sharing one, the newest is kept.
    listed = ", ".join(COPIED)
    op.execute(
        f"INSERT INTO inbox_aside ({listed}) SELECT {listed} FROM inbox "
        "WHERE id IN (SELECT MAX(id) FROM inbox GROUP BY update_id)"
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_status_id")
    op.drop_table("inbox")
    op.create_table(
        "inbox",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        *_old_columns(),
        sa.CheckConstraint("status IN ('pending', 'done', 'failed')", name=op.f("ck_inbox_status")),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_inbox")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbox_status_chat_update", ["status", "chat_id", "update_id"], unique=False
        )
    op.execute(f"INSERT INTO inbox ({listed}) SELECT {listed} FROM inbox_aside")
    op.drop_table("inbox_aside")
