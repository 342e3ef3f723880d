"""Paged queues: indexes that read a queue's head in delivery order and find messages by
time, and a flag for non-persistent messages that spilled to disk (dropped at start).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("transient", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_messages_order", "messages", ["dest_id", sa.text("priority DESC"), "seq"])
    op.create_index("ix_messages_visible", "messages", ["visible_at"])
    op.create_index("ix_messages_transient", "messages", ["transient"])


def downgrade() -> None:
    op.drop_index("ix_messages_transient", "messages")
    op.drop_index("ix_messages_visible", "messages")
    op.drop_index("ix_messages_order", "messages")
    op.drop_column("messages", "transient")
