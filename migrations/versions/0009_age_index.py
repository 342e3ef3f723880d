"""Messages by queue and age: the retention sweep finds the rows whose retention ended, and
the oldest row behind a queue's window, by (queue, timestamp, seq) instead of reading the whole
backlog on the writer thread while every other commit waits.

Revision ID: 0009
Revises: 0008
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_age", "messages", ["dest_id", "timestamp", "seq"])


def downgrade() -> None:
    op.drop_index("ix_messages_age", "messages")
