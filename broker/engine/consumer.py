"""What a queue needs to know about whoever takes its messages.

A door subclasses `Consumer` (a STOMP subscription, a waiting SQS ReceiveMessage) and owns
its credit: the queue only delivers while `credit > 0`, and the door raises the credit again
on ack or when its transport drains, then asks the queue to dispatch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from broker.engine.message import Message
from broker.engine.selector import Selector


class Consumer:
    credit: int = 0
    selector: Selector | None = None
    # auto-ack consumers take ownership at delivery: no lease is kept.
    auto_ack: bool = False
    # SQS visibility: a lease that ends by itself after this many ms (0: held until ack/close;
    # negative: ends at once, i.e. by the next receive at the latest, SQS's VisibilityTimeout=0).
    lease_ms: int = 0
    priority: int = 0
    exclusive: bool = False

    def deliver(self, queue: Any, message: Message, lease: "Lease | None") -> None:
        """Take a message from `queue`; `lease` is None for auto-ack consumers."""
        raise NotImplementedError


@dataclass(slots=True, eq=False)
class Lease:
    """An in-flight delivery: who holds the message and until when.

    `token` is unique per delivery, so a handle from an earlier receive of the same message
    (an old SQS receipt handle, a stale STOMP ack id) can be told apart from the current one.
    """

    message: Message
    queue: Any
    consumer: Consumer | None
    token: int
    deadline: int = 0
    started: int = 0
