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
from broker.engine.message import Message
from broker.engine.queue import Queue
from broker.engine.selector import Selector
from broker.engine.settings import QueueSettings
from broker.engine.topic import Subscription, Topic, is_wildcard, matches
from broker.store.store import Store

log = logging.getLogger("mqgate.engine")

DLQ_NAME = "ActiveMQ.DLQ"
VIRTUAL_TOPIC_PREFIX = "VirtualTopic."
SWEEP_INTERVAL_S = 1.0


class DestinationError(ValueError):
    """A destination that cannot be used as asked (e.g. a durable subscription on a queue)."""


class Broker:
    def __init__(self, store: Store | None, clock: Any) -> None:
        self.store = store
        self.clock = clock
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
        snapshot = yield self.store.open()
        self._seq, self._dest_id = snapshot.max_seq, snapshot.max_dest_id
        self._records = snapshot.records
        by_id: dict[int, Queue] = {}
        for row in snapshot.destinations:
            attrs = row["attrs"]
            queue = self._make_queue(row["name"], row["id"], row["kind"], attrs, row["created_at"])
            by_id[row["id"]] = queue
            if row["kind"] == "subscription":
                self._attach_durable(queue, attrs)
        now = self.now_ms()
        restored = 0
        for row in snapshot.messages:
            queue = by_id.get(row["dest_id"])
            if queue is not None:
                queue.restore(Message.from_row(row), now)
                restored += 1
        log.info("event=store_loaded destinations=%d messages=%d", len(snapshot.destinations), restored)

    def sweep(self) -> None:
        """Periodic housekeeping: expiry and retention on every queue."""
        for queue in list(self.queues.values()) + list(self.durables.values()):
            queue.sweep()

    def stop(self) -> defer.Deferred[None]:
        if self._sweeper is not None and self._sweeper.running:
            self._sweeper.stop()
        return self.store.close() if self.store is not None else defer.succeed(None)

    def committed(self) -> defer.Deferred[None]:
        """Fires once everything done so far is durable."""
        return self.store.committed() if self.store is not None else defer.succeed(None)

    # -- records ----------------------------------------------------------------------
    # Facade state that is not a message (an SNS subscription, an API definition) is kept
    # as JSON documents by kind and name: read at start, written in the same group commit
    # as the messages a request produced, so a facade needs no store of its own.
    def records(self, kind: str) -> dict[str, Any]:
        """The documents of one kind, by name (read-only: change them with put_record)."""
        return self._records.get(kind, {})

    def put_record(self, kind: str, name: str, data: Any) -> None:
        self._records.setdefault(kind, {})[name] = data
        if self.store is not None:
            self.store.put_record(kind, name, data)

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
        return queue

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
        return True

    def temporary_queue(self, name: str) -> Queue:
        """An in-memory queue that lives as long as the connection that made it."""
        return self.create_queue(name, durable=False)

    # -- sending -------------------------------------------------------------------------
    def send_to_queue(self, name: str, message: Message) -> Message:
        queue = self.queue(name)
        assert queue is not None
        return queue.enqueue(message)

    def topic(self, name: str) -> Topic:
        topic = self.topics.get(name)
        if topic is None:
            topic = self.topics[name] = Topic(name)
            topic.subscriptions.extend(s for s in self._wildcards if matches(s.pattern, name))
        return topic

    def publish(self, name: str, message: Message) -> int:
        """Fan a message out to a topic's subscriptions (and its Virtual Topic queues)."""
        topic = self.topic(name)
        extra = self._virtual_consumers(name) if name.startswith(VIRTUAL_TOPIC_PREFIX) else []
        delivered = topic.publish(message, extra)
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
        selector changed (as ActiveMQ does)."""
        key = f"{client_id}:{name}"
        queue = self.durables.get(key)
        meta = {"client_id": client_id, "name": name, "topic": topic,
                "selector": selector.text if selector else None, "no_local": no_local}
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
        selector = parse(meta["selector"]) if meta.get("selector") else None
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
    def dead_letter(self, source: Queue, message: Message, cause: str) -> None:
        """Move a message out of `source`: to its configured DLQ, or ActiveMQ.DLQ.

        Non-persistent messages are dropped unless the queue names a DLQ of its own, as
        ActiveMQ does; a message dying in a DLQ is dropped rather than looping."""
        target = source.settings.dead_letter
        if not target:
            if not message.persistent or source.name == DLQ_NAME:
                return
            target = DLQ_NAME
        if target == source.name:
            return
        copy = message.copy()
        copy.visible_at = 0
        if not source.settings.dead_letter:
            if source.kind == "subscription":
                # The topic it was published on (a wildcard or non-durable subscription's
                # queue name is not a topic name); a copy restored from the store has none.
                origin = "/topic/" + (message.topic or source.attrs.get("subscription", {}).get("topic", source.name))
            else:
                origin = "/queue/" + source.name
            copy.headers = {**message.headers, "original-destination": origin,
                            "originalExpiration": str(message.expires),
                            "dlqDeliveryFailureCause": cause}
        else:
            copy.headers = {**message.headers, "dead-letter-source": source.name}
            copy.delivery_count = message.delivery_count
            copy.first_delivery = message.first_delivery
        # A dead letter must not expire again on its way (it would be dropped or moved on).
        copy.expires = 0
        self.send_to_queue(target, copy)

