"""A `failover:` JMS client rides over a kill -9 and restart of the broker: it reconnects,
replays its connection, session, producer and consumer with the same ids, and no
persistent message is lost."""
from __future__ import annotations

import socket
import threading
from pathlib import Path

from tests.conftest import BrokerProcess, unique
from tests.integration.jms import JmsPrograms

COUNT = 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_failover_across_kill_and_restart(store_url: str, tmp_path: Path, jms: JmsPrograms) -> None:
    port = free_port()   # the restarted broker must come back where the client looks
    broker = BrokerProcess(store_url, tmp_path, extra=["--openwire-port", str(port)]).start()
    proc = jms.start(f"failover:(tcp://127.0.0.1:{port})", "failover", unique(), str(COUNT))
    # A failover client retries for ever: bound the whole run.
    guard = threading.Timer(90, proc.kill)
    guard.start()
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or lines[-1] not in ("sent=10\n", ""):
            lines.append(proc.stdout.readline())
            assert not lines[-1].startswith("error="), lines[-1]
        broker.restart(hard=True)
        lines += proc.stdout.read().splitlines(keepends=True)
        assert proc.wait(timeout=10) == 0, "".join(lines) + (proc.stderr.read() if proc.stderr else "")
    finally:
        guard.cancel()
        if proc.poll() is None:
            proc.kill()
        broker.kill()
    out = dict(line.strip().split("=", 1) for line in lines if "=" in line)
    assert out["sent"] == str(COUNT - 1)
    assert out["received"] == str(COUNT)
