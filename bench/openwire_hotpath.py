"""Broker CPU per JMS message over OpenWire, in process: the door and the engine without sockets.

`bench.jms_load` measures the whole machine (the client JVM, both brokers, whatever else
runs), which is shared and noisy; this one drives one OpenWireFactory over in-memory
transports on an injected clock with the frames ActiveMQ's JMS client 5.17 sends (a
1 KiB BytesMessage, one STANDARD MessageAck per message as AUTO_ACKNOWLEDGE gives), and
reports the process CPU time per message taken in (frame decoded, message routed) and
per message given out (MessageDispatch encoded and written, its ack read and settled).
The store is left out: its work runs on its own thread, and a run without it compares
two versions of the door and the engine on a busy machine.

    python -m bench.openwire_hotpath [--messages N] [--batch N] [--body BYTES]
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from broker.config import Config
from broker.engine.broker import Broker
from broker.protocols.openwire import primitives as p
from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import FrameParser, Struct, encode
from broker.protocols.openwire.factory import OpenWireFactory
from broker.service import settle_collector

CONN = "ID:bench-41867-1796435102984-1:1"
QUEUE = "bench.openwire"


def _producer_id() -> Struct:
    return Struct(s.PRODUCER_ID, connection_id=CONN, value=1, session_id=1)


def message_frame(seq: int, body: bytes, persistent: bool) -> bytes:
    """An ActiveMQBytesMessage as the Java client marshals it (loose, version 12)."""
    return encode(Struct(
        s.BYTES_MESSAGE, command_id=seq + 10, response_required=False, producer_id=_producer_id(),
        destination=Struct(s.QUEUE, physical_name=QUEUE),
        message_id=Struct(s.MESSAGE_ID, text_view=None, producer_id=_producer_id(),
                          producer_sequence_id=seq, broker_sequence_id=0),
        group_sequence=0, persistent=persistent, expiration=0, priority=4,
        timestamp=1796435103243 + seq, content=body, compressed=False, redelivery_counter=0,
        arrival=0, recieved_by_df_bridge=False, droppable=False, broker_in_time=0,
        broker_out_time=0, jmsx_group_first_for_consumer=False))


def ack_frame(seq: int, dispatch: Struct, consumer_id: Struct) -> bytes:
    """The STANDARD ack the client sends for one message in AUTO_ACKNOWLEDGE."""
    mid = dispatch.message.message_id
    return encode(Struct(s.MESSAGE_ACK, command_id=seq, response_required=False,
                         destination=dispatch.destination, transaction_id=None,
                         consumer_id=consumer_id, ack_type=2, first_message_id=mid,
                         last_message_id=mid, message_count=1, poison_cause=None))


def _connect(factory: OpenWireFactory) -> tuple[Any, StringTransport]:
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(encode(Struct(s.WIRE_FORMAT_INFO, version=12,
                                        marshalled_properties=p.encode_map({}))))
    protocol.dataReceived(encode(Struct(s.CONNECTION_INFO, command_id=1, response_required=True,
                                        connection_id=Struct(s.CONNECTION_ID, value=CONN),
                                        client_id=CONN, manageable=True, client_master=True)))
    transport.clear()
    return protocol, transport


def run(messages: int, batch: int, body: int, persistent: bool) -> dict[str, float]:
    clock = Clock()
    factory = OpenWireFactory(Broker(None, clock), Config(), clock)
    protocol, transport = _connect(factory)
    payload = b"x" * body
    chunks = [b"".join(message_frame(i + j, payload, persistent) for j in range(batch))
              for i in range(1, messages + 1, batch)]
    sent = len(chunks) * batch
    start = time.process_time()
    for chunk in chunks:
        protocol.dataReceived(chunk)
        clock.advance(0)
    intake = time.process_time() - start
    transport.clear()

    consumer_id = Struct(s.CONSUMER_ID, connection_id=CONN, session_id=1, value=1)
    parser = FrameParser()
    received = 0
    command_id = 100
    start = time.process_time()
    protocol.dataReceived(encode(Struct(
        s.CONSUMER_INFO, command_id=2, response_required=True, consumer_id=consumer_id,
        destination=Struct(s.QUEUE, physical_name=QUEUE), prefetch_size=1000,
        dispatch_async=True, client_id=CONN)))
    clock.advance(0)
    while received < sent:
        out = transport.value()
        transport.clear()
        acks = []
        for command in parser.feed(out):
            if command is not None and command.type == s.MESSAGE_DISPATCH and command.message is not None:
                received += 1
                command_id += 1
                acks.append(ack_frame(command_id, command, consumer_id))
        if not acks:
            break
        # The client acks as its application takes the messages: `batch` acks per read.
        for i in range(0, len(acks), batch):
            protocol.dataReceived(b"".join(acks[i:i + batch]))
            clock.advance(0)
    total_out = time.process_time() - start
    # Decoding the dispatches and encoding the acks is the client's work: take it out.
    client = _client_cost(parser, transport, sent, batch, payload, persistent, consumer_id)
    return {"messages": sent, "received": received,
            "us_per_message_in": intake / sent * 1e6,
            "us_per_message_out": (total_out - client) / max(1, received) * 1e6}


def _client_cost(parser: FrameParser, transport: StringTransport, count: int, batch: int,
                 payload: bytes, persistent: bool, consumer_id: Struct) -> float:
    """CPU the loop above spends as the client (decoding dispatches, encoding acks)."""
    dispatch = encode(Struct(
        s.MESSAGE_DISPATCH, command_id=0, response_required=False, consumer_id=consumer_id,
        destination=Struct(s.QUEUE, physical_name=QUEUE),
        message=FrameParser().feed(message_frame(1, payload, persistent)).__next__(),
        redelivery_counter=0))
    data = dispatch * batch
    start = time.process_time()
    for i in range(0, count, batch):
        for command in FrameParser().feed(data):
            ack_frame(i, command, consumer_id)
    return time.process_time() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.openwire_hotpath",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=50, help="frames per read")
    parser.add_argument("--body", type=int, default=1024, help="body bytes")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario; the best is kept")
    args = parser.parse_args(argv)
    settle_collector()
    results = {}
    for name, persistent in (("persistent", True), ("non_persistent", False)):
        runs = [run(args.messages, args.batch, args.body, persistent) for _ in range(args.repeat)]
        results[name] = {"us_per_message_in": min(r["us_per_message_in"] for r in runs),
                         "us_per_message_out": min(r["us_per_message_out"] for r in runs),
                         "messages": runs[0]["messages"], "received": runs[0]["received"]}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
