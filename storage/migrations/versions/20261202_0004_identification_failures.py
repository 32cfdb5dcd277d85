"""Failed identifications by order number, counted across chats.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identification_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_identification_failures_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identification_failures")),
    )
    with op.batch_alter_table("identification_failures", schema=None) as batch_op:
        batch_op.create_index("ix_identification_failures_at", ["at"], unique=False)
        batch_op.create_index(
            "ix_identification_failures_customer_at", ["customer_id", "at"], unique=False
        )
        batch_op.create_index(
            "ix_identification_failures_order_no_at", ["order_no", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identification_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_identification_failures_order_no_at")
        batch_op.drop_index("ix_identification_failures_customer_at")
        batch_op.drop_index("ix_identification_failures_at")
    op.drop_table("identification_failures")
