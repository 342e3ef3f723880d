"""Per-destination dead-letter strategies from the config file, as ActiveMQ's policyEntry
deadLetterStrategy: a STOMP NACK and a JMS poison ack send the message to the DLQ its
destination's policy names, non-persistent ones too when the policy keeps them; other
destinations keep the shared ActiveMQ.DLQ, which drops non-persistent messages."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import BrokerProcess, broker_on, unique
from tests.integration.jms import JmsPrograms
from tests.integration.stomp_client import RawStomp

POLICIES = """
[[policy]]
queue = "kept.>"
[policy.dead_letter]
strategy = "individual"
queue_suffix = ".dead"
process_non_persistent = true
"""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def dlq_broker(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    workdir = tmp_path_factory.mktemp("dlq")
    config = workdir / "mqgate.toml"
    config.write_text(POLICIES)
    with broker_on(request.param, Path(workdir), extra=["--config", str(config)]) as proc:
        yield proc


def nack_both(client: RawStomp, queue: str) -> None:
    for persistent in ("true", "false"):
        client.send("SEND", {"destination": queue, "persistent": persistent, "receipt": "s"}, f"p={persistent}")
        client.expect("RECEIPT")
    client.send("SUBSCRIBE", {"destination": queue, "id": queue, "ack": "client-individual"})
    for _ in range(2):
        client.send("NACK", {"id": client.expect("MESSAGE").headers["ack"]})
    client.roundtrip("UNSUBSCRIBE", {"id": queue})


def test_a_stomp_nack_goes_to_the_dlq_its_policy_names(dlq_broker: BrokerProcess) -> None:
    kept, plain = "kept." + unique(), "plain." + unique()
    with RawStomp(dlq_broker.stomp_port) as c:
        c.connect("1.2")
        nack_both(c, "/queue/" + kept)
        nack_both(c, "/queue/" + plain)
        c.send("SUBSCRIBE", {"destination": f"/queue/ActiveMQ.DLQ.Queue.{kept}.dead", "id": "d", "ack": "auto"})
        dead = [c.expect("MESSAGE") for _ in range(2)]
        assert [m.body for m in dead] == [b"p=true", b"p=false"]
        assert [m.headers.get("persistent") for m in dead] == ["true", "true"]
        assert [m.headers.get("originalDeliveryMode") for m in dead] == [None, "NON_PERSISTENT"]
        assert {m.headers["original-destination"] for m in dead} == {f"/queue/{kept}"}
        # The shared DLQ keeps only the persistent one of the queue without a policy.
        c.send("SUBSCRIBE", {"destination": "/queue/ActiveMQ.DLQ", "id": "shared", "ack": "auto"})
        shared = c.expect("MESSAGE")
        assert (shared.body, shared.headers["original-destination"]) == (b"p=true", f"/queue/{plain}")
        c.nothing(wait=0.5)


def test_a_jms_poison_ack_goes_to_the_dlq_its_policy_names(dlq_broker: BrokerProcess, jms: JmsPrograms) -> None:
    name = "kept." + unique()
    out = jms.run(f"tcp://127.0.0.1:{dlq_broker.openwire_port}", "dead", name,
                  f"ActiveMQ.DLQ.Queue.{name}.dead", program="PolicyScenarios")
    assert (out["got0"], out["got1"], out["left"]) == ("text:persistent", "text:non-persistent", "null")
    assert (out["dead0"], out["mode0"], out["cause0"]) == ("text:persistent", "2,null", "true")
    assert (out["dead1"], out["mode1"], out["cause1"]) == ("text:non-persistent", "2,NON_PERSISTENT", "true")
