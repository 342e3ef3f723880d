"""Topics fan out: every subscription is a queue of its own that gets a copy.

Non-durable subscriptions are in-memory queues that live as long as their consumer;
durable subscriptions and Virtual Topic consumer queues are stored queues, so they keep
messages while their consumers are away. Selectors and noLocal of a subscription are
applied here, at publish time, so a subscription queue only holds what it will deliver.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from broker.engine.message import Message, State
from broker.engine.queue import Queue, property_value
from broker.engine.selector import Selector


@dataclass(eq=False)
class Subscription:
    queue: Queue
    pattern: str
    selector: Selector | None = None
    no_local: bool = False
    origin: Any = None
    durable: bool = False

    def wants(self, message: Message) -> bool:
        if self.no_local and message.origin is not None and message.origin is self.origin:
            return False
        return self.selector is None or self.selector.matches(lambda n: property_value(message, n))


@dataclass(eq=False)
class Topic:
    name: str
    subscriptions: list[Subscription] = field(default_factory=list)
    published: int = 0       # messages published since start (ActiveMQ's EnqueueCount)

    def publish(self, message: Message, extra: list[Queue] = (),  # type: ignore[assignment]
                new_content_id: Callable[[], int] | None = None) -> int:
        """Enqueue a copy for every interested subscription; returns how many got one.

        When several of the copies are stored, they share one stored body: the store
        writes it once (`new_content_id` names it). Subscriptions whose consumer takes the
        message at once and keeps nothing of it (auto-ack, in memory, nothing queued) all
        get one shared copy instead of one each."""
        self.published += 1
        # Most subscriptions want everything: `wants` is asked only of the others.
        targets = [sub.queue for sub in self.subscriptions
                   if (sub.selector is None and not sub.no_local) or sub.wants(message)]
        if new_content_id is not None and message.persistent and (
                sum(1 for q in targets if q.durable) + sum(1 for q in extra if q.durable) > 1):
            message.content_id = new_content_id()
        if message.encodings is None and len(targets) + len(extra) > 1:
            message.encodings = {}
        shared: Message | None = None
        now = targets[0].broker.now_ms() if targets else 0
        name = self.name
        for queue in targets:
            if not queue.durable:
                consumer = queue.shared_consumer(message)
                if consumer is not None:
                    if shared is None:
                        shared = self._delivered_copy(message, now)
                    if queue.hand_over(shared, now, consumer):
                        continue
            copy = message.copy()
            copy.topic = name
            queue.enqueue(copy, now)
        for queue in extra:
            queue.enqueue(message.copy(), now or None)
        return len(targets) + len(extra)

    def _delivered_copy(self, message: Message, now: int) -> Message:
        """The copy shared by the subscriptions that take it at once: delivered once, gone."""
        shared = message.copy()
        shared.topic = self.name
        if not shared.timestamp:
            shared.timestamp = now
        shared.delivery_count = 1
        shared.first_delivery = now
        shared.state = State.GONE
        return shared


def matches(pattern: str, name: str) -> bool:
    """ActiveMQ wildcards: `*` is one level, `>` is zero or more levels (so `a.>` matches `a`)."""
    if pattern == name:
        return True
    pat, parts = pattern.split("."), name.split(".")
    for i, token in enumerate(pat):
        if token == ">":
            return True
        if i >= len(parts) or (token != "*" and token != parts[i]):
            return False
    return len(pat) == len(parts)


def is_wildcard(name: str) -> bool:
    return any(t in ("*", ">") for t in name.split("."))
