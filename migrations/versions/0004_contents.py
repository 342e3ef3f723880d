"""Bodies stored once: a message fanned out to several stored queues (durable topic
subscriptions, Virtual Topic queues) keeps its body in `contents`, referenced by each copy.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contents",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    op.add_column("messages", sa.Column("content_id", sa.BigInteger, nullable=True))
    op.create_index("ix_messages_content", "messages", ["content_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_content", "messages")
    op.drop_column("messages", "content_id")
    op.drop_table("contents")
