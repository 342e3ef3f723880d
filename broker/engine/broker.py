"""The engine's front door for every protocol and facade.

It owns the destinations and the id counters, rebuilds its indexes from the store at
start, and is the only place a door asks for a queue, a topic, a subscription or the
dead-letter move, so the doors never talk to each other or to the store.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from twisted.internet import defer, task

from broker.engine.consumer import Consumer
from broker.engine.dead_letters import SHARED, DeadLetterStrategy, ExpiryMove
from broker.engine.limits import (ADMITTED, DEFAULT_MEMORY_LIMIT, DEFAULT_POLICY, Admission, Policy,
                                  Refusal, Refused)
from broker.engine.message import DeadLetter, Message
from broker.engine.queue import EXPIRED_CAUSE, Queue
from broker.engine.selector import Selector
from broker.engine.settings import QueueSettings
from broker.engine.topic import Subscription, Topic, is_wildcard, matches
from broker.store.store import Store, StoreFull

log = logging.getLogger("mqgate.engine")

VIRTUAL_TOPIC_PREFIX = "VirtualTopic."
SWEEP_INTERVAL_S = 1.0
WINDOW = 1000


def _store_refusal(failure: Any) -> Any:
    """A full store's failure, as the engine's refusal of the sends it held."""
    if failure.check(StoreFull):
        raise Refused(Refusal("store", failure.value.used))
    return failure


class DestinationError(ValueError):
    """A destination that cannot be used as asked (e.g. a durable subscription on a queue)."""


class Broker:
    def __init__(self, store: Store | None, clock: Any, window: int = WINDOW,
                 memory_limit: int = DEFAULT_MEMORY_LIMIT, store_limit: int = 0,
                 policies: list[Policy] | None = None) -> None:
        self.store = store
        if store is not None:
            store.on_refused = self._refused_rows
        self.clock = clock
        # Ready messages each stored queue keeps in memory at its head; the rest is paged in.
        self.window_size = max(2, window)
        # Message content in memory, broker-wide, and the most it may be (0: no limit).
        self.memory_used = 0
        self.memory_limit = memory_limit
        # Bytes the store holds (measured by the sweep) and the most it may (0: no limit).
        self.store_used = 0
        self.store_limit = store_limit
        self.policies = list(policies or [])
        self._blocked: list[tuple[str, str, int, defer.Deferred[None]]] = []
        self._recheck_call: Any = None
        self._limit_logged: set[tuple[str, str]] = set()
        self.queues: dict[str, Queue] = {}
        self.topics: dict[str, Topic] = {}
        self.durables: dict[str, Queue] = {}          # "clientId:subName" -> queue
        self._durable_subs: dict[str, Subscription] = {}
        self._wildcards: list[Subscription] = []
        self._seq = 0
        # Delivery tokens never repeat across restarts, so a handle from an earlier run
        # (an SQS receipt handle) cannot match a new delivery.
        self._token = int(clock.seconds() * 1000) << 20
        self._dest_id = 0
        self._sweeper: task.LoopingCall | None = None
        self._records: dict[str, dict[str, Any]] = {}
        # Where dead letters go when no policy of their destination says (ActiveMQ's
        # default: the shared ActiveMQ.DLQ).
        self.dead_letter_strategy: DeadLetterStrategy = SHARED
        # Called with every queue created from now on (wildcard queue consumers join it).
        self.queue_listeners: list[Callable[[Queue], None]] = []
        # Called with (kind, name, added) when a named queue is made or deleted, or a topic
        # is first used (ActiveMQ's destination advisories are published from here).
        self.destination_listeners: list[Callable[[str, str, bool], None]] = []
        # Told of every message that expired or was dead-lettered: (where it was sent and
        # why, the message, whether a copy went to a dead-letter destination).
        self.dead_letter_listeners: list[Callable[[DeadLetter, Message, bool], None]] = []
        self._topic_taps: list[Callable[[str, Message], None]] = []

    # -- ids -------------------------------------------------------------------------
    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def next_token(self) -> int:
        self._token += 1
        return self._token

    def now_ms(self) -> int:
        return int(self.clock.seconds() * 1000)

    # -- life cycle ----------------------------------------------------------------------
    @defer.inlineCallbacks
    def start(self) -> Any:
        """Open the store and rebuild every destination and message index from it."""
        self._sweeper = task.LoopingCall(self.sweep)
        self._sweeper.clock = self.clock
        self._sweeper.start(SWEEP_INTERVAL_S, now=False)
        if self.store is None:
            return
        now = self.now_ms()
        snapshot = yield self.store.open(now, self.window_size)
        self._seq, self._dest_id = snapshot.max_seq, snapshot.max_dest_id
        self._records = snapshot.records
        by_id: dict[int, Queue] = {}
        for row in snapshot.destinations:
            attrs = row["attrs"]
            queue = self._make_queue(row["name"], row["id"], row["kind"], attrs, row["created_at"])
            by_id[row["id"]] = queue
            if row["kind"] == "subscription":
                self._attach_durable(queue, attrs)
        restored = 0
        for rows in (*snapshot.heads.values(), *snapshot.waiting.values()):
            for row in rows:
                queue = by_id.get(row["dest_id"])
                if queue is not None:
                    queue.restore(Message.from_row(row), now)
                    restored += 1
        for dest_id, stored in snapshot.counts.items():
            if dest_id in by_id:
                by_id[dest_id].loaded(stored, *snapshot.timed.get(dest_id, (0, 0)))
        log.info("event=store_loaded destinations=%d messages=%d in_memory=%d",
                 len(snapshot.destinations), sum(snapshot.counts.values()), restored)

    def sweep(self) -> None:
        """Periodic housekeeping: expiry and retention on every queue, the store's size."""
        for queue in list(self.queues.values()) + list(self.durables.values()):
            queue.sweep()
        if self.store_limit and self.store is not None:
            self.store.usage().addCallbacks(self._store_measured, lambda f: log.warning(
                "event=store_usage_failed error=%s", f.getErrorMessage()))

    def _store_measured(self, used: int) -> None:
        self.store_used = used
        if self._blocked:
            self._recheck()

    # -- limits and flow control -------------------------------------------------------
    def policy_for(self, kind: str, name: str) -> Policy:
        """The first configured policy that names the destination (ActiveMQ's policyEntry)."""
        for policy in self.policies:
            if policy.covers(kind, name):
                return policy
        return DEFAULT_POLICY

    def memory_full(self) -> bool:
        return bool(self.memory_limit) and self.memory_used >= self.memory_limit

    def memory_freed(self, size: int) -> None:
        self.memory_used -= size
        if self._blocked and self._recheck_call is None:
            self._recheck_call = self.clock.callLater(0, self._recheck)

    def unlimited(self, size: int) -> bool:
        """Whether `admit` lets any send of `size` bytes go on, whatever its destination: no
        policy, store limit or full store, and room under the memory limit (the common case,
        which a door checks once for a send to several destinations)."""
        store = self.store
        return not (self.policies or self.store_limit or (store is not None and store.full)) and (
            not self.memory_limit or self.memory_used + size <= self.memory_limit)

    def admit(self, kind: str, name: str, size: int, persistent: bool,
              can_wait: bool = True) -> Admission:
        """May a door send `size` bytes to the queue or topic `name` now? Go on, wait for
        the Deferred (then ask again), or refuse (the door renders the refusal). A door
        that cannot hold its sender (`can_wait` False) is refused where others would wait."""
        if self.unlimited(size):
            return ADMITTED
        store = self.store
        full = store is not None and store.full
        if persistent and store is not None and self.store_limit and self.store_used >= self.store_limit:
            self._note_limit("store", name, f"used={self.store_used} limit={self.store_limit}")
            return Admission(refused=Refusal("store", self.store_limit))
        if persistent and full:
            # The database or its disk is full (the store retries now and then).
            self._note_limit("store", name, f"used={store.full_bytes} disk_full=true")  # type: ignore[union-attr]
            return Admission(refused=Refusal("store", store.full_bytes))  # type: ignore[union-attr]
        policy = self.policy_for(kind, name)
        over = self._over(kind, name, size, policy)
        if over is None:
            return ADMITTED
        self._note_limit(over.resource, name, f"limit={over.limit}")
        if policy.send_fail_if_no_space or (policy.producer_flow_control and not can_wait):
            return Admission(refused=over)
        if not policy.producer_flow_control:
            return ADMITTED
        d: defer.Deferred[None] = defer.Deferred()
        self._blocked.append((kind, name, size, d))
        return Admission(wait=d)

    def _over(self, kind: str, name: str, size: int, policy: Policy) -> Refusal | None:
        if kind == "topic":
            queues = [s.queue for s in self.topics[name].subscriptions] if name in self.topics else []
        else:
            queue = self.queues.get(name)
            queues = [queue] if queue is not None else []
        for queue in queues:
            if policy.max_messages and (queue.ready_count + queue.delayed_count
                                        + queue.inflight_count) >= policy.max_messages:
                return Refusal("memory", policy.max_messages)
            if policy.max_bytes and queue.depth_bytes + size > policy.max_bytes:
                return Refusal("memory", policy.max_bytes)
            # A queue without a store cannot move its backlog to disk: it waits for memory.
            if queue._store is None and self.memory_limit and self.memory_used + size > self.memory_limit:
                return Refusal("memory", self.memory_limit)
        return None

    def _recheck(self) -> None:
        """Wake the senders whose destination has room again, in the order they waited."""
        self._recheck_call = None
        blocked, self._blocked = self._blocked, []
        for kind, name, size, d in blocked:
            if d.called:
                continue
            if self._over(kind, name, size, self.policy_for(kind, name)) is None and not (
                    self.store_limit and self.store_used >= self.store_limit):
                d.callback(None)
            else:
                self._blocked.append((kind, name, size, d))
        if not self._blocked:
            self._limit_logged.clear()

    def _note_limit(self, resource: str, name: str, detail: str) -> None:
        if (resource, name) not in self._limit_logged:
            self._limit_logged.add((resource, name))
            log.warning("event=limit_reached resource=%s destination=%s %s", resource, name, detail)

    def stats(self) -> dict[str, Any]:
        """Per-queue depth, bytes, memory window, paged-out count, blocked producers and
        enqueue/dequeue totals, per-topic publications and subscriptions, and the broker's
        memory and store use: what an operator sizes limits by (and the admin door shows)."""
        # Counted once for all destinations: a stats call stays O(1) per queue however many wait.
        blocked: dict[str, int] = {}
        for _, name, _, d in self._blocked:
            if not d.called:
                blocked[name] = blocked.get(name, 0) + 1
        queues = {name: {**q.stats(), "kind": q.kind, "producers_blocked": blocked.get(name, 0)}
                  for name, q in list(self.queues.items()) + list(self.durables.items())}
        topics = {name: {"enqueued": t.published, "consumers": len(t.subscriptions),
                         "pending": sum(s.queue.ready_count + s.queue.delayed_count + s.queue.inflight_count
                                        for s in t.subscriptions),
                         "producers_blocked": blocked.get(name, 0)}
                  for name, t in list(self.topics.items())}
        return {"memory_used": self.memory_used, "memory_limit": self.memory_limit,
                "store_used": self.store_used, "store_limit": self.store_limit,
                "queues": queues, "topics": topics}

    def stop(self) -> defer.Deferred[None]:
        if self._sweeper is not None and self._sweeper.running:
            self._sweeper.stop()
        return self.store.close() if self.store is not None else defer.succeed(None)

    def committed(self, refusable: bool = True) -> defer.Deferred[None]:
        """Fires once everything done so far is durable. If the store was full, the new
        messages of that transaction were refused: it fails with `Refused`, unless the
        caller waits for acks or deletes only (`refusable` False), which were committed."""
        if self.store is None:
            return defer.succeed(None)
        d = self.store.committed(refusable)
        return d.addErrback(_store_refusal) if refusable else d

    def _refused_rows(self, rows: list[tuple[int, int]]) -> None:
        """The store refused these messages (it is full): they leave their queues, as their
        senders are told, unless a consumer already has them."""
        by_id = {q.dest_id: q for q in list(self.queues.values()) + list(self.durables.values())}
        seqs: dict[int, set[int]] = {}
        for dest_id, seq in rows:
            seqs.setdefault(dest_id, set()).add(seq)
        for dest_id, found in seqs.items():
            queue = by_id.get(dest_id)
            if queue is not None:
                queue.drop_refused(found)

    # -- records ----------------------------------------------------------------------
    # Facade state that is not a message (an SNS subscription, an API definition) is kept
    # as JSON documents by kind and name: read at start, written in the same group commit
    # as the messages a request produced, so a facade needs no store of its own.
    def records(self, kind: str) -> dict[str, Any]:
        """The documents of one kind, by name (read-only: change them with put_record)."""
        return self._records.get(kind, {})

    def put_record(self, kind: str, name: str, data: Any) -> None:
        documents = self._records.setdefault(kind, {})
        new = name not in documents
        documents[name] = data
        if self.store is not None:
            self.store.put_record(kind, name, data, new)

    def drop_record(self, kind: str, name: str) -> bool:
        found = self._records.get(kind, {}).pop(name, None) is not None
        if found and self.store is not None:
            self.store.drop_record(kind, name)
        return found

    # -- queues --------------------------------------------------------------------------
    def _make_queue(self, name: str, dest_id: int, kind: str, attrs: dict[str, Any],
                    created_at: int, durable: bool = True) -> Queue:
        queue = Queue(self, name, dest_id, durable=durable, kind=kind,
                      settings=QueueSettings.from_dict(attrs.get("settings")),
                      attrs=attrs.get("attrs", {}), created_at=created_at)
        queue.modified_at = attrs.get("modified_at", created_at)
        if kind == "queue":
            self.queues[name] = queue
        else:
            self.durables[name] = queue
        return queue

    def queue(self, name: str, create: bool = True) -> Queue | None:
        queue = self.queues.get(name)
        if queue is None and create:
            queue = self.create_queue(name)
        return queue

    def create_queue(self, name: str, settings: QueueSettings | None = None,
                     attrs: dict[str, Any] | None = None, durable: bool = True) -> Queue:
        existing = self.queues.get(name)
        if existing is not None:
            return existing
        self._dest_id += 1
        now = self.now_ms()
        queue = self._make_queue(name, self._dest_id, "queue", {}, now, durable=durable)
        queue.settings = settings or QueueSettings()
        queue.attrs = attrs or {}
        self._persist_destination(queue)
        for listener in list(self.queue_listeners):
            listener(queue)
        if durable:
            self._destination_event("queue", name, True)
        return queue

    def _destination_event(self, kind: str, name: str, added: bool) -> None:
        for listener in list(self.destination_listeners):
            listener(kind, name, added)

    def update_queue(self, queue: Queue, settings: QueueSettings | None = None,
                     attrs: dict[str, Any] | None = None) -> None:
        if settings is not None:
            queue.settings = settings
        if attrs is not None:
            queue.attrs = attrs
        queue.modified_at = self.now_ms()
        self._persist_destination(queue)

    def _persist_destination(self, queue: Queue) -> None:
        if self.store is None or not queue.durable:
            return
        payload: dict[str, Any] = {"settings": queue.settings.to_dict(), "attrs": queue.attrs,
                                   "modified_at": queue.modified_at}
        self.store.put_destination({"id": queue.dest_id, "kind": queue.kind, "name": queue.name,
                                    "created_at": queue.created_at, "attrs": payload})

    def delete_queue(self, name: str) -> bool:
        queue = self.queues.pop(name, None) or self.durables.pop(name, None)
        if queue is None:
            return False
        queue.close()
        for topic in self.topics.values():
            topic.subscriptions = [s for s in topic.subscriptions if s.queue is not queue]
        # A wildcard subscription would otherwise be attached again to topics made later.
        self._wildcards = [s for s in self._wildcards if s.queue is not queue]
        sub = self._durable_subs.get(name)
        if sub is not None and sub.queue is queue:
            del self._durable_subs[name]
        if self.store is not None and queue.durable:
            self.store.drop_destination(queue.dest_id)
        if queue.durable and queue.kind == "queue":
            self._destination_event("queue", name, False)
        return True

    def temporary_queue(self, name: str) -> Queue:
        """An in-memory queue that lives as long as the connection that made it."""
        return self.create_queue(name, durable=False)

    # -- sending -------------------------------------------------------------------------
    def send_to_queue(self, name: str, message: Message) -> Message:
        queue = self.queue(name)
        assert queue is not None
        return queue.enqueue(message)

    def share_content(self, message: Message) -> None:
        """The message is about to be copied to several destinations (a composite send):
        its stored copies share one stored body."""
        if self.store is not None and message.persistent and not message.content_id:
            message.content_id = self.next_seq()

    def topic(self, name: str) -> Topic:
        topic = self.topics.get(name)
        if topic is None:
            topic = self.topics[name] = Topic(name)
            topic.subscriptions.extend(s for s in self._wildcards if matches(s.pattern, name))
            self._destination_event("topic", name, True)
        return topic

    def has_subscribers(self, name: str) -> bool:
        """Whether a publish to the topic would reach anyone (without making the topic)."""
        topic = self.topics.get(name)
        if topic is not None:
            return bool(topic.subscriptions)
        return any(matches(s.pattern, name) for s in self._wildcards)

    def publish(self, name: str, message: Message) -> int:
        """Fan a message out to a topic's subscriptions (and its Virtual Topic queues)."""
        topic = self.topic(name)
        extra = self._virtual_consumers(name) if name.startswith(VIRTUAL_TOPIC_PREFIX) else []
        delivered = topic.publish(message, extra, self.next_seq if self.store is not None else None)
        for tap in self._topic_taps:
            tap(name, message)
        return delivered

    def add_topic_tap(self, tap: Callable[[str, Message], None]) -> None:
        """Have `tap(topic, message)` see every publication, whichever door made it.

        A facade with subscriptions of its own (SNS) fans out from here; it runs in the
        same reactor turn as the publish, so what it enqueues commits with it."""
        self._topic_taps.append(tap)

    def _virtual_consumers(self, topic: str) -> list[Queue]:
        suffix = "." + topic
        return [q for n, q in self.queues.items()
                if n.startswith("Consumer.") and n.endswith(suffix) and n.count(".") == topic.count(".") + 2]

    # -- subscriptions -----------------------------------------------------------------------
    def subscribe_topic(self, pattern: str, consumer: Consumer, selector: Selector | None = None,
                        no_local: bool = False, origin: Any = None) -> Subscription:
        """A non-durable subscription: sees only what is published while it exists."""
        self._dest_id += 1
        queue = Queue(self, f"{pattern}#{self._dest_id}", self._dest_id, durable=False, kind="subscription")
        sub = Subscription(queue, pattern, selector, no_local, origin)
        self._attach(sub)
        queue.add_consumer(consumer)
        return sub

    def _attach(self, sub: Subscription) -> None:
        if is_wildcard(sub.pattern):
            self._wildcards.append(sub)
            for name, topic in self.topics.items():
                if matches(sub.pattern, name):
                    topic.subscriptions.append(sub)
        else:
            self.topic(sub.pattern).subscriptions.append(sub)

    def unsubscribe_topic(self, sub: Subscription) -> None:
        if sub in self._wildcards:
            self._wildcards.remove(sub)
        for topic in self.topics.values():
            if sub in topic.subscriptions:
                topic.subscriptions.remove(sub)
        sub.queue.close()

    def durable_subscription(self, client_id: str, name: str, topic: str, selector: Selector | None,
                             no_local: bool, origin: Any) -> Queue:
        """The queue behind a durable subscription, created or re-created if its topic or
        selector changed (as ActiveMQ does).

        A selector that does not convert strings (OpenWire's) is a different selector from
        the same text that does (STOMP's), as ActiveMQ's STOMP prefix makes it. The stored
        subscription says so only then, so those stored before the two were told apart (all
        converting) read as they did. A converting subscription that a non-converting
        selector of the same text takes up is kept, messages and all, and stops converting:
        those stored before may be OpenWire subscriptions that should never have converted."""
        key = f"{client_id}:{name}"
        queue = self.durables.get(key)
        meta = {"client_id": client_id, "name": name, "topic": topic,
                "selector": selector.text if selector else None, "no_local": no_local}
        if selector is not None and not selector.convert_strings:
            meta["convert_strings"] = False
            if queue is not None and queue.attrs.get("subscription") == {
                    k: v for k, v in meta.items() if k != "convert_strings"}:
                queue.attrs = {"subscription": meta}
                self._persist_destination(queue)
                self._durable_subs[key].selector = selector
        if queue is not None and queue.attrs.get("subscription") != meta:
            self.delete_queue(key)
            queue = None
        if queue is None:
            self._dest_id += 1
            queue = self._make_queue(key, self._dest_id, "subscription", {}, self.now_ms())
            queue.attrs = {"subscription": meta}
            self._persist_destination(queue)
            self._attach_durable(queue, {"attrs": queue.attrs})
        self._durable_subs[key].origin = origin
        return queue

    def _attach_durable(self, queue: Queue, attrs: dict[str, Any]) -> None:
        from broker.engine.selector import parse

        meta = attrs.get("attrs", {}).get("subscription", {})
        selector = (parse(meta["selector"], convert_strings=meta.get("convert_strings", True))
                    if meta.get("selector") else None)
        sub = Subscription(queue, meta.get("topic", ""), selector, bool(meta.get("no_local")),
                           durable=True)
        self._durable_subs[queue.name] = sub
        self._attach(sub)

    def drop_durable(self, client_id: str, name: str) -> bool:
        key = f"{client_id}:{name}"
        sub = self._durable_subs.pop(key, None)
        if sub is None:
            return False
        if sub.queue.consumer_count:
            self._durable_subs[key] = sub
            raise DestinationError(f"Durable consumer is in use for client: {client_id} and subscriptionName: {name}")
        self.unsubscribe_topic(sub)
        return self.delete_queue(key)

    # -- dead letters ----------------------------------------------------------------------------
    def dead_letter_strategy_for(self, kind: str, name: str) -> DeadLetterStrategy:
        """The dead-letter strategy of the first policy naming the destination that sets
        one, else the broker's."""
        for policy in self.policies:
            if policy.dead_letter is not None and policy.covers(kind, name):
                return policy.dead_letter
        return self.dead_letter_strategy

    def expiry_move(self, source: Queue) -> ExpiryMove | None:
        """How the store may dead-letter the expired rows of the queue `source` without
        reading them, as `dead_letter` would each message; None when a row needs more than
        a move (a DLQ that is a topic, or a DLQ expiry of its own): those wait for the head."""
        redrive = source.settings.dead_letter
        if redrive:
            return ExpiryMove(None if redrive == source.name else redrive, own=True, transient=True)
        strategy = self.dead_letter_strategy_for("queue", source.name)
        if not strategy.process_expired:
            return ExpiryMove(None, own=False, transient=False)
        kind, name = strategy.target("queue", source.name)
        if kind != "queue" or strategy.expiration:
            return None
        return ExpiryMove(None if name == source.name else name, own=False,
                          transient=strategy.process_non_persistent)

    def reserve_seqs(self, count: int) -> int:
        """Reserve `count` sequence numbers for rows the store assigns them to; returns the
        one before the first."""
        first = self._seq
        self._seq += count
        return first

    def dead_letter(self, source: Queue, message: Message, cause: str) -> None:
        """Move a message out of `source` (see `_move_dead_letter`), and tell the
        `dead_letter_listeners`."""
        if source.kind == "subscription":
            # The topic it was published on (a wildcard or non-durable subscription's queue
            # name is not a topic name); a copy restored from the store has none.
            origin = ("topic", message.topic or source.attrs.get("subscription", {}).get("topic", source.name))
        else:
            origin = ("queue", source.name)
        self.tell_dead_letter(origin, message, cause, self._move_dead_letter(source, origin, message, cause))

    def tell_dead_letter(self, origin: tuple[str, str], message: Message, cause: str, moved: bool) -> None:
        """Tell the `dead_letter_listeners` of a message that left its queue as a dead
        letter sent to `origin` (moved: whether a copy went to a dead-letter queue), in
        memory or by the store on disk."""
        if self.dead_letter_listeners:
            facts = DeadLetter(*origin, cause, message.expires, message.persistent)
            for listener in list(self.dead_letter_listeners):
                listener(facts, message, moved)

    def _move_dead_letter(self, source: Queue, origin: tuple[str, str], message: Message, cause: str) -> bool:
        """Move a message out of `source` (sent to `origin`): to the DLQ its queue names (an
        SQS redrive policy), else where the dead-letter strategy of `origin` says; whether
        a copy went there.

        As ActiveMQ, a strategy drops non-persistent messages unless told to keep them (the
        copy is then persistent) and expired ones when told to; a message never goes to a
        DLQ that is its own destination, and a dead letter dying again is dropped rather
        than looping."""
        copy = message.copy()
        copy.visible_at = 0
        redrive = source.settings.dead_letter
        if redrive:
            if redrive == source.name:
                return False
            copy.dead_letter = DeadLetter(*origin, cause, message.expires)
            copy.headers = {**message.headers, "dead-letter-source": source.name}
            copy.delivery_count = message.delivery_count
            copy.first_delivery = message.first_delivery
            copy.expires = 0        # a dead letter must not expire again on its way
            self.send_to_queue(redrive, copy)
            return True
        strategy = self.dead_letter_strategy_for(*origin)
        if message.dead_letter is not None or not strategy.takes(message.persistent, cause == EXPIRED_CAUSE):
            return False
        target = strategy.target(*origin)
        if target == origin:
            return False
        copy.dead_letter = DeadLetter(*origin, cause, message.expires, was_persistent=message.persistent)
        copy.persistent = True
        copy.expires = self.now_ms() + strategy.expiration if strategy.expiration else 0
        if target[0] == "topic":
            self.publish(target[1], copy)
        else:
            self.send_to_queue(target[1], copy)
        return True

