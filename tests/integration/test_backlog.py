"""Deep backlogs against a real broker: memory stays bounded while the store holds the
backlog, a restart reads only the head, and senders meet the configured limits as
ActiveMQ's producer flow control and sendFailIfNoSpace (and AWS's throttling) do."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import pytest_twisted
from botocore.exceptions import ClientError
from twisted.internet import defer

from tests.conftest import BrokerProcess, unique
from tests.integration.limits_support import FLOW_POLICIES, config_flags, running, stomp
from tests.integration.sqs_clients import create_queue, make_client
from tests.integration.stomp_client import Closed, RawStomp

POLICIES = FLOW_POLICIES + """
[[policy]]
queue = "throttled"
max_messages = 2
"""
MIB = 1024 * 1024


@pytest.fixture
def limited_broker(store_url: str, tmp_path: Path) -> Iterator[BrokerProcess]:
    with running(store_url, tmp_path, config_flags(tmp_path, POLICIES)) as proc:
        yield proc


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


# -- delays and leases: what waits for a time stays in the store ------------------------------

def _in_process(url: str, window: int, at: float) -> Any:
    """A broker on the real store (reader and writer threads), on a clock the test moves."""
    from twisted.internet import reactor
    from twisted.internet.task import Clock

    from broker.engine.broker import Broker
    from broker.store.store import Store

    clock = Clock()
    clock.advance(at)
    return Broker(Store(url, reactor), clock, window=window)


def _until(b: Any, check: Any, what: str) -> Any:
    """Let the store's threads answer (every wait bounded) until `check()` holds; what
    they bring that is due runs on the engine's clock, which the test moves."""
    from twisted.internet import reactor, task

    @defer.inlineCallbacks
    def wait() -> Any:
        for _ in range(3000):
            if check():
                return
            yield task.deferLater(reactor, 0.005, lambda: None)
            b.clock.advance(0)
        raise AssertionError(f"never {what}")
    return wait()


@defer.inlineCallbacks
def _receive(b: Any, q: Any, count: int = 10) -> Any:
    """One receive; a page it waits for is read by the store's thread, and the answer goes
    out on the engine's clock, which the test moves."""
    from twisted.internet import reactor, task

    d = q.receive(count, 60_000, 5_000)
    for _ in range(3000):
        if d.called:
            break
        yield task.deferLater(reactor, 0.005, lambda: None)
        b.clock.advance(0)
    leases = yield d
    return leases


@pytest_twisted.inlineCallbacks
def test_a_deep_backlog_of_delayed_messages_keeps_memory_bounded_and_comes_due_in_order(store_url):
    """Delayed messages used to be held in memory until due: 30k of them are now in the
    store, a timeline's worth in memory, and they come due in order of time then arrival
    across every page boundary, before and after a restart."""
    from broker.engine.message import Message
    from tests.unit.engine_support import Recorder

    count, window, t0 = 30_000, 200, 1_700_000_000.0
    b = _in_process(store_url, window, t0)
    yield b.start()
    q = b.create_queue(unique("delayed"))
    now = b.now_ms()
    for i in range(count):
        # Due times interleave with arrival: 100 seconds, each second's messages spread
        # over the whole send.
        q.enqueue(Message(message_id=f"ID:{i}", body=b"%d" % i, persistent=True,
                          visible_at=now + 1000 * (1 + (i * 37) % 100)))
        assert len(q._held) <= window
    yield b.committed()
    stats = q.stats()
    assert stats["delayed"] == count and stats["in_memory"] <= window
    yield b.stop()

    b = _in_process(store_url, window, t0)
    yield b.start()
    try:
        q = b.queues[q.name]
        assert q.delayed_count == count and q.stats()["in_memory"] <= window, "a restart reads a page, not all"
        consumer = Recorder(auto_ack=True, credit=10 * count)
        q.add_consumer(consumer)
        for second in range(1, 101):
            b.clock.advance(1)
            expected = sum(1 for i in range(count) if 1 + (i * 37) % 100 <= second)
            yield _until(b, lambda: len(consumer.got) == expected, f"delivered what is due at {second}s")
            assert q.stats()["in_memory"] <= 3 * window
        order = [(int(m.body) * 37 % 100, int(m.body)) for m, _ in consumer.got]
        assert order == sorted(order), "due time, then arrival"
        yield b.committed()
        assert q.delayed_count == 0 and q.ready_count == 0
    finally:
        yield b.stop()


@pytest_twisted.inlineCallbacks
def test_many_in_flight_sqs_leases_stay_on_disk_and_are_settled_from_any_depth(store_url):
    """A consumer that receives 20k messages and deletes none used to keep them all in
    memory; past a bound they live in the store, found by their seq (a receipt handle)
    from any depth, before and after a restart, and come back in order when their
    visibility runs out."""
    from broker.engine.message import Message

    count, window, t0 = 8_000, 100, 1_700_000_000.0
    b = _in_process(store_url, window, t0)
    yield b.start()
    name = unique("leased")
    q = b.create_queue(name)
    for i in range(count):
        q.enqueue(Message(message_id=f"ID:{i}", body=b"%d" % i, persistent=True))
    seqs: list[int] = []
    while len(seqs) < count:
        leases = yield _receive(b, q)
        assert leases
        seqs += [lease.message.seq for lease in leases]
        assert len(q._inflight) <= window and q.stats()["in_memory"] <= 2 * window + 10
    assert q.inflight_count == count
    deleted = set(seqs[::3] + seqs[-3:])
    for seq in sorted(deleted):                               # deleted, from any depth
        lease = yield q.find_lease(seq)
        assert lease is not None and q.ack(lease)
    lease = yield q.find_lease(seqs[1])
    assert q.extend(lease, 120_000)                           # held longer than the rest
    yield b.committed()
    assert q.stats()["in_memory"] <= 2 * window + 10
    yield b.stop()

    b = _in_process(store_url, window, t0)                    # kill and restart: the same
    yield b.start()
    try:
        q = b.queues[name]
        assert q.inflight_count == count - len(deleted) and q.ready_count == 0
        lease = yield q.find_lease(seqs[-4])                  # a handle from before the restart
        assert lease is not None and q.ack(lease)
        deleted.add(seqs[-4])
        b.clock.advance(61)                                   # visibility runs out: back in order
        yield _until(b, lambda: q.ready_count == count - len(deleted) - 1, "returned to the queue")
        assert q.stats()["in_memory"] <= 2 * window + 10
        back: list[int] = []
        while len(back) < count - len(deleted) - 1:
            leases = yield _receive(b, q)
            assert leases
            back += [lease.message.seq for lease in leases]
            for lease in leases:
                assert q.ack(lease)
        assert back == [s for s in seqs if s not in deleted and s != seqs[1]]
        b.clock.advance(61)
        yield _until(b, lambda: q.ready_count == 1, "the longer lease ran out")
    finally:
        yield b.stop()


def test_sqs_clients_delete_and_change_visibility_deep_in_flight_across_a_kill(store_url, tmp_path):
    """boto3 against the broker process, with a window of 50: 400 received and not
    deleted, then handles from any depth work, before and after a kill -9."""
    proc = BrokerProcess(store_url, tmp_path, extra=["--queue-window", "50"]).start()
    try:
        sqs = make_client("json", proc.aws_url)
        url = create_queue(sqs, unique("deepflight"))
        for start in range(0, 400, 10):
            sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, start + 10)])
        handles: dict[str, str] = {}
        while len(handles) < 400:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300,
                                      WaitTimeSeconds=1).get("Messages", [])
            assert got
            handles.update({m["Body"]: m["ReceiptHandle"] for m in got})
        sqs.delete_message(QueueUrl=url, ReceiptHandle=handles["m0"])
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": handles[f"m{i}"]} for i in (1, 200, 399)])
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handles["m100"], VisibilityTimeout=0)
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
        assert [m["Body"] for m in got] == ["m100"]
        sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
        with pytest.raises(ClientError) as caught:            # deleted: AWS's wording
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handles["m200"], VisibilityTimeout=0)
        assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
        proc.restart(hard=True)
        sqs = make_client("json", proc.aws_url)
        batch = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": handles[f"m{i}"], "VisibilityTimeout": 0} for i in (2, 300)])
        assert [e["Id"] for e in batch["Successful"]] == ["2", "300"] and not batch["Failed"]
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
        assert [m["Body"] for m in got] == ["m2", "m300"]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attrs["ApproximateNumberOfMessagesNotVisible"] == "395"
    finally:
        proc.kill()


@pytest_twisted.inlineCallbacks
def test_expired_messages_deep_in_a_backlog_move_to_the_dlq_in_the_database(store_url):
    """JMS expiry used to wait for a message to reach the head: the sweep now moves what
    expired on disk to ActiveMQ.DLQ in the database, with the dead-letter facts, and drops
    expired non-persistent messages, without reading the backlog."""
    from broker.engine.message import Message
    from tests.unit.engine_support import Recorder

    window, t0 = 20, 1_700_000_000.0
    b = _in_process(store_url, window, t0)
    yield b.start()
    try:
        q = b.create_queue(unique("expiring"))
        now = b.now_ms()
        for i in range(300):
            q.enqueue(Message(message_id=f"ID:{i}", body=b"%d" % i, persistent=i % 3 != 2, priority=i % 5,
                              expires=now + 1000 if i % 2 else 0, timestamp=now))
        yield b.committed()
        b.clock.advance(2)
        for _ in range(3):
            q.sweep()
            yield _until(b, lambda: not q._expiring, "swept")
        dlq = b.queues["ActiveMQ.DLQ"]
        kept = [i for i in range(300) if not i % 2]
        dead = [i for i in range(300) if i % 2 and i % 3 != 2]
        yield _until(b, lambda: dlq.ready_count >= len(dead) - window, "moved to the DLQ")
        assert q.stats()["in_memory"] <= window
        consumer = Recorder(auto_ack=True, credit=1000)
        q.add_consumer(consumer)
        yield _until(b, lambda: q.ready_count == 0, "drained")
        assert sorted(int(m.body) for m, _ in consumer.got) == kept
        letters = Recorder(auto_ack=True, credit=1000)
        dlq.add_consumer(letters)
        yield _until(b, lambda: len(letters.got) == len(dead), "dead letters delivered")
        assert sorted(int(m.body) for m, _ in letters.got) == dead
        assert all(m.dead_letter.cause == "Message expired" and m.dead_letter.name == q.name
                   and m.dead_letter.expires == now + 1000 and m.expires == 0 for m, _ in letters.got)
        yield b.committed()
        from tests.integration.test_store import sql
        assert sql(store_url, "SELECT count(*) FROM messages") == [(0,)]
    finally:
        yield b.stop()
