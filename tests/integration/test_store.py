"""The store against real databases (SQLite and PostgreSQL, a fresh schema per test):
migrations, group commit, what is read back, and the engine rebuilt from it."""
from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

import pytest
import pytest_twisted
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from twisted.internet import defer, reactor, task
from twisted.internet.task import Clock

from broker.engine.broker import Broker
from broker.engine.message import Message
from broker.engine.selector import parse
from broker.engine.settings import QueueSettings
from broker.store.migrate import SCRIPT_LOCATION, SchemaTooNew
from broker.store.paging import by_index_only
from broker.store.store import EXPIRE_SLICE, Store, StoreError, normalize_url

T0 = 1_700_000_000.0   # seconds; the engine's fake clock starts here


def next_turn() -> defer.Deferred[None]:
    return task.deferLater(reactor, 0, lambda: None)


def message_row(seq: int, dest_id: int = 1, **kw: Any) -> dict[str, Any]:
    m = Message(message_id=f"ID:m-{seq}", body=b"body-%d\x00end" % seq,
                properties={"s": "v", "bin": b"\x00\xff"}, types={"n": "Number"},
                headers={"correlation-id": "c-1"}, persistent=True, priority=seq % 10,
                timestamp=1000 + seq, group_id="g" if seq % 2 else None, seq=seq)
    r = m.to_row(dest_id)
    r.update(kw)
    return r


def dest_row(dest_id: int, name: str, kind: str = "queue", **attrs: Any) -> dict[str, Any]:
    return {"id": dest_id, "kind": kind, "name": name, "created_at": 5, "attrs": attrs}


def count_commits(store: Store) -> list[str]:
    """Events on the store's engine, in the order they happen (writer thread included)."""
    log: list[str] = []
    event.listen(store._engine, "commit", lambda conn: log.append("commit"))
    return log


@defer.inlineCallbacks
def opened(url: str) -> Any:
    store = Store(url, reactor)
    snapshot = yield store.open()
    return store, snapshot


def sql(url: str, statement: str) -> Any:
    engine = create_engine(normalize_url(url))
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement))
            return result.fetchall() if result.returns_rows else None
    finally:
        engine.dispose()


# -- migrations --------------------------------------------------------------------------

@pytest_twisted.inlineCallbacks
def test_open_migrates_an_empty_database_and_a_second_open_is_a_no_op(store_url):
    store, snap = yield opened(store_url)
    assert snap.destinations == [] and snap.messages == []
    assert snap.max_seq == 0 and snap.max_dest_id == 0
    store.put_destination(dest_row(1, "q"))
    store.insert(message_row(1))
    yield store.committed()
    yield store.close()
    (revision,) = sql(store_url, "SELECT version_num FROM alembic_version")
    assert revision[0] == ScriptDirectory(SCRIPT_LOCATION).get_current_head()
    store2, snap2 = yield opened(store_url)
    yield store2.close()
    # same revision, and the tables were not recreated: the data is still there
    assert sql(store_url, "SELECT version_num FROM alembic_version") == [revision]
    assert [d["name"] for d in snap2.destinations] == ["q"]
    assert [m["seq"] for m in snap2.messages] == [1]


@pytest_twisted.inlineCallbacks
def test_a_body_digest_comes_back_with_the_message_paged_in_and_at_start(store_url):
    """A door's digest of the body (SQS's MD5OfBody) is stored with the row, so a deep
    queue's messages are not hashed again as they are paged in; a row without one (another
    door's, or written before the column) reads back as None, to be computed on first use."""
    store, _ = yield opened(store_url)
    store.put_destination(dest_row(1, "q"))
    with_digest = Message(message_id="ID:d", body=b"text", persistent=True, seq=1,
                          body_digest="1cb251ec0d568de6a929b520c4aed8d1")
    store.insert(with_digest.to_row(1))
    store.insert(message_row(2))
    yield store.committed()
    paged = yield store.page(1, None, 10**13, 10, make=Message.from_row)
    assert [(m.seq, m.body_digest) for m in paged] == [(1, "1cb251ec0d568de6a929b520c4aed8d1"), (2, None)]
    yield store.close()
    store2, snap = yield opened(store_url)
    yield store2.close()
    assert [Message.from_row(row).body_digest for row in snap.messages] == ["1cb251ec0d568de6a929b520c4aed8d1", None]


@pytest_twisted.inlineCallbacks
def test_a_database_from_a_newer_version_is_refused(store_url):
    store, _ = yield opened(store_url)
    yield store.close()
    sql(store_url, "UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
    newer = Store(store_url, reactor)
    try:
        with pytest.raises(SchemaTooNew, match="ffff_from_the_future"):
            yield newer.open()
    finally:
        yield newer.close()
    # nothing was touched
    assert sql(store_url, "SELECT version_num FROM alembic_version") == [("ffff_from_the_future",)]


@pytest_twisted.inlineCallbacks
def test_a_scheduled_job_is_found_by_its_id_among_its_waiting_rows_only(store_url):
    store, _ = yield opened(store_url)
    store.put_destination(dest_row(1, "a"))
    store.put_destination(dest_row(2, "b"))
    store.insert(message_row(1, visible_at=5000, job_id="ID:job"))
    store.insert(message_row(2, dest_id=2, visible_at=7000, job_id="ID:job"))
    store.insert(message_row(3, visible_at=6000, job_id="ID:other"))
    store.insert(message_row(4, visible_at=9000))
    store.insert(message_row(5, visible_at=0, job_id="ID:job"))       # came due: delivered
    store.insert(message_row(6, visible_at=8000, delivery_count=1, job_id="ID:job"))   # in flight
    rows = yield store.job_waiting("ID:job", 1000)
    assert [(r["seq"], r["dest_id"]) for r in rows] == [(1, 1), (2, 2)]
    assert Message.from_row(rows[0]).job_id == "ID:job"
    assert [r["seq"] for r in (yield store.job_waiting("ID:job", 6000))] == [2]
    yield store.close()


@pytest_twisted.inlineCallbacks
def test_the_upgrade_names_the_job_of_each_waiting_row_and_holds_its_schedule_back(store_url):
    """Rows a broker wrote before the job column: the job id came from their headers and
    the schedule stayed among their properties."""
    from broker.store.migrate import _alembic_config
    from alembic import command

    engine = create_engine(normalize_url(store_url))
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0006")
    engine.dispose()
    old = {"p": {"AMQ_SCHEDULED_DELAY": "60000", "AMQ_SCHEDULED_REPEAT": "2", "x": "y"},
           "t": {"AMQ_SCHEDULED_DELAY": "long", "AMQ_SCHEDULED_REPEAT": "int"},
           "h": {"scheduledJobId": "ID:job"}}
    redelivered = {"p": {}, "h": {"scheduledJobId": "ID:r:redelivery:1"}}
    for seq, attrs, visible_at, count in ((1, old, 9000, 0), (2, redelivered, 9000, 1), (3, {"p": {}}, 9000, 0)):
        sql(store_url, "INSERT INTO messages (seq, dest_id, message_id, body, priority, timestamp, expires, "
            "visible_at, delivery_count, first_delivery, attrs, transient) VALUES "
            f"({seq}, 1, 'ID:m-{seq}', '', 4, 1, 0, {visible_at}, {count}, 0, '{json.dumps(attrs)}', 0)")
    store, _ = yield opened(store_url)
    yield store.close()
    rows = {r[0]: r[1] for r in sql(store_url, "SELECT seq, job_id FROM messages ORDER BY seq")}
    assert rows == {1: "ID:job", 2: None, 3: None}
    (attrs,) = sql(store_url, "SELECT attrs FROM messages WHERE seq = 1")[0]
    m = Message.from_row({"attrs": attrs, "message_id": "m", "body": b"", "priority": 4, "timestamp": 1,
                          "expires": 0, "group_id": None, "dedup_id": None, "seq": 1, "visible_at": 9000,
                          "delivery_count": 0, "first_delivery": 0, "job_id": "ID:job"})
    assert m.properties == {"x": "y"} and m.types is None
    assert m.withheld == {"AMQ_SCHEDULED_DELAY": ["60000", "long"], "AMQ_SCHEDULED_REPEAT": ["2", "int"]}
# -- SQLite's write-ahead log -----------------------------------------------------------------

@pytest_twisted.inlineCallbacks
def test_sqlite_log_is_copied_into_the_database_beside_the_commits(tmp_path):
    """A checkpointer thread copies the log into the database file while commits go on,
    before the log reaches the size at which a commit would do it itself (and before
    SQLite's default of 1,000 pages): a commit never waits for that copy."""
    path = tmp_path / "wal.db"
    store, _ = yield opened(f"sqlite:///{path}")
    try:
        store.put_destination(dest_row(1, "q"))
        body = b"x" * 3000
        seq = 0
        for _ in range(30):             # about 500 pages of log: below every automatic checkpoint
            for _ in range(10):
                seq += 1
                store.insert(message_row(seq, body=body))
            yield store.committed()
        written = seq * len(body)
        # One more commit once the checkpointer may run again starts a copy; the file then
        # holds what was written (polled for at most 5 s).
        yield task.deferLater(reactor, 0.05, lambda: None)
        seq += 1
        store.insert(message_row(seq))
        yield store.committed()
        for _ in range(250):
            if path.stat().st_size >= written:
                break
            yield task.deferLater(reactor, 0.02, lambda: None)
        assert path.stat().st_size >= written
    finally:
        yield store.close()
    assert sql(f"sqlite:///{path}", "SELECT count(*) FROM messages") == [(seq,)]


# -- group commit ----------------------------------------------------------------------------

@pytest_twisted.inlineCallbacks
def test_one_reactor_turn_is_one_transaction_and_every_waiter_fires_after_it(store_url):
    store, _ = yield opened(store_url)
    try:
        log = count_commits(store)
        waiters = []
        store.put_destination(dest_row(1, "q"))
        for seq in range(1, 101):
            store.insert(message_row(seq))
            if seq % 3 == 0:
                store.update(seq, {"delivery_count": 1, "visible_at": 99})
            d = store.committed()
            d.addCallback(lambda _, seq=seq: log.append(f"fired {seq}"))
            waiters.append(d)
        assert not any(d.called for d in waiters)
        yield defer.gatherResults(waiters)
        assert log[0] == "commit" and log.count("commit") == 1
        assert len(log) == 101
        assert sql(store_url, "SELECT count(*) FROM messages") == [(100,)]
    finally:
        yield store.close()


@pytest_twisted.inlineCallbacks
def test_operations_arriving_during_a_commit_go_into_the_next_one(store_url):
    store, _ = yield opened(store_url)
    gate = threading.Event()
    try:
        log = count_commits(store)
        event.listen(store._engine, "begin", lambda conn: gate.wait(10))
        store.put_destination(dest_row(1, "q"))
        store.insert(message_row(1))
        first = store.committed()
        first.addCallback(lambda _: log.append("fired first"))
        yield next_turn()          # the writer thread now holds the first transaction
        later = []
        for seq in range(2, 12):   # each in a reactor turn of its own
            store.insert(message_row(seq))
            if seq > 2:
                store.delete(seq - 1)
            d = store.committed()
            d.addCallback(lambda _, seq=seq: log.append(f"fired {seq}"))
            later.append(d)
            yield next_turn()
        assert not first.called and not any(d.called for d in later)
        gate.set()
        yield defer.gatherResults([first] + later)
        assert log[:2] == ["commit", "fired first"]
        assert log[2] == "commit" and log.count("commit") == 2
        assert sorted(log[3:]) == sorted(f"fired {s}" for s in range(2, 12))
        assert sql(store_url, "SELECT seq FROM messages ORDER BY seq") == [(1,), (11,)]
    finally:
        gate.set()
        yield store.close()


@pytest_twisted.inlineCallbacks
def test_committed_with_nothing_pending_fires_at_once_and_sent_then_acked_never_writes(store_url):
    store, _ = yield opened(store_url)
    try:
        log = count_commits(store)
        assert store.committed().called
        store.insert(message_row(1))
        store.update(1, {"delivery_count": 1})
        store.delete(1)
        yield store.committed()
        assert log == []
        assert sql(store_url, "SELECT count(*) FROM messages") == [(0,)]
    finally:
        yield store.close()


# -- what is read back ----------------------------------------------------------------------------

@pytest_twisted.inlineCallbacks
def test_rows_are_read_back_by_a_new_store(store_url):
    store, _ = yield opened(store_url)
    attrs = {"settings": {"fifo": True, "dead_letter": "dlq"}, "attrs": {"Policy": "{\"a\": 1}",
             "tags": {"team": "ünïcode ✓"}}, "modified_at": 7}
    store.put_destination(dest_row(3, "orders", **attrs))
    store.put_destination(dest_row(4, "gone"))
    for seq in (9, 2, 5):
        store.insert(message_row(seq, dest_id=3))
    store.insert(message_row(6, dest_id=4))
    yield store.committed()
    store.update(5, {"delivery_count": 3, "visible_at": 123_456, "first_delivery": 77})
    store.update(2, {"visible_at": 42})
    store.delete(9)
    store.drop_destination(4)
    store.put_destination(dest_row(3, "orders", **{**attrs, "modified_at": 8}))
    yield store.committed()
    yield store.close()

    store2, snap = yield opened(store_url)
    yield store2.close()
    assert [(d["id"], d["name"], d["kind"]) for d in snap.destinations] == [(3, "orders", "queue")]
    assert snap.destinations[0]["attrs"] == {**attrs, "modified_at": 8}
    assert [m["seq"] for m in snap.messages] == [2, 5]
    assert snap.max_seq == 5 and snap.max_dest_id == 3
    by_seq = {m["seq"]: m for m in snap.messages}
    five = by_seq[5]
    assert (five["delivery_count"], five["visible_at"], five["first_delivery"]) == (3, 123_456, 77)
    assert (by_seq[2]["delivery_count"], by_seq[2]["visible_at"]) == (0, 42)
    m = Message.from_row(by_seq[5])
    assert m.body == b"body-5\x00end" and m.message_id == "ID:m-5"
    assert m.properties == {"s": "v", "bin": b"\x00\xff"} and m.types == {"n": "Number"}
    assert m.headers == {"correlation-id": "c-1"} and m.group_id == "g" and m.priority == 5
    assert m.persistent and m.timestamp == 1005


@pytest_twisted.inlineCallbacks
def test_every_row_of_a_large_transaction_is_written_with_each_of_its_columns(store_url):
    # 150 new messages in one transaction: multi-row INSERTs of 32 x 4 + 16 + 4 + 2 rows,
    # within the 999 parameters a statement may have on SQLite builds older than 3.32.
    def oldest_sqlite_limit(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    if store_url.startswith("sqlite"):
        event.listen(Engine, "connect", oldest_sqlite_limit)
    try:
        store, _ = yield opened(store_url)
        store.put_destination(dest_row(1, "big"))
        rows = [message_row(seq, expires=seq * 7, visible_at=seq * 3, dedup_id=f"d{seq}")
                for seq in range(1, 151)]
        for row in rows:
            store.insert(dict(row))
        yield store.committed()
        yield store.close()
    finally:
        if event.contains(Engine, "connect", oldest_sqlite_limit):
            event.remove(Engine, "connect", oldest_sqlite_limit)

    store2, snap = yield opened(store_url)
    yield store2.close()
    assert snap.counts == {1: 150}
    stored = sql(store_url, "SELECT seq, dest_id, message_id, body, priority, timestamp, expires, "
                 "visible_at, group_id, dedup_id, attrs FROM messages ORDER BY seq")
    assert [tuple(r) for r in stored] == [
        (r["seq"], 1, r["message_id"], r["body"], r["priority"], r["timestamp"], r["expires"],
         r["visible_at"], r["group_id"], r["dedup_id"], r["attrs"]) for r in rows]


@pytest_twisted.inlineCallbacks
def test_a_receive_of_10_writes_its_leases_in_one_statement(store_url):
    b = Broker(Store(store_url, reactor), reactor)
    yield b.start()
    try:
        q = b.create_queue("drain")
        for i in range(10):
            q.enqueue(Message(message_id=f"ID:{i}", body=b"x", persistent=True))
        yield b.committed()
        statements: list[str] = []   # the writer's hot statements go straight to the DBAPI cursor
        call = b.store._dbapi_call
        b.store._dbapi_call = lambda execute, stmt, args: (statements.append(stmt), call(execute, stmt, args))[1]
        leases = yield q.receive(10, 30_000)
        yield b.committed()
        updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE MESSAGES")]
        assert len(leases) == 10 and len(updates) == 1, updates
        deadline = leases[0].deadline
        assert sql(store_url, "SELECT delivery_count, visible_at, count(*) FROM messages "
                   "GROUP BY delivery_count, visible_at") == [(1, deadline, 10)]
    finally:
        yield b.stop()


@pytest_twisted.inlineCallbacks
def test_state_updates_of_many_rows_set_each_row_as_its_own_update_would(store_url):
    # Rows that share their new values are written by one statement per group (past 512
    # rows, as the first turn's 700, several): each row still ends with exactly the values
    # of its own updates.
    import random

    rnd = random.Random(7)
    store, _ = yield opened(store_url)
    store.put_destination(dest_row(1, "states"))
    seqs = range(1, 1201)
    for seq in seqs:
        store.insert(message_row(seq))
    yield store.committed()
    expected = {seq: (0, 0, 0, 0) for seq in seqs}
    for turn in range(3):
        for seq in rnd.sample(seqs, 700):
            values = ({"delivery_count": rnd.randint(1, 2), "visible_at": rnd.choice((0, 500)),
                       "first_delivery": 7, "last_delivery": rnd.choice((7, 9))} if turn else
                      {"delivery_count": 1, "visible_at": 3, "first_delivery": 7, "last_delivery": 7})
            if rnd.random() < 0.1:
                del values["visible_at"]
            store.update(seq, values)
            old = dict(zip(("delivery_count", "visible_at", "first_delivery", "last_delivery"), expected[seq]))
            old.update(values)
            expected[seq] = tuple(old.values())
        yield store.committed()
    yield store.close()
    stored = sql(store_url, "SELECT seq, delivery_count, visible_at, first_delivery, last_delivery "
                 "FROM messages ORDER BY seq")
    assert {r[0]: tuple(r[1:]) for r in stored} == expected


@pytest_twisted.inlineCallbacks
def test_records_are_kept_by_kind_and_name_in_the_order_they_changed(store_url):
    store, snap = yield opened(store_url)
    assert snap.records == {}
    store.put_record("sns-topic", "alerts", {"attrs": {"DisplayName": "Ålerts"}})
    store.put_record("sns-topic", "gone", {})
    store.put_record("api", "a1", [1, 2])
    yield store.committed()
    store.drop_record("sns-topic", "gone")
    store.put_record("sns-topic", "alerts", {"attrs": {}})
    store.put_record("sns-topic", "gone", {"again": True}, new=True)   # re-created after the drop
    store.put_record("sns-delivery", "brief", {}, new=True)
    store.drop_record("sns-delivery", "brief")                   # never written
    store.put_record("sns-delivery", "kept", {"n": 1}, new=True)
    yield store.committed()
    store.put_record("sns-delivery", "kept", {"n": 2})
    yield store.committed()
    yield store.close()

    store2, snap = yield opened(store_url)
    yield store2.close()
    assert snap.records == {"sns-topic": {"alerts": {"attrs": {}}, "gone": {"again": True}},
                            "api": {"a1": [1, 2]}, "sns-delivery": {"kept": {"n": 2}}}


# -- the engine rebuilt from the store ---------------------------------------------------------------

@defer.inlineCallbacks
def started_broker(url: str, at: float) -> Any:
    clock = Clock()
    clock.advance(at)
    broker = Broker(Store(url, reactor), clock)
    yield broker.start()
    return broker


@pytest_twisted.inlineCallbacks
def test_broker_rebuilt_from_the_store(store_url):
    b = yield started_broker(store_url, T0)
    now = b.now_ms()
    settings = QueueSettings(max_deliveries=4, dead_letter="orders-dlq", retention_ms=86_400_000)
    q = b.create_queue("orders", settings, attrs={"VisibilityTimeout": "30"})
    b.create_queue("empty")
    sub = b.durable_subscription("client", "sub", "news", parse("kind = 'x'"), True, None)

    def m(body: str, **kw: Any) -> Message:
        return Message(message_id=f"ID:{body}", body=body.encode(), timestamp=now, **kw)

    q.enqueue(m("p1", persistent=True, properties={"n": "1"}, types={"n": "Number"}))
    q.enqueue(m("np", persistent=False))
    q.enqueue(m("acked", persistent=True))
    q.enqueue(m("leased", persistent=True))
    q.enqueue(m("held", persistent=True))
    q.enqueue(m("delayed", persistent=True, visible_at=now + 60_000))
    q.enqueue(m("p2", persistent=True, priority=9))
    b.publish("news", m("news1", persistent=True, properties={"kind": "x"}))
    b.publish("news", m("news-np", persistent=False, properties={"kind": "x"}))
    leases = yield q.receive(10, 0)                # leases without deadline (a STOMP client)
    assert [l.message.body for l in leases] == [b"p2", b"p1", b"np", b"acked", b"leased", b"held"]
    by_body = {l.message.body: l for l in leases}
    for body in (b"p2", b"p1", b"np"):
        assert q.release(by_body[body])           # NACK: counted, back at the head
    assert q.ack(by_body[b"acked"])
    assert q.extend(by_body[b"leased"], 30_000)   # SQS visibility: 30 s from now
    # "held" stays leased without a deadline: after a restart it is redelivered
    yield b.committed()
    yield b.stop()

    b2 = yield started_broker(store_url, T0 + 10)
    try:
        q2 = b2.queues["orders"]
        assert set(b2.queues) == {"orders", "empty"}
        assert q2.settings == settings and q2.attrs == {"VisibilityTimeout": "30"}
        assert q2.created_at == q.created_at
        sq = b2.durables["client:sub"]
        assert sq.attrs == sub.attrs
        assert [(x.body, x.topic) for x in sq.browse()] == [(b"news1", "news")]
        # persistent only; the acked one is gone; the leased one is still in flight, the
        # delayed one still delayed
        assert [x.body for x in q2.browse()] == [b"p2", b"p1", b"held"]
        assert (q2.ready_count, q2.delayed_count, q2.inflight_count) == (3, 1, 1)
        restored = {x.body: x for x in q2.browse()}
        assert restored[b"p1"].properties == {"n": "1"} and restored[b"p1"].types == {"n": "Number"}
        assert [restored[x].delivery_count for x in (b"p2", b"p1", b"held")] == [1, 1, 1]
        got = yield q2.receive(10, 60_000)
        assert [x.message.body for x in got] == [b"p2", b"p1", b"held"]
        assert all(x.message.delivery_count == 2 and x.message.redelivered for x in got)
        b2.clock.advance(19.999)
        assert (yield q2.receive(10, 60_000)) == []
        b2.clock.advance(0.001)                      # 30 s after the lease was extended
        (again,) = yield q2.receive(10, 60_000)
        assert again.message.body == b"leased" and again.message.delivery_count == 2
        b2.clock.advance(30)                         # 60 s after send
        (late,) = yield q2.receive(10, 60_000)
        assert late.message.body == b"delayed" and late.message.delivery_count == 1
        # new messages get new seqs
        fresh = q2.enqueue(Message(message_id="ID:new", body=b"new", persistent=True))
        assert fresh.seq > max(x.message.seq for x in got + [again, late])
        yield b2.committed()
    finally:
        yield b2.stop()


@pytest_twisted.inlineCallbacks
def test_deleted_queue_and_its_messages_stay_deleted(store_url):
    b = yield started_broker(store_url, T0)
    q = b.create_queue("doomed")
    q.enqueue(Message(message_id="ID:1", body=b"x", persistent=True))
    yield b.committed()
    q.enqueue(Message(message_id="ID:2", body=b"y", persistent=True))
    assert b.delete_queue("doomed")
    again = b.create_queue("doomed")          # same name, new destination, same batch
    again.enqueue(Message(message_id="ID:3", body=b"z", persistent=True))
    yield b.committed()
    yield b.stop()
    b2 = yield started_broker(store_url, T0)
    try:
        assert [m.body for m in b2.queues["doomed"].browse()] == [b"z"]
        assert b2.queues["doomed"].settings == QueueSettings()
    finally:
        yield b2.stop()


@pytest_twisted.inlineCallbacks
def test_after_a_failed_write_no_waiter_fires_before_its_commit(store_url):
    """A transaction fails while more operations arrive. Whatever the retry policy, a
    committed() that succeeds means its operation is in the database, and one that does
    not succeed fails with StoreError."""
    store, _ = yield opened(store_url)
    permits = threading.Semaphore(0)      # one per transaction the writer may begin
    fail_next = [False]

    def on_begin(conn: Any) -> None:
        permits.acquire(timeout=10)
        if fail_next[0]:
            fail_next[0] = False
            raise RuntimeError("injected: the database went away")

    def wait(seconds: float) -> defer.Deferred[None]:
        return task.deferLater(reactor, seconds, lambda: None)

    try:
        event.listen(store._engine, "begin", on_begin)
        store.insert(message_row(1))
        first = store.committed()
        permits.release()
        yield first
        fail_next[0] = True
        outcome: dict[int, Any] = {}

        def send(seq: int) -> defer.Deferred[None]:
            store.insert(message_row(seq))
            d = store.committed()
            d.addCallback(lambda _: outcome.setdefault(
                seq, sql(store_url, f"SELECT count(*) FROM messages WHERE seq = {seq}")[0][0]))
            d.addErrback(lambda f: outcome.setdefault(seq, f.trap(StoreError)))
            return d

        waiting = [send(2)]
        yield next_turn()                 # the write of row 2 began (held at begin)
        waiting.append(send(3))
        permits.release()                 # ... and fails
        yield wait(0.05)
        waiting.append(send(4))
        yield wait(0.15)                  # a retry (or the next write) may have begun: held
        waiting.append(send(5))
        yield wait(0.5)                   # any back-off timer has run by now
        for _ in range(4):
            permits.release()
        yield defer.DeferredList(waiting)
        assert set(outcome) == {2, 3, 4, 5}
        committed = {seq for seq, found in outcome.items() if found == 1}
        failed = {seq for seq, found in outcome.items() if found is StoreError}
        assert committed | failed == {2, 3, 4, 5}, f"fired before its commit: {outcome}"
        assert {3, 4, 5} <= committed      # what came after the failure is not lost
        in_db = {r[0] for r in sql(store_url, "SELECT seq FROM messages")}
        assert in_db == {1} | committed
    finally:
        for _ in range(10):
            permits.release()
        yield store.close()


# -- paged queues on a real database ----------------------------------------------------------------

@defer.inlineCallbacks
def drain_by_receive(queue: Any, count: int) -> Any:
    """Receive and ack `count` messages, ten at a time, as an SQS consumer does."""
    bodies: list[bytes] = []
    for _ in range(count):
        if len(bodies) >= count:
            break
        leases = yield queue.receive(min(10, count - len(bodies)), 30_000, 5_000)
        assert leases, f"empty receive after {len(bodies)} of {count}"
        for lease in leases:
            bodies.append(lease.message.body)
            assert queue.ack(lease)
    return bodies


@pytest_twisted.inlineCallbacks
def test_a_deep_queue_is_paged_from_the_database_in_order_and_restarts_from_its_head(store_url):
    # The real clock: a receive waiting for a page is woken by a timer.
    b = Broker(Store(store_url, reactor), reactor, window=8)
    yield b.start()
    q = b.create_queue("deep")
    sent = [(b"m%03d" % i, (i * 7) % 3) for i in range(300)]
    for body, priority in sent:
        q.enqueue(Message(message_id=f"ID:{body.decode()}", body=body, persistent=priority != 1,
                          priority=priority))
    assert q.stats()["in_memory"] <= 8 and q.ready_count == 300
    yield b.committed()
    expected = [body for body, p in sorted(sent, key=lambda s: (-s[1], s[0]))]
    first = yield drain_by_receive(q, 100)
    assert first == expected[:100]
    yield b.committed()
    yield b.stop()

    b2 = Broker(Store(store_url, reactor), reactor, window=8)
    yield b2.start()
    try:
        q2 = b2.queues["deep"]
        kept = [body for body in expected[100:] if dict(sent)[body] != 1]   # persistent only
        assert q2.ready_count == len(kept) and q2.stats()["in_memory"] == 8
        rest = yield drain_by_receive(q2, len(kept))
        assert rest == kept
        assert q2.ready_count == 0
    finally:
        yield b2.stop()


@pytest_twisted.inlineCallbacks
def test_purge_of_a_deep_queue_is_one_statement(store_url):
    b = Broker(Store(store_url, reactor), reactor, window=8)
    yield b.start()
    try:
        q = b.create_queue("deep")
        for i in range(500):
            q.enqueue(Message(message_id=f"ID:{i}", body=b"x" * 100, persistent=True))
        yield b.committed()
        statements: list[str] = []
        event.listen(b.store._engine, "before_cursor_execute",
                     lambda conn, cursor, stmt, *rest: statements.append(stmt))
        assert q.purge(include_inflight=True) == 500
        yield b.committed()
        deletes = [s for s in statements if s.lstrip().upper().startswith("DELETE FROM MESSAGES")]
        assert len(deletes) == 1, deletes
        assert sql(store_url, "SELECT count(*) FROM messages") == [(0,)]
        assert q.ready_count == 0
    finally:
        yield b.stop()


@pytest_twisted.inlineCallbacks
def test_a_publication_to_several_durable_subscriptions_stores_its_body_once(store_url):
    b = yield started_broker(store_url, T0)
    subs = [b.durable_subscription(f"c{i}", "s", "news", None, False, None) for i in range(3)]
    body = b"B" * 5000
    b.publish("news", Message(message_id="ID:n1", body=body, persistent=True))
    b.publish("news", Message(message_id="ID:n2", body=b"small", persistent=True))
    yield b.committed()
    assert sql(store_url, "SELECT count(*), sum(length(body)) FROM contents") == [(2, 5005)]
    assert sql(store_url, "SELECT count(*), sum(length(body)) FROM messages") == [(6, 0)]
    yield b.stop()

    b2 = yield started_broker(store_url, T0)
    try:
        for i, key in enumerate(f"c{i}:s" for i in range(3)):
            q = b2.durables[key]
            assert [m.body for m in q.browse()] == [body, b"small"]
            leases = yield q.receive(10, 30_000)
            for lease in leases:
                assert q.ack(lease)
            yield b2.committed()
            left = sql(store_url, "SELECT count(*) FROM contents")[0][0]
            assert left == (2 if i < 2 else 0), "a body goes with the last copy that names it"
    finally:
        yield b2.stop()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest_twisted.inlineCallbacks
def test_random_operations_on_a_paged_queue_match_a_sorted_list(store_url, seed):
    """The paged queue on a real database (pages read on the store's reader thread while
    the queue goes on) against a model: a sorted list of what is ready. Every receive gets
    the model's head; a restart keeps the persistent messages."""
    import random

    rnd = random.Random(seed)
    b = Broker(Store(store_url, reactor), reactor, window=4)
    yield b.start()
    q = b.create_queue("model")
    ready: dict[int, tuple[int, bytes, bool]] = {}     # seq -> (priority, body, persistent)
    held: list[Any] = []
    try:
        for step in range(160):
            op = rnd.random()
            if op < 0.45:
                priority, persistent = rnd.choice([0, 4, 4, 9]), rnd.random() < 0.7
                m = q.enqueue(Message(message_id=f"ID:{seed}-{step}", body=b"m%d" % step,
                                      persistent=persistent, priority=priority))
                ready[m.seq] = (priority, m.body, persistent)
            elif op < 0.75 and ready:
                (lease,) = yield q.receive(1, 60_000, 5_000)
                head = min(ready, key=lambda s: (-ready[s][0], s))
                assert lease.message.seq == head, (lease.message.body, ready[head][1])
                held.append((lease, ready.pop(head)))
            elif op < 0.93 and held:
                lease, entry = held.pop(rnd.randrange(len(held)))
                # Past the window's worth of leases, a lease lives on disk: found by its seq.
                lease = yield q.find_lease(lease.message.seq)
                if rnd.random() < 0.6:
                    assert q.ack(lease)
                else:
                    assert q.release(lease)
                    ready[lease.message.seq] = entry
            elif op >= 0.97:
                for lease, entry in held:
                    lease = yield q.find_lease(lease.message.seq)
                    assert q.release(lease)
                    ready[lease.message.seq] = entry
                held = []
                yield b.committed()
                yield b.stop()
                b = Broker(Store(store_url, reactor), reactor, window=4)
                yield b.start()
                q = b.queues["model"]
                ready = {s: v for s, v in ready.items() if v[2]}
            assert q.ready_count == len(ready), step
            assert q.inflight_count == len(held), step
            # Leases timed while a page of them is read stay in memory until it arrives.
            assert len(q._ready) <= 4 and len(q._inflight) <= 8
    finally:
        yield b.stop()


@defer.inlineCallbacks
def _aged_queue(store_url: str, count: int, **kw: Any) -> Any:
    """An opened store whose queue 1 holds rows 1..count, each a millisecond younger (and
    with the columns of `kw`)."""
    store, _ = yield opened(store_url)
    store.put_destination(dest_row(1, "q"))
    for seq in range(1, count + 1):
        store.insert(message_row(seq, priority=4, timestamp=1000 + seq, **kw))
    yield store.committed()
    return store


def _left_at_each_commit(store: Store, dest_id: int) -> list[int]:
    """The rows of `dest_id` as each transaction of the store commits, from now on."""
    left: list[int] = []

    def count(conn: Any) -> None:
        left.append(conn.exec_driver_sql(f"SELECT count(*) FROM messages WHERE dest_id = {dest_id}").scalar())
    event.listen(store._engine, "commit", count)
    return left


@defer.inlineCallbacks
def _commit_during(store: Store, sweep: defer.Deferred[Any], order: list[str]) -> Any:
    """Ask a commit (a send to queue 2) while `sweep` runs; note in `order` when each ends."""
    store.insert(message_row(10**6, dest_id=2))
    yield store.committed().addCallback(lambda _: order.append("sent"))
    yield sweep
    yield store.close()


@pytest_twisted.inlineCallbacks
def test_a_retention_sweep_that_found_nothing_still_finds_what_came_or_moved_back_after_it(store_url):
    store = yield _aged_queue(store_url, 50)
    now = 10**12
    # Rows 41..50 are after the horizon; none is older than 1040.
    assert (yield store.expire(1, (-4, 40), 1040, now, 1000)) == 0
    # The horizon moves back (the window shrank): rows 1..40 are on disk only again.
    assert (yield store.expire(1, (-4, 0), 1040, now, 1000)) == 40
    assert (yield store.expire(1, (-4, 0), 1045, now, 1000)) == 5
    assert (yield store.expire(1, (-4, 0), 1045, now, 1000)) == 0
    # An old message written after a sweep that found nothing (a redriven one keeps its age).
    store.insert(message_row(60, priority=4, timestamp=7))
    yield store.committed()
    assert (yield store.expire(1, (-4, 0), 1045, now, 1000)) == 1
    yield store.close()
    assert sql(store_url, "SELECT seq FROM messages ORDER BY seq") == [(s,) for s in range(46, 51)]


@pytest_twisted.inlineCallbacks
def test_a_retention_sweep_that_found_nothing_is_not_repeated_when_another_queue_is_made(store_url):
    """Making or changing another destination leaves a queue's noted floor, so a broker
    where queues come and go does not read every deep backlog again each second (a sweep
    holds the writer, and every commit behind it, for as long as it reads); a queue
    dropped and made again is read afresh."""
    store = yield _aged_queue(store_url, 10)
    now = 10**12
    assert (yield store.expire(1, (-4, 0), 1000, now, 1000)) == 0
    # An old row the writer did not write (so no floor was lowered for it): only a sweep
    # that reads the backlog again finds it.
    columns = ("dest_id, message_id, body, priority, expires, visible_at, delivery_count, first_delivery, "
               "group_id, dedup_id, attrs, transient, content_id")
    sql(store_url, f"INSERT INTO messages (seq, timestamp, {columns}) SELECT 99, 5, {columns} FROM messages "
                   "WHERE seq = 10")
    store.put_destination(dest_row(2, "other"))
    store.put_destination(dest_row(2, "other", VisibilityTimeout="60"))
    yield store.committed()
    assert (yield store.expire(1, (-4, 0), 1000, now, 1000)) == 0
    store.drop_destination(1)
    yield store.committed()
    store.put_destination(dest_row(1, "q"))
    store.insert(message_row(20, priority=4, timestamp=1020))
    yield store.committed()
    sql(store_url, f"INSERT INTO messages (seq, timestamp, {columns}) SELECT 98, 5, {columns} FROM messages "
                   "WHERE seq = 20")
    assert (yield store.expire(1, (-4, 0), 1000, now, 1000)) == 1
    yield store.close()
    assert sql(store_url, "SELECT seq FROM messages ORDER BY seq") == [(20,)]


@pytest_twisted.inlineCallbacks
def test_retention_deletes_a_deep_backlog_in_the_database(store_url):
    clock = Clock()
    clock.advance(T0)
    b = Broker(Store(store_url, reactor), clock, window=8)
    yield b.start()
    try:
        q = b.create_queue("old", QueueSettings(retention_ms=60_000))
        for i in range(200):
            q.enqueue(Message(message_id=f"ID:{i}", body=b"x", persistent=True, timestamp=b.now_ms()))
        yield b.committed()
        clock.advance(61)
        q.sweep()
        for _ in range(200):                      # the delete runs on the store's thread
            if q.ready_count == 0:
                break
            yield task.deferLater(reactor, 0.01, lambda: None)
        assert q.ready_count == 0
        yield b.committed()
        assert sql(store_url, "SELECT count(*) FROM messages") == [(0,)]
    finally:
        yield b.stop()


def _statements(store: Store, matching: str) -> list[tuple[str, Any]]:
    """The statements the store's connections send from now on that contain `matching`."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if matching in statement:
            seen.append((statement, parameters))
    event.listen(store._engine, "before_cursor_execute", record)
    return seen


@pytest_twisted.inlineCallbacks
def test_a_retention_sweep_finds_old_rows_by_age_without_reading_the_backlog(store_url):
    """Its statements (the rows to delete, their delete, and the oldest row behind the
    window) walk the (queue, timestamp, seq) index, so a deep backlog of young messages costs
    the writer thread, and every commit waiting behind it, nothing to sweep."""
    store, _ = yield opened(store_url)
    store.put_destination(dest_row(1, "q"))
    for seq in range(1, 3001):      # young, then ten redriven ones that kept their age
        store.insert(message_row(seq, priority=4, timestamp=7 if seq > 2990 else 10**6 + seq))
    yield store.committed()
    if store_url.startswith("postgresql"):
        sql(store_url, "ANALYZE messages")          # as autovacuum does after such a fill
    seen = _statements(store, "FROM messages")
    assert (yield store.expire(1, (-4, 100), 1000, 10**12, 5000)) == 10
    assert (yield store.expire(1, (-4, 100), 1000, 10**12, 5000)) == 0     # then its oldest
    yield store.close()
    sweep = [(s, p) for s, p in seen if "messages.timestamp" in s]     # the rest go by seq
    assert len(sweep) == 4      # read and delete, read again, the oldest
    for statement, plan in _plans(store_url, sweep, "ix_messages_age"):
        if statement.startswith("DELETE"):     # the range it read, not all that is old
            assert "(timestamp,seq)<" in plan or "ROW(" in plan, plan


def _plans(store_url: str, statements: list[tuple[str, Any]], index: str) -> list[tuple[str, str]]:
    """Each statement with its plan (under the settings of the store's transaction),
    asserted to walk `index`, not the table."""
    plans = []
    engine = create_engine(normalize_url(store_url))
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                by_index_only(conn)
            for statement, params in statements:
                if conn.dialect.name == "sqlite":
                    plan = " ".join(r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params))
                    assert f"USING INDEX {index}" in plan and "SCAN messages" not in plan, plan
                else:
                    plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, params))
                    assert index in plan and "Seq Scan on messages" not in plan, plan
                plans.append((statement, plan))
    finally:
        engine.dispose()
    return plans


@pytest_twisted.inlineCallbacks
def test_a_retention_sweep_deletes_in_slices_with_other_commits_between_them(store_url):
    """A sweep deletes at most EXPIRE_SLICE rows a transaction, and a commit asked while it
    runs (a SendMessage, a RECEIPT) is written after the slice under way, not after the
    whole sweep."""
    store = yield _aged_queue(store_url, 2 * EXPIRE_SLICE + 20)
    store.put_destination(dest_row(2, "other"))
    yield store.committed()
    left = _left_at_each_commit(store, 1)
    order: list[str] = []
    sweep = store.expire(1, (-4, 0), 10**9, 10**12, 5000)
    sweep.addCallback(lambda n: order.append(f"swept {n}"))
    yield _commit_during(store, sweep, order)
    assert order == ["sent", f"swept {2 * EXPIRE_SLICE + 20}"]
    assert left == [EXPIRE_SLICE + 20, EXPIRE_SLICE + 20, 20, 0]
    assert sql(store_url, "SELECT seq FROM messages") == [(10**6,)]


@pytest_twisted.inlineCallbacks
def test_a_retention_sweep_resumes_where_the_last_stopped_and_starts_over_at_the_end(store_url):
    """Sweeps that find a full slice resume after its last row (a drained backlog is not
    walked again); an old row written behind that point is found once one reaches the end."""
    store = yield _aged_queue(store_url, 10)
    now = 10**12
    assert (yield store.expire(1, (-4, 0), 2000, now, 4)) == 4
    store.insert(message_row(60, priority=4, timestamp=7))      # redriven: keeps its age
    yield store.committed()
    assert sql(store_url, "SELECT seq FROM messages ORDER BY seq") == [(s,) for s in (*range(5, 11), 60)]
    assert (yield store.expire(1, (-4, 0), 2000, now, 4)) == 4
    assert (yield store.expire(1, (-4, 0), 2000, now, 4)) == 2   # the end: the next starts over
    assert (yield store.expire(1, (-4, 0), 2000, now, 4)) == 1
    yield store.close()
    assert sql(store_url, "SELECT count(*) FROM messages") == [(0,)]


@pytest_twisted.inlineCallbacks
def test_a_jms_expiry_sweep_moves_in_slices_with_other_commits_between_them(store_url):
    """Expired rows on disk are moved to the dead-letter queue (or deleted) at most
    EXPIRE_SLICE a transaction, in expiry order, each slice after the last row the one
    before moved; a commit asked meanwhile (a RECEIPT, a SendMessage) is written after the
    slice under way, not after the batch. The engine gets every row back in order, with the
    key it was moved to, its new seqs numbered across the slices."""
    total = 2 * EXPIRE_SLICE + 20
    store = yield _aged_queue(store_url, total, expires=5000)
    store.put_destination(dest_row(2, "other"))
    store.put_destination(dest_row(3, "dlq"))
    yield store.committed()
    left = _left_at_each_commit(store, 1)

    def rewrite(row: dict[str, Any], i: int) -> dict[str, Any] | None:
        if row["seq"] % 7 == 0:
            return None                         # dropped, as a non-persistent one
        return {"seq": 10**5 + i, "dest_id": 3, "expires": 0}
    order: list[str] = []
    moved: list[Any] = []
    sweep = store.expire_dead(1, (-4, 0), 10**12, 10**12, 5000, rewrite)
    sweep.addCallback(lambda found: order.append(f"expired {len(found)}") or moved.extend(found))
    yield _commit_during(store, sweep, order)
    assert order == ["sent", f"expired {total}"]
    assert left == [EXPIRE_SLICE + 20, EXPIRE_SLICE + 20, 20, 0]
    assert [row["seq"] for _, row in moved] == list(range(1, total + 1))
    assert [key for key, _ in moved] == [None if s % 7 == 0 else (-4, 10**5 + s - 1) for s in range(1, total + 1)]
    kept = sql(store_url, "SELECT seq FROM messages WHERE dest_id = 3 ORDER BY seq")
    assert kept == [(10**5 + s - 1,) for s in range(1, total + 1) if s % 7]


@pytest_twisted.inlineCallbacks
def test_a_jms_expiry_slice_reads_the_expiry_index_in_its_order(store_url):
    """A slice's read walks the (queue, expires, seq) index from after the last row the
    slice before moved and stops at its limit: no sort of the whole expired backlog, for
    each slice, and no read of the rest of the backlog."""
    store, _ = yield opened(store_url)
    store.put_destination(dest_row(1, "q"))
    store.put_destination(dest_row(3, "dlq"))
    for seq in range(1, 3001):      # most never expire; the last 1,200 did
        store.insert(message_row(seq, priority=4, expires=5000 + seq % 3 if seq > 1800 else 0))
    yield store.committed()
    if store_url.startswith("postgresql"):
        sql(store_url, "ANALYZE messages")
    seen = _statements(store, "FROM messages")
    moved = yield store.expire_dead(1, (-4, 100), 10**12, 10**12, 5000,
                                    lambda row, i: {"seq": 10**5 + i, "dest_id": 3, "expires": 0})
    yield store.close()
    assert [row["expires"] for _, row in moved] == sorted(row["expires"] for _, row in moved)
    assert len(moved) == 1200
    reads = [(s, p) for s, p in seen if s.startswith("SELECT") and "messages.expires" in s]
    assert len(reads) == 2      # a full slice, then the rest after it
    for _, plan in _plans(store_url, reads, "ix_messages_expires"):
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


@pytest_twisted.inlineCallbacks
def test_a_jms_expiry_slice_that_fails_after_others_ends_the_batch_with_theirs(store_url):
    """The slices before a failed one are committed, so the engine gets their rows (its
    counts and listeners must hear of them); the failure's cause (a dead-letter queue still
    to be made) comes first in the next batch, whose first slice fails with it."""
    store = yield _aged_queue(store_url, EXPIRE_SLICE + 10, expires=5000)

    def rewrite(row: dict[str, Any], i: int) -> None:
        if row["seq"] > EXPIRE_SLICE + 5:
            raise LookupError("no dead-letter queue yet")
        return None
    moved = yield store.expire_dead(1, (-4, 0), 10**12, 10**12, 5000, rewrite)
    assert [row["seq"] for _, row in moved] == list(range(1, EXPIRE_SLICE + 1))
    with pytest.raises(LookupError):
        yield store.expire_dead(1, (-4, 0), 10**12, 10**12, 5000, rewrite)
    yield store.close()
    assert sql(store_url, "SELECT count(*) FROM messages") == [(10,)]
