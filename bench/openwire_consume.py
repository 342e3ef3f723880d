"""The OpenWire consume side alone, for counting instructions: N JMS messages dispatched and acked.

Takes N non-persistent 1 KiB ActiveMQBytesMessage frames in as `bench.openwire_intake`
does, then replays what `bench.openwire_hotpath`'s client answers to the dispatches (a
consumer of prefetch 1000, one STANDARD ack per message, 50 per read). The client's
acks are worked out first, on a broker of their own (decoding the dispatches and
encoding the acks is the client's work, not the broker's): every build of the same N
gives the same lease tokens, so the same ack bytes. Run it under `valgrind
--tool=callgrind` with PYTHONHASHSEED fixed for two values of N, with and without
`--build-only` (which stops before the acks are replayed): the difference of the
differences over the difference in N is the instructions per message dispatched and
acked.

    python -m bench.openwire_consume N [--build-only] [--acks N]
"""
from __future__ import annotations

import argparse
from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from bench.openwire_hotpath import CONN, QUEUE, _connect, ack_frame, message_frame
from broker.config import Config
from broker.engine.broker import Broker
from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import FrameParser, Struct, encode
from broker.protocols.openwire.factory import OpenWireFactory
from broker.service import settle_collector

CONSUMER_ID = Struct(s.CONSUMER_ID, connection_id=CONN, session_id=1, value=1)


def _filled(messages: int, batch: int) -> tuple[Any, StringTransport, Clock]:
    """A broker holding `messages` messages, and the connection that sent them."""
    clock = Clock()
    factory = OpenWireFactory(Broker(None, clock), Config(), clock)
    protocol, transport = _connect(factory)
    payload = b"x" * 1024
    for i in range(1, messages + 1, batch):
        protocol.dataReceived(b"".join(message_frame(i + j, payload, False) for j in range(batch)))
        clock.advance(0)
    transport.clear()
    return protocol, transport, clock


def _subscribe(protocol: Any, clock: Clock) -> None:
    protocol.dataReceived(encode(Struct(
        s.CONSUMER_INFO, command_id=2, response_required=True, consumer_id=CONSUMER_ID,
        destination=Struct(s.QUEUE, physical_name=QUEUE), prefetch_size=1000,
        dispatch_async=True, client_id=CONN)))
    clock.advance(0)


def client_acks(messages: int, batch: int, per_ack: int) -> list[bytes]:
    """The reads the client sends back, in order: a STANDARD ack for every `per_ack`
    messages received (the last of them named; a range when more than one)."""
    protocol, transport, clock = _filled(messages, batch)
    _subscribe(protocol, clock)
    parser = FrameParser()
    reads: list[bytes] = []
    command_id = 100
    first = None
    while True:
        out = transport.value()
        transport.clear()
        acks = []
        for command in parser.feed(out):
            if command is None or command.type != s.MESSAGE_DISPATCH or command.message is None:
                continue
            first = first or command
            command_id += 1
            if command_id % per_ack == 0:
                acks.append(_range_ack(command_id, first, command))
                first = None
        if not acks:
            return reads
        for i in range(0, len(acks), batch):
            reads.append(b"".join(acks[i:i + batch]))
            protocol.dataReceived(reads[-1])
            clock.advance(0)


def _range_ack(command_id: int, first: Struct, last: Struct) -> bytes:
    frame = ack_frame(command_id, last, CONSUMER_ID)
    if first is last:
        return frame
    mid = last.message.message_id
    return encode(Struct(s.MESSAGE_ACK, command_id=command_id, response_required=False,
                         destination=last.destination, transaction_id=None, consumer_id=CONSUMER_ID,
                         ack_type=2, first_message_id=first.message.message_id, last_message_id=mid,
                         message_count=mid.broker_sequence_id - first.message.message_id.broker_sequence_id + 1,
                         poison_cause=None))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.openwire_consume",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("messages", type=int)
    parser.add_argument("--batch", type=int, default=50, help="frames per read")
    parser.add_argument("--acks", type=int, default=1, help="messages per ack (a range when > 1)")
    parser.add_argument("--build-only", action="store_true", help="work the acks out, replay none")
    args = parser.parse_args(argv)
    reads = client_acks(args.messages, args.batch, args.acks)
    protocol, transport, clock = _filled(args.messages, args.batch)
    settle_collector()
    if args.build_only:
        return
    _subscribe(protocol, clock)
    for read in reads:
        transport.clear()
        protocol.dataReceived(read)
        clock.advance(0)


if __name__ == "__main__":
    main()
