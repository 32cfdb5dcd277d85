"""The outbox's queue indexed alone: each chat's unsent rows, not every row by status.

Every row passes through pending and sending before it is sent, and each change leaves the
old version's index entry behind until a vacuum. The queue's statements had bound their
statuses as parameters, so only a full index on (status, chat_id, id) served them, and the
planner read it by bitmap, which visits every entry a vacuum has not yet removed: with
autovacuum off or behind, the look for due chats read 12,000 dead rows for none live and
took 9 ms, half the server's time under load. The statuses are now written into the
statements, so this partial index serves them, and its plain index scans mark the entries of
dead rows as they pass, so the next look skips them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 12:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSENT = "status IN ('pending', 'sending')"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_chat_id")
        batch_op.create_index(
            "ix_outbox_unsent",
            ["chat_id", "id"],
            unique=False,
            sqlite_where=sa.text(UNSENT),
            postgresql_where=sa.text(UNSENT),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unsent")
        batch_op.create_index("ix_outbox_status_chat_id", ["status", "chat_id", "id"], unique=False)
