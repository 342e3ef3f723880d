"""Deep-backlog scenarios: memory with a backlog, restart time, drain and fill rates, and
bytes written per publication to a topic with durable subscribers.

    python -m bench.backlog [--quick] [--target mqgate|activemq] [--store URL]
                            [--messages N] [--size BYTES] [--write]

Starts its own `mqgate serve` on loopback ephemeral ports (a fresh SQLite file unless
--store is given), or the ActiveMQ of bench.peers, talks raw STOMP to it and prints one
JSON document of figures (--write adds them to docs/benchmarks.md):

- fill_msgs_per_s: persistent sends (one receipt at the end) into one queue;
- rss_mb_full: the broker's resident memory with the whole backlog queued;
- restart_to_first_message_s: from starting the process again (after a clean stop) to
  the first MESSAGE frame;
- rss_mb_after_restart: resident memory once restarted with the backlog;
- drain_msgs_per_s: an auto-ack subscriber emptying the deep queue;
- drain_cpu_us_per_msg: the broker's CPU time (all its threads) per message of that drain,
  which a machine shared with other work moves far less than the rate;
- topic_bytes_per_publication: growth of the database per publication to a topic with
  ten offline durable subscribers (mqgate only: KahaDB preallocates its journal files).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


class Stomp:
    """A minimal STOMP 1.2 client: frames out, frames in, nothing else."""

    def __init__(self, port: int, client_id: str | None = None) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=60)
        self.buf = b""
        headers = {"accept-version": "1.2", "host": "localhost"}
        if client_id:
            headers["client-id"] = client_id
        self.send("CONNECT", headers)
        assert self.frame()[0] == "CONNECTED"

    def send(self, command: str, headers: dict[str, str], body: bytes = b"") -> None:
        self.sock.sendall(self.encode(command, headers, body))

    @staticmethod
    def encode(command: str, headers: dict[str, str], body: bytes = b"") -> bytes:
        head = "".join(f"{k}:{v}\n" for k, v in headers.items())
        return f"{command}\n{head}content-length:{len(body)}\n\n".encode() + body + b"\0"

    def frame(self) -> tuple[str, dict[str, str], bytes]:
        while True:
            end = self.buf.find(b"\n\n")
            if end >= 0:
                head = self.buf[:end].decode().lstrip("\n").split("\n")
                headers = dict(line.split(":", 1) for line in head[1:] if ":" in line)
                length = int(headers.get("content-length", "-1"))
                start = end + 2
                stop = start + length if length >= 0 else self.buf.find(b"\0", start)
                if stop >= 0 and len(self.buf) > stop:
                    body, self.buf = self.buf[start:stop], self.buf[stop + 1:]
                    return head[0], headers, body
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("broker closed the connection")
            self.buf += chunk

    def close(self) -> None:
        self.sock.close()


class Broker:
    def __init__(self, store: str, workdir: Path, extra: list[str]) -> None:
        self.store, self.workdir, self.extra = store, workdir, extra
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> float:
        """Start and wait for the STOMP port; returns the seconds it took."""
        ports = self.workdir / "ports.json"
        ports.unlink(missing_ok=True)
        log = open(self.workdir / "broker.log", "ab")
        began = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "broker", "serve", "--bind", HOST, "--stomp-port", "0",
             "--aws-port", "-1", "--store", self.store, "--ports-file", str(ports),
             "--log-level", "warning", *self.extra], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        deadline = began + 300
        while time.monotonic() < deadline:
            if ports.exists() and ports.stat().st_size:
                self.port = json.loads(ports.read_text())["stomp"]
                return time.monotonic() - began
            if self.proc.poll() is not None:
                raise RuntimeError("broker exited; see " + str(self.workdir / "broker.log"))
            time.sleep(0.01)
        raise RuntimeError("broker did not start in time")

    def rss_mb(self) -> float:
        assert self.proc is not None
        return rss_of(self.proc.pid)

    def cpu_s(self) -> float:
        assert self.proc is not None
        return cpu_of(self.proc.pid)

    def halt(self) -> None:
        self.stop()

    def resume(self) -> None:
        self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def fill(port: int, destination: str, count: int, size: int, batch: int = 500) -> float:
    """Send `count` persistent messages; returns messages per second (receipted)."""
    client = Stomp(port)
    body = os.urandom(size // 2).hex().encode()[:size]
    frame = Stomp.encode("SEND", {"destination": destination, "persistent": "true"}, body)
    began = time.monotonic()
    sent = 0
    while sent < count:
        n = min(batch, count - sent)
        client.sock.sendall(frame * (n - 1))
        client.send("SEND", {"destination": destination, "persistent": "true", "receipt": str(sent)}, body)
        while client.frame()[0] != "RECEIPT":
            pass
        sent += n
    took = time.monotonic() - began
    client.close()
    return count / took


def first_message(port: int, destination: str) -> Stomp:
    client = Stomp(port)
    client.send("SUBSCRIBE", {"destination": destination, "id": "1", "ack": "auto",
                              "activemq.prefetchSize": "1000"})
    assert client.frame()[0] == "MESSAGE"
    return client


def drain(client: Stomp, count: int) -> float:
    began = time.monotonic()
    for _ in range(count):
        command = client.frame()[0]
        assert command == "MESSAGE", command
    return count / (time.monotonic() - began)


def database_bytes(store: str) -> int:
    """Bytes of the SQLite database in use (pages not on the free list, WAL included)."""
    import sqlite3

    with sqlite3.connect(store.split("///", 1)[1]) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    return (pages - free) * size


def topic_bytes(port: int, store: str, publications: int, size: int) -> float | None:
    if not store.startswith("sqlite"):
        return None
    for i in range(10):
        sub = Stomp(port, client_id=f"bench-sub-{i}")
        sub.send("SUBSCRIBE", {"destination": "/topic/bench.backlog", "id": "d", "ack": "client",
                               "activemq.subscriptionName": "s", "receipt": "r"})
        while sub.frame()[0] != "RECEIPT":
            pass
        sub.close()
    before = database_bytes(store)
    fill(port, "/topic/bench.backlog", publications, size)
    return (database_bytes(store) - before) / publications


class ActiveMQTarget:
    """The ActiveMQ peer of bench.peers (KahaDB), restarted on its own data."""

    def __init__(self) -> None:
        from .peers import ActiveMQ

        self.peer = ActiveMQ()
        self.port = 0
        self.pid = 0

    def start(self) -> None:
        self._use(self.peer.start())

    def halt(self) -> None:
        self.peer.halt()

    def resume(self) -> None:
        self._use(self.peer.resume())

    def _use(self, endpoint) -> None:  # type: ignore[no-untyped-def]
        self.port, self.pid = endpoint.stomp_port, endpoint.pids[0]

    def rss_mb(self) -> float:
        return rss_of(self.pid)

    def cpu_s(self) -> float:
        return cpu_of(self.pid)

    def stop(self) -> None:
        self.peer.stop()


def cpu_of(pid: int) -> float:
    """User and system CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_of(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(args: argparse.Namespace) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="mqgate-backlog-"))
    store = args.store or f"sqlite:///{workdir}/mqgate.db"
    out: dict[str, object] = {"target": args.target, "messages": args.messages, "size": args.size,
                              "in_memory": args.memory_limit == "0", "load": round(os.getloadavg()[0], 2)}
    if args.target == "activemq":
        target: Broker | ActiveMQTarget = ActiveMQTarget()
    else:
        extra = ["--memory-limit", args.memory_limit] if args.memory_limit else []
        extra += ["--queue-window", args.queue_window] if args.queue_window else []
        target = Broker(store, workdir, extra)
        out["store"] = store.split(":")[0]
    target.start()
    try:
        if isinstance(target, Broker):
            # On the fresh database first, so its growth is the publications' alone.
            out["topic_bytes_per_publication"] = topic_bytes(target.port, store, args.publications, args.size)
        out["fill_msgs_per_s"] = round(fill(target.port, "/queue/bench.backlog", args.messages, args.size))
        out["rss_mb_full"] = round(target.rss_mb(), 1)
        target.halt()                   # a clean stop; the time it takes is not counted
        began = time.monotonic()
        target.resume()
        client = first_message(target.port, "/queue/bench.backlog")
        out["restart_to_first_message_s"] = round(time.monotonic() - began, 3)
        out["rss_mb_after_restart"] = round(target.rss_mb(), 1)
        cpu = target.cpu_s()
        out["drain_msgs_per_s"] = round(drain(client, args.messages - 1))
        out["drain_cpu_us_per_msg"] = round((target.cpu_s() - cpu) * 1e6 / (args.messages - 1), 1)
        out["rss_mb_drained"] = round(target.rss_mb(), 1)
        client.close()
    finally:
        target.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small backlog (20k x 1 KiB), for a smoke run")
    parser.add_argument("--messages", type=int, default=300_000, help="backlog depth (default 300000)")
    parser.add_argument("--size", type=int, default=4096, help="body bytes (default 4096)")
    parser.add_argument("--publications", type=int, default=2000, help="topic publications (default 2000)")
    parser.add_argument("--store", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--memory-limit", help="passed to mqgate serve --memory-limit")
    parser.add_argument("--queue-window", help="passed to mqgate serve --queue-window")
    parser.add_argument("--write", action="store_true", help="add the figures to docs/benchmarks.md")
    parser.add_argument("--target", choices=("mqgate", "activemq"), default="mqgate",
                        help="the broker measured (activemq: the bench.peers ActiveMQ, KahaDB)")
    args = parser.parse_args(argv)
    if args.quick:
        args.messages, args.size, args.publications = 20_000, 1024, 500
    lock = None
    if args.target == "activemq":
        from .peers import RunLock

        lock = RunLock()
        if not lock.acquire():
            print(f"a benchmark run is in progress ({RunLock.holder()}): try again later")
            return 1
    try:
        figures = run(args)
    finally:
        if lock is not None:
            lock.release()
    print(json.dumps(figures, indent=2))
    if args.write:
        write(figures, argv if argv is not None else sys.argv[1:])
    return 0


def write(figures: dict[str, object], argv: list[str]) -> None:
    from datetime import datetime, timezone

    from . import report
    from .run_all import DEFAULT_OUTPUT

    results = report.load_previous(DEFAULT_OUTPUT)
    variant = ", all in memory" if figures.get("in_memory") else ""
    name = f"{figures['target']}{variant}: {figures['messages']:,} × {figures['size']} B"
    figures = {**figures, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "command": "python -m bench.backlog " + " ".join(argv)}
    results.setdefault("backlog", {}).setdefault("runs", {})[name] = figures
    report.write(DEFAULT_OUTPUT, results)


if __name__ == "__main__":
    sys.exit(main())
