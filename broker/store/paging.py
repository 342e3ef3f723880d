"""Every query that reads messages back into memory, in one module.

The engine keeps only the head of each queue in memory; these are the reads that fill it
(a page in delivery order after a key), that rebuild it at start (counts, first pages,
messages waiting for a time) and that clear a queue in one statement. Claims made by
several brokers sharing one database (`FOR UPDATE SKIP LOCKED`) would change this module
only: the engine sees pages of rows, not SQL.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, bindparam, case, delete, exists, func, select, tuple_, update
from sqlalchemy.engine import Connection

from broker.store.schema import contents, messages

Row = dict[str, Any]
# A position in a queue's delivery order: (-priority, seq), as the engine sorts.
Key = tuple[int, int]
# A position in a queue's time order: (visible_at, seq).
TimeKey = tuple[int, int]
# A position in a queue's age order: (timestamp, seq).
AgeKey = tuple[int, int]
# A position in a queue's expiry order: (expires, seq).
ExpiryKey = tuple[int, int]

_c = messages.c


def _rows(conn: Connection, query: Any) -> list[Row]:
    compiled = query.compile(dialect=conn.dialect)
    return _fetch(conn, str(compiled), compiled.positiontup if compiled.positional else None,
                  compiled.params)


def _fetch(conn: Connection, sql: str, order: Any, params: dict[str, Any]) -> list[Row]:
    # Straight from the DBAPI cursor: SQLAlchemy's row objects cost more than the read.
    args: Any = tuple(params[k] for k in order) if order is not None else params
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, args)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, t)) for t in cursor.fetchall()]
    finally:
        cursor.close()


def _select() -> Any:
    """Message rows with their body, wherever it is kept (the database picks it, so no
    row needs a second look in Python)."""
    columns = [c for c in messages.c if c.name != "body"]
    body = func.coalesce(contents.c.body, messages.c.body).label("body")
    return (select(*columns, body)
            .select_from(messages.outerjoin(contents, messages.c.content_id == contents.c.id)))


# The page queries, compiled once per dialect: a deep queue is read a page at a time, and
# compiling the statement cost as much as reading a page of rows.
_PAGE_SQL: dict[tuple[str, str], tuple[str, Any, dict[str, Any]]] = {}


def _page_statement(shape: str) -> Any:
    """A page of a queue in delivery order: from its head, after a seq within one
    priority, or from the priorities below one."""
    query = _select().where(_c.dest_id == bindparam("dest_id"), _c.visible_at <= bindparam("now"))
    if shape == "same":
        query = query.where(_c.priority == bindparam("priority"), _c.seq > bindparam("seq"))
    elif shape == "lower":
        query = query.where(_c.priority < bindparam("priority"))
    return query.order_by(_c.priority.desc(), _c.seq).limit(bindparam("limit", type_=Integer))


def _page(conn: Connection, shape: str, params: dict[str, Any]) -> list[Row]:
    key = (conn.dialect.name, shape)
    found = _PAGE_SQL.get(key)
    if found is None:
        compiled = _page_statement(shape).compile(dialect=conn.dialect)
        found = _PAGE_SQL[key] = (str(compiled), compiled.positiontup if compiled.positional else None,
                                   compiled.params)
    sql, order, defaults = found
    return _fetch(conn, sql, order, {**defaults, **params})


def ready_page(conn: Connection, dest_id: int, after: Key | None, now: int, limit: int) -> list[Row]:
    """Up to `limit` deliverable rows of a queue that come after `after` in delivery order.

    Two index range scans (the rest of after's priority, then the lower priorities) rather
    than one OR, which neither SQLite nor PostgreSQL can run on the (dest, priority, seq) index.
    """
    params = {"dest_id": dest_id, "now": now}
    if after is None:
        return _page(conn, "head", {**params, "limit": limit})
    params.update(priority=-after[0], seq=after[1])
    found = _page(conn, "same", {**params, "limit": limit})
    if len(found) < limit:
        found += _page(conn, "lower", {**params, "limit": limit - len(found)})
    return found


def _after_filter(key: Key) -> Any:
    """The rows after `key` in delivery order, as a test of each row found another way:
    `+ 0` keeps both databases from reading the order index for it, so a query by age or
    by expiry walks its own index instead of the whole backlog after `key`."""
    priority, seq = -key[0], key[1]
    return ((_c.priority + 0 == priority) & (_c.seq + 0 > seq)) | (_c.priority + 0 < priority)


def by_index_only(conn: Connection) -> None:
    """PostgreSQL, for the rest of this transaction: walk an index in its order and stop at
    the LIMIT. Before it has statistics of a freshly filled table (autovacuum gathers them
    within a minute or so) the planner guesses that a few rows match, and would read every
    match into a bitmap and sort them: the whole expired backlog, for each slice."""
    conn.exec_driver_sql("SELECT set_config('enable_bitmapscan', 'off', true), "
                         "set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true)")


def expire(conn: Connection, dest_id: int, after: Key, cutoff: int, now: int, limit: int,
           start: AgeKey | None = None) -> tuple[int, AgeKey | None]:
    """Delete up to `limit` ready rows of a queue after `after` in delivery order that were
    accepted before `cutoff` (its retention period ended): SQS retention for the part of a
    backlog that is on disk, without reading it. The rows are found oldest first by the
    (queue, timestamp, seq) index from after `start`, so its statements read what they
    delete (and the few old rows they leave: the window's, those waiting for a time), not
    the backlog nor, on PostgreSQL, the index entries of rows deleted before (which stay
    until a vacuum). Returns how many it deleted and the (timestamp, seq) of the last."""
    if conn.dialect.name == "postgresql":
        by_index_only(conn)
    conditions = [_c.dest_id == dest_id, _c.visible_at <= now, _after_filter(after)]
    if start is not None:
        conditions.append(tuple_(_c.timestamp, _c.seq) > tuple_(*start))
    found = conn.execute(select(_c.timestamp, _c.seq, _c.content_id).where(*conditions, _c.timestamp <= cutoff)
                         .order_by(_c.timestamp, _c.seq).limit(limit)).all()
    if not found:
        return 0, None
    last = (found[-1].timestamp, found[-1].seq)
    # The same rows, as the range of the index they were read from: no list of seqs.
    conn.execute(delete(messages).where(*conditions, tuple_(_c.timestamp, _c.seq) <= tuple_(*last)))
    drop_unreferenced(conn, sorted({row.content_id for row in found if row.content_id is not None}))
    return len(found), last


def oldest_after(conn: Connection, dest_id: int, after: Key) -> int | None:
    """The oldest timestamp among a queue's rows after `after` in delivery order, whatever
    their time (None: no such row): the first such row of the (queue, timestamp) index."""
    return conn.execute(select(_c.timestamp).where(_c.dest_id == dest_id, _after_filter(after))
                        .order_by(_c.timestamp).limit(1)).scalar()


def expire_dead(conn: Connection, dest_id: int, after: Key, ready_cutoff: int, now: int,
                limit: int, rewrite: Any, start: ExpiryKey | None = None
                ) -> tuple[list[tuple[Key | None, Row]], ExpiryKey | None]:
    """JMS expiry of the part of a queue's backlog that is on disk, a slice at a time,
    without reading it: up to `limit` ready rows after `after` in delivery order whose
    `expires` has passed, the first ones in expiry order after `start` = (expires, seq)
    (found by the (queue, expires, seq) index, so a slice reads what it moves, not the
    rest of the expired backlog; no body read), are moved as `rewrite(row, i)` says (new
    seq, queue and dead-letter facts), or deleted where it says None. Returns, per row,
    the key in delivery order it was moved to (None: deleted) and the row as it was
    (without its body), for the expiry's listeners; and the (expires, seq) of the last."""
    if conn.dialect.name == "postgresql":
        by_index_only(conn)
    columns = [c for c in messages.c if c.name != "body"]
    conditions = [_c.dest_id == dest_id, _c.expires > 0, _c.expires <= now, _after_filter(after),
                  _c.visible_at <= ready_cutoff]
    if start is not None:
        conditions.append(tuple_(_c.expires, _c.seq) > tuple_(*start))
    found = [dict(r._mapping) for r in conn.execute(
        select(*columns).where(*conditions).order_by(_c.expires, _c.seq).limit(limit))]
    if not found:
        return [], None
    moves, gone, keys = [], [], []
    for i, row in enumerate(found):
        values = rewrite(row, i)
        if values is None:
            gone.append(row["seq"])
            keys.append(None)
        else:
            moves.append({"old_seq": row["seq"], **values})
            keys.append((-row["priority"], values["seq"]))
    if moves:
        conn.execute(update(messages).where(_c.seq == bindparam("old_seq"))
                     .values({k: bindparam(k) for k in moves[0] if k != "old_seq"}), moves)
    if gone:
        conn.execute(delete(messages).where(_c.seq.in_(bindparam("gone", expanding=True))), {"gone": gone})
        drop_unreferenced(conn)
    return list(zip(keys, found)), (found[-1]["expires"], found[-1]["seq"])


def timed_page(conn: Connection, dest_id: int, after: TimeKey, limit: int) -> list[Row]:
    """Up to `limit` rows of a queue that wait for a time (delays, visibility deadlines)
    and come after `after` = (due, seq) in time order: the next ones to come due, read
    ahead of their time. Two index range scans on (dest, visible_at, seq), as ready_page."""
    due, seq = after
    base = _select().where(_c.dest_id == dest_id)
    found: list[Row] = []
    for condition in ((_c.visible_at == due) & (_c.seq > seq), _c.visible_at > due):
        if len(found) >= limit:
            break
        found += _rows(conn, base.where(condition).order_by(_c.visible_at, _c.seq)
                       .limit(limit - len(found)))
    return found


def job_waiting(conn: Connection, job_id: str, now: int) -> list[Row]:
    """The rows of a scheduled job's deliveries that still wait for their time (never
    delivered, due after `now`), in any queue, in time order: one range of the job index,
    however many other rows wait."""
    return _rows(conn, _select().where(_c.job_id == job_id, _c.visible_at > now, _c.delivery_count == 0)
                 .order_by(_c.visible_at, _c.seq))


def waiting(conn: Connection, dest_id: int, now: int, limit: int) -> tuple[list[Row], int, int]:
    """At start: a queue's first `limit` rows not deliverable before a time still to come
    (delayed messages, and leases whose visibility deadline outlives a restart, so an SQS
    receipt handle stays valid until then), in time order, and how many such rows it
    holds: (rows, delayed, in flight)."""
    rows = _rows(conn, _select().where(_c.dest_id == dest_id, _c.visible_at > now)
                 .order_by(_c.visible_at, _c.seq).limit(limit))
    if len(rows) < limit:
        leases = sum(1 for r in rows if r["delivery_count"] > 0)
        return rows, len(rows) - leases, leases
    total, leases = conn.execute(
        select(func.count(), func.coalesce(func.sum(case((_c.delivery_count > 0, 1), else_=0)), 0))
        .where(_c.dest_id == dest_id, _c.visible_at > now)).one()
    return rows, total - leases, leases


def leased(conn: Connection, dest_id: int, seq: int, after: int) -> Row | None:
    """The row of a message in flight whose visibility deadline is after `after`, by its
    seq (an SQS receipt handle names it), wherever it is in the queue."""
    rows = _rows(conn, _select().where(_c.seq == seq, _c.dest_id == dest_id,
                                       _c.delivery_count > 0, _c.visible_at > after))
    return rows[0] if rows else None


def counts(conn: Connection) -> dict[int, int]:
    """How many messages each destination holds."""
    return {r[0]: r[1] for r in conn.execute(select(_c.dest_id, func.count()).group_by(_c.dest_id))}


def max_seq(conn: Connection) -> int:
    return conn.execute(select(func.max(_c.seq))).scalar() or 0


def drop_transient(conn: Connection) -> int:
    """Non-persistent messages that spilled to disk do not outlive the broker (as in ActiveMQ)."""
    dropped = conn.execute(delete(messages).where(_c.transient == 1)).rowcount
    if dropped:
        drop_unreferenced(conn)
    return dropped


def insert_contents(conn: Connection) -> Any:
    """INSERT of shared bodies that leaves one already stored as it is."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(contents).on_conflict_do_nothing(index_elements=["id"])


def drop_unreferenced(conn: Connection, ids: list[int] | None = None) -> None:
    """Delete shared bodies no message names any more (those of `ids`, or all)."""
    query = delete(contents).where(~exists().where(_c.content_id == contents.c.id))
    if ids is None:
        conn.execute(query)
    elif ids:
        conn.execute(query.where(contents.c.id.in_(bindparam("ids", expanding=True))), {"ids": ids})


def used_bytes(conn: Connection) -> int:
    """What the database holds: SQLite's pages in use, PostgreSQL's database size."""
    if conn.dialect.name == "sqlite":
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar() or 0
        free = conn.exec_driver_sql("PRAGMA freelist_count").scalar() or 0
        size = conn.exec_driver_sql("PRAGMA page_size").scalar() or 0
        return (pages - free) * size
    return conn.exec_driver_sql("SELECT pg_total_relation_size('messages')").scalar() or 0


def purge(conn: Connection, dest_id: int, keep: list[int], leases_after: int | None = None) -> None:
    """Delete a queue's messages in one statement, except those in `keep` (in flight) and,
    when `leases_after` is given, the leases on disk whose deadline is after it."""
    query = delete(messages).where(_c.dest_id == dest_id)
    if leases_after is not None:
        query = query.where(~((_c.delivery_count > 0) & (_c.visible_at > leases_after)))
    if keep:
        query = query.where(_c.seq.not_in(bindparam("keep", expanding=True)))
        conn.execute(query, {"keep": keep})
    else:
        conn.execute(query)
    drop_unreferenced(conn)
