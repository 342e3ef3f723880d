"""Destinations and messages.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "destinations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("attrs", sa.Text, nullable=False),
        sa.UniqueConstraint("kind", "name", name="uq_destinations_kind_name"),
    )
    op.create_table(
        "messages",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("dest_id", sa.Integer, nullable=False),
        sa.Column("message_id", sa.String(256), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("expires", sa.BigInteger, nullable=False),
        sa.Column("visible_at", sa.BigInteger, nullable=False),
        sa.Column("delivery_count", sa.Integer, nullable=False),
        sa.Column("first_delivery", sa.BigInteger, nullable=False),
        sa.Column("group_id", sa.String(256)),
        sa.Column("dedup_id", sa.String(256)),
        sa.Column("attrs", sa.Text, nullable=False),
    )
    op.create_index("ix_messages_dest_seq", "messages", ["dest_id", "seq"])


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("destinations")
