"""A STOMP subscription as an engine consumer: credit, pending acks, MESSAGE frames."""
from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from broker.engine.consumer import Lease
from broker.engine.message import Message
from broker.engine.selector import Selector
from broker.protocols.activemq.consumers import DoorConsumer
from broker.protocols.stomp.message_frames import (full_frame, message_frame, shared_frame,
                                                   subscription_line)

if TYPE_CHECKING:
    from broker.protocols.stomp.protocol import StompProtocol

AUTO, CLIENT, CLIENT_INDIVIDUAL = "auto", "client", "client-individual"
ACK_MODES = (AUTO, CLIENT, CLIENT_INDIVIDUAL)


class StompSubscription(DoorConsumer):
    def __init__(self, protocol: "StompProtocol", sub_id: str | None, destination: str,
                 ack_mode: str, prefetch: int, selector: Selector | None, *,
                 durable: bool = False, is_topic: bool = False, priority: int = 0,
                 exclusive: bool = False) -> None:
        super().__init__()
        self.protocol = protocol
        self.id = sub_id
        self.destination = destination
        self.ack_mode = ack_mode
        self.auto_ack = ack_mode == AUTO
        self.prefetch = max(1, prefetch)
        self.selector = selector
        self.durable = durable
        self.is_topic = is_topic
        self.priority = priority
        self.exclusive = exclusive
        # ack key (1.2 ack id, or message-id before 1.2) -> lease, in delivery order
        self.pending: OrderedDict[str, Lease] = OrderedDict()
        self.durable_name: str | None = None
        # (kind, name) of what it consumes, as consumer advisories name it; its advisory id.
        self.advised: list[tuple[str, str]] = []
        self.advisory_id = ""
        # The last topic queue and topic a message came from, and its outbound destination:
        # the same for every message of a subscription's topic (see `deliver`).
        self._topic_destination: tuple[Any, str | None, str] | None = None
        # The last queue a message came from and its outbound destination, which depends
        # on the queue only (and the connection's temporary queues, when it has any).
        self._queue_destination: tuple[Any, str] | None = None
        # What every delivery's frame begins with, and how it localizes a reply-to: the
        # session's version is settled before any SUBSCRIBE.
        self._line = b"MESSAGE\n" if sub_id is None else subscription_line(sub_id, protocol.version)
        self._localize = protocol.outbound_reply_to

    @property  # type: ignore[override]
    def credit(self) -> int:
        if self.protocol.paused:
            return 0
        return self.prefetch - len(self.pending)

    def deliver(self, queue: Any, message: Message, lease: Lease | None) -> None:
        protocol = self.protocol
        version = protocol.version
        ack = None
        if lease is not None:
            if version == "1.2":
                key = ack = str(lease.token)
            else:
                key = message.message_id
            self.pending[key] = lease
        if queue.kind == "subscription":
            # A topic's copy: its destination depends only on the queue and the topic it
            # was published on (see `outbound_destination`), so it is kept between messages.
            # Topic subscriptions (durable ones included) never flag redeliveries, as ActiveMQ.
            known = self._topic_destination
            topic = message.topic
            if known is not None and known[0] is queue and known[1] == topic:
                destination = known[2]
            else:
                destination = protocol.outbound_destination(self, queue, message)
                self._topic_destination = (queue, topic, destination)
            frame = shared_frame(message, version, destination, self._line, False, ack,
                                 self._localize)
            if frame is None:
                frame = full_frame(message, version, destination, self.id, False, ack,
                                   self._localize)
        else:
            known = self._queue_destination
            if known is not None and known[0] is queue and not protocol.temp_queues:
                destination = known[1]
            else:
                destination = protocol.outbound_destination(self, queue, message)
                self._queue_destination = (queue, destination)
            frame = message_frame(message, version, destination, self.id, message.delivery_count > 1,
                                  ack, self._localize, shared=False)
        # A held delivery leaves once its count is stored, so a crash redelivers it flagged.
        protocol.output.write(frame, lease is not None and message.persistent and queue.durable)

    def reorder(self) -> None:
        """Put pending leases back in delivery order (tokens grow with every delivery)."""
        items = sorted(self.pending.items(), key=lambda item: item[1].token)
        self.pending = OrderedDict(items)

    def take(self, key: str, cumulative: bool) -> list[Lease]:
        """Remove and return the leases an ACK/NACK of `key` settles."""
        if key not in self.pending:
            return []
        if not cumulative:
            return [self.pending.pop(key)]
        taken = []
        while self.pending:
            k, lease = self.pending.popitem(last=False)
            taken.append(lease)
            if k == key:
                break
        return taken
