"""The store's writer thread, in process: its CPU per message row written.

    python -m bench.store_writer [--store URL] [--rounds N] [--batch N] [--size BYTES]
                                 [--runs N] [--callgrind]

Persistent throughput puts the reactor thread and the store's writer thread on the same
cores under one GIL, so every microsecond of Python the writer spends per row is one the
reactor waits for. Wall-clock rates on a shared machine hide that; this bench drives a real
Store (a temp SQLite file, or `--store postgresql://...` in a schema of its own) the way the
engine does, through Store.insert/update/delete and `committed()` on a real reactor, and
times only the writer thread's transactions (time.thread_time inside it), per phase:

- insert: `--batch` rows of `--size` bytes (Message.to_row) per commit;
- lease: the same rows taking a lease, groups of 10 with the same values, one commit;
- delete: their acks, one commit.

(`--inserts-only` leaves out the last two.)

It prints one JSON document: the best of `--runs` of writer CPU µs per row for each phase.
`--callgrind` instead runs itself twice under valgrind (rounds N and 2N) and prints the
writer thread's instructions per row of all phases together (of inserts alone with
`--inserts-only`): the difference of the two runs divided by the rows between them
(start-up cancels out), which a busy machine moves not at all.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from twisted.internet import defer, reactor

PHASES = ("insert", "lease", "delete")
LEASE_GROUP = 10


def _rows(first: int, count: int, size: int) -> list[dict[str, Any]]:
    from broker.engine.message import Message

    body = b"x" * size
    return [Message(message_id=f"ID:bench-{seq}", body=body, persistent=True, timestamp=1000 + seq,
                    headers={"content-type": "text/plain"}, seq=seq).to_row(1)
            for seq in range(first, first + count)]


def _timed(store: Any, spent: dict[str, float], phase: list[str]) -> None:
    """Wrap the writer's transaction so its thread CPU counts for the current phase."""
    write = store._write_blocking

    def timed(batch: Any) -> None:
        start = time.thread_time()
        try:
            write(batch)
        finally:
            spent[phase[0]] += time.thread_time() - start
    store._write_blocking = timed


@defer.inlineCallbacks
def _drive(url: str, rounds: int, batch: int, size: int, inserts_only: bool) -> Any:
    from broker.store.store import Store

    store = Store(url, reactor)
    yield store.open()
    store.put_destination({"id": 1, "kind": "queue", "name": "bench", "created_at": 0, "attrs": {}})
    yield store.committed()
    spent = dict.fromkeys(PHASES, 0.0)
    phase = ["insert"]
    _timed(store, spent, phase)
    seq = 1
    for _ in range(rounds):
        rows = _rows(seq, batch, size)
        seq += batch
        phase[0] = "insert"
        for row in rows:
            store.insert(row)
        yield store.committed()
        if inserts_only:
            continue
        phase[0] = "lease"
        for i, row in enumerate(rows):
            group = i // LEASE_GROUP
            store.update(row["seq"], {"delivery_count": 1, "visible_at": 5000 + group,
                                      "first_delivery": 2000 + group, "last_delivery": 2000 + group})
        yield store.committed()
        phase[0] = "delete"
        for row in rows:
            store.delete(row["seq"])
        yield store.committed()
    yield store.close()
    return {p: spent[p] / (rounds * batch) * 1e6 for p in PHASES}


def _run_all(args: argparse.Namespace, tmp: str) -> list[dict[str, float]]:
    """Every run on one reactor (which runs once per process), each on a fresh database."""
    results: list[dict[str, float]] = []
    failure: list[Any] = []

    @defer.inlineCallbacks
    def runs() -> Any:
        for n in range(args.runs):
            url, created = _one_store(args.store, tmp, n)
            try:
                results.append((yield _drive(url, args.rounds, args.batch, args.size, args.inserts_only)))
            finally:
                _drop(created)

    def go() -> None:
        d = runs()
        d.addErrback(failure.append)
        d.addBoth(lambda _: reactor.stop())
    reactor.callWhenRunning(go)
    reactor.run()
    if failure:
        failure[0].raiseException()
    return results


def _one_store(store: str | None, tmp: str, n: int) -> tuple[str, Any]:
    """A fresh database: a SQLite file in `tmp`, or a new schema of the given PostgreSQL."""
    if store is None:
        return f"sqlite:///{tmp}/bench-{n}.db", None
    import psycopg

    schema = f"bench_{os.getpid()}_{n}"
    admin = store.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in store else "?"
    return f"{store}{sep}options=-csearch_path%3D{schema}", (admin, schema)


def _drop(created: Any) -> None:
    if created is not None:
        import psycopg

        admin, schema = created
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _callgrind(args: argparse.Namespace) -> dict[str, Any]:
    """Writer-thread instructions per row: runs of `rounds` and 2 x `rounds`, differenced."""
    totals = []
    with tempfile.TemporaryDirectory() as tmp:
        for rounds in (args.rounds, 2 * args.rounds):
            out = f"{tmp}/cg-{rounds}"
            cmd = ["valgrind", "--tool=callgrind", "--separate-threads=yes", f"--callgrind-out-file={out}.%p",
                   sys.executable, "-m", "bench.store_writer", "--rounds", str(rounds), "--batch",
                   str(args.batch), "--size", str(args.size), "--runs", "1"]
            if args.inserts_only:
                cmd.append("--inserts-only")
            if args.store:
                cmd += ["--store", args.store]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            totals.append(_writer_instructions(glob.glob(f"{out}.*")))
    rows = args.rounds * args.batch
    key = "insert" if args.inserts_only else "insert+lease+delete"
    return {"writer_instructions_per_row": {key: round((totals[1] - totals[0]) / rows)},
            "store": args.store or "sqlite", "batch": args.batch, "size": args.size}


def _writer_instructions(files: list[str]) -> int:
    """Instructions of the writer thread (the first one the process starts: the store's
    open runs on it), from callgrind's per-thread files."""
    for path in files:
        if path.endswith("-02"):
            with open(path) as f:
                for line in f:
                    if line.startswith("summary:") or line.startswith("totals:"):
                        return int(line.split()[1])
    raise RuntimeError(f"no writer thread in {files}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="postgresql://... (default: a temp SQLite file)")
    parser.add_argument("--rounds", type=int, default=200, help="batches per run (default 200)")
    parser.add_argument("--batch", type=int, default=64, help="messages per commit (default 64)")
    parser.add_argument("--size", type=int, default=1024, help="body bytes (default 1024)")
    parser.add_argument("--runs", type=int, default=5, help="runs, the best kept (default 5)")
    parser.add_argument("--inserts-only", action="store_true", help="no leases nor deletes (rows stay)")
    parser.add_argument("--callgrind", action="store_true", help="instructions per row under callgrind")
    args = parser.parse_args()
    if args.callgrind:
        print(json.dumps(_callgrind(args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        results = _run_all(args, tmp)
    best = {p: min(r[p] for r in results) for p in (("insert",) if args.inserts_only else PHASES)}
    print(json.dumps({"writer_cpu_us_per_row": {p: round(v, 2) for p, v in best.items()},
                      "store": args.store or "sqlite", "batch": args.batch, "size": args.size}))


if __name__ == "__main__":
    main()
