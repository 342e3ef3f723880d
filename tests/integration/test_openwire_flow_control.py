"""ActiveMQ's producer flow control for the Java JMS client: a producer sending to a full
queue blocks (sync sends, and async sends with a producer window) until a consumer makes
room, then finishes with nothing lost; with sendFailIfNoSpace its send throws ActiveMQ's
ResourceAllocationException and the connection keeps working."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import BrokerProcess, broker_on, unique
from tests.integration.jms import JmsPrograms
from tests.integration.limits_support import FLOW_POLICIES, config_flags

COUNT = 8


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def limited_broker(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    workdir = tmp_path_factory.mktemp("flow")
    with broker_on(request.param, Path(workdir), extra=config_flags(Path(workdir), FLOW_POLICIES)) as proc:
        yield proc


def url(broker: BrokerProcess) -> str:
    return f"tcp://127.0.0.1:{broker.openwire_port}"


@pytest.mark.parametrize("mode", ["sync", "windowed"])
def test_a_producer_blocks_at_a_full_queue_until_a_consumer_drains_it(limited_broker: BrokerProcess,
                                                                      jms: JmsPrograms, mode: str) -> None:
    out = jms.run(url(limited_broker), mode, "flow." + unique(), str(COUNT), program="PolicyScenarios")
    assert out["sender_waiting"] == "true"
    if mode == "sync":
        assert out["sent_while_full"] == "3"
    else:
        # The window (2048 bytes, ~1 KiB a message) lets a few more leave before it blocks.
        assert 3 <= int(out["sent_while_full"]) < COUNT
    assert out["sent"] == str(COUNT)
    assert out["failed"] == "null"
    assert out["received"] == ",".join(f"m{i}" for i in range(COUNT))
    assert out["left"] == "null"


def test_send_fail_if_no_space_throws_resource_allocation_exception(limited_broker: BrokerProcess,
                                                                    jms: JmsPrograms) -> None:
    name = "fail." + unique()
    out = jms.run(url(limited_broker), "fail", name, "0", program="PolicyScenarios")
    assert out["refused"] == (f"javax.jms.ResourceAllocationException: Usage Manager Memory Limit reached on "
                              f"queue://{name}. See http://activemq.apache.org/producer-flow-control.html "
                              "for more info")
    assert out["async_refused"] == "javax.jms.ResourceAllocationException"
    assert (out["first"], out["second"], out["after"], out["left"]) == ("text:m0", "text:m1", "text:m3", "null")
