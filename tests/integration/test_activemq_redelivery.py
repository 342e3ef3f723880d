"""ActiveMQ's broker redelivery policy from the config file: a given-up message (STOMP NACK)
comes back after the policy's delays with `redeliveryDelay` and `scheduledJobId`, and goes
to the DLQ after `maximum_redeliveries`; destinations without a policy dead-letter at once.
With an individual dead-letter prefix, each destination has a DLQ of its own."""
from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import BrokerProcess, unique
from tests.integration.stomp_client import RawStomp

CONFIG = """
individual_dead_letter_prefix = "DLQ."

[redelivery."redeliver.>"]
maximum_redeliveries = 2
initial_redelivery_delay = 300
use_exponential_back_off = true
back_off_multiplier = 2.0
"""


def test_redelivery_policy_delays_then_dead_letters(store_url: str, tmp_path: Path) -> None:
    config = tmp_path / "mqgate.toml"
    config.write_text(CONFIG)
    broker = BrokerProcess(store_url, tmp_path, extra=["--config", str(config)]).start()
    try:
        q_name, plain_name = "redeliver." + unique(), unique()
        q, plain = "/queue/" + q_name, "/queue/" + plain_name
        with RawStomp(broker.stomp_port) as c:
            c.connect("1.2")
            for d in (q, plain):
                c.send("SEND", {"destination": d, "persistent": "true", "receipt": "s"}, b"poison")
                c.expect("RECEIPT")
            c.send("SUBSCRIBE", {"destination": q, "id": "1", "ack": "client-individual"})
            waits = []
            first = c.expect("MESSAGE")
            last = time.monotonic()
            c.send("NACK", {"id": first.headers["ack"]})
            for _ in range(2):
                again = c.expect("MESSAGE")
                waits.append(time.monotonic() - last)
                last = time.monotonic()
                assert again.headers["redelivered"] == "true"
                assert "scheduledJobId" in again.headers
                c.send("NACK", {"id": again.headers["ack"]})
            # Redelivery 1 after 300 ms, redelivery 2 after 600 ms (back-off x2).
            assert waits[0] >= 0.25 and waits[1] >= 0.5
            assert [again.headers["redeliveryDelay"]] == ["600"]
            c.nothing(0.8)                          # maximum reached: to the DLQ, not back
            c.send("SUBSCRIBE", {"destination": plain, "id": "2", "ack": "client-individual"})
            m = c.expect("MESSAGE")
            c.send("NACK", {"id": m.headers["ack"]})   # no policy: straight to the DLQ
            # Each queue's dead letters in a DLQ of its own.
            for i, (name, dest) in enumerate(((q_name, q), (plain_name, plain))):
                c.send("SUBSCRIBE", {"destination": f"/queue/DLQ.{name}", "id": f"d{i}"})
                dead = c.expect("MESSAGE")
                assert dead.body == b"poison" and dead.headers["original-destination"] == dest
            c.nothing()
    finally:
        broker.kill()

