"""A message's body digest (SQS's MD5OfBody), where the door that took the message in
computed one: a message paged back in from a deep queue, or restored at start, is
delivered without hashing and checking its body again on the reactor thread. Rows written
before have none (it is computed on their first delivery, as before).

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("body_md5", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "body_md5")
