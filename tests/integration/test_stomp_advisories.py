"""ActiveMQ's advisory topics for STOMP clients: a subscriber to a destination's consumer
advisories sees consumers come and go with `consumerCount`, and a subscriber to
`ActiveMQ.Advisory.Queue` is first told which queues exist; a message that expires is
advised on `ActiveMQ.Advisory.Expired.Queue.<name>` and, moved to the DLQ, on
`ActiveMQ.Advisory.MessageDLQd.Queue.<name>`."""
from __future__ import annotations

import json
import time

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


def test_expired_and_dlqd_advisories(shared_broker: BrokerProcess) -> None:
    name = unique("adv")
    with RawStomp(shared_broker.stomp_port) as watcher, RawStomp(shared_broker.stomp_port) as other:
        watcher.connect("1.2")
        other.connect("1.2")
        watcher.roundtrip("SUBSCRIBE", {"destination": f"/topic/ActiveMQ.Advisory.Expired.Queue.{name}", "id": "e"})
        watcher.roundtrip("SUBSCRIBE", {"destination": f"/topic/ActiveMQ.Advisory.MessageDLQd.Queue.{name}",
                                        "id": "d"})
        assert other.roundtrip("SEND", {"destination": f"/queue/{name}", "persistent": "true", "tag": "x",
                                        "expires": str(int(time.time() * 1000) + 300)}, "soon gone").command == "RECEIPT"
        time.sleep(0.5)
        other.roundtrip("SUBSCRIBE", {"destination": f"/queue/{name}", "id": "1"})
        got = {f.headers["subscription"]: f for f in (watcher.expect("MESSAGE"), watcher.expect("MESSAGE"))}
        expired, dlqd = got["e"], got["d"]
        assert expired.headers["type"] == "Advisory" and expired.body == b""
        assert expired.headers["advisory-destination"] == f"queue://{name}"
        about = json.loads(expired.headers["advisory-message"])
        assert about["message_id"] == expired.headers["orignalMessageId"]
        assert json.loads(about["attrs"])["p"] == {"tag": "x"}
        assert dlqd.headers["advisory-destination"] == f"queue://{name}" and "orignalMessageId" not in dlqd.headers
        other.nothing(0.3)
