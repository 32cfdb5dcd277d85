"""Several workers on one database: an inbox row's lane, lane leases, shared rate buckets.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 11:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("lane", sa.BigInteger(), nullable=True))
    # Rows stored before: a private chat's lane is its chat (group rows stay NULL: the
    # processor finds their lane as it always did).
    op.execute("UPDATE inbox SET lane = chat_id WHERE chat_id > 0")
    op.create_index("ix_inbox_lane_status_update", "inbox", ["lane", "status", "update_id"])
    op.create_table(
        "lanes",
        sa.Column("lane", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("holder", sa.String(length=40), nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("lane", name=op.f("pk_lanes")),
    )
    op.create_table(
        "rate_slots",
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_slots")),
    )


def downgrade() -> None:
    op.drop_table("rate_slots")
    op.drop_table("lanes")
    op.drop_index("ix_inbox_lane_status_update", table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("lane")
