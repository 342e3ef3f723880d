"""The broker on another event loop (`--reactor uvloop`, `--reactor asyncio`): STOMP
clients see the same broker, persistent receipts wait for the store's writer thread
as on the default reactor, and an unknown reactor is refused at start."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, BrokerProcess, unique
from tests.integration.stomp_client import connect

REACTORS = ["asyncio", "uvloop"]


@pytest.mark.parametrize("reactor", REACTORS)
def test_queue_and_topic_traffic_on_another_reactor(reactor: str, store_url: str, tmp_path: Path):
    proc = BrokerProcess(store_url, tmp_path, extra=["--reactor", reactor]).start()
    try:
        port = proc.stomp_port
        topic, queue = "/topic/" + unique(), "/queue/" + unique()
        subscribers = [connect(port) for _ in range(2)]
        producer = connect(port)
        try:
            for i, s in enumerate(subscribers):
                s.subscribe_sync(topic, f"t{i}")
            subscribers[0].subscribe_sync(queue, "q", ack="client-individual")
            for i in range(3):
                producer.send(topic, f"t{i}")
                producer.send_sync(queue, f"q{i}", persistent="true")   # receipt after the commit
            by_destination: dict[str, list[str]] = {}
            for m in subscribers[0].listener.take(6, 10):
                by_destination.setdefault(m.headers["destination"], []).append(m.body)
                if m.headers["destination"] == queue:
                    subscribers[0].ack(m.headers["ack"])
            assert by_destination == {topic: ["t0", "t1", "t2"], queue: ["q0", "q1", "q2"]}
            assert [m.body for m in subscribers[1].exactly(3)] == ["t0", "t1", "t2"]
        finally:
            for c in (*subscribers, producer):
                c.close()
    finally:
        proc.kill()


def test_unknown_reactor_is_refused(tmp_path: Path):
    out = subprocess.run([sys.executable, "-m", "broker", "serve", "--reactor", "select",
                          "--store", f"sqlite:///{tmp_path}/db.sqlite"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "--reactor" in out.stderr and "uvloop" in out.stderr
