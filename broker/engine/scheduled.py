"""The delayed messages of every queue, listed and cancelled from outside the queue.

A door that lets its clients manage scheduled deliveries (ActiveMQ's scheduler management
topic) needs to see what waits for a time, whichever queue holds it and whether it is in
memory or on disk only, and to take some of it away for good. Only messages never
delivered count: a lease with a deadline (SQS in flight) or a redelivery waiting for its
delay is another consumer's business.

The listing reads the on-disk part of each queue's timeline a page at a time on the
store's reader thread, in time order, after everything asked so far is committed; what
the queue does meanwhile (paging in, releasing) is checked again when an entry is
cancelled, so a message that came due or left in between is left alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from twisted.internet import defer

from broker.engine.message import Message, State
from broker.engine.queue import Queue

if TYPE_CHECKING:
    from broker.engine.broker import Broker

PAGE = 1000


@dataclass(frozen=True, slots=True)
class Delayed:
    """One message waiting in a queue for its time (`message.visible_at`)."""

    queue: Queue
    message: Message

    @property
    def due(self) -> int:
        return self.message.visible_at


def _waiting(message: Message) -> bool:
    return message.state is State.DELAYED and message.delivery_count == 0


def _in_memory(queue: Queue, job_id: str | None = None) -> list[Delayed]:
    return [Delayed(queue, m) for m in queue._timeline.messages()
            if _waiting(m) and (job_id is None or m.job_id == job_id)]


def _from_disk(queue: Queue, row: dict[str, Any]) -> Delayed | None:
    """A row of the queue's timeline that waits on disk only, as a listed entry."""
    if row["delivery_count"] != 0:
        return None
    message = Message.from_row(row)
    message.state = State.DELAYED
    return Delayed(queue, message)


@defer.inlineCallbacks
def _on_disk(queue: Queue) -> Any:
    """The queue's delayed rows that are on disk only, in time order."""
    found: list[Delayed] = []
    after = queue._timeline.horizon
    store = queue._store
    while after is not None and store is not None and not queue.deleted:
        rows = yield store.timed_page(queue.dest_id, after, PAGE)
        found += [e for e in map(partial(_from_disk, queue), rows) if e is not None]
        after = (rows[-1]["visible_at"], rows[-1]["seq"]) if len(rows) >= PAGE else None
    return found


def _merged(queue: Queue, memory: list[Delayed], disk: list[Delayed], now: int) -> list[Delayed]:
    """The queue's entries: those in memory as the queue holds them, and those read from
    disk that the queue has not taken into memory meanwhile nor seen come due."""
    seen = {entry.message.seq for entry in memory}
    return memory + [e for e in disk if e.message.seq not in seen and e.message.seq not in queue._held
                     and e.due > now]


def _queues(broker: "Broker") -> list[Queue]:
    return [q for q in list(broker.queues.values()) + list(broker.durables.values()) if q.delayed_count]


@defer.inlineCallbacks
def delayed(broker: "Broker") -> Any:
    """Every queue's delayed messages (a Deferred list of `Delayed`), those on disk read
    back; the same message is listed once, as the queue holds it now if it is in memory."""
    out: list[Delayed] = []
    for queue in _queues(broker):
        disk = (yield _on_disk(queue)) if queue._timeline.out_delayed else []
        out += _merged(queue, _in_memory(queue), disk, broker.now_ms())
    return out


@defer.inlineCallbacks
def of_job(broker: "Broker", job_id: str) -> Any:
    """The delayed messages of one scheduled job (`Message.job_id`), as `delayed` lists
    them: the store finds the job's rows by its index, so the other waiting rows are not
    read."""
    queues = _queues(broker)
    rows: list[dict[str, Any]] = []
    if broker.store is not None and any(q._timeline.out_delayed for q in queues):
        rows = yield broker.store.job_waiting(job_id, broker.now_ms())
    out: list[Delayed] = []
    for queue in queues:
        # Rows up to the horizon are in memory (or have left it): only later ones count.
        horizon = queue._timeline.horizon
        disk = [] if horizon is None or queue.deleted else [
            e for r in rows if r["dest_id"] == queue.dest_id and (r["visible_at"], r["seq"]) > horizon
            and (e := _from_disk(queue, r)) is not None]
        out += _merged(queue, _in_memory(queue, job_id), disk, broker.now_ms())
    return out


def cancel(entry: Delayed) -> bool:
    """Take a delayed message out of its queue for good (its row deleted in the next group
    commit); False when it is no longer waiting (it came due, left, or was cancelled)."""
    queue, seq = entry.queue, entry.message.seq
    if queue.deleted:
        return False
    held = queue._held.get(seq)
    if held is not None:
        if not _waiting(held):
            return False
        queue._timeline.remove(seq)
        queue._waiting -= 1
        queue._gone(held)
        queue._arm_timer()
        queue._page_in_timed()
        return True
    timeline = queue._timeline
    if timeline.horizon is None or (entry.due, seq) <= timeline.horizon or not timeline.cancel_out(seq):
        return False
    message = entry.message
    queue._write(message, "delete")
    queue.depth_bytes -= len(message.body)
    if queue._store is not None:
        # A timed page read from now on must not see the row again.
        queue._disk_mark = queue._store.mark()
    queue._page_in_timed()
    return True
