"""Brokers with limits, as the producer-flow-control, backlog and full-store tests use them:
ActiveMQ-style destination policies (producer flow control, sendFailIfNoSpace), a broker
killed when its test ends, and a connected STOMP client."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from tests.conftest import BrokerProcess
from tests.integration.stomp_client import RawStomp

#: `flow.>` queues hold senders at 3 messages; `fail.>` queues refuse sends past 2.
FLOW_POLICIES = """
[[policy]]
queue = "flow.>"
max_messages = 3

[[policy]]
queue = "fail.>"
max_messages = 2
send_fail_if_no_space = true
"""


def config_flags(workdir: Path, config: str) -> list[str]:
    """The `serve` flags that load `config` (TOML) from a file written in `workdir`."""
    path = workdir / "mqgate.toml"
    path.write_text(config)
    return ["--config", str(path)]


@contextlib.contextmanager
def running(store_url: str, workdir: Path, extra: list[str]) -> Iterator[BrokerProcess]:
    """A real broker on `store_url` with `extra` flags, killed when the block ends."""
    proc = BrokerProcess(store_url, workdir, extra=extra).start()
    try:
        yield proc
    finally:
        proc.kill()


def stomp(port: int) -> RawStomp:
    """A STOMP 1.2 client connected to the broker's STOMP `port`."""
    client = RawStomp(port)
    client.connect("1.2")
    return client
