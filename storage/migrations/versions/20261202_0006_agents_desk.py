"""The agents' side: a case's card in its topic, where it stands with the shop's people
(`desk`), the customer's complaint (`dispute`); outbox rows of one topic share a key so that
queued texts leave as one message.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 19:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DESKS = ("queued", "taken", "asked", "offered", "decided", "returned", "closed")
DISPUTES = ("submitted", "accepted", "investigating", "resolved")


def _one_of(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_message_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("desk", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("dispute", sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(op.f("ck_cases_desk"), _one_of("desk", DESKS))
        batch_op.create_check_constraint(op.f("ck_cases_dispute"), _one_of("dispute", DISPUTES))
        batch_op.create_index("ix_cases_card", ["agent_chat_id", "card_message_id"], unique=False)
    # Cases already waiting for a person are in the agents' queue.
    op.execute("UPDATE cases SET desk = 'queued' WHERE status = 'pending_review'")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("coalesce_key", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("coalesce_key")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_card")
        batch_op.drop_constraint(op.f("ck_cases_dispute"), type_="check")
        batch_op.drop_constraint(op.f("ck_cases_desk"), type_="check")
        batch_op.drop_column("dispute")
        batch_op.drop_column("desk")
        batch_op.drop_column("card_message_id")
