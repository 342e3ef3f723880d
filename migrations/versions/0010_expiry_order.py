"""Expired messages by queue, expiry and seq: the JMS expiry sweep moves a deep expired
backlog in slices, each the next range of this index after the last (expires, seq) it
moved, so a slice reads what it moves and the commits waiting behind it wait for one slice.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

EXPIRING = sa.text("expires > 0")


def upgrade() -> None:
    op.drop_index("ix_messages_expires", "messages")
    op.create_index("ix_messages_expires", "messages", ["dest_id", "expires", "seq"],
                    sqlite_where=EXPIRING, postgresql_where=EXPIRING)


def downgrade() -> None:
    op.drop_index("ix_messages_expires", "messages")
    op.create_index("ix_messages_expires", "messages", ["dest_id", "expires"],
                    sqlite_where=EXPIRING, postgresql_where=EXPIRING)
