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


def test_messages_that_expire_on_disk_only_are_advised_too(store_url: str, tmp_path) -> None:
    """A queue keeping 4 messages in memory: the expired ones behind them are moved to the
    DLQ by the database without being read, and still advised, as those in memory are."""
    broker = BrokerProcess(store_url, tmp_path, extra=["--queue-window", "4"]).start()
    name = unique("adv")
    try:
        with RawStomp(broker.stomp_port) as watcher, RawStomp(broker.stomp_port) as other:
            watcher.connect("1.2")
            other.connect("1.2")
            watcher.roundtrip("SUBSCRIBE", {"destination": f"/topic/ActiveMQ.Advisory.Expired.Queue.{name}",
                                            "id": "e"})
            watcher.roundtrip("SUBSCRIBE", {"destination": f"/topic/ActiveMQ.Advisory.MessageDLQd.Queue.{name}",
                                            "id": "d"})
            for i in range(4):
                other.roundtrip("SEND", {"destination": f"/queue/{name}", "persistent": "true"}, "kept")
            expires = str(int(time.time() * 1000) + 300)
            for i in range(10):
                other.roundtrip("SEND", {"destination": f"/queue/{name}", "persistent": "true", "tag": str(i),
                                         "expires": expires}, "soon gone")
            got: dict[str, set[str]] = {"e": set(), "d": set()}
            for _ in range(20):
                frame = watcher.expect("MESSAGE")
                about = json.loads(frame.headers["advisory-message"])
                assert frame.headers["advisory-destination"] == f"queue://{name}"
                got[frame.headers["subscription"]].add(json.loads(about["attrs"])["p"]["tag"])
            assert got == {"e": {str(i) for i in range(10)}, "d": {str(i) for i in range(10)}}
            watcher.nothing(0.3)
    finally:
        broker.kill()
