"""ActiveMQ's advisory topics for STOMP clients: a subscriber to a destination's consumer
advisories sees consumers come and go with `consumerCount`, and a subscriber to
`ActiveMQ.Advisory.Queue` is first told which queues exist."""
from __future__ import annotations

from tests.conftest import BrokerProcess, unique
from tests.integration.stomp_client import RawStomp


def test_consumer_and_queue_advisories(shared_broker: BrokerProcess) -> None:
    name = unique("adv")
    with RawStomp(shared_broker.stomp_port) as watcher, RawStomp(shared_broker.stomp_port) as other:
        watcher.connect("1.2")
        other.connect("1.2")
        watcher.roundtrip("SUBSCRIBE", {"destination": f"/topic/ActiveMQ.Advisory.Consumer.Queue.{name}",
                                        "id": "c"})
        other.roundtrip("SUBSCRIBE", {"destination": f"/queue/{name}", "id": "1"})
        added = watcher.expect("MESSAGE")
        assert (added.headers["type"], added.headers["consumerCount"]) == ("Advisory", "1")
        other.roundtrip("UNSUBSCRIBE", {"id": "1"})
        assert watcher.expect("MESSAGE").headers["consumerCount"] == "0"
        watcher.roundtrip("SUBSCRIBE", {"destination": "/topic/ActiveMQ.Advisory.Queue", "id": "q"})
        replayed = set()
        while f"queue://{name}" not in replayed:
            replayed.add(watcher.expect("MESSAGE").headers["advisory-destination"])
