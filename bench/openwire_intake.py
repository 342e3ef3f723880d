"""The OpenWire intake alone, for counting instructions: N non-persistent JMS messages taken in.

Connects one OpenWireFactory as `bench.openwire_hotpath` does and feeds it N 1 KiB
ActiveMQBytesMessage frames (50 per read). Run it under `valgrind --tool=callgrind` with
PYTHONHASHSEED fixed for two values of N, with and without `--build-only` (which stops
before the frames are fed): the difference of the differences over the difference in N
is the instructions per message taken in, stable on a busy machine where CPU time is not.

    python -m bench.openwire_intake N [--build-only]
"""
from __future__ import annotations

import argparse

from twisted.internet.task import Clock

from bench.openwire_hotpath import _connect, message_frame
from broker.config import Config
from broker.engine.broker import Broker
from broker.protocols.openwire.factory import OpenWireFactory
from broker.service import settle_collector


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.openwire_intake",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("messages", type=int)
    parser.add_argument("--batch", type=int, default=50, help="frames per read")
    parser.add_argument("--build-only", action="store_true", help="build the frames, feed none")
    args = parser.parse_args(argv)
    clock = Clock()
    factory = OpenWireFactory(Broker(None, clock), Config(), clock)
    protocol, _ = _connect(factory)
    payload = b"x" * 1024
    chunks = [b"".join(message_frame(i + j, payload, False) for j in range(args.batch))
              for i in range(1, args.messages + 1, args.batch)]
    settle_collector()
    if args.build_only:
        return
    for chunk in chunks:
        protocol.dataReceived(chunk)
        clock.advance(0)


if __name__ == "__main__":
    main()
