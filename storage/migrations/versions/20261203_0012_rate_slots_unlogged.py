"""The shared rate buckets unlogged (PostgreSQL).

Every message books one or two rate slots (bot/shared_limits.py), each its own commit. A
bucket is a few seconds of pacing, not data worth a disk flush: on an unlogged table the
commit does not wait for the write-ahead log, and a database crash only empties the buckets
(a burst of at most a bucket's tolerance follows). SQLite has no such tables and does not
share buckets between workers.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 18:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE rate_slots SET UNLOGGED")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE rate_slots SET LOGGED")
