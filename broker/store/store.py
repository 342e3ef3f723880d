"""The durable log behind the engine: group-committed writes on a dedicated thread.

The reactor thread only appends to the current `Batch`. A single writer thread commits one
batch per transaction; while it writes, new operations gather in the next batch. Callers
that must not answer before durability (a RECEIPT, an SQS 200) wait on `committed()`,
which fires after the commit that contains everything asked so far.
"""
from __future__ import annotations

import json
import logging
import math
import threading
from functools import lru_cache, partial
from itertools import chain
from operator import itemgetter
from dataclasses import dataclass
from pathlib import Path
from queue import SimpleQueue
from typing import Any, Callable

from sqlalchemy import bindparam, create_engine, delete, event, null, select, update
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from broker.store import paging
from broker.store.batch import Batch, Row
from broker.store.migrate import upgrade
from broker.store.schema import MESSAGE_STATE_COLUMNS, destinations, messages, records

log = logging.getLogger("mqgate.store")

# A transaction that failed because the database was unreachable, restarting or locked is
# retried with back-off before its callers are told; one that the database refused (a
# constraint) fails at once, so it cannot hold up what comes after it.
RETRY_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
# After the database ran out of space, new persistent messages are refused at once for this
# long before one transaction tries again to write them (space may have been freed).
FULL_HOLD_S = 1.0
# SQLite: how often the checkpointer thread copies the write-ahead log into the database,
# and the log's size at which a commit does it itself (should that thread fall behind).
CHECKPOINT_EVERY_S = 0.02
WAL_BACKSTOP_PAGES = 2_000
SQLITE_FULL = 13
# Rows one transaction of a retention sweep deletes, or of a JMS expiry sweep moves, at
# most (see Store.expire and Store.expire_dead).
EXPIRE_SLICE = 1000


def _numbered(rewrite: Callable[[Row, int], Row | None], offset: int, row: Row, i: int) -> Row | None:
    """A slice's `rewrite`, numbering its rows after the `offset` rows of the slices before."""
    return rewrite(row, offset + i)


class StoreError(RuntimeError):
    """The database refused or could not be reached."""


class StoreFull(StoreError):
    """The database or its disk is full: the new messages of a transaction were refused
    (what it deleted or updated was committed without them). `used`: bytes it holds."""

    def __init__(self, message: str, used: int, refused: list[tuple[int, int]],
                 unwritten: Batch | None) -> None:
        super().__init__(message)
        self.used = used
        self.refused = refused          # (dest id, seq) of each message row refused
        self.unwritten = unwritten      # the rest of the batch, if it could not be written either


class _Kept(defer.Deferred):  # type: ignore[type-arg]
    """A wait for operations that take no space (acks, deletes, visibility changes): a full
    store does not fail it, since what it waits for is committed without the new messages."""


def out_of_space(exc: BaseException) -> bool:
    """Whether a write failed because the database or its disk is full: SQLite's
    SQLITE_FULL ("database or disk is full", also at PRAGMA max_page_count), PostgreSQL's
    class 53 (insufficient resources: disk_full 53100 and the like) but too_many_connections."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlite_errorcode", None) == SQLITE_FULL:
        return True
    state = getattr(orig, "sqlstate", None) or ""
    return state.startswith("53") and state != "53300"


@dataclass
class Snapshot:
    """What the engine rebuilds its indexes from at start: counters and the head of each
    queue, never the whole backlog."""

    destinations: list[Row]
    heads: dict[int, list[Row]]           # dest id -> first page, in delivery order
    waiting: dict[int, list[Row]]         # dest id -> first rows waiting for a time (delays, leases)
    timed: dict[int, tuple[int, int]]     # dest id -> (delayed, in flight) rows waiting for a time
    counts: dict[int, int]                # dest id -> messages stored
    max_seq: int
    max_dest_id: int
    records: dict[str, dict[str, Any]]    # kind -> name -> decoded JSON document

    @property
    def messages(self) -> list[Row]:
        """Every row read at start, by seq."""
        rows = [r for rows in (*self.heads.values(), *self.waiting.values()) for r in rows]
        return sorted(rows, key=lambda r: r["seq"])


def normalize_url(url: str) -> str:
    """Accept the URL forms users type and pick the drivers we ship."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, sync: str, max_size: int = 0) -> Engine:
    """`max_size` (SQLite only, bytes, 0: none) caps the database file: past it the database
    answers as on a full disk."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sync.upper()}")
            cur.execute("PRAGMA busy_timeout=30000")
            # The checkpointer thread moves the log into the database (Store._checkpoint), so
            # a commit never does; past this many pages a commit still does, as a backstop.
            cur.execute(f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}")
            if max_size:
                page = cur.execute("PRAGMA page_size").fetchone()[0]
                cur.execute(f"PRAGMA max_page_count={max(1, max_size // page)}")
            cur.close()
        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    def __init__(self, url: str, reactor: Any, sync: str = "normal", max_size: int = 0) -> None:
        self.url = url
        self._reactor: IReactorTime = reactor
        self._sync = sync
        self._max_size = max_size
        # True for FULL_HOLD_S after the database ran out of space (the engine refuses new
        # persistent messages meanwhile), with the bytes it held then.
        self.full = False
        self.full_bytes = 0
        self._full_call: Any = None
        # Told the (dest id, seq) of message rows a full database refused, so the engine
        # drops those messages as its doors tell their senders.
        self.on_refused: Callable[[list[tuple[int, int]]], None] = lambda rows: None
        self._engine: Engine | None = None
        # The one thread that writes, fed through a queue: cheaper per transaction than a
        # ThreadPool, whose hand-off machinery cost more than the SQL. Pages are read on a
        # second thread with its own connection, so a read never holds up a group commit.
        self._writer = _Worker("mqgate-store")
        self._reader = _Worker("mqgate-store-read")
        self._checkpointer = _Worker("mqgate-store-checkpoint")
        self._checkpoint_conn: Any = None
        self._checkpointing = self._closing = False
        self._last_checkpoint = 0.0
        self._read_conn: Connection | None = None
        self._batch = Batch()
        self._waiters: list[defer.Deferred[None]] = []
        self._writing: list[defer.Deferred[None]] | None = None
        self._flush_call: Any = None
        self._attempt = 0
        # Operations asked so far, and how many of them are committed.
        self._ops = self._durable_ops = self._writing_mark = 0
        # Writer thread only: one connection kept across transactions (no pool checkout and
        # reset per commit), and the hot statements compiled once for the dialect.
        self._conn: Connection | None = None
        self._sql: dict[Any, str] = {}
        # The dialect of those statements and the DBAPI cursor that takes them (_raw_statements).
        self._raw: tuple[Dialect, Callable[[Any], Any]] | None = None
        self._pending_release: list[int] = []
        # Writer thread only: per queue, a position in its delivery order and the oldest
        # timestamp of any row after it, found by a retention sweep that deleted nothing
        # and lowered by every row written since (see _expire_blocking).
        self._retention_floor: dict[int, tuple[paging.Key, float]] = {}
        # Writer thread only: per queue, where in age order (timestamp, seq) the last
        # retention slice stopped with more maybe behind it: the next one resumes there, so
        # draining a deep expired backlog does not walk what was deleted before again.
        # What it passed over (the window's rows, delayed and leased ones) is looked at
        # again by the sweep that starts over once one reaches the end.
        self._retention_resume: dict[int, paging.AgeKey] = {}

    # -- life cycle ---------------------------------------------------------
    def _call_in_thread(self, done: Callable[[bool, Any], None], fn: Callable[..., Any],
                        *args: Any) -> None:
        """Run fn(*args) on the writer thread, then done(ok, result or Failure) there too."""
        self._writer.put(done, fn, args)

    def _in_thread(self, fn: Callable[..., Any], *args: Any, worker: "_Worker | None" = None) -> defer.Deferred[Any]:
        d: defer.Deferred[Any] = defer.Deferred()

        def done(ok: bool, result: Any) -> None:
            self._reactor.callFromThread(d.callback if ok else d.errback, result)  # type: ignore[attr-defined]
        (worker or self._writer).put(done, fn, args)
        return d

    def open(self, now: int = 0, page: int = 1000) -> defer.Deferred[Snapshot]:
        """Upgrade the schema and read counters and the first `page` rows of each queue
        (deliverable at `now`); fires with the Snapshot."""
        return self._in_thread(self._open_blocking, now, page)

    def _open_blocking(self, now: int, page: int) -> Snapshot:
        self._engine = make_engine(self.url, self._sync, self._max_size)
        self._raw = _raw_statements(self._engine.dialect)
        with self._engine.begin() as conn:
            upgrade(conn)
            dropped = paging.drop_transient(conn)
        if dropped:
            log.info("event=transient_dropped messages=%d", dropped)
        with self._engine.connect() as conn:
            dests = [dict(r._mapping) for r in conn.execute(select(destinations))]
            counts = paging.counts(conn)
            heads = {d["id"]: paging.ready_page(conn, d["id"], None, now, page)
                     for d in dests if counts.get(d["id"])}
            waiting: dict[int, list[Row]] = {}
            timed: dict[int, tuple[int, int]] = {}
            for d in dests:
                if counts.get(d["id"]):
                    rows, delayed, leases = paging.waiting(conn, d["id"], now, page)
                    if rows:
                        waiting[d["id"]], timed[d["id"]] = rows, (delayed, leases)
            max_seq = paging.max_seq(conn)
            found: dict[str, dict[str, Any]] = {}
            for r in conn.execute(select(records)):
                found.setdefault(r.kind, {})[r.name] = json.loads(r.data)
        for d in dests:
            d["attrs"] = json.loads(d["attrs"] or "{}")
        return Snapshot(dests, heads, waiting, timed, counts, max_seq,
                        max((d["id"] for d in dests), default=0), found)

    # -- reads (reader thread) ----------------------------------------------------
    def page(self, dest_id: int, after: paging.Key | None, now: int, limit: int,
             since: int | None = None, make: Callable[[Row], Any] | None = None) -> defer.Deferred[list[Any]]:
        """The next rows of a queue after `after` in delivery order, deliverable at `now`
        (each passed through `make` on the reader thread, which spares the reactor thread
        that work for every message of a deep queue).

        The read sees everything asked of the store up to the mark `since` (by default,
        everything so far): it starts at once if that is committed already, else after the
        commit. A queue passes the mark of the last message it sent to disk, so draining a
        deep queue never waits for the writes of its own acks."""
        read = partial(self._in_thread, self._page_blocking, dest_id, after, now, limit, make,
                       worker=self._reader)
        if since is not None and since <= self._durable_ops:
            return read()
        return self.committed().addBoth(lambda _: read())

    def timed_page(self, dest_id: int, after: paging.TimeKey, limit: int,
                   since: int | None = None) -> defer.Deferred[list[Row]]:
        """The next rows of a queue that wait for a time, after `after` in time order
        (see `page` for `since`)."""
        return self._read_after(since, paging.timed_page, dest_id, after, limit)

    def job_waiting(self, job_id: str, now: int) -> defer.Deferred[list[Row]]:
        """The waiting rows of a scheduled job (see paging.job_waiting), once everything
        asked so far is committed."""
        return self._read_after(None, paging.job_waiting, job_id, now)

    def leased(self, dest_id: int, seq: int, after: int) -> defer.Deferred[Row | None]:
        """The row of a message in flight whose deadline is after `after`, by seq, once
        everything asked so far is committed."""
        return self._read_after(None, paging.leased, dest_id, seq, after)

    def _read_after(self, since: int | None, query: Callable[..., Any], *args: Any) -> defer.Deferred[Any]:
        read = partial(self._in_thread, self._read, query, *args, worker=self._reader)
        if since is not None and since <= self._durable_ops:
            return read()
        return self.committed().addBoth(lambda _: read())

    @defer.inlineCallbacks
    def expire(self, dest_id: int, after: paging.Key, cutoff: int, now: int,
               limit: int) -> Any:
        """Delete up to `limit` of a queue's on-disk rows whose retention ended (see
        paging.expire), on the writer thread, in transactions of EXPIRE_SLICE rows at most:
        each waits behind the group commits already asked for, so a sweep of a deep backlog
        holds up a SendMessage or a RECEIPT for one slice's delete, not for the sweep's.
        Fires with how many were deleted."""
        deleted = 0
        while deleted < limit:
            size = min(EXPIRE_SLICE, limit - deleted)
            gone = yield self._in_thread(self._expire_blocking, dest_id, after, cutoff, now, size)
            deleted += gone
            if gone < size:
                break
        return deleted

    def _expire_blocking(self, dest_id: int, after: paging.Key, cutoff: int, now: int, limit: int) -> int:
        """Writer thread. A sweep runs every second for each queue with a backlog on disk,
        and with a long retention it finds nothing for days while reading the whole backlog
        each time. So a sweep that deleted nothing notes the oldest timestamp after `after`;
        until the cutoff reaches it, and while the horizon does not move back, the next
        sweeps know there is nothing to delete (rows written since lower the floor as they
        are written: this thread writes them all)."""
        after = (after[0], after[1])    # the engine's key, as a tuple whatever it came as
        floor = self._retention_floor.get(dest_id)
        if floor is not None and after >= floor[0] and cutoff < floor[1]:
            return 0
        start = self._retention_resume.pop(dest_id, None)
        deleted, last = self._transaction(paging.expire, dest_id, after, cutoff, now, limit, start)
        if deleted == limit:
            self._retention_resume[dest_id] = last
        if deleted or start is not None:
            self._retention_floor.pop(dest_id, None)
        else:
            oldest = self._transaction(paging.oldest_after, dest_id, after)
            self._retention_floor[dest_id] = (after, math.inf if oldest is None else oldest)
        return deleted

    @defer.inlineCallbacks
    def expire_dead(self, dest_id: int, after: paging.Key, ready_cutoff: int, now: int, limit: int,
                    rewrite: Callable[[Row, int], Row | None]) -> Any:
        """Move (or delete) up to `limit` of a queue's on-disk rows whose expiry passed (see
        paging.expire_dead), on the writer thread, in transactions of EXPIRE_SLICE rows at
        most, each resuming after the last row the one before moved: as for retention, the
        commits asked meanwhile are written between two slices. `rewrite` numbers the rows
        across slices. Fires with what paging.expire_dead returns, for all slices in order.
        A slice that fails after others were committed ends the batch with those (the next
        sweep meets its cause again, first); a first slice's failure is the batch's."""
        done: list[tuple[paging.Key | None, Row]] = []
        start: paging.ExpiryKey | None = None
        while len(done) < limit:
            size = min(EXPIRE_SLICE, limit - len(done))
            numbered = partial(_numbered, rewrite, len(done))
            try:
                moved, start = yield self._in_thread(self._moving, paging.expire_dead, dest_id, after,
                                                     ready_cutoff, now, size, numbered, start)
            except Exception as e:
                if not done:
                    raise
                log.warning("event=expire_stopped dest=%d moved=%d error=%s", dest_id, len(done), e)
                break
            done += moved
            if len(moved) < size:
                break
        return done

    def _moving(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Writer thread: fn in a transaction of its own, which may move rows to other
        queues with their timestamps: no retention floor holds after it, and no sweep
        resumes behind them."""
        self._retention_floor.clear()
        self._retention_resume.clear()
        return self._transaction(fn, *args)

    def usage(self) -> defer.Deferred[int]:
        """Bytes the database holds (free pages it will reuse not counted)."""
        return self._in_thread(self._read, paging.used_bytes, worker=self._reader)

    def _page_blocking(self, dest_id: int, after: paging.Key | None, now: int, limit: int,
                       make: Callable[[Row], Any] | None) -> list[Any]:
        rows = self._read(paging.ready_page, dest_id, after, now, limit)
        return rows if make is None else [make(r) for r in rows]

    def _read(self, query: Callable[..., Any], *args: Any) -> Any:
        """Reader thread: one read transaction on the reader's own connection."""
        try:
            if self._read_conn is None:
                assert self._engine is not None
                self._read_conn = self._engine.connect()
            with self._read_conn.begin():
                return query(self._read_conn, *args)
        except BaseException:
            conn, self._read_conn = self._read_conn, None
            if conn is not None:
                conn.invalidate()
            raise

    def close(self) -> defer.Deferred[None]:
        """Write what is pending, then stop the writer thread."""
        self._closing = True
        d = self.committed()

        def stop(result: Any) -> Any:
            self._checkpointer.stop()
            conn, self._checkpoint_conn = self._checkpoint_conn, None
            if conn is not None:
                conn.close()
            self._reader.stop()
            self._writer.stop()
            self._drop_connection()
            conn, self._read_conn = self._read_conn, None
            if conn is not None:
                conn.close()
            if self._engine is not None:
                self._engine.dispose()
            return result
        d.addBoth(stop)
        return d

    # -- operations (reactor thread) ---------------------------------------
    def insert(self, row: Row) -> None:
        """A message row; one that names a shared body (content_id) has it written once
        per batch, whatever the number of copies."""
        cid = row.get("content_id")
        if cid:
            self._batch.contents[cid] = row["body"]
            row = {**row, "body": b""}
        self._batch.insert(row)
        self._schedule()

    def update(self, seq: int, values: Row) -> None:
        self._batch.update(seq, values)
        self._schedule()

    def delete(self, seq: int, content_id: int = 0) -> None:
        """Delete a message row (and its shared body, if no other row names it)."""
        self._batch.delete(seq)
        if content_id:
            self._batch.released.add(content_id)
        self._schedule()

    def put_destination(self, row: Row) -> None:
        self._batch.put_destination(row)
        self._schedule()

    def drop_destination(self, dest_id: int) -> None:
        self._batch.drop_destination(dest_id)
        self._schedule()

    def purge(self, dest_id: int, keep: list[int], leases_after: int | None = None) -> None:
        """Delete every message of a destination but those in `keep` (and the leases on
        disk whose deadline is after `leases_after`, when given), in one statement."""
        self._batch.purge(dest_id, keep, leases_after)
        self._schedule()

    def put_record(self, kind: str, name: str, data: Any, new: bool = False) -> None:
        """`new`: the caller knows no such record is stored or pending (a plain insert, and
        nothing at all if it is dropped before its batch is written)."""
        self._batch.put_record(kind, name, json.dumps(data, separators=(",", ":")), new)
        self._schedule()

    def drop_record(self, kind: str, name: str) -> None:
        self._batch.drop_record(kind, name)
        self._schedule()

    def committed(self, refusable: bool = True) -> defer.Deferred[None]:
        """A Deferred that fires once everything asked of the store so far is committed.

        When the database is full it fails with StoreFull, unless not `refusable`: a wait
        for acks and deletes only, which are committed without the refused messages."""
        d: defer.Deferred[None] = defer.Deferred() if refusable else _Kept()
        if self._batch or self._flush_call is not None:
            self._waiters.append(d)
        elif self._writing is not None:
            self._writing.append(d)
        else:
            d.callback(None)
        return d

    def mark(self) -> int:
        """A position in the stream of operations asked of the store (see `page`)."""
        return self._ops

    def _schedule(self) -> None:
        self._ops += 1
        # Flush at the end of this reactor turn, so everything one event produced
        # (e.g. a whole STOMP COMMIT) lands in the same transaction.
        if self._writing is None and self._flush_call is None:
            self._flush_call = self._reactor.callLater(0, self._flush)

    def _flush(self) -> None:
        self._flush_call = None
        if self._writing is not None:
            # The current batch's waiters belong to the next transaction, not to the one
            # being written: _written/_failed flush again when it ends.
            return
        if not self._batch:
            waiters, self._waiters = self._waiters, []
            for d in waiters:
                d.callback(None)
            return
        batch, self._batch = self._batch, Batch()
        self._writing, self._waiters = self._waiters, []
        self._writing_mark = self._ops
        # The leanest hand-off there is (no Deferred, no context): a window-1 producer waits
        # for this round trip on every message.
        self._call_in_thread(partial(self._write_done, batch), self._write_blocking, batch)

    def _write_done(self, batch: Batch, ok: bool, result: Any) -> None:
        """Writer thread: hand the outcome (a Failure when not ok) back to the reactor."""
        if ok:
            self._reactor.callFromThread(self._written, result)  # type: ignore[attr-defined]
        else:
            self._reactor.callFromThread(self._failed, result, batch)  # type: ignore[attr-defined]

    def _written(self, _: Any, waiters: list[defer.Deferred[None]] | None = None) -> None:
        self._attempt = 0
        self._durable_ops = self._writing_mark
        if waiters is None:
            waiters = self._writing or []
        self._writing = None
        for d in waiters:
            d.callback(None)
        if self._batch or self._waiters:
            self._flush()
        self._checkpoint()

    def _checkpoint(self) -> None:
        """Copy SQLite's write-ahead log into the database on a thread of its own, at most
        every CHECKPOINT_EVERY_S: a commit that did it itself (SQLite's default, every 1,000
        pages) held up every commit waiting behind it for the copy."""
        if self._checkpointing or self._closing or self._engine is None or self._engine.dialect.name != "sqlite":
            return
        now = self._reactor.seconds()
        if now - self._last_checkpoint < CHECKPOINT_EVERY_S:
            return
        self._checkpointing, self._last_checkpoint = True, now

        def done(ok: bool, result: Any) -> None:
            self._reactor.callFromThread(self._checkpointed, ok, result)  # type: ignore[attr-defined]
        self._checkpointer.put(done, self._checkpoint_blocking, ())

    def _checkpointed(self, ok: bool, result: Any) -> None:
        self._checkpointing = False
        if not ok:
            log.warning("event=store_checkpoint_failed error=%r", result.getErrorMessage())

    def _checkpoint_blocking(self) -> None:
        if self._checkpoint_conn is None:
            assert self._engine is not None
            self._checkpoint_conn = self._engine.raw_connection()
        cursor = self._checkpoint_conn.cursor()
        try:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cursor.fetchall()
        finally:
            cursor.close()

    def _failed(self, failure: Any, batch: Batch) -> None:
        waiters, self._writing = self._writing or [], None
        if failure.check(StoreFull):
            self._refused(failure.value, waiters)
            return
        if failure.check(OperationalError, InterfaceError) and self._attempt < len(RETRY_DELAYS):
            delay = RETRY_DELAYS[self._attempt]
            self._attempt += 1
            log.warning("event=store_write_retry attempt=%d delay=%.2f error=%r",
                        self._attempt, delay, failure.getErrorMessage())
            batch.absorb(self._batch)
            self._batch, self._waiters = batch, waiters + self._waiters
        else:
            log.error("event=store_write_failed error=%r", failure.getErrorMessage())
            self._attempt = 0
            for d in waiters:
                d.errback(StoreError(failure.getErrorMessage()))
            delay = 0.5
        if (self._batch or self._waiters) and self._flush_call is None:
            self._flush_call = self._reactor.callLater(delay, self._flush)

    def _refused(self, full: StoreFull, waiters: list[defer.Deferred[None]]) -> None:
        """The database ran out of space: the batch's new messages were refused, the rest
        committed (or, if even that failed, is retried). New persistent messages are refused
        at once for a while; then a transaction tries again."""
        log.warning("event=store_full used=%d refused=%d retry=%s error=%r", full.used,
                    len(full.refused), full.unwritten is not None, str(full))
        self.full, self.full_bytes = True, full.used
        if self._full_call is not None and self._full_call.active():
            self._full_call.cancel()
        self._full_call = self._reactor.callLater(FULL_HOLD_S, self._space_may_be_back)
        if full.refused:
            self.on_refused(full.refused)
        kept = [d for d in waiters if isinstance(d, _Kept)]
        for d in waiters:
            if not isinstance(d, _Kept):
                d.errback(full)
        if full.unwritten is not None:
            # Not even the acks and deletes could be written: they are tried again.
            full.unwritten.absorb(self._batch)
            self._batch, self._waiters = full.unwritten, kept + self._waiters
            if self._flush_call is None:
                self._flush_call = self._reactor.callLater(RETRY_DELAYS[-1] / 4, self._flush)
            return
        self._written(None, kept)

    def _space_may_be_back(self) -> None:
        self._full_call = None
        self.full = False

    # -- writer thread --------------------------------------------------------
    def _connection(self) -> Connection:
        if self._conn is None:
            assert self._engine is not None
            self._conn = self._engine.connect()
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # already broken: nothing more to release
                pass

    def _statement(self, key: Any, build: Callable[[], Any], expected: Callable[[], tuple[str, ...]]) -> str:
        """SQL text of a hot statement for the writer's raw cursor (see _raw_statements),
        its parameters positional in the order `expected()` (checked when compiled): a call
        passes one flat tuple, with no dict per row nor names for the driver to map."""
        sql = self._sql.get(key)
        if sql is None:
            assert self._raw is not None
            compiled = build().compile(dialect=self._raw[0])
            order = tuple(compiled.positiontup or ())
            if order != expected():
                raise AssertionError(f"unexpected parameter order for {key!r}: {order!r}")
            sql = self._sql[key] = str(compiled)
        return sql

    def _raw_cursor(self, conn: Connection) -> Any:
        """A DBAPI cursor of the writer's connection that takes the SQL of `_statement`."""
        assert self._raw is not None
        return self._raw[1](conn.connection.dbapi_connection)  # type: ignore[union-attr]

    def _delete_ranges(self, cursor: Any, ranges: list[tuple[int, int]]) -> None:
        """The acked rows, a DELETE per run of seqs (`Batch.delete_ranges`)."""
        sql = self._statement("delete", lambda: delete(messages).where(
            messages.c.seq.between(bindparam("b_low"), bindparam("b_high"))), lambda: ("b_low", "b_high"))
        if len(ranges) == 1:   # one range (a drain's acks): no executemany set-up
            self._dbapi_call(cursor.execute, sql, ranges[0])
        else:
            self._dbapi_call(cursor.executemany, sql, ranges)

    def _lower_floors(self, rows: list[Row]) -> None:
        floors = self._retention_floor
        if floors:
            for row in rows:
                floor = floors.get(row["dest_id"])
                if floor is not None and row["timestamp"] < floor[1]:
                    floors[row["dest_id"]] = (floor[0], row["timestamp"])

    def _insert_messages(self, cursor: Any, rows: list[Row]) -> None:
        """Message rows in multi-row INSERTs of _INSERT_CHUNK, ... 2, 1 rows (a batch of 10: 8 + 2):
        a statement per row would cost SQLite a step, and the writer thread a release and
        a retake of the GIL, each; and a few statement shapes at most stay prepared."""
        done = 0
        while done < len(rows):
            size = min(_INSERT_CHUNK, 1 << ((len(rows) - done).bit_length() - 1))
            chunk = rows[done:done + size]
            done += size
            nulls = _nulls(chunk)
            values = _row_values(nulls)
            sql = self._statement(("insert", size, nulls), partial(_multi_insert, size, nulls), lambda: tuple(
                f"{column}_{i}" for i in range(size) for column in _MESSAGE_COLUMNS if column not in nulls))
            self._dbapi_call(cursor.execute, sql, tuple(chain.from_iterable(map(values, chunk))))

    def _update_states(self, cursor: Any, batch: Batch) -> None:
        """The batch's state updates, a statement per group of rows that take the same
        values (`Batch.update_groups`) naming them by `seq IN (...)`: a receive of 10 is
        one statement, not an executemany of 10 rows (on PostgreSQL one round trip instead
        of 10). The list is padded to a power of two with its last seq again, which changes
        nothing (it names the same row) and keeps few statement shapes prepared; a group
        past _IN_CHUNK seqs takes several statements."""
        for (cols, values), seqs in batch.update_groups(_STATE_COLUMNS).items():
            if not cols:   # updates that set no state column: nothing to write
                continue
            for start in range(0, len(seqs), _IN_CHUNK):
                chunk = seqs[start:start + _IN_CHUNK]
                size = 1 << (len(chunk) - 1).bit_length()
                chunk += [chunk[-1]] * (size - len(chunk))
                sql = self._statement(("update", cols, size), partial(_state_update, cols, size),
                                      lambda: (*cols, *_SEQ_NAMES[:size]))
                self._dbapi_call(cursor.execute, sql, (*values, *chunk))

    def _dbapi_call(self, call: Callable[[str, Any], Any], sql: str, args: Any) -> None:
        """A DBAPI call, its errors raised as SQLAlchemy's (which tell a full disk or a
        lost connection apart the same way for both drivers)."""
        try:
            call(sql, args)
        except Exception as exc:
            dbapi = self._engine.dialect.loaded_dbapi if self._engine is not None else None
            if dbapi is not None and isinstance(exc, dbapi.Error):
                raise DBAPIError.instance(sql, None, exc, dbapi.Error,
                                          dialect=self._engine.dialect) from exc  # type: ignore[union-attr]
            raise

    def _write_blocking(self, batch: Batch) -> None:
        assert self._engine is not None
        try:
            self._write_transaction(self._connection(), batch)
        except BaseException as exc:
            # Whatever state the connection is in, the next transaction gets a fresh one.
            self._drop_connection()
            if not out_of_space(exc):
                raise
            self._write_without_growth(batch, exc)

    def _write_without_growth(self, batch: Batch, cause: BaseException) -> None:
        """The database is full: write the batch again without its new messages (acks,
        deletes, state changes and purges free space or take none), then raise StoreFull."""
        rest, refused = batch.split_growth()
        unwritten: Batch | None = None
        try:
            if rest:
                self._write_transaction(self._connection(), rest)
        except BaseException:
            # Too full even for that: acks and deletes first, state updates when they fit.
            self._drop_connection()
            frees, unwritten = rest.split_frees()
            try:
                if frees:
                    self._write_transaction(self._connection(), frees)
            except BaseException:
                self._drop_connection()
                unwritten = rest
        try:
            used = self._transaction(paging.used_bytes)
        except Exception:   # the size is for the error's text only
            used = 0
        message = str(getattr(cause, "orig", cause))
        raise StoreFull(message, used, refused, unwritten) from cause

    def _transaction(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Writer thread: fn(connection, *args) in a transaction of its own."""
        with self._connection().begin():
            return fn(self._connection(), *args)

    def _write_transaction(self, conn: Connection, batch: Batch) -> None:
        with conn.begin():
            for op, arg in batch.destination_ops:
                _DEST_OPS[op](conn, arg)
                if op != "purge":   # a purge only deletes: what was the oldest can only get younger
                    self._retention_floor.pop(arg["id"] if op == "put" else arg, None)
                    self._retention_resume.pop(arg["id"] if op == "put" else arg, None)
            if batch.records:
                _write_records(conn, batch.records)
            dropped = batch.dropped
            rows = ([r for r in batch.inserts.values() if r["dest_id"] not in dropped] if dropped
                    else list(batch.inserts.values()))
            if batch.contents:
                conn.execute(paging.insert_contents(conn), [{"id": i, "body": b} for i, b in batch.contents.items()])
            if batch.contents or batch.released:
                # Bodies whose last copy went (or never arrived): after this batch's rows.
                self._pending_release = sorted(set(batch.contents) | batch.released)
            if not (rows or batch.updates or batch.deletes):
                self._release_contents(conn)
                return
            cursor = self._raw_cursor(conn)
            try:
                if rows:
                    self._lower_floors(rows)
                    self._insert_messages(cursor, rows)
                if batch.updates:
                    self._update_states(cursor, batch)
                if batch.deletes:
                    self._delete_ranges(cursor, batch.delete_ranges())
            finally:
                cursor.close()
            self._release_contents(conn)

    def _release_contents(self, conn: Connection) -> None:
        ids, self._pending_release = self._pending_release, []
        if ids:
            paging.drop_unreferenced(conn, ids)


_MESSAGE_COLUMNS = tuple(c.name for c in messages.c)
# The columns a message row may leave empty; most rows leave them all empty.
_NULLABLE = tuple((c.name, itemgetter(c.name)) for c in messages.c if c.nullable)


def _nulls(chunk: list[Row]) -> tuple[str, ...]:
    """The nullable columns that are empty in every row of `chunk`: an INSERT writes them
    as NULL literals, since SQLite's driver binds a None parameter through its adapter
    look-up (about ten times the cost of an int, five times a row for most messages)."""
    return tuple(name for name, get in _NULLABLE if list(map(get, chunk)).count(None) == len(chunk))


@lru_cache(maxsize=None)
def _row_values(nulls: tuple[str, ...]) -> Callable[[Row], tuple[Any, ...]]:
    """A message row's values in column order but for `nulls`, at C speed."""
    return itemgetter(*(c for c in _MESSAGE_COLUMNS if c not in nulls))


# Rows per multi-row INSERT at most: a power of two whose parameters stay under SQLite's
# oldest default limit of 999 per statement, however many columns a message row has.
_INSERT_CHUNK = 1 << ((999 // len(_MESSAGE_COLUMNS)).bit_length() - 1)


def _multi_insert(size: int, nulls: tuple[str, ...]) -> Any:
    """INSERT of `size` message rows, the parameters of row i named <column>_<i>, which a
    positional dialect numbers row by row in column order (checked when compiled); the
    columns of `nulls` are NULL in every row, no parameter."""
    return messages.insert().values([{c: null() if c in nulls else bindparam(f"{c}_{i}") for c in _MESSAGE_COLUMNS}
                                     for i in range(size)])


# Seqs per UPDATE ... WHERE seq IN (...) at most: a power of two that, with the state
# columns, stays under SQLite's oldest default limit of 999 parameters per statement.
_IN_CHUNK = 512
_SEQ_NAMES = tuple(f"s_{i}" for i in range(_IN_CHUNK))
# The state columns in table order, which is the order of an UPDATE's SET clause.
_STATE_COLUMNS = tuple(c for c in _MESSAGE_COLUMNS if c in MESSAGE_STATE_COLUMNS)


def _state_update(cols: tuple[str, ...], size: int) -> Any:
    """UPDATE of the state columns `cols` of the `size` rows named by seq (parameters s_<i>),
    which a positional dialect takes values first, then seqs (checked when compiled)."""
    return (update(messages).where(messages.c.seq.in_([bindparam(name) for name in _SEQ_NAMES[:size]]))
            .values({c: bindparam(c) for c in cols}))


def _raw_statements(dialect: Dialect) -> tuple[Dialect, Callable[[Any], Any]]:
    """The dialect the writer's hot statements are compiled for, and the DBAPI cursor (made
    from a DBAPI connection) that takes them: positional parameters either way. SQLite's
    own cursor takes ?s; on PostgreSQL, psycopg's RawCursor takes $1, $2, ... as they are,
    where its default cursor rewrites %(name)s on every call of a statement too long for
    its cache (a 32-row INSERT), which cost the writer more than the insert itself."""
    if dialect.positional:
        return dialect, lambda dbapi_conn: dbapi_conn.cursor()
    if dialect.driver == "psycopg":
        import psycopg

        return type(dialect)(paramstyle="numeric_dollar"), psycopg.RawCursor
    raise StoreError(f"unsupported database driver: {dialect.name}+{dialect.driver}")


def _put_destination(conn: Connection, row: Row) -> None:
    values = {**row, "attrs": json.dumps(row.get("attrs") or {})}
    found = conn.execute(update(destinations).where(destinations.c.id == row["id"])
                         .values(values)).rowcount
    if not found:
        conn.execute(destinations.insert().values(values))


def _drop_destination(conn: Connection, dest_id: int) -> None:
    conn.execute(delete(messages).where(messages.c.dest_id == dest_id))
    conn.execute(delete(destinations).where(destinations.c.id == dest_id))
    paging.drop_unreferenced(conn)


_DELETE_RECORD = delete(records).where(records.c.kind == bindparam("k"), records.c.name == bindparam("n"))


def _write_records(conn: Connection, changes: dict[tuple[str, str], tuple[str, str | None]]) -> None:
    """A batch's record changes in two statements: delete every name it touches (a no-op
    for a new one, so a record believed new never makes the transaction fail), then insert
    what is new or replaced."""
    gone = [{"k": kind, "n": name} for kind, name in changes]
    rows = [{"kind": kind, "name": name, "data": data}
            for (kind, name), (op, data) in changes.items() if op != "delete"]
    if gone:
        conn.execute(_DELETE_RECORD, gone)
    if rows:
        conn.execute(records.insert(), rows)


_DEST_OPS: dict[str, Callable[[Connection, Any], None]] = {
    "put": _put_destination, "drop": _drop_destination,
    "purge": lambda conn, arg: paging.purge(conn, *arg),
}


class _Worker:
    """One thread running jobs in order, started on first use, fed through a queue."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: SimpleQueue[Any] = SimpleQueue()
        self._thread: threading.Thread | None = None

    def put(self, done: Callable[[bool, Any], None], fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """Run fn(*args) on the thread, then done(ok, result or Failure) there too."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        self._jobs.put((fn, args, done))

    def _run(self) -> None:
        jobs = self._jobs
        while True:
            job = jobs.get()
            if job is None:
                return
            fn, args, done = job
            try:
                result, ok = fn(*args), True
            except BaseException:
                result, ok = Failure(), False
            done(ok, result)

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join()
