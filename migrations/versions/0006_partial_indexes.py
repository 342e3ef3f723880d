"""Every message row paid for two index entries that almost no row needs: the flag of a
non-persistent message spilled to disk (found only to drop them at start) and the shared
body a fan-out copy names (found only to drop a body with its last copy). Both become
partial indexes over the rows that have them, so an ordinary message's insert and delete
touch two fewer indexes (a fifth less SQLite work per group commit of new messages).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TRANSIENT = sa.text("transient = 1")
SHARED = sa.text("content_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_messages_transient", "messages")
    op.create_index("ix_messages_transient", "messages", ["transient"],
                    sqlite_where=TRANSIENT, postgresql_where=TRANSIENT)
    op.drop_index("ix_messages_content", "messages")
    op.create_index("ix_messages_content", "messages", ["content_id"],
                    sqlite_where=SHARED, postgresql_where=SHARED)


def downgrade() -> None:
    op.drop_index("ix_messages_content", "messages")
    op.create_index("ix_messages_content", "messages", ["content_id"])
    op.drop_index("ix_messages_transient", "messages")
    op.create_index("ix_messages_transient", "messages", ["transient"])
