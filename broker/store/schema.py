"""The tables. Only broker.store imports SQLAlchemy; rows cross the layer boundary as dicts."""
from __future__ import annotations

from sqlalchemy import (BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Table,
                        Text, UniqueConstraint, text)

metadata = MetaData()

# A destination is anything that holds state across restarts: queues, topics that
# carry facade attributes (SNS), and durable topic subscriptions (which are queues fed by a topic).
destinations = Table(
    "destinations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("name", String(512), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("attrs", Text, nullable=False, default="{}"),
    UniqueConstraint("kind", "name", name="uq_destinations_kind_name"),
)

# One row per persistent message per queue. seq is assigned by the engine (monotonic),
# so inserts never need a round-trip to learn their key.
messages = Table(
    "messages", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("dest_id", Integer, nullable=False),
    Column("message_id", String(256), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("expires", BigInteger, nullable=False),
    Column("visible_at", BigInteger, nullable=False),
    Column("delivery_count", Integer, nullable=False),
    Column("first_delivery", BigInteger, nullable=False),
    # The latest delivery, where a lease's time counts from (0: not stored before 0007).
    Column("last_delivery", BigInteger, nullable=False, server_default="0"),
    Column("group_id", String(256)),
    Column("dedup_id", String(256)),
    Column("attrs", Text, nullable=False),
    # 1: a non-persistent message that spilled to disk under a backlog; deleted at start.
    Column("transient", Integer, nullable=False, server_default="0"),
    # The body lives in `contents` (shared by the copies of one fan-out); `body` is empty.
    Column("content_id", BigInteger, nullable=True),
    # The scheduled job the message is a delivery of (Message.job_id); most rows have none.
    Column("job_id", String(256), nullable=True),
    # The body's digest where a door computed one as it took the message in (Message.body_digest).
    Column("body_md5", String(32), nullable=True),
    Index("ix_messages_dest_seq", "dest_id", "seq"),
    # A queue's head in delivery order (priority, then arrival), read a page at a time.
    Index("ix_messages_order", "dest_id", text("priority DESC"), "seq"),
    # A queue's messages that wait for a time (delays, visibility deadlines), in time
    # order: read a page at a time ahead of their time, and at start.
    Index("ix_messages_timed", "dest_id", "visible_at", "seq"),
    # A queue's messages by age: the retention sweep finds those whose retention ended
    # (and the oldest on disk) without reading the rest of a deep backlog, and resumes
    # after the last it deleted.
    Index("ix_messages_age", "dest_id", "timestamp", "seq"),
    # Partial (only the rows that have them): an ordinary message pays for neither.
    Index("ix_messages_transient", "transient", sqlite_where=text("transient = 1"),
          postgresql_where=text("transient = 1")),
    # Messages with a JMS expiry, per queue, in expiry order: the periodic sweep finds those
    # past it on disk and moves them in slices, each resuming after the last it moved.
    Index("ix_messages_expires", "dest_id", "expires", "seq", sqlite_where=text("expires > 0"),
          postgresql_where=text("expires > 0")),
    Index("ix_messages_content", "content_id", sqlite_where=text("content_id IS NOT NULL"),
          postgresql_where=text("content_id IS NOT NULL")),
    # A job's waiting deliveries, wherever they are (a scheduler's REMOVE by job id).
    Index("ix_messages_job", "job_id", sqlite_where=text("job_id IS NOT NULL"),
          postgresql_where=text("job_id IS NOT NULL")),
)

# A body written once for every copy of a fan-out; deleted with the last copy that names it.
contents = Table(
    "contents", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("body", LargeBinary, nullable=False),
)

# Facade state that is not a message: one JSON document per (kind, name), e.g. an SNS
# subscription or an API Gateway definition. The engine hands them out by kind at start.
records = Table(
    "records", metadata,
    Column("kind", String(32), primary_key=True),
    Column("name", String(512), primary_key=True),
    Column("data", Text, nullable=False),
)

MESSAGE_STATE_COLUMNS = ("delivery_count", "visible_at", "first_delivery", "last_delivery")
