"""Paged delays and leases: each queue's messages that wait for a time (delays,
visibility deadlines) are read in time order, a page at a time, by (queue, time, seq);
messages with a JMS expiry are found by (queue, expires) for the expiry sweep.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_timed", "messages", ["dest_id", "visible_at", "seq"])
    op.drop_index("ix_messages_visible", "messages")
    op.create_index("ix_messages_expires", "messages", ["dest_id", "expires"],
                    sqlite_where=sa.text("expires > 0"), postgresql_where=sa.text("expires > 0"))


def downgrade() -> None:
    op.drop_index("ix_messages_expires", "messages")
    op.create_index("ix_messages_visible", "messages", ["visible_at"])
    op.drop_index("ix_messages_timed", "messages")
