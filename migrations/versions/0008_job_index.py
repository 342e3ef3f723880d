"""Scheduled jobs found by id: a message that is a delivery of a scheduled job names the job
in a column of its own, with a partial index (only the rows that have one), so removing a
job reads its own rows rather than every waiting row.

The rows written before wait with the job id in their headers and their schedule among
their properties: the job id moves to the column, and the schedule out of the properties
(kept for the scheduler's BROWSE only), as new rows have them.

Revision ID: 0008
Revises: 0007
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

JOB = sa.text("job_id IS NOT NULL")
JOB_HEADER = "scheduledJobId"
SCHEDULE = ("AMQ_SCHEDULED_DELAY", "AMQ_SCHEDULED_PERIOD", "AMQ_SCHEDULED_REPEAT", "AMQ_SCHEDULED_CRON")
BATCH = 1000


def upgrade() -> None:
    op.add_column("messages", sa.Column("job_id", sa.String(256), nullable=True))
    op.create_index("ix_messages_job", "messages", ["job_id"], sqlite_where=JOB, postgresql_where=JOB)
    conn = op.get_bind()
    messages = sa.table("messages", sa.column("seq", sa.BigInteger), sa.column("attrs", sa.Text),
                        sa.column("job_id", sa.String), sa.column("delivery_count", sa.Integer),
                        sa.column("visible_at", sa.BigInteger))
    after = -1
    while True:
        # Only deliveries still waiting for their time can be a job's (redeliveries, which
        # carry the header too, have been delivered).
        rows = conn.execute(sa.select(messages.c.seq, messages.c.attrs)
                            .where(messages.c.seq > after, messages.c.delivery_count == 0,
                                   messages.c.visible_at > 0, messages.c.attrs.like(f'%"{JOB_HEADER}"%'))
                            .order_by(messages.c.seq).limit(BATCH)).all()
        for seq, text in rows:
            attrs = json.loads(text)
            job_id = attrs.get("h", {}).get(JOB_HEADER)
            if job_id is None:
                continue
            props, types = attrs.get("p", {}), attrs.get("t") or {}
            withheld = {name: [props.pop(name), types.pop(name, None)] for name in SCHEDULE
                        if isinstance(props.get(name), str)}
            if withheld:
                attrs["w"] = withheld
                if "t" in attrs and not types:
                    del attrs["t"]
            conn.execute(messages.update().where(messages.c.seq == seq)
                         .values(job_id=job_id, attrs=json.dumps(attrs, separators=(",", ":"))))
        if len(rows) < BATCH:
            break
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_messages_job", "messages")
    op.drop_column("messages", "job_id")
