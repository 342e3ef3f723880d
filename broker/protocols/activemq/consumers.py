"""What the consumers of the ActiveMQ doors share: the engine queues they take from.

A STOMP subscription and a JMS consumer both read from queues, durable subscriptions and
non-durable topic subscriptions (whose queues live only as long as the consumer); how
they count credit and settle acks is each door's own.
"""
from __future__ import annotations

from typing import Any, Callable

from twisted.internet import defer

from broker.engine.consumer import Consumer
from broker.engine.message import Message
from broker.engine.queue import Queue, property_value
from broker.engine.selector import Selector
from broker.engine.topic import matches

# Messages a browser reads per page: the window a deep queue is streamed through.
BROWSE_PAGE = 500


class DoorConsumer(Consumer):
    def __init__(self) -> None:
        self.queues: list[Queue] = []       # engine queues this consumer takes from
        self.topic_subs: list[Any] = []     # non-durable topic subscriptions, dropped on close
        self._watches: list[tuple[Any, Any]] = []   # (broker, listener) of wildcard queues

    def attach(self, queue: Queue) -> None:
        """Consume from a queue (or a durable subscription's queue)."""
        self.queues.append(queue)
        queue.add_consumer(self)

    def attach_wildcard(self, broker: Any, pattern: str) -> None:
        """Consume from every queue matching an ActiveMQ wildcard, now and created later."""
        def joined(queue: Queue) -> None:
            if queue.durable and matches(pattern, queue.name) and queue not in self.queues:
                self.attach(queue)
        for queue in list(broker.queues.values()):
            joined(queue)
        broker.queue_listeners.append(joined)
        self._watches.append((broker, joined))

    def subscribe(self, broker: Any, topic: str, selector: Selector | None, no_local: bool,
                  origin: Any) -> Any:
        """A non-durable subscription to a topic (or wildcard), consumed by this consumer."""
        sub = broker.subscribe_topic(topic, self, selector, no_local, origin)
        self.topic_subs.append(sub)
        self.queues.append(sub.queue)
        return sub

    def detach(self, broker: Any) -> None:
        """Stop consuming: topic subscriptions end; unacked queue messages go back."""
        for watched, listener in self._watches:
            if listener in watched.queue_listeners:
                watched.queue_listeners.remove(listener)
        self._watches.clear()
        topic_queues = [t.queue for t in self.topic_subs]
        for sub in self.topic_subs:
            broker.unsubscribe_topic(sub)
        for queue in self.queues:
            if queue not in topic_queues:
                queue.remove_consumer(self)

    def dispatch(self) -> None:
        for queue in self.queues:
            queue.dispatch()


@defer.inlineCallbacks
def browse(queue: Queue, selector: Selector | None, now_ms: Callable[[], int],
           deliver: Callable[[Message], None], stopped: Callable[[], bool]) -> Any:
    """A queue browser's view: what the queue holds now, in delivery order, unexpired and
    matching the selector, handed to `deliver` a page at a time (a deep queue's backlog
    is read from the store page by page, never all at once). Ends early once `stopped()`."""
    last = None
    while not stopped():
        page = yield queue.browse_page(last, BROWSE_PAGE)
        if not page:
            return
        last = page[-1]
        now = now_ms()
        for message in page:
            if message.expires and message.expires <= now:
                continue
            if selector is not None and not selector.matches(lambda name, m=message: property_value(m, name)):
                continue
            deliver(message)
