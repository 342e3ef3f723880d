"""The floor under mqgate's JMS figures: its OpenWire door reading and decoding the client's
messages, and doing nothing else with them.

    python -m bench.openwire_floor [--count N] [--sync-count N] [--size BYTES] [--repeat N]

Starts mqgate (as `bench.jms_load` does) with every producer's message answered when it
asks for an answer and otherwise dropped once decoded: no engine, no store, no consumer.
ActiveMQ's own JMS client then sends as in `bench.jms_load` (non-persistent, and
persistent with synchronous sends, which here only wait for the answer). The send rates
are the most a broker built on this door, reactor and interpreter could take from that
client on this machine; `docs/benchmarks.md` sets them beside the throughput aims.

Run as `python -m bench.openwire_floor serve ARGS...` it is that broker (what the
measurement starts).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any


def serve(argv: list[str]) -> int:
    """mqgate with the OpenWire door's message handlers replaced by `_answer_only`."""
    from broker.cli import main as broker_main
    from broker.protocols.openwire import protocol, schema

    def _answer_only(door: Any, command: Any) -> None:
        if command["response_required"]:
            door.respond(command)

    for code in schema.MESSAGE_TYPES:
        protocol._HANDLERS[code] = _answer_only
    return broker_main(argv)


def send_rate(classpath: str, port: int, mode: str, count: int, size: int) -> float:
    """The client's send rate: its consumer then finds nothing and gives up after 10 s."""
    done = subprocess.run(["java", "-cp", classpath, "JmsScenarios", f"tcp://127.0.0.1:{port}",
                           "throughput", f"bench.floor.{uuid.uuid4().hex[:8]}", str(count), str(size), mode],
                          capture_output=True, text=True, timeout=300)
    out = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    if "send_rate" not in out:
        raise RuntimeError(f"{mode} run failed: {done.stdout[-500:]} {done.stderr[-500:]}")
    return float(out["send_rate"])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        return serve(argv)
    from . import jms_load, peers

    parser = argparse.ArgumentParser(prog="python -m bench.openwire_floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200_000, help="non-persistent messages a run (default 200000)")
    parser.add_argument("--sync-count", type=int, default=8000, help="synchronous sends a run (default 8000)")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2, help="runs per mode, the best kept")
    args = parser.parse_args(argv)
    peer = peers.Mqgate(module="bench.openwire_floor")
    ok, why = peer.available()
    if not ok:
        print(f"mqgate unavailable: {why}")
        return 1
    classpath = jms_load.compile_program(Path(tempfile.mkdtemp(prefix="jms-floor-")))
    endpoint = peer.start()
    try:
        for mode, count in (("nonpersistent", args.count), ("sync", args.sync_count)):
            best = max(send_rate(classpath, endpoint.openwire_port, mode, count, args.size)
                       for _ in range(args.repeat))
            print(f"floor {mode:14} send {best:>9,.0f} msg/s ({1e6 / best:.1f} µs a message)", flush=True)
    finally:
        peer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
