"""Broker CPU per STOMP message, in process: the door and the engine without sockets.

The throughput scenarios of `bench.stomp_load` measure the whole machine, which is
shared and noisy; this one drives one StompFactory over in-memory transports on an
injected clock and reports the process CPU time each message costs (SEND parsed,
routed, each MESSAGE encoded and written), which stays comparable between two runs of
two versions even on a busy machine.
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
from broker.protocols.stomp.factory import StompFactory


def _connect(factory: StompFactory) -> tuple[Any, StringTransport]:
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(b"CONNECT\naccept-version:1.2\n\n\0")
    return protocol, transport


def run(destination: str, consumers: int, messages: int, batch: int, body: int,
        lagging: bool = False) -> dict[str, float]:
    """Send `messages` non-persistent SENDs, `batch` per read, to `consumers` subscribers.

    `lagging`: every subscriber's transport is paused while a read is handled and resumed
    after it, as a subscriber that cannot keep up is: its messages wait in its queue."""
    clock = Clock()
    factory = StompFactory(Broker(None, clock), Config(), clock)
    producer, producer_out = _connect(factory)
    outs = []
    subscribers = []
    for i in range(consumers):
        consumer, out = _connect(factory)
        consumer.dataReceived(f"SUBSCRIBE\nid:{i}\ndestination:{destination}\n\n\0".encode())
        outs.append(out)
        subscribers.append(consumer)
    frame = (f"SEND\ndestination:{destination}\ncontent-type:text/plain\n"
             f"content-length:{body}\n\n").encode() + b"x" * body + b"\0\n"
    chunk = frame * batch
    received = 0
    start = time.process_time()
    for _ in range(messages // batch):
        if lagging:
            for consumer in subscribers:
                consumer.pauseProducing()
        producer.dataReceived(chunk)
        if lagging:
            for consumer in subscribers:
                consumer.resumeProducing()
        clock.advance(0)
        for out in outs:
            received += out.io.tell()
            out.clear()
        producer_out.clear()
    spent = time.process_time() - start
    sent = messages // batch * batch
    deliveries = sent * consumers
    return {"messages": sent, "deliveries": deliveries, "bytes_delivered": received,
            "us_per_message": spent / sent * 1e6, "us_per_delivery": spent / deliveries * 1e6}


# name -> (destination, subscribers, lagging)
SCENARIOS = {"fanout4": ("/topic/bench", 4, False), "fanout4_lagging": ("/topic/bench", 4, True),
             "queue_1_1": ("/queue/bench", 1, False)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stomp_hotpath", description=__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=50, help="SEND frames per read")
    parser.add_argument("--body", type=int, default=100, help="body bytes")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario; the best is kept")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append",
                        help="run only this scenario (repeatable; default: all)")
    args = parser.parse_args(argv)
    results = {}
    for name in args.scenario or SCENARIOS:
        destination, consumers, lagging = SCENARIOS[name]
        runs = [run(destination, consumers, args.messages, args.batch, args.body, lagging)
                for _ in range(args.repeat)]
        results[name] = min(runs, key=lambda r: r["us_per_message"])
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
