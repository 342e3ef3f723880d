"""Durability across restarts: kill -9 in the middle of a
stream of persistent sends with receipts loses no receipted message and delivers each exactly
once per queue, redeliveries flagged; a SIGTERM shutdown loses nothing; durable subscriptions
and scheduled messages survive; non-persistent messages do not (as in ActiveMQ)."""
from __future__ import annotations

import time
from collections import Counter

from tests.conftest import unique
from tests.integration.stomp_client import RawStomp, Streamer, connect


def _consume_all(port: int, destination: str, **sub_headers: str) -> list[tuple[str, bool]]:
    """(body, redelivered) of everything in a queue, in delivery order, acked."""
    client = connect(port)
    try:
        client.subscribe_sync(destination, "all", ack="auto", **sub_headers)
        return [(m.body, m.headers.get("redelivered") == "true") for m in client.drain_all()]
    finally:
        client.close()


def _key(body: str) -> tuple[str, int]:
    return body[0], int(body[1:])


def test_kill_9_during_persistent_stream_loses_no_receipted_message(broker):
    qa, qb, qs = unique("A"), unique("B"), "/queue/" + unique("S")
    both = f"/queue/{qa},/queue/{qb}"
    t, cid = "/topic/" + unique(), unique("cid")
    port = broker.stomp_port

    # An offline durable subscriber with a message waiting, and a scheduled message.
    sub = connect(port, client_id=cid)
    sub.subscribe_sync(t, "d", ack="client-individual", **{"activemq.subscriptionName": "s"})
    sub.close()
    producer = connect(port)
    producer.send_sync(t, "before kill", persistent="true")
    producer.send_sync(qs, "scheduled", persistent="true", AMQ_SCHEDULED_DELAY=3000)
    scheduled_at = time.monotonic()

    # Phase 1: ten messages in both queues; a consumer of A acks two and holds four.
    for i in range(10):
        producer.send(both, f"p{i}", headers={"persistent": "true"})
    producer.sync()
    r = producer.receipt()
    producer.send(both, "p-last", headers={"persistent": "true", "receipt": r})
    producer.listener.wait_receipt(r)   # all ten committed
    consumer = RawStomp(port)
    consumer.connect("1.2")
    consumer.send("SUBSCRIBE", {"destination": f"/queue/{qa}", "id": "a", "ack": "client-individual",
                                "activemq.prefetchSize": "4", "receipt": "sub"})
    consumer.expect("RECEIPT")
    first = [consumer.expect("MESSAGE") for _ in range(4)]
    acked = []
    for m in first[:2]:
        answer, more = consumer.answer("ACK", {"id": m.headers["ack"]})
        assert answer.command == "RECEIPT"
        acked.append(m.body.decode())
        first.extend(more)
    while len(first) < 6:
        first.append(consumer.expect("MESSAGE"))
    held = [m.body.decode() for m in first[2:]]
    assert acked == ["p0", "p1"] and held == ["p2", "p3", "p4", "p5"]

    # Phase 2: a pipelined stream of persistent sends with receipts, killed mid-way.
    stream = Streamer(port, both, prefix="s", window=64, persistent="true").start()
    stream.wait_receipts(300)
    broker.kill()
    stream.stop()
    consumer.abort()
    producer.close()
    receipted = set(stream.receipted)
    assert len(receipted) >= 300 and not stream.errors

    broker.start()
    port = broker.stomp_port
    phase1 = [f"p{i}" for i in range(10)] + ["p-last"]
    for name in (qa, qb):
        got = _consume_all(port, f"/queue/{name}")
        bodies = [b for b, _ in got]
        counts = Counter(bodies)
        assert not [b for b, n in counts.items() if n > 1], f"duplicates in {name}"
        assert set(bodies) <= set(phase1) | set(stream.sent), "a message nobody sent"
        expected = set(phase1) - (set(acked) if name == qa else set())
        missing = (expected | receipted) - set(bodies)
        assert not missing, f"{len(missing)} receipted messages lost from {name}: {sorted(missing)[:10]}"
        if name == qa:
            assert not set(acked) & set(bodies), "acked message came back"
        redelivered = {b for b, flag in got if flag}
        assert redelivered == (set(held) if name == qa else set()), redelivered
        # FIFO order survives the restart
        streamed = [b for b in bodies if b.startswith("s")]
        assert streamed == sorted(streamed, key=_key)

    # The durable subscription was restored with its message, and collects while away.
    producer = connect(port)
    producer.send_sync(t, "after restart", persistent="true")
    producer.close()
    durable = connect(port, client_id=cid)
    try:
        durable.subscribe_sync(t, "d", ack="client-individual", **{"activemq.subscriptionName": "s"})
        got = durable.exactly(2)
        assert [m.body for m in got] == ["before kill", "after restart"]
        assert all("redelivered" not in m.headers for m in got)
    finally:
        durable.close()

    # The scheduled message keeps its time across the crash.
    consumer = connect(port)
    try:
        consumer.subscribe_sync(qs, "s")
        if time.monotonic() - scheduled_at < 2.5:
            consumer.none()
        m = consumer.listener.get(timeout=10)
        assert m.body == "scheduled" and m.headers["scheduledJobId"]
        assert time.monotonic() - scheduled_at >= 2.9
    finally:
        consumer.close()


def test_sigterm_loses_nothing(broker):
    port = broker.stomp_port
    q, nq = "/queue/" + unique(), "/queue/" + unique("np")
    cid = unique("cid")
    t = "/topic/" + unique()
    root = unique("w")
    # offline durable subscribers: a plain one, and one on a wildcard with a selector
    sub = connect(port, client_id=cid)
    sub.subscribe_sync(t, "d", **{"activemq.subscriptionName": "s"})
    sub.subscribe_sync(f"/topic/{root}.>", "w", **{"activemq.subscriptionName": "w",
                                                    "selector": "color = 'red'"})
    sub.close()
    client = connect(port)
    client.send_sync(t, "for the durable", persistent="true")
    client.send_sync(f"/topic/{root}.x", "red before", persistent="true", color="red")
    client.send_sync(f"/topic/{root}.x", "blue before", persistent="true", color="blue")
    for i in range(20):
        client.send(q, f"m{i}", headers={"persistent": "true"})
    client.send_sync(nq, "volatile")  # non-persistent: gone after a restart, as in ActiveMQ
    # a committed transaction, and one left open at shutdown
    tx = client.begin()
    client.send(q, "tx-committed", headers={"persistent": "true"}, transaction=tx)
    r = client.receipt()
    client.commit(tx, headers={"receipt": r})
    client.listener.wait_receipt(r)
    open_tx = client.begin()
    client.send(q, "tx-open", headers={"persistent": "true"}, transaction=open_tx)
    client.sync()
    # a consumer acks some, holds some, NACKs one
    c = RawStomp(port)
    c.connect("1.2")
    c.send("SUBSCRIBE", {"destination": q, "id": "s", "ack": "client-individual",
                         "activemq.prefetchSize": "5", "receipt": "r"})
    c.expect("RECEIPT")
    got = [c.expect("MESSAGE") for _ in range(5)]
    c.send("ACK", {"id": got[0].headers["ack"]})
    c.send("ACK", {"id": got[1].headers["ack"]})
    c.send("NACK", {"id": got[2].headers["ack"]})
    got += [c.expect("MESSAGE") for _ in range(3)]   # the credit freed by the acks
    c.nothing()
    assert [m.body for m in got[3:]] == [b"m3", b"m4", b"m5", b"m6", b"m7"]
    # a stream in flight when SIGTERM arrives
    stream = Streamer(port, q, prefix="z", window=32, persistent="true").start()
    stream.wait_receipts(50)
    assert broker.stop() == 0
    stream.stop()
    c.abort()

    broker.start()
    port = broker.stomp_port
    remaining = _consume_all(port, q)
    bodies = [b for b, _ in remaining]
    assert Counter(bodies).most_common(1)[0][1] == 1
    expected = [f"m{i}" for i in range(3, 20)] + ["tx-committed"]
    assert [b for b in bodies if not b.startswith("z")] == expected
    assert set(stream.receipted) <= set(bodies)
    assert {b for b, flag in remaining if flag} == {"m3", "m4", "m5", "m6", "m7"}
    assert _consume_all(port, nq) == []
    assert [b for b, _ in _consume_all(port, "/queue/ActiveMQ.DLQ")] == ["m2"]
    # the restored wildcard subscription still filters what is published now
    client = connect(port)
    client.send_sync(f"/topic/{root}.y", "red after", persistent="true", color="red")
    client.send_sync(f"/topic/{root}.y", "blue after", persistent="true", color="blue")
    client.close()
    durable = connect(port, client_id=cid)
    try:
        durable.subscribe_sync(t, "d", **{"activemq.subscriptionName": "s"})
        assert [m.body for m in durable.exactly(1)] == ["for the durable"]
        durable.subscribe_sync(f"/topic/{root}.>", "w", **{"activemq.subscriptionName": "w",
                                                            "selector": "color = 'red'"})
        got = durable.exactly(2)
        assert [(m.body, m.headers["destination"]) for m in got] == [
            ("red before", f"/topic/{root}.x"), ("red after", f"/topic/{root}.y")]
    finally:
        durable.close()


def test_scheduled_topic_message_survives_kill_9(broker):
    t, cid = "/topic/" + unique(), unique("cid")
    port = broker.stomp_port
    sub = connect(port, client_id=cid)
    sub.subscribe_sync(t, "d", **{"activemq.subscriptionName": "s"})
    sub.close()
    producer = connect(port)
    sent = time.monotonic()
    producer.send_sync(t, "scheduled for a topic", persistent="true", AMQ_SCHEDULED_DELAY=2500)
    producer.close()
    broker.restart(hard=True)
    sub = connect(broker.stomp_port, client_id=cid)
    try:
        sub.subscribe_sync(t, "d", **{"activemq.subscriptionName": "s"})
        got = sub.listener.get(timeout=15)
        assert got.body == "scheduled for a topic"
        assert time.monotonic() - sent >= 2.4       # published when its delay was up, not before
        assert got.headers["scheduledJobId"]
        sub.listener.none(0.5)                     # once
    finally:
        sub.close()


def test_delivery_seen_before_a_crash_comes_back_flagged(broker):
    q = "/queue/" + unique()
    producer = connect(broker.stomp_port)
    producer.send_sync(q, "seen once", persistent="true")
    producer.close()
    with RawStomp(broker.stomp_port) as c:
        c.connect("1.2")
        c.send("SUBSCRIBE", {"destination": q, "id": "1", "ack": "client-individual"})
        first = c.expect("MESSAGE")
        assert "redelivered" not in first.headers
        # The MESSAGE left only after its delivery count was committed: kill -9 right now.
        broker.kill()
    broker.start()
    assert _consume_all(broker.stomp_port, q) == [("seen once", True)]
