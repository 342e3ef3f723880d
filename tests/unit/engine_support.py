"""Helpers for driving the engine directly: a broker on a fake clock, recording consumers,
an in-memory stand-in for the store, and a check that a queue's counters tell the truth.

No sockets and no threads: every timer runs on `twisted.internet.task.Clock`.
"""
from __future__ import annotations

import itertools
from typing import Any

from twisted.internet import defer
from twisted.internet.task import Clock

from broker.engine.broker import WINDOW, Broker
from broker.engine.consumer import Consumer, Lease
from broker.engine.message import Message, State
from broker.engine.queue import Queue
from broker.engine.selector import parse
from broker.engine.settings import QueueSettings
from broker.store.store import Snapshot

START_MS = 1_700_000_000_000  # the fake clock starts at a realistic epoch time
_ids = itertools.count(1)


def make_broker(store: Any = None, window: int = WINDOW) -> Broker:
    clock = Clock()
    clock.advance(START_MS / 1000)
    return Broker(store=store, clock=clock, window=window)


def advance(broker: Broker, ms: int) -> None:
    broker.clock.advance(ms / 1000)


def msg(body: str = "", *, persistent: bool = False, **kw: Any) -> Message:
    kw.setdefault("properties", {})
    return Message(message_id=f"ID:test-{next(_ids)}", body=body.encode(), persistent=persistent, **kw)


def stamped(broker: Broker, body: str = "", **kw: Any) -> Message:
    """A message stamped with the broker's time, as a door does on send."""
    return msg(body, timestamp=broker.now_ms(), **kw)


class Recorder(Consumer):
    """A consumer with an explicit credit (prefetch) that remembers what it got."""

    def __init__(self, name: str = "c", credit: int = 1000, *, auto_ack: bool = False,
                 lease_ms: int = 0, selector: str | None = None, priority: int = 0,
                 exclusive: bool = False) -> None:
        self.name = name
        self.credit = credit
        self.auto_ack = auto_ack
        self.lease_ms = lease_ms
        self.selector = parse(selector) if selector else None
        self.priority = priority
        self.exclusive = exclusive
        self.got: list[tuple[Message, Lease | None]] = []
        self.pending: list[Lease] = []

    def deliver(self, queue: Any, message: Message, lease: Lease | None) -> None:
        self.credit -= 1
        self.got.append((message, lease))
        if lease is not None:
            self.pending.append(lease)

    def __repr__(self) -> str:
        return f"Recorder({self.name})"

    @property
    def bodies(self) -> list[str]:
        return [m.body.decode() for m, _ in self.got]

    def take(self, body: str) -> Lease:
        for lease in self.pending:
            if lease.message.body.decode() == body:
                return lease
        raise AssertionError(f"{self.name} holds no lease for {body!r}: {self.pending_bodies}")

    @property
    def pending_bodies(self) -> list[str]:
        return [lease.message.body.decode() for lease in self.pending]

    def ack(self, body: str | None = None) -> bool:
        lease = self.pending[0] if body is None else self.take(body)
        self.pending.remove(lease)
        self.credit += 1
        return lease.queue.ack(lease)

    def ack_all(self) -> None:
        while self.pending:
            assert self.ack()

    def release(self, body: str | None = None, delay_ms: int = 0) -> bool:
        lease = self.pending[0] if body is None else self.take(body)
        self.pending.remove(lease)
        self.credit += 1
        return lease.queue.release(lease, delay_ms)


def bodies(leases: list[Lease]) -> list[str]:
    return [lease.message.body.decode() for lease in leases]


def ready_bodies(queue: Queue) -> list[str]:
    return [m.body.decode() for m in queue.browse()]


def check_counts(queue: Queue, ready: int | None = None, delayed: int | None = None,
                 inflight: int | None = None) -> None:
    """The counters agree with the messages the queue actually holds (and with the
    expected figures, when given)."""
    live = queue.browse()
    assert len({id(m) for m in live}) == len(live), "a message is indexed twice"
    assert all(m.state in (State.READY, State.PARKED) for m in live)
    assert queue.ready_count == len(live), (queue.ready_count, [m.body for m in live])
    waiting = {id(m): m for m in queue._timeline.messages() if m.state is State.DELAYED}
    assert queue.delayed_count == len(waiting) + queue._timeline.out_delayed, (queue.delayed_count, len(waiting))
    assert all(lease.message.state is State.INFLIGHT for lease in queue._inflight.values())
    if ready is not None:
        assert queue.ready_count == ready
    if delayed is not None:
        assert queue.delayed_count == delayed
    if inflight is not None:
        assert queue.inflight_count == inflight


#: A window of a few messages, so that paging tests cross page boundaries constantly.
PAGED_WINDOW = 4


def paged(store: Any = None, window: int = PAGED_WINDOW, **settings: Any) -> tuple[Any, Broker, Queue]:
    """(store, started broker, its queue "q" with `settings`) on a small window; a fresh
    in-memory store unless `store` is given."""
    store = store if store is not None else MemoryStore()
    b = restart(store, window)
    return store, b, b.create_queue("q", QueueSettings(**settings))


def restart(store: Any, window: int = PAGED_WINDOW) -> Broker:
    """A broker started on `store` (as after a restart: it reads back what the store holds)."""
    b = make_broker(store, window=window)
    result_of(b.start())
    return b


def result_of(d: defer.Deferred[Any]) -> Any:
    """The result of a Deferred that must have fired already."""
    out: list[Any] = []
    d.addBoth(out.append)
    assert out, "the Deferred has not fired"
    if isinstance(out[0], Exception) or hasattr(out[0], "raiseException"):
        out[0].raiseException()
    return out[0]


class MemoryStore:
    """What the database would hold, applied at once (no batching): the engine's view of
    durability, checked against what it keeps in memory."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}
        self.destinations: dict[int, dict[str, Any]] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.pages = 0
        # A full database (Store.full): the engine refuses persistent sends meanwhile.
        self.full = False
        self.full_bytes = 0
        self.on_refused: Any = None
        self.timed_pages = 0
        self.job_reads = 0

    def insert(self, row: dict[str, Any]) -> None:
        assert row["seq"] not in self.rows
        self.rows[row["seq"]] = dict(row)

    def update(self, seq: int, values: dict[str, Any]) -> None:
        if seq in self.rows:
            self.rows[seq].update(values)

    def delete(self, seq: int, content_id: int = 0) -> None:
        self.rows.pop(seq, None)

    def put_destination(self, row: dict[str, Any]) -> None:
        self.destinations[row["id"]] = dict(row)

    def drop_destination(self, dest_id: int) -> None:
        self.destinations.pop(dest_id, None)
        self.rows = {s: r for s, r in self.rows.items() if r["dest_id"] != dest_id}

    def put_record(self, kind: str, name: str, data: Any, new: bool = False) -> None:
        self.records.setdefault(kind, {})[name] = data

    def drop_record(self, kind: str, name: str) -> None:
        self.records.get(kind, {}).pop(name, None)

    def committed(self, refusable: bool = True) -> defer.Deferred[None]:
        return defer.succeed(None)

    def refuse(self, seqs: list[int]) -> None:
        """What a full database does with rows it could not write: they are gone, and the
        engine is told."""
        refused = [(self.rows.pop(seq)["dest_id"], seq) for seq in seqs]
        self.on_refused(refused)

    def purge(self, dest_id: int, keep: list[int], leases_after: int | None = None) -> None:
        def kept(s: int, r: dict[str, Any]) -> bool:
            return (r["dest_id"] != dest_id or s in keep or leases_after is not None
                    and r["delivery_count"] > 0 and r["visible_at"] > leases_after)
        self.rows = {s: r for s, r in self.rows.items() if kept(s, r)}

    def expire(self, dest_id: int, after: Any, cutoff: int, now: int, limit: int) -> defer.Deferred[int]:
        doomed = [r["seq"] for r in self._ready(dest_id, after, now) if r["timestamp"] <= cutoff][:limit]
        for seq in doomed:
            del self.rows[seq]
        return defer.succeed(len(doomed))

    def expire_dead(self, dest_id: int, after: Any, ready_cutoff: int, now: int, limit: int,
                    rewrite: Any) -> defer.Deferred[list[Any]]:
        keys: list[Any] = []
        doomed = sorted((r for r in self._ready(dest_id, after, ready_cutoff) if 0 < r["expires"] <= now),
                        key=lambda r: (r["expires"], r["seq"]))[:limit]
        try:
            moves = [rewrite(dict(row), i) for i, row in enumerate(doomed)]
        except Exception:
            return defer.fail()                       # the transaction rolls back
        for row, values in zip(doomed, moves):
            del self.rows[row["seq"]]
            if values is None:
                keys.append(None)
            else:
                self.rows[values["seq"]] = {**row, **values}
                keys.append((-row["priority"], values["seq"]))
        return defer.succeed(list(zip(keys, [{k: v for k, v in r.items() if k != "body"} for r in doomed])))

    def _ready(self, dest_id: int, after: Any, now: int) -> list[dict[str, Any]]:
        rows = [r for r in self.rows.values() if r["dest_id"] == dest_id and r["visible_at"] <= now
                and (after is None or (-r["priority"], r["seq"]) > after)]
        return sorted(rows, key=lambda r: (-r["priority"], r["seq"]))

    def mark(self) -> int:
        return 0

    def page(self, dest_id: int, after: Any, now: int, limit: int, since: int | None = None,
             make: Any = None) -> defer.Deferred[list[Any]]:
        self.pages += 1
        return defer.succeed([(make or dict)(r) for r in self._ready(dest_id, after, now)[:limit]])

    def _timed(self, dest_id: int, after: Any) -> list[dict[str, Any]]:
        rows = [r for r in self.rows.values() if r["dest_id"] == dest_id and r["visible_at"] > 0
                and (r["visible_at"], r["seq"]) > after]
        return sorted(rows, key=lambda r: (r["visible_at"], r["seq"]))

    def timed_page(self, dest_id: int, after: Any, limit: int,
                   since: int | None = None) -> defer.Deferred[list[dict[str, Any]]]:
        self.timed_pages += 1
        return defer.succeed([dict(r) for r in self._timed(dest_id, after)[:limit]])

    def job_waiting(self, job_id: str, now: int) -> defer.Deferred[list[dict[str, Any]]]:
        self.job_reads += 1
        rows = [r for r in self.rows.values() if r.get("job_id") == job_id and r["visible_at"] > now
                and r["delivery_count"] == 0]
        return defer.succeed([dict(r) for r in sorted(rows, key=lambda r: (r["visible_at"], r["seq"]))])

    def leased(self, dest_id: int, seq: int, after: int) -> defer.Deferred[dict[str, Any] | None]:
        r = self.rows.get(seq)
        found = (r is not None and r["dest_id"] == dest_id and r["delivery_count"] > 0
                 and r["visible_at"] > after)
        return defer.succeed(dict(r) if found else None)

    def open(self, now: int = 0, page: int = 1000) -> defer.Deferred[Snapshot]:
        self.rows = {s: r for s, r in self.rows.items() if not r.get("transient")}
        counts: dict[int, int] = {}
        for r in self.rows.values():
            counts[r["dest_id"]] = counts.get(r["dest_id"], 0) + 1
        heads = {d: [dict(r) for r in self._ready(d, None, now)[:page]] for d in counts}
        waiting: dict[int, list[dict[str, Any]]] = {}
        timed: dict[int, tuple[int, int]] = {}
        for d in counts:
            rows = self._timed(d, (now, 1 << 62))
            if rows:
                waiting[d] = [dict(r) for r in rows[:page]]
                leases = sum(1 for r in rows if r["delivery_count"] > 0)
                timed[d] = (len(rows) - leases, leases)
        dests = [dict(d) for d in self.destinations.values()]
        return defer.succeed(Snapshot(dests, heads, waiting, timed, counts, max(self.rows, default=0),
                                      max(self.destinations, default=0),
                                      {k: dict(v) for k, v in self.records.items()}))

    def close(self) -> defer.Deferred[None]:
        return defer.succeed(None)

    def bodies(self, dest_id: int) -> list[bytes]:
        return [r["body"] for s, r in sorted(self.rows.items()) if r["dest_id"] == dest_id]


class SlowPages(MemoryStore):
    """A store whose page reads answer only when the test says, as a database thread does:
    the rows are those of the moment the read runs, at its start or just before it answers."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: list[tuple[defer.Deferred[Any], tuple[Any, ...], list[dict[str, Any]]]] = []

    def page(self, dest_id: int, after: Any, now: int, limit: int, since: int | None = None,
             make: Any = None) -> defer.Deferred[list[Any]]:
        self.pages += 1
        d: defer.Deferred[list[Any]] = defer.Deferred()
        make = make or dict
        early = [make(r) for r in self._ready(dest_id, after, now)[:limit]]
        self.waiting.append((d, (dest_id, after, now, limit, make), early))
        return d

    def answer(self, late: bool = True) -> None:
        d, (dest_id, after, now, limit, make), early = self.waiting.pop(0)
        d.callback([make(r) for r in self._ready(dest_id, after, now)[:limit]] if late else early)
