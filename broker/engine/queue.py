"""A queue: the ready index, delayed messages, leases and dispatch.

Dispatch cost does not depend on queue depth: ready messages sit in a heap keyed by
(-priority, seq), so taking the next one is O(log n) and a released message goes back to
its place at the head. Delayed messages (DelaySeconds, AMQ_SCHEDULED_DELAY, visibility left
over from before a restart) wait in a second heap behind one timer.
"""
from __future__ import annotations

import heapq
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable

from twisted.internet import defer

from broker.engine.consumer import Consumer, Lease
from broker.engine.message import Message, State
from broker.engine.settings import QueueSettings

if TYPE_CHECKING:
    from broker.engine.broker import Broker

log = logging.getLogger("mqgate.engine")

# How many undeliverable ready messages (selector mismatch, group pinned to a busy
# consumer) one dispatch pass looks past before it gives up: ActiveMQ's maxPageSize.
SCAN_LIMIT = 200

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


def expired_cause(message: Message) -> str:
    """ActiveMQ's dlqDeliveryFailureCause for an expired message."""
    return f"java.lang.Throwable: Message Expired. Expiration:{message.expires}"


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
        for lease in got:
            self.queue.release(lease)


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
        self._ready: list[tuple[int, int, Message]] = []
        self._delayed: list[tuple[int, int, Message]] = []
        self._delay_call: Any = None
        self._inflight: dict[int, Lease] = {}
        self._overdue: list[Lease] = []
        self._consumers: list[Consumer] = []
        self._rr = 0
        self._prioritized = False
        self._parked: dict[str, list[Message]] = {}
        self._group_owner: dict[str, Consumer] = {}
        self._group_busy: dict[str, int] = {}
        self._dedup: OrderedDict[str, tuple[int, Message]] = OrderedDict()
        self._dispatching = False
        self._again = False
        self.ready_count = 0     # READY + PARKED
        self.delayed_count = 0
        self.deleted = False

    # -- introspection --------------------------------------------------------
    @property
    def inflight_count(self) -> int:
        return len(self._inflight)

    @property
    def consumer_count(self) -> int:
        return sum(1 for c in self._consumers if not isinstance(c, _Receiver))

    def browse(self) -> list[Message]:
        """Ready messages in delivery order, without taking them."""
        live = [e for e in self._ready if e[2].state is State.READY]
        parked = [(-m.priority, m.seq, m) for ms in self._parked.values() for m in ms]
        return [e[2] for e in sorted(live + parked, key=lambda e: (e[0], e[1]))]

    def _now(self) -> int:
        return int(self.broker.clock.seconds() * 1000)

    # -- sending ------------------------------------------------------------------
    def enqueue(self, message: Message) -> Message:
        """Accept a message; returns the message kept (an earlier one for a FIFO duplicate)."""
        now = self._now()
        if self.settings.dedup_window_ms and message.dedup_id is not None:
            seen = self._check_dedup(message.dedup_id, now)
            if seen is not None:
                return seen
        message.seq = self.broker.next_seq()
        message.state = State.READY
        if not message.timestamp:
            # Retention counts from acceptance; a message without one would expire at once.
            message.timestamp = now
        if not message.visible_at and self.settings.default_delay_ms:
            message.visible_at = now + self.settings.default_delay_ms
        if message.persistent and self._store is not None:
            self._store.insert(message.to_row(self.dest_id))
        if self.settings.dedup_window_ms and message.dedup_id is not None:
            self._dedup[message.dedup_id] = (now + self.settings.dedup_window_ms, message)
        self._admit(message, now)
        return message

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

    def _hold_orphan(self, message: Message, now: int) -> None:
        # consumer None marks a lease restored from before the restart (its holder's
        # receipt handle carries a token from the previous process).
        lease = Lease(message, self, None, self.broker.next_token(), deadline=message.visible_at,
                      started=now)
        lease.timer = self.broker.clock.callLater((message.visible_at - now) / 1000.0,
                                                  self._lease_expired, lease)
        message.state = State.INFLIGHT
        message.lease = lease
        self._inflight[message.seq] = lease
        if message.group_id is not None and self.settings.fifo:
            self._group_busy[message.group_id] = self._group_busy.get(message.group_id, 0) + 1

    def _admit(self, message: Message, now: int, dispatch: bool = True) -> None:
        if message.visible_at > now:
            message.state = State.DELAYED
            self.delayed_count += 1
            heapq.heappush(self._delayed, (message.visible_at, message.seq, message))
            if self._delayed[0][2] is message:
                self._arm_delay_timer(now)
            return
        message.state = State.READY
        self.ready_count += 1
        heapq.heappush(self._ready, (-message.priority, message.seq, message))
        if dispatch and self._consumers:
            self.dispatch()

    def _arm_delay_timer(self, now: int) -> None:
        if self._delay_call is not None and self._delay_call.active():
            self._delay_call.cancel()
        self._delay_call = None
        if self._delayed:
            wait = max(0, self._delayed[0][0] - now) / 1000.0
            self._delay_call = self.broker.clock.callLater(wait, self._release_due)

    def _release_due(self) -> None:
        self._delay_call = None
        now = self._now()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, message = heapq.heappop(self._delayed)
            if message.state is State.DELAYED:
                self.delayed_count -= 1
                message.visible_at = 0
                self._admit(message, now, dispatch=False)
        self._arm_delay_timer(now)
        self.dispatch()

    # -- consumers ------------------------------------------------------------------
    def add_consumer(self, consumer: Consumer) -> None:
        self._consumers.append(consumer)
        self._prioritized = any(c.priority or c.exclusive for c in self._consumers)
        if self._prioritized:
            self._consumers.sort(key=lambda c: (not c.exclusive, -c.priority))
        self.dispatch()

    def remove_consumer(self, consumer: Consumer, release: bool = True) -> None:
        """Detach a consumer; its unacked messages go back to the head of the queue."""
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
        if receiver.got or wait_ms <= 0 or self.deleted:
            self.remove_consumer(receiver, release=False)
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

    def _dispatch_pass(self) -> None:
        consumers = self._consumers
        if not consumers or not self._ready:
            return
        now = self._now()
        skipped: list[tuple[int, int, Message]] = []
        ready = self._ready
        settings = self.settings
        while ready:
            # An exclusive consumer at its credit limit blocks everyone else: stop here
            # rather than scan (and skip) SCAN_LIMIT messages on every send.
            if consumers and self._prioritized and consumers[0].exclusive:
                if consumers[0].credit <= 0:
                    break
            else:
                for c in consumers:  # a plain loop: this runs once per delivered message
                    if c.credit > 0:
                        break
                else:
                    break
            entry = heapq.heappop(ready)
            message = entry[2]
            if message.state is not State.READY:
                continue
            if (settings.retention_ms or message.expires) and self._expire_if_due(message, now):
                continue
            if settings.max_deliveries and message.delivery_count >= settings.max_deliveries:
                self.ready_count -= 1
                self._dead_letter(message, "max deliveries exceeded", now)
                continue
            if message.group_id is not None and settings.fifo and self._group_busy.get(message.group_id):
                message.state = State.PARKED
                self._parked.setdefault(message.group_id, []).append(message)
                continue
            target = self._pick(message)
            if target is None:
                skipped.append(entry)
                if len(skipped) >= SCAN_LIMIT:
                    break
                continue
            self.ready_count -= 1
            self._deliver(message, target, now)
        for entry in skipped:
            heapq.heappush(ready, entry)

    def _pick(self, message: Message) -> Consumer | None:
        consumers = self._consumers
        group = message.group_id
        if group is not None and not self.settings.fifo:
            owner = self._group_owner.get(group)
            if owner is not None:
                return owner if owner.credit > 0 and self._matches(owner, message) else None
        n = len(consumers)
        if self._prioritized:
            order = consumers[:1] if consumers[0].exclusive else consumers
            for c in order:
                if c.credit > 0 and self._matches(c, message):
                    return self._claim_group(group, c)
            return None
        start = self._rr
        for i in range(n):
            c = consumers[(start + i) % n]
            if c.credit > 0 and self._matches(c, message):
                self._rr = (start + i + 1) % n
                return self._claim_group(group, c)
        return None

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
        persist = message.persistent and self._store is not None
        if consumer.auto_ack:
            message.state = State.GONE
            if persist:
                self._store.delete(message.seq)  # type: ignore[union-attr]
            consumer.deliver(self, message, None)
            return
        lease = Lease(message, self, consumer, self.broker.next_token(), started=now)
        if consumer.lease_ms:
            lease_ms = max(0, consumer.lease_ms)
            lease.deadline = message.visible_at = now + lease_ms
            lease.timer = self.broker.clock.callLater(lease_ms / 1000.0, self._lease_expired, lease)
            if not lease_ms:
                self._overdue.append(lease)
        message.state = State.INFLIGHT
        message.lease = lease
        self._inflight[message.seq] = lease
        if message.group_id is not None and self.settings.fifo:
            self._group_busy[message.group_id] = self._group_busy.get(message.group_id, 0) + 1
        if persist:
            self._store.update(message.seq, message.state_row())  # type: ignore[union-attr]
        consumer.deliver(self, message, lease)

    # -- settling leases ------------------------------------------------------------------
    def is_current(self, lease: Lease) -> bool:
        return lease.message.lease is lease and not self.deleted

    def lease_for(self, seq: int) -> Lease | None:
        return self._inflight.get(seq)

    def _end_lease(self, lease: Lease) -> Message:
        message = lease.message
        message.lease = None
        self._inflight.pop(message.seq, None)
        if lease.timer is not None and lease.timer.active():
            lease.timer.cancel()
        lease.timer = None
        group = message.group_id
        if group is not None and self.settings.fifo:
            left = self._group_busy.get(group, 0) - 1
            if left > 0:
                self._group_busy[group] = left
            else:
                self._group_busy.pop(group, None)
                for parked in self._parked.pop(group, []):
                    if parked.state is State.PARKED:
                        parked.state = State.READY
                        heapq.heappush(self._ready, (-parked.priority, parked.seq, parked))
        return message

    def ack(self, lease: Lease) -> bool:
        """The consumer is done with the message: delete it. False for a stale lease."""
        if not self.is_current(lease):
            return False
        message = self._end_lease(lease)
        message.state = State.GONE
        if message.persistent and self._store is not None:
            self._store.delete(message.seq)
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
        if message.persistent and self._store is not None:
            self._store.update(message.seq, message.state_row())
        self._admit(message, now, dispatch=False)
        if dispatch:
            self.dispatch()
        return True

    def extend(self, lease: Lease, lease_ms: int) -> bool:
        """Change a lease's remaining time (SQS ChangeMessageVisibility); 0 releases it."""
        if not self.is_current(lease):
            return False
        if lease_ms <= 0:
            return self.release(lease)
        if lease.timer is not None and lease.timer.active():
            lease.timer.cancel()
        now = self._now()
        lease.deadline = lease.message.visible_at = now + lease_ms
        lease.timer = self.broker.clock.callLater(lease_ms / 1000.0, self._lease_expired, lease)
        if lease.message.persistent and self._store is not None:
            self._store.update(lease.message.seq, lease.message.state_row())
        return True

    def _lease_expired(self, lease: Lease) -> None:
        lease.timer = None
        self.release(lease)

    def dead_letter(self, lease: Lease, cause: str) -> bool:
        """Poison ack: move the leased message to the dead-letter queue now."""
        if not self.is_current(lease):
            return False
        message = self._end_lease(lease)
        self._dead_letter(message, cause, self._now())
        self.dispatch()
        return True

    def _dead_letter(self, message: Message, cause: str, now: int) -> None:
        message.state = State.GONE
        if message.persistent and self._store is not None:
            self._store.delete(message.seq)
        self.broker.dead_letter(self, message, cause)

    def _expire_if_due(self, message: Message, now: int) -> bool:
        retention = self.settings.retention_ms
        if retention and message.timestamp + retention <= now:
            self.ready_count -= 1
            message.state = State.GONE
            if message.persistent and self._store is not None:
                self._store.delete(message.seq)
            return True
        if message.expires and message.expires <= now:
            self.ready_count -= 1
            self._dead_letter(message, expired_cause(message), now)
            return True
        return False

    def sweep(self) -> None:
        """Expire what is due at the head of the queue, consumers or not, so an idle
        queue's counts and storage do not keep messages its retention has ended."""
        now = self._now()
        ready = self._ready
        while ready:
            message = ready[0][2]
            if message.state is State.READY and not self._expire_if_due(message, now):
                break
            heapq.heappop(ready)

    # -- administration ------------------------------------------------------------------------
    def take(self, limit: int) -> list[Message]:
        """Remove up to `limit` ready messages, in delivery order, to move them elsewhere."""
        taken: list[Message] = []
        while self._ready and len(taken) < limit:
            message = heapq.heappop(self._ready)[2]
            if message.state is not State.READY:
                continue
            self.ready_count -= 1
            message.state = State.GONE
            if message.persistent and self._store is not None:
                self._store.delete(message.seq)
            taken.append(message)
        return taken

    def purge(self, include_inflight: bool) -> int:
        """Delete every message not in flight (and those in flight when asked)."""
        # Collect before marking anything GONE: the store must delete these rows too.
        gone = [m for _, _, m in self._ready + self._delayed if m.state in (State.READY, State.DELAYED)]
        gone += [m for ms in self._parked.values() for m in ms if m.state is State.PARKED]
        self._ready, self._delayed, self._parked = [], [], {}
        self.ready_count = self.delayed_count = 0
        if include_inflight:
            gone += [self._end_lease(lease) for lease in list(self._inflight.values())]
        for message in gone:
            message.state = State.GONE
            if message.persistent and self._store is not None:
                self._store.delete(message.seq)
        return len(gone)

    def close(self) -> None:
        """The queue is deleted: stop timers and end every pending receive."""
        self.deleted = True
        if self._delay_call is not None and self._delay_call.active():
            self._delay_call.cancel()
        for lease in list(self._inflight.values()):
            self._end_lease(lease)
        for c in list(self._consumers):
            if isinstance(c, _Receiver) and c.deferred is not None:
                c.finish()
