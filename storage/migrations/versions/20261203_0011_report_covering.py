"""Reports: units sold read from indexes alone.

A month's units sold (storage/repos/report_sql.py) are the items of every order placed in the
period: some 80,000 orders at a million cases, each looked up. With the order's id in the
placement index and the item's SKU and quantity in an index by order, PostgreSQL answers both
from the indexes (index-only scans, where autovacuum has marked the pages all-visible) instead
of visiting each row: the month's volume statement took 275 ms instead of 420 ms
(bench/report_bench.py). On SQLite every index holds the row id already, and the new index by
order covers the items' lookup the same way.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 15:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_orders_placed_at", table_name="orders")
    op.create_index("ix_orders_placed_at", "orders", ["placed_at"], postgresql_include=["id"])
    op.create_index("ix_order_items_sold", "order_items", ["order_id", "sku", "quantity"])


def downgrade() -> None:
    op.drop_index("ix_order_items_sold", table_name="order_items")
    op.drop_index("ix_orders_placed_at", table_name="orders")
    op.create_index("ix_orders_placed_at", "orders", ["placed_at"])
