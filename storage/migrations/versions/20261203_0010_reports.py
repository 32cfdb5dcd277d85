"""Reports: the indexes a period's figures walk, and one live weekly digest timer.

Every figure of `aftersales report` and /report is a range of one of these (cases by creation
and refund time, orders by placement, surveys by answer time, timers by clock and due time);
without them a month's report at a million cases scans every table (bench/report_bench.py).
The partial unique index keeps a single pending digest however many workers start at once.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 12:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIGEST_LIVE = sa.text("kind = 'report_digest' AND fired_at IS NULL AND cancelled_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_cases_created_at", "cases", ["created_at"])
    op.create_index("ix_cases_refunded_at", "cases", ["refunded_at"])
    op.create_index("ix_orders_placed_at", "orders", ["placed_at"])
    op.create_index("ix_surveys_answered_at", "surveys", ["answered_at"])
    op.create_index("ix_timers_kind_due", "timers", ["kind", "due_at"])
    op.create_index("uq_timers_live_digest", "timers", ["kind"], unique=True,
                    sqlite_where=DIGEST_LIVE, postgresql_where=DIGEST_LIVE)  # fmt: skip


def downgrade() -> None:
    op.drop_index("uq_timers_live_digest", table_name="timers")
    op.drop_index("ix_timers_kind_due", table_name="timers")
    op.drop_index("ix_surveys_answered_at", table_name="surveys")
    op.drop_index("ix_orders_placed_at", table_name="orders")
    op.drop_index("ix_cases_refunded_at", table_name="cases")
    op.drop_index("ix_cases_created_at", table_name="cases")
