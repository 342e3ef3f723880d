"""A queue: ordering, delayed messages, leases and dispatch.

What a queue is lives here; how much of it is in memory lives in `broker.engine.paging`:
ready messages sit in a `Window` sorted by (-priority, seq), so taking the next one is
O(log n) and a released message goes back to its place at the head, and a queue with a
store keeps only the head of its order in memory and pages the rest in. What waits for a
time (DelaySeconds, AMQ_SCHEDULED_DELAY, redelivery delays, SQS visibility deadlines) sits
in a `Timeline` behind one timer, which keeps only the next ones to come due in memory and
pages the rest in by time (`broker.engine.delays`).
"""
from __future__ import annotations

import heapq
import json
import logging
from collections import OrderedDict
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from twisted.internet import defer

from broker.engine.dead_letters import ExpiryMove
from broker.engine.consumer import Consumer, Lease
from broker.engine.delays import Timeline, is_lease
from broker.engine.message import GROUP_SEQUENCE, DeadLetter, Message, State
from broker.engine.paging import Window, order_key, row_key
from broker.engine.settings import QueueSettings

if TYPE_CHECKING:
    from broker.engine.broker import Broker

log = logging.getLogger("mqgate.engine")

# How many undeliverable ready messages (selector mismatch, group pinned to a busy
# consumer) one dispatch pass looks past before it gives up: ActiveMQ's maxPageSize.
SCAN_LIMIT = 200
# A short-poll receive on a queue whose head is still being read from disk waits this long
# at most for the page, rather than answer empty with messages in the queue.
PAGE_WAIT_MS = 2000
LEAN_PAGE = 16
# Rows whose retention ended that one sweep deletes from a queue's on-disk backlog.
EXPIRE_BATCH = 5000
# Rows one read looks at for a selector consumer that nothing in memory matches.
SELECTOR_PAGE = 500

_JMS_NUMERIC = {"int", "long", "short", "byte", "Integer", "Long", "Short", "Byte"}
_JMS_FLOAT = {"float", "double", "Float", "Double"}


def property_value(message: Message, name: str) -> object | None:
    """A property as the selector sees it: typed values come back as numbers/booleans."""
    value = message.properties.get(name)
    if value is None:
        return _header_value(message, name)
    kind = message.types.get(name) if message.types else None
    if kind is None or isinstance(value, bytes):
        return value
    try:
        if kind in _JMS_NUMERIC:
            return int(value)
        if kind in _JMS_FLOAT:
            return float(value)
        if kind.startswith("Number"):
            number = float(value)
            return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
        if kind in ("boolean", "Boolean"):
            return value.lower() == "true"
    except ValueError:
        return value
    return value


# Why a message that outlived its expiry left its queue (each door words it its own way).
EXPIRED_CAUSE = "Message expired"


def _header_value(message: Message, name: str) -> object | None:
    getter = _JMS_HEADERS.get(name)
    return getter(message) if getter else None


_JMS_HEADERS: dict[str, Callable[[Message], object | None]] = {
    "JMSMessageID": lambda m: m.message_id,
    "JMSPriority": lambda m: m.priority,
    "JMSTimestamp": lambda m: m.timestamp,
    "JMSExpiration": lambda m: m.expires,
    "JMSDeliveryMode": lambda m: "PERSISTENT" if m.persistent else "NON_PERSISTENT",
    "JMSCorrelationID": lambda m: m.headers.get("correlation-id"),
    "JMSType": lambda m: m.headers.get("type"),
    "JMSReplyTo": lambda m: m.headers.get("reply-to"),
    "JMSXGroupID": lambda m: m.group_id,
    "JMSRedelivered": lambda m: m.delivery_count > 0,
    "JMSXDeliveryCount": lambda m: m.delivery_count,
}


class _NoDeadLetterQueue(Exception):
    """An expired row on disk needs a dead-letter queue that does not exist yet."""


def _dead_letter_row(source: str, target: int | None, move: ExpiryMove, base: int,
                     row: dict[str, Any], i: int) -> dict[str, Any] | None:
    """The store's move of an expired row to the dead-letter queue (`Broker.dead_letter`,
    applied to a row): new seq and queue, the dead-letter facts, no expiry. None drops it:
    no target, a dead letter dying again, or a non-persistent message the move leaves out.
    A target of 0 is still to be created: the batch is given up (rolled back) until it is."""
    if target is None or (row["transient"] and not move.transient):
        return None
    attrs = json.loads(row["attrs"])
    if "dl" in attrs and not move.own:
        return None
    if not target:
        raise _NoDeadLetterQueue(source)
    own = move.own
    attrs["dl"] = DeadLetter("queue", source, EXPIRED_CAUSE, row["expires"],
                             was_persistent=own or not row["transient"]).to_json()
    if own:
        attrs["h"] = {**attrs.get("h", {}), "dead-letter-source": source}
    return {"seq": base + 1 + i, "dest_id": target, "attrs": json.dumps(attrs, separators=(",", ":")),
            "expires": 0, "visible_at": 0, "transient": row["transient"] and own,
            "delivery_count": row["delivery_count"] if own else 0,
            "first_delivery": row["first_delivery"] if own else 0}


class _Receiver(Consumer):
    """A pull consumer: one SQS ReceiveMessage, possibly long-polling."""

    def __init__(self, queue: "Queue", max_messages: int, lease_ms: int) -> None:
        self.queue = queue
        self.credit = max_messages
        self.lease_ms = lease_ms
        self.got: list[Lease] = []
        self.deferred: defer.Deferred[list[Lease]] | None = None
        self.timer: Any = None

    def deliver(self, queue: Any, message: Message, lease: Lease | None) -> None:
        assert lease is not None
        self.got.append(lease)
        self.credit -= 1
        if self.deferred is not None and self.timer is not None and self.timer.active():
            # Let the rest of this reactor turn's messages join before answering.
            self.timer.reset(0)

    def finish(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        self.queue.remove_consumer(self, release=False)
        d, self.deferred = self.deferred, None
        if d is not None:
            d.callback(self.got)

    def abandon(self) -> None:
        """The request went away (its Deferred was cancelled): what it took goes back."""
        got, self.got = self.got, []
        self.finish()
        self.queue.give_back(got)


class Queue:
    kind = "queue"

    def __init__(self, broker: "Broker", name: str, dest_id: int, *, durable: bool = True,
                 settings: QueueSettings | None = None, attrs: dict[str, Any] | None = None,
                 created_at: int = 0, kind: str = "queue") -> None:
        self.broker = broker
        self.name = name
        self.dest_id = dest_id
        self.kind = kind
        self.durable = durable
        self.settings = settings or QueueSettings()
        self.attrs: dict[str, Any] = attrs or {}
        self.created_at = created_at
        self.modified_at = created_at
        self._store = broker.store if durable else None
        # Only a queue with a store behind it can leave part of its backlog on disk.
        self._ready = Window(broker.window_size if self._store is not None else None)
        # Every message of this queue that is in memory, by seq (window, delayed, parked,
        # in flight): a page read from disk skips these.
        self._held: dict[int, Message] = {}
        self.memory_bytes = 0      # bodies of the messages in _held
        # Bodies of everything the queue holds, in memory or on disk (approximate for what
        # was on disk at start: the head's average size stands for the rest).
        self.depth_bytes = 0
        # Delayed messages and leases with a deadline, the next to come due in memory.
        self._timeline = Timeline(broker.window_size if self._store is not None else None,
                                  self._pins_group)
        self._timer: Any = None
        self._timer_due = 0
        self._waiting = 0          # delayed messages in memory
        # Receipt-handle look-ups of leases on disk under way, and the seqs that entered
        # memory or left the queue meanwhile (the look-up's row is stale for them).
        self._lookups = 0
        self._touched: set[int] = set()
        self._lookup_epoch = 0
        self._inflight: dict[int, Lease] = {}
        self._overdue: list[Lease] = []
        self._consumers: list[Consumer] = []
        self._rr = 0
        self._prioritized = False
        self._parked: dict[str, list[Message]] = {}
        self._parked_count = 0
        self._group_owner: dict[str, Consumer] = {}
        self._group_busy: dict[str, int] = {}
        # FIFO: the receive (one ReceiveMessage) that took a free group's head. It may take
        # the group's next messages in order, as on SQS; every other receive or consumer
        # waits until the group is free. A push consumer takes a group's messages one at a
        # time, so a redelivery comes back before what follows it.
        self._group_holder: dict[str, Consumer] = {}
        self._dedup: OrderedDict[str, tuple[int, Message]] = OrderedDict()
        self._dispatching = False
        self._again = False
        # Messages were timed during a pass: the timer is armed, and the timeline paged in,
        # once after it (`_timed_after_pass`) rather than once per leased message.
        self._timed_in_pass = False
        self._paging = False
        self._page_retry: Any = None
        self._disk_mark = 0
        self._expiring = False
        # Selector consumers that nothing in the window matches read the disk part for
        # themselves: where the last read stopped, what was acked meanwhile, whether there
        # is anything new to look at.
        self._starved = False
        self._scan_loop = False
        self._scan_from: tuple[int, int] | None = None
        self._scan_gone: set[int] | None = None
        self._scan_idle = False
        self.deleted = False
        # Messages accepted and consumed (acked) since start: ActiveMQ's Enqueue/DequeueCount.
        self.enqueued = 0
        self.dequeued = 0

    # -- introspection --------------------------------------------------------
    @property
    def ready_count(self) -> int:
        """Ready messages (held back by a group included), in memory and on disk."""
        return len(self._ready) + self._parked_count + self._ready.paged_out

    @property
    def inflight_count(self) -> int:
        return len(self._inflight) + self._timeline.out_leases

    @property
    def delayed_count(self) -> int:
        return self._waiting + self._timeline.out_delayed

    @property
    def consumer_count(self) -> int:
        return sum(1 for c in self._consumers if not isinstance(c, _Receiver))

    def stats(self) -> dict[str, int]:
        """Depth and memory use: what an operator sizes memory and limits by."""
        window = self._ready
        return {"ready": self.ready_count, "delayed": self.delayed_count,
                "inflight": self.inflight_count, "in_memory": len(self._held),
                "paged_out": window.paged_out, "timed_out": self._timeline.paged_out,
                "memory_bytes": self.memory_bytes,
                "bytes": self.depth_bytes,
                "consumers": self.consumer_count,
                "enqueued": self.enqueued, "dequeued": self.dequeued}

    def browse(self) -> list[Message]:
        """Ready messages in memory, in delivery order, without taking them (the whole
        queue unless part of its backlog is on disk: `browse_page` reads that too)."""
        return sorted(self._ready.messages() + [m for ms in self._parked.values() for m in ms
                                                if m.state is State.PARKED], key=order_key)

    def browse_page(self, after: Message | None, limit: int) -> defer.Deferred[list[Message]]:
        """What a browser shows after `after` (the last of the previous page, None to
        start) in delivery order, from memory and disk, without taking them: a browser
        streams a deep queue a page at a time. Empty at the end of the queue. It shows the
        ready messages and, as ActiveMQ's browsers do, those in flight: delivered (or in a
        consumer's prefetch buffer) but not yet acknowledged."""
        return self._browse_from(order_key(after) if after is not None else None, limit)

    def _browse_from(self, start: tuple[int, int] | None, limit: int) -> defer.Deferred[list[Message]]:
        def shown() -> list[Message]:
            return self.browse() + [lease.message for lease in self._inflight.values()]

        def in_range(m: Message, last: tuple[int, int] | None) -> bool:
            key = order_key(m)
            return (start is None or key > start) and (last is None or key <= last)

        def merge(rows: list[dict[str, Any]]) -> Any:
            last = (-rows[-1]["priority"], rows[-1]["seq"]) if len(rows) >= limit else None
            found: dict[int, Message] = {}
            for row in rows:
                held = self._held.get(row["seq"])
                if held is None:
                    found[row["seq"]] = Message.from_row(row)
                elif held.state in (State.READY, State.PARKED, State.INFLIGHT):
                    found[row["seq"]] = held
            for m in shown():
                if in_range(m, last):
                    found[m.seq] = m
            if not found and last is not None:
                # A page of messages a browser does not show (settled, waiting for a
                # time): the queue goes on after it.
                return self._browse_from(last, limit)
            return sorted(found.values(), key=order_key)

        if self._store is None or self._ready.horizon is None:
            return defer.succeed(sorted((m for m in shown() if in_range(m, None)), key=order_key)[:limit])
        return self._store.page(self.dest_id, start, self._ready_cutoff(), limit).addCallback(merge)

    def _now(self) -> int:
        return int(self.broker.clock.seconds() * 1000)

    def _ready_cutoff(self) -> int:
        """A row whose time is at most this is ready; after it, the timeline's."""
        return self._timeline.cutoff(self._now())

    # -- the store: the one place a message's state is written -----------------------
    def _write(self, message: Message, op: str) -> None:
        """Insert, update or delete the message's row, if it has one (persistent, or
        spilled to disk) and the queue has a store."""
        store = self._store
        if store is None or not message.stored:
            return
        if op == "update":
            store.update(message.seq, message.state_row())
        elif op == "delete":
            store.delete(message.seq, message.content_id)
        else:
            store.insert(message.to_row(self.dest_id))

    def _hold(self, message: Message) -> None:
        if message.seq not in self._held:
            self._held[message.seq] = message
            self.memory_bytes += len(message.body)
            self.broker.memory_used += len(message.body)

    def _unhold(self, message: Message) -> None:
        if self._held.pop(message.seq, None) is not None:
            size = len(message.body)
            self.memory_bytes -= size
            broker = self.broker
            if broker._blocked:
                broker.memory_freed(size)
            else:
                broker.memory_used -= size

    def _gone(self, message: Message) -> None:
        """The message leaves the queue (acked, expired, moved, dead-lettered)."""
        message.state = State.GONE
        if self._lookups:
            self._touched.add(message.seq)
        if self._store is not None:
            self._write(message, "delete")
            if self._ready.reading:
                self._ready.gone(message.seq)
            if self._scan_gone is not None:
                self._scan_gone.add(message.seq)
        if self._held:   # an automatic ack's message was never held (`hand_over`)
            self._unhold(message)
        self.depth_bytes -= len(message.body)

    def _to_disk(self, message: Message) -> None:
        """The message now lives on disk only (its queue's backlog outgrew the window)."""
        self._unhold(message)
        if not message.stored:
            message.spilled = True
            self._write(message, "insert")
        # A page read must see this message's row: it waits for this point to be committed.
        self._disk_mark = self._store.mark() if self._store is not None else 0
        self._scan_idle = False

    # -- sending ------------------------------------------------------------------
    def enqueue(self, message: Message, now: int | None = None) -> Message:
        """Accept a message; returns the message kept (an earlier one for a FIFO duplicate).

        `now`: the time of the caller's reactor turn, when it has already read it (a topic
        publication enqueues into every subscription at one instant)."""
        if now is None:
            now = self._now()
        settings = self.settings
        dedup = settings.dedup_window_ms and message.dedup_id is not None
        if dedup:
            seen = self._check_dedup(message.dedup_id, now)
            if seen is not None:
                return seen
        message.seq = self.broker.next_seq()
        message.state = State.READY
        self.enqueued += 1
        if not message.timestamp:
            # Retention counts from acceptance; a message without one would expire at once.
            message.timestamp = now
        if not message.visible_at and settings.default_delay_ms:
            message.visible_at = now + settings.default_delay_ms
        self._write(message, "insert")
        self.depth_bytes += len(message.body)
        if dedup:
            self._dedup[message.dedup_id] = (now + settings.dedup_window_ms, message)
        # Without a consumer (a producer filling the queue) there is nobody to hand it to.
        if self._ready.items or not self._consumers or not self.hand_over(message, now):
            self._admit(message, now)
        return message

    def hand_over(self, message: Message, now: int, taker: Consumer | None = None) -> bool:
        """Deliver an arrival straight to a consumer with credit when nothing waits before
        it (in memory or on disk), no dispatch is under way, and a dispatch pass would
        deliver it as it is (not delayed, expired, over its delivery limit or held by a FIFO
        group): what that pass would do, without the window's insert and removal.

        `taker`: the message is a publication's copy shared by the subscriptions, to give
        without a lease to this consumer, the one `shared_consumer` named. Anything the
        delivery causes to be enqueued here waits for the pass that follows, as it would
        inside one. False: nothing was delivered."""
        settings = self.settings
        if (self._dispatching or self._ready.items or self._ready.horizon is not None
                or not self._consumers or message.visible_at > now
                or message.expires and message.expires <= now
                or settings.retention_ms and message.timestamp + settings.retention_ms <= now
                or settings.max_deliveries and message.delivery_count >= settings.max_deliveries
                or message.group_id is not None and settings.fifo):
            return False
        target = taker
        if target is None:
            target = self._pick(message)
            if target is None:
                return False
            # An automatic ack takes the message before the consumer sees it (`_deliver`),
            # so holding its memory would only be undone at once; a blocked broker still
            # hears of it (`Broker.memory_freed`) as from any delivery.
            if not target.auto_ack or self.broker._blocked:
                self._hold(message)
        self._dispatching = True
        try:
            if taker is not None:
                taker.deliver(self, message, None)
            else:
                self._deliver(message, target, now)
        finally:
            self._dispatching = False
        self._timed_after_pass()
        if self._again:
            self.dispatch()
        return True

    def shared_consumer(self, message: Message) -> Consumer | None:
        """The consumer `hand_over` may give a publication's shared copy to, whatever the
        copy's times: the queue's only consumer if it acknowledges automatically (so keeps
        no delivery state), has credit and no selector. A topic builds the shared copy only
        once a subscription may take it (a lagging subscriber's has no credit)."""
        consumers = self._consumers
        if (len(consumers) != 1 or self._store is not None or message.group_id is not None
                or self.settings.dedup_window_ms or self.settings.default_delay_ms):
            return None
        consumer = consumers[0]
        # A selector sees a message before its delivery (JMSXDeliveryCount 0): a consumer
        # with one gets a copy of its own.
        if consumer.auto_ack and consumer.selector is None and consumer.credit > 0:
            return consumer
        return None

    def _check_dedup(self, dedup_id: str, now: int) -> Message | None:
        while self._dedup:
            key, (until, _) = next(iter(self._dedup.items()))
            if until > now:
                break
            del self._dedup[key]
        hit = self._dedup.get(dedup_id)
        return hit[1] if hit else None

    def restore(self, message: Message, now: int) -> None:
        """Re-index a message read back from the store at start."""
        message.state = State.READY
        window = self.settings.dedup_window_ms
        if window and message.dedup_id is not None and message.timestamp + window > now:
            # The deduplication window outlives a restart (for messages still stored).
            self._dedup[message.dedup_id] = (message.timestamp + window, message)
        if message.delivery_count and message.visible_at > now:
            # Its visibility deadline was running at the restart: it stays in flight, held
            # by nobody, until then, so a FIFO group stays blocked behind it.
            self._hold_orphan(message, now)
            return
        self._admit(message, now, dispatch=False)

    def loaded(self, stored: int, delayed: int = 0, leases: int = 0) -> None:
        """Start-up read the queue's head and its first timed rows: of the `stored` rows,
        `delayed` + `leases` wait for a time; what is not in memory is on disk."""
        self._timeline.loaded(delayed, leases)
        rest = stored - len(self._held) - self._timeline.paged_out
        self.depth_bytes = self.memory_bytes
        if rest > 0 and len(self._ready):
            self._ready.horizon = self._ready.last_key()
            self._ready.paged_out = rest
        if self._held:
            self.depth_bytes += (stored - len(self._held)) * (self.memory_bytes // len(self._held))

    def _hold_orphan(self, message: Message, now: int) -> None:
        self._orphan(message, now)
        self._time(message, message.visible_at)

    def _orphan(self, message: Message, now: int) -> Lease:
        """A message in flight held by nobody known (restored from before a restart, or
        read back from disk) until its deadline: its holder's receipt handle still counts.
        The lease started when it was delivered (a row from before that was stored has
        none: from now on)."""
        lease = Lease(message, self, None, self.broker.next_token(), deadline=message.visible_at,
                      started=message.last_delivery or now)
        message.state = State.INFLIGHT
        message.lease = lease
        self._inflight[message.seq] = lease
        self._hold(message)
        if message.group_id is not None and self.settings.fifo:
            self._group_busy[message.group_id] = self._group_busy.get(message.group_id, 0) + 1
        return lease

    def _admit(self, message: Message, now: int, dispatch: bool = True) -> None:
        self._hold(message)
        if message.visible_at > now:
            message.state = State.DELAYED
            self._waiting += 1
            self._time(message, message.visible_at)
            return
        self._place(message)
        if dispatch and self._consumers:
            self.dispatch()

    def _place(self, message: Message) -> None:
        """A ready message joins the window, or the disk if it ranks after the window."""
        message.state = State.READY
        window = self._ready
        if window.capacity is None:
            window.push(message)
            return
        # Past the broker's memory limit a stored queue's window does not grow: the
        # message (or the window's last) goes to disk instead.
        for out in window.place(message, room=not self.broker.memory_full()):
            self._to_disk(out)

    # -- waiting for a time ----------------------------------------------------------------
    def _pins_group(self, message: Message) -> bool:
        """A lease that blocks a FIFO group stays in memory: the group's order lives here."""
        return message.lease is not None and message.group_id is not None and self.settings.fifo

    def _time(self, message: Message, due: int, force: bool = False) -> None:
        """The message waits until `due` (delayed, or in flight with a deadline)."""
        out = self._timeline.add(message, due, force)
        if out:
            self._timed_out(out)
        if self._dispatching:
            self._timed_in_pass = True
            return
        self._arm_timer()
        self._page_in_timed()

    def _timed_after_pass(self) -> None:
        """What `_time` leaves to the end of a pass: a receive of 10 leases 10 messages,
        and the timer and the timeline's paging need looking at once for them all."""
        if self._timed_in_pass:
            self._timed_in_pass = False
            self._arm_timer()
            self._page_in_timed()

    def _timed_out(self, messages: list[Message]) -> None:
        """Timed messages that now live on disk only, found again by their time (and a
        lease by its receipt handle)."""
        for message in messages:
            if message.state is State.DELAYED:
                self._waiting -= 1
            elif message.lease is not None:
                # Its holder's lease object is no longer the current one: a receipt handle
                # finds the row instead (`find_lease`).
                message.lease = None
                self._inflight.pop(message.seq, None)
            self._to_disk(message)

    def _arm_timer(self) -> None:
        first = self._timeline.first_due()
        timer = self._timer
        if timer is not None and timer.active():
            if first is not None and self._timer_due <= first:
                return
            timer.cancel()
        self._timer = None
        if first is not None:
            self._timer_due = first
            self._timer = self.broker.clock.callLater(max(0, first - self._now()) / 1000.0,
                                                      self._release_due)

    def _release_due(self) -> None:
        self._timer = None
        now = self._now()
        for message in self._timeline.pop_due(now):
            if message.state is State.DELAYED:
                self._waiting -= 1
                # Its row keeps its time, which every read of ready rows now passes
                # (`_ready_cutoff`): no write needed.
                message.visible_at = 0
                self._admit(message, now, dispatch=False)
            elif message.lease is not None:
                self.release(message.lease, dispatch=False)
        self._arm_timer()
        self.dispatch()

    def _page_in_timed(self) -> None:
        """Read the next timed rows from the store once a quarter of the timeline came
        due, ahead of their time."""
        timeline = self._timeline
        if self.deleted or self._store is None or not timeline.wants_page():
            return
        after, limit, epoch = timeline.request()
        d = self._store.timed_page(self.dest_id, after, limit, self._disk_mark)
        d.addCallbacks(self._timed_paged, self._timed_page_failed, callbackArgs=(limit, epoch))

    def _timed_paged(self, rows: list[dict[str, Any]], limit: int, epoch: int) -> None:
        if self.deleted:
            return
        now = self._now()
        timeline = self._timeline
        for row in timeline.merge(rows, limit, epoch, self._held.__contains__):
            message = Message.from_row(row)
            if self._lookups:
                self._touched.add(message.seq)
            if is_lease(message):
                self._orphan(message, now)
            else:
                message.state = State.DELAYED
                self._waiting += 1
                self._hold(message)
            timeline.place(message)
        self._timed_out(timeline.trim())
        self._arm_timer()
        self._page_in_timed()

    def _timed_page_failed(self, failure: Any) -> None:
        log.warning("event=timed_page_failed queue=%s error=%s", self.name, failure.getErrorMessage())
        self._timeline.failed()
        self.broker.clock.callLater(1.0, self._page_in_timed)

    # -- consumers ------------------------------------------------------------------
    def add_consumer(self, consumer: Consumer) -> None:
        self._consumers.append(consumer)
        if consumer.selector is not None:
            self._scan_from, self._scan_idle = None, False   # a new selector reads from the window on
        self._prioritized = any(c.priority or c.exclusive for c in self._consumers)
        if self._prioritized:
            self._consumers.sort(key=lambda c: (not c.exclusive, -c.priority))
        self.dispatch()

    def remove_consumer(self, consumer: Consumer, release: bool = True, dispatch: bool = True) -> None:
        """Detach a consumer; its unacked messages go back to the head of the queue. Not
        `dispatch`: the caller knows a pass would find nothing new to deliver."""
        try:
            self._consumers.remove(consumer)
        except ValueError:
            return
        self._prioritized = any(c.priority or c.exclusive for c in self._consumers)
        for group in [g for g, c in self._group_owner.items() if c is consumer]:
            del self._group_owner[group]
        if release:
            held = sorted((lease for lease in self._inflight.values() if lease.consumer is consumer),
                          key=lambda lease: lease.message.seq)
            for lease in held:
                self.release(lease, dispatch=False)
        if dispatch:
            self.dispatch()

    def receive(self, max_messages: int, lease_ms: int, wait_ms: int = 0) -> defer.Deferred[list[Lease]]:
        """Pull up to max_messages, leasing them for lease_ms; long-poll up to wait_ms."""
        # Leases that ended at once may still wait for their timer: free them first.
        for lease in self._overdue:
            self.release(lease, dispatch=False)
        self._overdue.clear()
        receiver = _Receiver(self, max_messages, lease_ms)
        self._consumers.append(receiver)
        self.dispatch()
        if not receiver.got and self._ready.horizon is not None:
            # The head is on its way from disk: wait for it rather than answer empty.
            wait_ms = max(wait_ms, PAGE_WAIT_MS)
        if receiver.got or wait_ms <= 0 or self.deleted:
            # No dispatch: the one just made gave every consumer what it could take, and a
            # receiver (neither prioritized nor a group's owner) held nothing back from the others.
            self.remove_consumer(receiver, release=False, dispatch=False)
            return defer.succeed(receiver.got)
        receiver.deferred = defer.Deferred(lambda _: receiver.abandon())
        receiver.timer = self.broker.clock.callLater(wait_ms / 1000.0, receiver.finish)
        return receiver.deferred

    # -- dispatch -----------------------------------------------------------------------
    def dispatch(self) -> None:
        if self._dispatching:
            self._again = True
            return
        self._dispatching = True
        try:
            self._again = True
            while self._again:
                self._again = False
                self._dispatch_pass()
        finally:
            self._dispatching = False
        self._timed_after_pass()
        if self._store is not None:
            self._page_in()
            self._page_in_timed()
        if self._starved:
            self._scan()

    def _dispatch_pass(self) -> None:
        consumers = self._consumers
        ready = self._ready
        heap = ready.items
        if not consumers or not heap:
            return
        if len(consumers) == 1 and not self._prioritized and consumers[0].credit <= 0:
            # Its only consumer is full (a lagging subscriber): every arrival asks again.
            self._starved = False
            return
        now = self._now()
        skipped: list[Message] = []
        settings = self.settings
        pop = heapq.heappop
        while heap:
            # One plain consumer (a topic subscription's, most queues'): what `_pick` would
            # choose is known once its credit is.
            only = consumers[0] if len(consumers) == 1 and not self._prioritized else None
            if only is not None:
                if only.credit <= 0:
                    break
            # An exclusive consumer at its credit limit blocks everyone else: stop here
            # rather than scan (and skip) SCAN_LIMIT messages on every send.
            elif consumers and self._prioritized and consumers[0].exclusive:
                if consumers[0].credit <= 0:
                    break
            else:
                for c in consumers:  # a plain loop: this runs once per delivered message
                    if c.credit > 0:
                        break
                else:
                    break
            message = pop(heap)[2]
            if (settings.retention_ms or message.expires) and self._expire_if_due(message, now):
                continue
            if settings.max_deliveries and message.delivery_count >= settings.max_deliveries:
                self._dead_letter(message, "max deliveries exceeded", now)
                continue
            if message.group_id is not None and settings.fifo and self._group_busy.get(message.group_id):
                holder = self._held_by(message)
                if holder is not None:
                    self._deliver(message, holder, now)
                    continue
                message.state = State.PARKED
                self._parked.setdefault(message.group_id, []).append(message)
                self._parked_count += 1
                continue
            if only is not None and only.selector is None and message.group_id is None:
                target = only
                self._rr = 0
            else:
                target = self._pick(message)
            if target is None:
                skipped.append(message)
                if len(skipped) >= SCAN_LIMIT:
                    break
                continue
            self._deliver(message, target, now)
        # Every message in the window was looked at and a selector consumer still wants
        # more: what it matches may be on disk.
        self._starved = bool(skipped) and not heap and ready.horizon is not None and any(
            c.selector is not None and c.credit > 0 for c in consumers)
        if skipped:
            ready.put_back(skipped)

    # -- paging in ------------------------------------------------------------------------
    def _page_in(self) -> None:
        """Read the next page from the store when the window runs low, ahead of need."""
        # While retention deletes part of the backlog, a page read could still see it.
        if self._paging or self.deleted or self._store is None or self._expiring:
            return
        self._paging = True
        try:
            # A store that answers at once (the unit tests' stand-in) runs _paged inside
            # this loop; the flag keeps that from recursing page after page.
            while self._ready.wants_page(self._parked_count):
                # Past the memory limit, pages shrink to what keeps consumers going.
                after, limit, epoch = self._ready.request(LEAN_PAGE if self.broker.memory_full() else None)
                d = self._store.page(self.dest_id, after, self._ready_cutoff(), limit, self._disk_mark,
                                     Message.from_row)
                d.addCallbacks(self._paged, self._page_failed, callbackArgs=(limit, epoch))
        finally:
            self._paging = False

    def _paged(self, found: list[Message], limit: int, epoch: int) -> None:
        if self.deleted:
            return
        fresh = self._ready.merge(found, limit, epoch, self._held.__contains__)
        for message in fresh:
            message.state = State.READY
            self._hold(message)
        for out in self._ready.trim():
            self._to_disk(out)
        self.dispatch()

    def _scan(self) -> None:
        """Read the disk part of the queue, after the window, for selector consumers that
        nothing in the window matches; the messages they match are delivered from there
        (the rest stays on disk), so a selector never waits behind a deep queue."""
        if self._scan_loop:
            return
        self._scan_loop = True
        try:
            window = self._ready
            while (self._starved and self._scan_gone is None and not self._scan_idle
                   and not self.deleted and self._store is not None and window.horizon is not None):
                self._starved = False
                after = window.horizon
                if self._scan_from is not None and self._scan_from > after:
                    after = self._scan_from
                self._scan_gone = set()
                d = self._store.page(self.dest_id, after, self._ready_cutoff(), SELECTOR_PAGE, self._disk_mark)
                d.addCallbacks(self._scanned, self._scan_failed, callbackArgs=(window.epoch,))
        finally:
            self._scan_loop = False

    def _scanned(self, rows: list[dict[str, Any]], epoch: int) -> None:
        gone, self._scan_gone = self._scan_gone or set(), None
        window = self._ready
        if self.deleted or epoch != window.epoch:
            return
        now = self._now()
        settings = self.settings
        for row in rows:
            seq = row["seq"]
            if seq in self._held or seq in gone or window.horizon is None or row_key(row) <= window.horizon:
                continue        # in memory, consumed meanwhile, or the window's now
            message = Message.from_row(row)
            if (settings.retention_ms or message.expires) and (
                    message.expires and message.expires <= now
                    or settings.retention_ms and message.timestamp + settings.retention_ms <= now):
                continue        # the head's expiry deals with it
            if message.group_id is not None and settings.fifo:
                continue        # FIFO groups keep their order through the window
            target = self._pick(message)
            if target is None or target.selector is None:
                continue
            message.state = State.READY
            self._hold(message)
            window.paged_out = max(0, window.paged_out - 1)
            self._deliver(message, target, now)
        if rows:
            self._scan_from = row_key(rows[-1])
        if len(rows) < SELECTOR_PAGE:
            self._scan_idle = True       # read to the end: until something new is stored
        self.dispatch()

    def _scan_failed(self, failure: Any) -> None:
        self._scan_gone = None
        log.warning("event=selector_scan_failed queue=%s error=%s", self.name, failure.getErrorMessage())

    def _page_failed(self, failure: Any) -> None:
        log.warning("event=page_in_failed queue=%s error=%s", self.name, failure.getErrorMessage())
        self._ready.failed()
        if self._page_retry is None or not self._page_retry.active():
            self._page_retry = self.broker.clock.callLater(1.0, self._page_in)

    def _pick(self, message: Message) -> Consumer | None:
        consumers = self._consumers
        group = message.group_id
        if group is not None and not self.settings.fifo:
            owner = self._group_owner.get(group)
            # As ActiveMQ: the group's first message (sequence 1) may go to any consumer,
            # which then owns the group; the owner's taking a message whose sequence is
            # negative closes the group, so its next message may go to anyone.
            sequence = message.headers.get(GROUP_SEQUENCE) if owner is not None else None
            if owner is not None and sequence != "1":
                if owner.credit <= 0 or not self._matches(owner, message):
                    return None
                if sequence is not None and sequence.startswith("-"):
                    del self._group_owner[group]
                return owner
        n = len(consumers)
        if self._prioritized:
            order = consumers[:1] if consumers[0].exclusive else consumers
            for c in order:
                if c.credit > 0 and self._matches(c, message):
                    return self._claim_group(group, c)
            return None
        if n == 1:
            # The loop below with one consumer, without its index arithmetic (nor, as most
            # consumers have no selector and most messages no group, their calls).
            c = consumers[0]
            if c.credit > 0 and (c.selector is None or self._matches(c, message)):
                self._rr = 0
                return c if group is None else self._claim_group(group, c)
            return None
        start = self._rr
        for i in range(n):
            c = consumers[(start + i) % n]
            if c.credit > 0 and self._matches(c, message):
                self._rr = (start + i + 1) % n
                return self._claim_group(group, c)
        return None

    def _held_by(self, message: Message) -> Consumer | None:
        """The consumer holding the busy FIFO group of `message`, if it may take it now:
        still attached, with credit and a selector that matches, and with nothing of the
        group parked before it (which would come first)."""
        group = message.group_id
        holder = self._group_holder.get(group)  # type: ignore[arg-type]
        if (holder is None or group in self._parked or holder.credit <= 0
                or holder not in self._consumers or not self._matches(holder, message)):
            return None
        return holder

    def _claim_group(self, group: str | None, consumer: Consumer) -> Consumer:
        if group is not None and not self.settings.fifo and not isinstance(consumer, _Receiver):
            self._group_owner[group] = consumer
        return consumer

    @staticmethod
    def _matches(consumer: Consumer, message: Message) -> bool:
        selector = consumer.selector
        return selector is None or selector.matches(lambda name: property_value(message, name))

    def _deliver(self, message: Message, consumer: Consumer, now: int) -> None:
        message.delivery_count += 1
        if not message.first_delivery:
            message.first_delivery = now
        message.last_delivery = now
        if consumer.auto_ack:
            self._gone(message)
            consumer.deliver(self, message, None)
            return
        lease = Lease(message, self, consumer, self.broker.next_token(), started=now)
        if consumer.lease_ms:
            lease_ms = max(0, consumer.lease_ms)
            lease.deadline = message.visible_at = now + lease_ms
            if not lease_ms:
                self._overdue.append(lease)
        message.state = State.INFLIGHT
        message.lease = lease
        self._inflight[message.seq] = lease
        group = message.group_id
        if group is not None and self.settings.fifo:
            busy = self._group_busy.get(group, 0)
            if not busy and isinstance(consumer, _Receiver):
                self._group_holder[group] = consumer
            self._group_busy[group] = busy + 1
        self._write(message, "update")
        if lease.deadline:
            # Past the timeline's bound the lease lives on disk only, by its deadline.
            self._time(message, lease.deadline)
        consumer.deliver(self, message, lease)

    # -- settling leases ------------------------------------------------------------------
    def is_current(self, lease: Lease) -> bool:
        return lease.message.lease is lease and not self.deleted

    def lease_for(self, seq: int) -> Lease | None:
        return self._inflight.get(seq)

    def find_lease(self, seq: int) -> defer.Deferred[Lease | None]:
        """The current lease of a message in flight wherever it is: in memory at once, or
        read from the store by its seq when leases were paged out (an SQS receipt handle
        deep in flight), then held until it is settled or timed again."""
        lease = self._inflight.get(seq)
        store = self._store
        if lease is not None or store is None or not self._timeline.out_leases or seq in self._held:
            return defer.succeed(lease)
        self._lookups += 1
        epoch = self._lookup_epoch

        def done(row: dict[str, Any] | None) -> Lease | None:
            self._lookups -= 1
            touched = seq in self._touched
            if not self._lookups:
                self._touched.clear()
            if row is None or touched or self.deleted or epoch != self._lookup_epoch or seq in self._held:
                return self._inflight.get(seq)
            message = Message.from_row(row)
            lease = self._orphan(message, self._now())
            self._timeline.out_leases = max(0, self._timeline.out_leases - 1)
            self._time(message, message.visible_at, force=True)
            return lease

        def failed(failure: Any) -> Any:
            self._lookups -= 1
            if not self._lookups:
                self._touched.clear()
            return failure
        return store.leased(self.dest_id, seq, self._ready_cutoff()).addCallbacks(done, failed)

    def _end_lease(self, lease: Lease) -> Message:
        message = lease.message
        message.lease = None
        self._inflight.pop(message.seq, None)
        self._timeline.remove(message.seq)
        group = message.group_id
        if group is not None and self.settings.fifo:
            left = self._group_busy.get(group, 0) - 1
            if left > 0:
                self._group_busy[group] = left
            else:
                self._group_busy.pop(group, None)
                self._group_holder.pop(group, None)
                parked = self._parked.pop(group, [])
                self._parked_count -= len(parked)
                for m in parked:
                    self._place(m)
        return message

    def ack(self, lease: Lease, dispatch: bool = True) -> bool:
        """The consumer is done with the message: delete it. False for a stale lease.
        Not `dispatch`: the caller dispatches once after a batch of acks (what they free,
        a FIFO group's next message, is delivered then)."""
        if not self.is_current(lease):
            return False
        self._gone(self._end_lease(lease))
        self.dequeued += 1
        if dispatch:
            self.dispatch()
        return True

    def release(self, lease: Lease, delay_ms: int = 0, dispatch: bool = True,
                delivered: bool = True) -> bool:
        """Give the message back (NACK, disconnect, visibility 0); it counts as a delivery
        unless `delivered` is False (it sat in a client's prefetch buffer, never seen)."""
        if not self.is_current(lease):
            return False
        message = self._end_lease(lease)
        if not delivered and message.delivery_count > 0:
            message.delivery_count -= 1
        now = self._now()
        message.visible_at = now + delay_ms if delay_ms else 0
        self._write(message, "update")
        self._admit(message, now, dispatch=False)
        if dispatch:
            self.dispatch()
        return True

    def give_back(self, leases: list[Lease]) -> None:
        """A receive whose answer never reached its client: every message it leased is
        visible again, wherever its lease is now: in memory at once; on disk only (past
        the timeline's bound) once the lease is committed, read back by its seq as a
        receipt handle would. A message whose delivery changed meanwhile (settled,
        purged, delivered again) is left alone."""
        if self.deleted:
            return
        on_disk = []
        for lease in leases:
            if self.is_current(lease):
                self.release(lease, dispatch=False)
            elif lease.message.lease is None and lease.message.state is State.INFLIGHT:
                on_disk.append(lease)
        if leases:
            log.info("event=receive_abandoned queue=%s messages=%d on_disk=%d", self.name, len(leases),
                     len(on_disk))
        if on_disk and self._store is not None:
            self._store.committed(refusable=False).addCallback(
                lambda _: defer.gatherResults([self.find_lease(lease.message.seq).addCallback(
                    partial(self._give_back_found, lease)) for lease in on_disk], consumeErrors=True)
            ).addErrback(self._give_back_failed)
        self.dispatch()

    def _give_back_found(self, lost: Lease, found: Lease | None) -> None:
        if (found is not None and found.message.delivery_count == lost.message.delivery_count
                and found.deadline == lost.deadline):
            self.release(found)

    def _give_back_failed(self, failure: Any) -> None:
        # Not committed, or its row not read: the message comes back at its deadline.
        log.warning("event=give_back_failed queue=%s error=%s", self.name, failure.getErrorMessage())

    def extend(self, lease: Lease, lease_ms: int) -> bool:
        """Change a lease's remaining time (SQS ChangeMessageVisibility); 0 releases it."""
        if not self.is_current(lease):
            return False
        if lease_ms <= 0:
            return self.release(lease)
        message = lease.message
        self._timeline.remove(message.seq)
        lease.deadline = message.visible_at = self._now() + lease_ms
        self._write(message, "update")
        self._time(message, lease.deadline)
        return True

    def dead_letter(self, lease: Lease, cause: str) -> bool:
        """Poison ack: move the leased message to the dead-letter queue now."""
        if not self.is_current(lease):
            return False
        message = self._end_lease(lease)
        self._dead_letter(message, cause, self._now())
        self.dispatch()
        return True

    def _dead_letter(self, message: Message, cause: str, now: int) -> None:
        self._gone(message)
        self.broker.dead_letter(self, message, cause)

    def _expire_if_due(self, message: Message, now: int) -> bool:
        retention = self.settings.retention_ms
        if retention and message.timestamp + retention <= now:
            self._gone(message)
            return True
        if message.expires and message.expires <= now:
            self._dead_letter(message, EXPIRED_CAUSE, now)
            return True
        return False

    def sweep(self) -> None:
        """Expire what is due at the head of the queue, consumers or not, so an idle
        queue's counts and storage do not keep messages its retention has ended."""
        now = self._now()
        ready = self._ready
        while len(ready):
            message = ready.first()
            if not self._expire_if_due(message, now):
                break
            ready.pop()
        self._expire_on_disk(now)
        self._expire_dead_on_disk(now)
        self._page_in()

    def _expire_on_disk(self, now: int) -> None:
        """Retention of the part of the backlog on disk, by the store in batches: what
        waits there is never read just to be deleted."""
        window = self._ready
        retention = self.settings.retention_ms
        if not retention or self._store is None or window.horizon is None or self._expiring:
            return
        self._expiring = True

        def done(deleted: int) -> None:
            self._expiring = False
            if deleted and not self.deleted:
                window.paged_out = max(0, window.paged_out - deleted)
                self.depth_bytes = max(self.memory_bytes, self.depth_bytes - deleted * (
                    self.depth_bytes // max(1, self.ready_count + deleted)))
            self._page_in()

        def failed(failure: Any) -> None:
            self._expiring = False
            log.warning("event=expire_failed queue=%s error=%s", self.name, failure.getErrorMessage())
            self._page_in()

        self._store.expire(self.dest_id, window.horizon, now - retention, self._ready_cutoff(),
                           EXPIRE_BATCH).addCallbacks(done, failed)

    def _expire_dead_on_disk(self, now: int) -> None:
        """JMS expiry of the part of the backlog on disk, by the store in batches: expired
        rows move to the dead-letter queue (or are deleted, per its policy) without being
        read into memory. A durable subscription's copies name their topic each, so
        theirs is left to the head of the queue."""
        window = self._ready
        store = self._store
        if (store is None or window.horizon is None or self._expiring or self.kind != "queue"
                or self.deleted):
            return
        broker = self.broker
        move = broker.expiry_move(self)
        if move is None:
            return              # these dead letters need more than a move: at the head
        name = move.target
        # A dead-letter queue is created when the first message needs it, not by the sweep.
        target = broker.queue(name, create=False) if name is not None else None
        if target is not None and target._store is None:
            return              # a queue without a store cannot take rows from one
        base = broker.reserve_seqs(EXPIRE_BATCH)
        target_id = None if name is None else target.dest_id if target is not None else 0
        rewrite = partial(_dead_letter_row, self.name, target_id, move, base)
        self._expiring = True

        def done(expired: list[tuple[tuple[int, int] | None, dict[str, Any]]]) -> None:
            self._expiring = False
            keys = [key for key, _ in expired]
            if keys and not self.deleted:
                window.paged_out = max(0, window.paged_out - len(keys))
                self.depth_bytes = max(self.memory_bytes, self.depth_bytes - len(keys) * (
                    self.depth_bytes // max(1, self.ready_count + len(keys))))
                moved = [k for k in keys if k is not None]
                if moved and target is not None and not target.deleted:
                    target.landed(min(moved), len(moved))
            if broker.dead_letter_listeners:
                # As for an expiry in memory (the Expired advisories): the rows, bodies aside.
                for key, row in expired:
                    broker.tell_dead_letter(("queue", self.name), Message.from_row({**row, "body": b""}),
                                            EXPIRED_CAUSE, key is not None)
            self._page_in()

        def failed(failure: Any) -> None:
            self._expiring = False
            if failure.check(_NoDeadLetterQueue) and name is not None and not self.deleted:
                broker.queue(name)          # the next sweep moves them there
                return
            log.warning("event=expire_failed queue=%s error=%s", self.name, failure.getErrorMessage())

        store.expire_dead(self.dest_id, window.horizon, self._ready_cutoff(), now, EXPIRE_BATCH,
                          rewrite).addCallbacks(done, failed)

    def landed(self, first: tuple[int, int], count: int) -> None:
        """The store moved `count` rows onto this queue's disk part (dead letters), the
        first of them at `first` in delivery order."""
        for out in self._ready.landed(first, count):
            self._to_disk(out)
        self._page_in()
        self.dispatch()

    # -- administration ------------------------------------------------------------------------
    def drop_refused(self, seqs: set[int]) -> None:
        """The store refused to keep these messages (it is full) and their senders are told
        so: those still waiting here leave the queue as if never sent (one a consumer
        already has stays with it; its ack deletes nothing)."""
        ready: set[int] = set()
        for seq in seqs:
            message = self._held.get(seq)
            if message is None or message.state in (State.INFLIGHT, State.GONE):
                continue
            if message.state is State.READY:
                ready.add(seq)
            elif message.state is State.DELAYED:
                self._waiting -= 1
                self._timeline.remove(seq)
            elif message.state is State.PARKED and message.group_id is not None:
                self._parked[message.group_id].remove(message)
                self._parked_count -= 1
            message.state = State.GONE
            self._unhold(message)
            self.depth_bytes -= len(message.body)
        if ready:
            self._ready.discard(ready)

    def take(self, limit: int) -> list[Message]:
        """Remove up to `limit` ready messages, in delivery order, to move them elsewhere."""
        taken: list[Message] = []
        while len(self._ready) and len(taken) < limit:
            message = self._ready.pop()
            self._gone(message)
            taken.append(message)
        self._page_in()
        return taken

    def purge(self, include_inflight: bool) -> int:
        """Delete every message not in flight (and those in flight when asked): in memory
        at once, on disk in one statement whatever the depth."""
        timeline = self._timeline
        on_disk = self._ready.paged_out + timeline.out_delayed + (timeline.out_leases if include_inflight else 0)
        leases_after = None if include_inflight else self._ready_cutoff()
        gone = self._ready.clear()
        delayed = [m for m in timeline.clear(keep_leases=not include_inflight) if m.state is State.DELAYED]
        gone += delayed
        gone += [m for ms in self._parked.values() for m in ms if m.state is State.PARKED]
        self._parked = {}
        self._waiting = self._parked_count = 0
        self._lookup_epoch += 1
        if include_inflight:
            gone += [self._end_lease(lease) for lease in list(self._inflight.values())]
        for message in gone:
            message.state = State.GONE
            self._unhold(message)
        self.depth_bytes = sum(len(lease.message.body) for lease in self._inflight.values())
        if self._store is not None:
            self._store.purge(self.dest_id, [] if include_inflight else sorted(self._inflight), leases_after)
            for message in delayed:
                if is_lease(message):
                    # Its row reads as a lease, which the purge kept.
                    self._write(message, "delete")
        return len(gone) + on_disk

    def close(self) -> None:
        """The queue is deleted: stop timers and end every pending receive."""
        self.deleted = True
        for call in (self._timer, self._page_retry):
            if call is not None and call.active():
                call.cancel()
        for lease in list(self._inflight.values()):
            self._end_lease(lease)
        # What it held no longer counts against the broker's memory limit.
        self.broker.memory_freed(self.memory_bytes)
        self.memory_bytes = 0
        self._held.clear()
        for c in list(self._consumers):
            if isinstance(c, _Receiver) and c.deferred is not None:
                c.finish()
