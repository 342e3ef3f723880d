"""A message's latest delivery, beside its first: the lease that delivery started counts
from it wherever the lease is (read back from disk, or after a restart), so SQS's limit of
12 hours after a receive holds for a message deep in flight too. Rows written before have 0
(their lease counts from when it is read back).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("last_delivery", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("messages", "last_delivery")
