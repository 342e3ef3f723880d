"""Deep backlogs against a real broker: memory stays bounded while the store holds the
backlog, a restart reads only the head, and senders meet the configured limits as
ActiveMQ's producer flow control and sendFailIfNoSpace (and AWS's throttling) do."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.conftest import BrokerProcess, unique
from tests.integration.sqs_clients import create_queue, make_client
from tests.integration.stomp_client import Closed, RawStomp

POLICIES = """
[[policy]]
queue = "flow.>"
max_messages = 3

[[policy]]
queue = "fail.>"
max_messages = 2
send_fail_if_no_space = true

[[policy]]
queue = "throttled"
max_messages = 2
"""
MIB = 1024 * 1024


@pytest.fixture
def limited_broker(store_url: str, tmp_path: Path) -> Iterator[BrokerProcess]:
    config = tmp_path / "mqgate.toml"
    config.write_text(POLICIES)
    proc = BrokerProcess(store_url, tmp_path, extra=["--config", str(config)]).start()
    try:
        yield proc
    finally:
        proc.kill()


def stomp(port: int) -> RawStomp:
    client = RawStomp(port)
    client.connect("1.2")
    return client


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def fill(port: int, destination: str, count: int, size: int) -> None:
    """Persistent sends, pipelined, one receipt per hundred."""
    client = stomp(port)
    body = b"x" * size
    for start in range(0, count, 100):
        for i in range(start, min(start + 100, count)):
            headers = {"destination": destination, "persistent": "true", "n": str(i)}
            if i == min(start + 100, count) - 1:
                headers["receipt"] = f"r{i}"
            client.send("SEND", headers, body)
        client.expect("RECEIPT", timeout=60)
    client.sock.close()


def test_producer_flow_control_holds_a_stomp_sender_until_a_consumer_makes_room(limited_broker):
    queue = "/queue/flow." + unique()
    producer = stomp(limited_broker.stomp_port)
    for i in range(5):
        producer.send("SEND", {"destination": queue, "persistent": "true", "receipt": f"r{i}"}, f"m{i}")
    for i in range(3):
        assert producer.expect("RECEIPT").headers["receipt-id"] == f"r{i}"
    producer.nothing(wait=1.0)            # the fourth send waits: no RECEIPT for it yet
    consumer = stomp(limited_broker.stomp_port)
    consumer.send("SUBSCRIBE", {"destination": queue, "id": "1", "ack": "auto"})
    got = [consumer.expect("MESSAGE").body.decode() for _ in range(5)]
    assert got == [f"m{i}" for i in range(5)]
    assert [producer.expect("RECEIPT").headers["receipt-id"] for _ in range(2)] == ["r3", "r4"]
    assert producer.roundtrip("SEND", {"destination": queue}, "after").command == "RECEIPT"


def test_send_fail_if_no_space_answers_activemqs_resource_error_and_keeps_the_connection(limited_broker):
    name = "fail." + unique()
    producer = stomp(limited_broker.stomp_port)
    for i in range(2):
        assert producer.roundtrip("SEND", {"destination": "/queue/" + name}, f"m{i}").command == "RECEIPT"
    error = producer.roundtrip("SEND", {"destination": "/queue/" + name}, "m2")
    assert error.command == "ERROR"
    assert error.headers["message"] == (f"Usage Manager Memory Limit reached on queue://{name}. "
                                        "See http://activemq.apache.org/producer-flow-control.html for more info")
    consumer = stomp(limited_broker.stomp_port)
    consumer.send("SUBSCRIBE", {"destination": "/queue/" + name, "id": "1", "ack": "auto"})
    assert [consumer.expect("MESSAGE").body for _ in range(2)] == [b"m0", b"m1"]
    assert producer.roundtrip("SEND", {"destination": "/queue/" + name}, "m3").command == "RECEIPT"


def test_an_sqs_queue_at_its_limit_throttles_the_sender(limited_broker):
    sqs = make_client("json", limited_broker.aws_url)
    url = create_queue(sqs, "throttled")
    for i in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    with pytest.raises(ClientError) as caught:
        sqs.send_message(QueueUrl=url, MessageBody="m2")
    assert caught.value.response["Error"]["Code"] in ("RequestThrottled", "AWS.SimpleQueueService.RequestThrottled")
    batch = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "x"}])
    assert [f["Id"] for f in batch["Failed"]] == ["a"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    for m in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    sqs.send_message(QueueUrl=url, MessageBody="room again")


def test_a_store_at_its_limit_refuses_persistent_sends_and_keeps_serving(store_url, tmp_path):
    proc = BrokerProcess(store_url, tmp_path, extra=["--store-limit", "1"]).start()
    try:
        queue = "/queue/" + unique()
        producer = stomp(proc.stomp_port)
        accepted, error = 0, None
        deadline = time.monotonic() + 20
        while error is None and time.monotonic() < deadline:   # the store's size is measured each second
            frame = producer.roundtrip("SEND", {"destination": queue, "persistent": "true"}, f"m{accepted}")
            if frame.command == "ERROR":
                error = frame
            else:
                accepted += 1
                time.sleep(0.05)
        assert error is not None, "the store limit was never enforced"
        assert error.headers["message"].startswith("Persistent store is Full, 100% of 1. Stopping producer (")
        # non-persistent messages, consumers and acks go on
        assert producer.roundtrip("SEND", {"destination": queue}, "transient").command == "RECEIPT"
        consumer = stomp(proc.stomp_port)
        consumer.send("SUBSCRIBE", {"destination": queue, "id": "1", "ack": "client-individual"})
        got = [consumer.expect("MESSAGE") for _ in range(accepted + 1)]
        assert [m.body.decode() for m in got] == [f"m{i}" for i in range(accepted)] + ["transient"]
        for m in got:
            assert consumer.roundtrip("ACK", {"id": m.headers["ack"]}).command == "RECEIPT"
    finally:
        proc.kill()


def test_a_deep_backlog_keeps_memory_bounded_and_a_restart_reads_only_its_head(store_url, tmp_path):
    """120 MB of persistent messages: the broker's RSS stays far below the backlog (it
    grew by the whole backlog before), before and after a restart, and the backlog drains
    in order after it."""
    count, size = 30_000, 4096
    proc = BrokerProcess(store_url, tmp_path, extra=["--memory-limit", "16MiB", "--queue-window", "200"]).start()
    try:
        baseline = rss_mb(proc.proc.pid)
        queue = "/queue/" + unique("deep")
        fill(proc.stomp_port, queue, count, size)
        grown = rss_mb(proc.proc.pid) - baseline
        assert grown < 60, f"RSS grew by {grown:.0f} MB for a {count * size // MIB} MB backlog"
        proc.restart(hard=True)
        consumer = stomp(proc.stomp_port)
        consumer.send("SUBSCRIBE", {"destination": queue, "id": "1", "ack": "auto",
                                    "activemq.prefetchSize": "500"})
        first = consumer.expect("MESSAGE", timeout=30)
        assert first.headers["n"] == "0"
        assert rss_mb(proc.proc.pid) - baseline < 60
        last = 0
        for _ in range(count - 1):
            n = int(consumer.expect("MESSAGE", timeout=30).headers["n"])
            assert n == last + 1
            last = n
        assert last == count - 1
    except Closed:
        raise AssertionError(proc.log()[-3000:])
    finally:
        proc.kill()


def test_a_composite_send_and_a_topic_with_durable_subscribers_store_the_body_once(broker, store_url):
    from tests.integration.test_store import sql

    port, root = broker.stomp_port, unique("body")
    for i in range(3):
        sub = RawStomp(port)
        sub.connect("1.2", **{"client-id": f"{root}-{i}"})
        assert sub.roundtrip("SUBSCRIBE", {"destination": f"/topic/{root}", "id": "d", "ack": "client",
                                           "activemq.subscriptionName": "s"}).command == "RECEIPT"
        sub.sock.close()
    producer = stomp(port)
    body = "B" * 10_000
    composite = ",".join(f"/queue/{root}.{i}" for i in range(4))
    for destination in (f"/topic/{root}", composite):
        assert producer.roundtrip("SEND", {"destination": destination, "persistent": "true"},
                                  body).command == "RECEIPT"
    (stored,) = sql(store_url, "SELECT count(*), sum(length(body)) FROM contents")
    assert stored == (2, 20_000), "one body per publication, not one per copy"
    (rows,) = sql(store_url, "SELECT count(*), sum(length(body)) FROM messages")
    assert rows == (7, 0)
