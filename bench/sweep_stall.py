"""How long a retention or JMS expiry sweep of a deep backlog holds up every other commit.

    python -m bench.sweep_stall [--messages N] [--scenario NAME] [--store URL --scenario NAME]

Fills queue 1 of a fresh store (a temporary SQLite file unless --store names an empty
database, e.g. a PostgreSQL schema of its own) with N rows sent over time (ten a
millisecond), then, while a probe commits one small write after another on
queue 2 (as SendMessage and STOMP receipts do), asks the store for retention sweeps as
the engine does (a window of 1,000 rows in memory, up to 5,000 rows a sweep) and prints,
per scenario, the longest and the 99th percentile wait of a probe commit, and the time
the sweeps took:

- young: nothing's retention ended (a queue's first sweep: before, a read of the whole
  backlog to find nothing, then another for its oldest row);
- old: every row's retention ended (sweeps back to back until the queue is empty);
- buried: only the last 5,000 rows (messages moved back with their age) are past it;
- expired: every row's JMS expiry passed: the engine's expiry sweeps (5,000 rows each, the
  engine's move of each row to the dead-letter queue, queue 3) until the queue is empty.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from typing import Any

from twisted.internet import defer, reactor, task

from functools import partial

from broker.engine.dead_letters import ExpiryMove
from broker.engine.message import Message
from broker.engine.queue import _dead_letter_row
from broker.store.store import Store

WINDOW = 1000
SWEEP = 5000
CHUNK = 5000
SCENARIOS = ("young", "old", "buried", "expired")


def _row(seq: int, dest_id: int, timestamp: int, expires: int = 0) -> dict[str, Any]:
    message = Message(message_id=f"ID:{seq}", body=b"x" * 100, persistent=True,
                      timestamp=timestamp, expires=expires, seq=seq)
    return message.to_row(dest_id)


@defer.inlineCallbacks
def _fill(store: Store, count: int, timestamp: Any, ttl: int) -> Any:
    for low in range(1, count + 1, CHUNK):
        for seq in range(low, min(count, low + CHUNK - 1) + 1):
            store.insert(_row(seq, 1, timestamp(seq), timestamp(seq) + ttl if ttl else 0))
        yield store.committed()


@defer.inlineCallbacks
def _probe(store: Store, stop: list[bool], waits: list[tuple[float, float]]) -> Any:
    """One small commit after another on queue 2, each as soon as the last is durable."""
    seq = 10**9
    while not stop[0]:
        seq += 1
        store.insert(_row(seq, 2, 0))
        began = time.perf_counter()
        yield store.committed()
        waits.append((began, time.perf_counter() - began))
        store.delete(seq)
        yield task.deferLater(reactor, 0.001, lambda: None)


@defer.inlineCallbacks
def _scenario(url: str, count: int, name: str) -> Any:
    store = Store(url, reactor)
    yield store.open()
    store.put_destination({"id": 1, "kind": "queue", "name": "deep", "created_at": 0, "attrs": {}})
    store.put_destination({"id": 2, "kind": "queue", "name": "probe", "created_at": 0, "attrs": {}})
    store.put_destination({"id": 3, "kind": "queue", "name": "ActiveMQ.DLQ", "created_at": 0, "attrs": {}})
    now, retention = 10**10, 60_000
    old, young = now - 2 * retention, now - retention // 2
    # A backlog sent over time, ten messages a millisecond (as batches of ten arrive).
    stamp = {"young": lambda s: young - (count - s) // 10, "old": lambda s: old - (count - s) // 10,
             "buried": lambda s: old + s // 10 if s > count - SWEEP else young - (count - s) // 10,
             "expired": lambda s: old - (count - s) // 10}[name]
    # "expired": sent with a time to live of a minute, all past it.
    yield _fill(store, count, stamp, retention if name == "expired" else 0)
    stop, waits = [False], []
    probe = _probe(store, stop, waits)
    yield task.deferLater(reactor, 0.3, lambda: None)
    quiet = max(w for _, w in waits)
    began = time.perf_counter()
    deleted, sweeps = 0, 0
    while True:
        if name == "expired":
            rewrite = partial(_dead_letter_row, "deep", 3, ExpiryMove("ActiveMQ.DLQ", False, False),
                              10**8 + deleted)
            gone = len((yield store.expire_dead(1, (-4, WINDOW), now, now, SWEEP, rewrite)))
        else:
            gone = yield store.expire(1, (-4, WINDOW), now - retention, now, SWEEP)
        deleted, sweeps = deleted + gone, sweeps + 1
        if gone < SWEEP:
            break
    took = time.perf_counter() - began
    stop[0] = True
    yield probe
    yield store.close()
    during = sorted(w for at, w in waits if at + w >= began)
    return {"scenario": name, "rows": count, "deleted": deleted, "sweeps": sweeps,
            "sweep_s": round(took, 3), "quiet_max_ms": round(quiet * 1000, 1),
            "stall_max_ms": round(during[-1] * 1000, 1),
            "stall_p99_ms": round(during[int(len(during) * 0.99)] * 1000, 1)}


@defer.inlineCallbacks
def _main(args: argparse.Namespace) -> Any:
    results = []
    for name in args.scenario or SCENARIOS:
        url = args.store or f"sqlite:///{tempfile.mkdtemp(prefix='sweep-')}/mqgate.db"
        results.append((yield _scenario(url, args.messages, name)))
    print(json.dumps(results, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="an empty database for one --scenario (default: a "
                                        "temporary SQLite file per scenario)")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    if args.store and len(args.scenario or SCENARIOS) != 1:
        parser.error("--store takes one --scenario")
    done: list[Any] = []
    reactor.callWhenRunning(lambda: _main(args).addBoth(done.append).addBoth(lambda _: reactor.stop()))
    reactor.run()
    if done and hasattr(done[0], "raiseException"):
        done[0].raiseException()


if __name__ == "__main__":
    main()
