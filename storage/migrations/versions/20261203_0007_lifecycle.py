"""After the decision: where the goods go back to, the refund, when the case closed; the order's
freight insurance; the survey's three dimensions; approved cases whose goods come back wait
for the parcel (`awaiting_return`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 08:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIMENSIONS = ("attitude", "speed", "result")


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warehouse", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("refund_amount", sa.Numeric(12, 2), nullable=True))
        batch_op.add_column(sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_cases_waybill", ["waybill"], unique=False)
        batch_op.create_index("ix_cases_status", ["status"], unique=False)
    op.execute(
        "UPDATE cases SET status = 'awaiting_return' WHERE status = 'approved'"
        " AND service IN ('return', 'exchange', 'repair')"
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("freight_insurance", sa.Numeric(12, 2), nullable=True))
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        for name in DIMENSIONS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))
            batch_op.create_check_constraint(op.f(f"ck_surveys_{name}"), f"{name} BETWEEN 1 AND 5")
        batch_op.add_column(sa.Column("agent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_surveys_agent_id_agents"), "agents", ["agent_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_surveys_agent_id_agents"), type_="foreignkey")
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("agent_id")
        for name in DIMENSIONS:
            batch_op.drop_constraint(op.f(f"ck_surveys_{name}"), type_="check")
            batch_op.drop_column(name)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("freight_insurance")
    op.execute("UPDATE cases SET status = 'approved' WHERE status = 'awaiting_return'")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_status")
        batch_op.drop_index("ix_cases_waybill")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("refunded_at")
        batch_op.drop_column("refund_amount")
        batch_op.drop_column("warehouse")
