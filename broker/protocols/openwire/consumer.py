"""A JMS consumer as an engine consumer: prefetch credit, MessageDispatch, range acks.

Every dispatch carries the lease token as `brokerSequenceId`, so an ack's first..last
message ids name a range of this consumer's leases, and a closing consumer's
`lastDeliveredSequenceId` tells which of them its application saw (those come back marked
redelivered; the others were only prefetched and come back as they were).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from broker.engine.consumer import Lease
from broker.engine.message import Message
from broker.engine.selector import Selector
from broker.protocols.activemq import destinations as dest
from broker.protocols.activemq.consumers import DoorConsumer
from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import Struct, dispatch_head, encode_object
from broker.protocols.openwire.convert import destination_struct, dispatch_frame

if TYPE_CHECKING:
    from broker.protocols.openwire.protocol import OpenWireProtocol


class OpenWireConsumer(DoorConsumer):
    def __init__(self, protocol: "OpenWireProtocol", info: Struct, targets: list[dest.Destination],
                 selector: Selector | None) -> None:
        super().__init__()
        self.protocol = protocol
        self.info = info
        self.consumer_id: Struct = info.consumer_id
        self.destination: Struct = info.destination
        self.targets = targets
        self.prefetch = max(0, info.prefetch_size or 0)
        self.selector = selector
        self.priority = info.priority or 0
        self.exclusive = bool(info.exclusive)
        self.browser = bool(info.browser)
        # lease token -> lease, in dispatch order; `seen` holds those DELIVERED-acked (out
        # of the prefetch window, still unacknowledged).
        self.pending: OrderedDict[int, Lease] = OrderedDict()
        self.seen: set[int] = set()
        self.window = 0
        self.pulls = 0          # prefetch 0: messages asked for by MessagePull
        self.pull_timer: Any = None
        self.closed = False
        # One destination, no wildcard: every dispatch names the consumer's own, and
        # starts with the same bytes (encoded once, with the destination's encoding).
        self.plain_destination = (len(targets) == 1 and "*" not in targets[0].name
                                  and ">" not in targets[0].name)
        self._head: tuple[bytes, bytes] | None = None

    @property  # type: ignore[override]
    def credit(self) -> int:
        if self.closed or self.protocol.paused:
            return 0
        if self.prefetch == 0:
            return self.pulls
        return self.prefetch - self.window

    def deliver(self, queue: Any, message: Message, lease: Lease | None) -> None:
        if lease is None:  # never asked for (not auto-ack), kept for the engine's contract
            return
        token = lease.token
        self.pending[token] = lease
        self.window += 1
        if self.prefetch == 0 and self.pulls:
            self.pulls -= 1
            self.cancel_pull_timer()
        # Held until its delivery count is stored, so a crash redelivers it flagged. It
        # leaves at the time its delivery started (the engine read the clock for it).
        self.send(queue, message, token, lease.started, after_commit=message.persistent and queue.durable)

    def send(self, queue: Any, message: Message, seq: int, now: int, after_commit: bool = False) -> None:
        """Dispatch `message` as the `seq`th delivery, sent out at `now` (ms)."""
        protocol = self.protocol
        version = protocol.version
        if self.plain_destination:
            destination = self.destination
            head = self._head
            if head is None:
                head = self._head = (dispatch_head(self.consumer_id, destination, version),
                                     encode_object(destination, version))
            frame = dispatch_frame(message, destination, head[0], seq, now, version, head[1])
        else:
            destination = self.message_destination(queue, message)
            frame = dispatch_frame(message, destination, dispatch_head(self.consumer_id, destination, version),
                                   seq, now, version)
        protocol.output.write(frame, after_commit)

    def message_destination(self, queue: Any, message: Message) -> Struct:
        """Where the message was sent: the consumer's own destination unless it is a
        composite or wildcard one."""
        if self.plain_destination:
            return self.destination
        if queue.kind == "subscription":
            return Struct(s.TOPIC, physical_name=message.topic or self.targets[0].name)
        kind = dest.QUEUE if queue.durable else dest.REMOTE_TEMP_QUEUE
        return destination_struct(dest.Destination(kind, queue.name))

    def end_of_browse(self) -> None:
        """A dispatch without a message: a browse is complete, or a pull found nothing."""
        self.protocol.send(Struct(s.MESSAGE_DISPATCH, command_id=0, response_required=False,
                                  consumer_id=self.consumer_id, destination=None, message=None,
                                  redelivery_counter=0))

    # -- acks ------------------------------------------------------------------------------------
    def leases_between(self, first: Struct | None, last: Struct | None) -> list[Lease]:
        """Pending leases whose dispatch sequence lies in first..last (by broker sequence)."""
        if last is None:
            return []
        high = last["broker_sequence_id"]   # items: cheaper than a Struct's attributes, once per ack
        low = first["broker_sequence_id"] if first is not None else high
        if low == high:   # one message (every ack of AUTO_ACKNOWLEDGE and INDIVIDUAL)
            lease = self.pending.get(low)
            return [lease] if lease is not None else []
        if low > high:
            low, high = high, low
        # Pending leases are in dispatch order, so tokens grow: an ack (usually of the
        # oldest message) stops scanning as soon as it passes its range.
        found = []
        for token, lease in self.pending.items():
            if token > high:
                break
            if token >= low:
                found.append(lease)
        return found

    def mark_seen(self, leases: list[Lease]) -> None:
        """DELIVERED ack: out of the prefetch window, not yet acknowledged."""
        for lease in leases:
            if lease.token not in self.seen and lease.token in self.pending:
                self.seen.add(lease.token)
                self.window -= 1

    def take(self, leases: list[Lease]) -> list[Lease]:
        """Remove settled leases from the pending set (and the window)."""
        taken = []
        for lease in leases:
            if self.pending.pop(lease.token, None) is None:
                continue
            if lease.token in self.seen:
                self.seen.discard(lease.token)
            else:
                self.window -= 1
            taken.append(lease)
        return taken

    def cancel_pull_timer(self) -> None:
        if self.pull_timer is not None and self.pull_timer.active():
            self.pull_timer.cancel()
        self.pull_timer = None
