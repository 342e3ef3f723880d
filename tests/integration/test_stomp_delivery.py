"""Scheduled delivery, expiry, priority, message groups and consumer priority/exclusivity."""
from __future__ import annotations

import random
import time

from tests.conftest import broker_on, unique
from tests.integration.stomp_client import RawStomp, connect


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- scheduled delivery ---------------------------------------------------------------------------
def test_scheduled_delay(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    client = connect(port)
    try:
        client.subscribe_sync(q, "s")
        sent = time.monotonic()
        client.send_sync(q, "later", AMQ_SCHEDULED_DELAY=600, persistent="true")
        client.send_sync(q, "now")
        assert client.listener.get().body == "now"
        m = client.listener.get(timeout=5)
        waited = time.monotonic() - sent
        assert m.body == "later"
        assert 0.55 <= waited <= 3.0, waited
        assert m.headers["scheduledJobId"]
        assert "AMQ_SCHEDULED_DELAY" not in m.headers
    finally:
        client.close()


def test_scheduled_period_and_repeat(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    client = connect(port)
    try:
        client.subscribe_sync(q, "s")
        start = time.monotonic()
        client.send_sync(q, "tick", AMQ_SCHEDULED_DELAY=100, AMQ_SCHEDULED_PERIOD=200,
                         AMQ_SCHEDULED_REPEAT=3)
        got = []
        for _ in range(4):
            got.append((client.listener.get(timeout=5), time.monotonic() - start))
        assert [m.body for m, _ in got] == ["tick"] * 4
        times = [t for _, t in got]
        assert times[0] >= 0.08 and times[-1] >= 0.65, times
        assert len({m.headers["message-id"] for m, _ in got}) == 4
        assert len({m.headers["scheduledJobId"] for m, _ in got}) == 1
        assert not [k for m, _ in got for k in m.headers if k.startswith("AMQ_SCHEDULED_")]
        client.listener.none(0.3)
    finally:
        client.close()


def test_what_asks_for_no_schedule_is_not_a_job(shared_broker):
    """As ActiveMQ's SchedulerBroker: a delay of 0 (or a period alone) is still a job, its
    delivery carrying a job id and no schedule; a repeat alone is an ordinary property."""
    q = "/queue/" + unique()
    client = connect(shared_broker.stomp_port)
    try:
        client.subscribe_sync(q, "s")
        start = time.monotonic()
        client.send_sync(q, "period only", AMQ_SCHEDULED_PERIOD=500)   # delivered after the period
        client.send_sync(q, "delay 0", AMQ_SCHEDULED_DELAY=0)
        client.send_sync(q, "repeat only", AMQ_SCHEDULED_REPEAT=2)
        first, second, third = (client.listener.get(timeout=5) for _ in range(3))
        assert first.body == "delay 0" and first.headers["scheduledJobId"]
        assert "AMQ_SCHEDULED_DELAY" not in first.headers
        assert second.body == "repeat only" and "scheduledJobId" not in second.headers
        assert second.headers["AMQ_SCHEDULED_REPEAT"] == "2"
        assert third.body == "period only" and time.monotonic() - start >= 0.45
        assert third.headers["scheduledJobId"] and "AMQ_SCHEDULED_PERIOD" not in third.headers
        client.listener.none(0.3)
    finally:
        client.close()


def test_scheduled_delay_on_topic(shared_broker):
    port = shared_broker.stomp_port
    t = "/topic/" + unique()
    client = connect(port)
    try:
        client.subscribe_sync(t, "s")
        client.send_sync(t, "delayed", AMQ_SCHEDULED_DELAY=300)
        client.none()
        assert client.listener.get(timeout=5).body == "delayed"
    finally:
        client.close()


def test_scheduled_messages_in_a_transaction_start_at_commit(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    client = connect(port)
    try:
        client.subscribe_sync(q, "s")
        tx = client.begin()
        client.send(q, "tx-delayed", headers={"AMQ_SCHEDULED_DELAY": "300"}, transaction=tx)
        client.commit(tx)
        client.none()
        assert client.listener.get(timeout=5).body == "tx-delayed"
    finally:
        client.close()


def test_a_cron_message_fires_at_the_next_minute_with_its_repeat(tmp_path):
    """`* * * * *` fires at the top of the next minute (a real wait of up to a minute: cron
    has no finer unit); its delay and repeat deliver two copies right after. The timing is
    the engine's, the same on either database, so this wait is paid once (on SQLite); how
    a cron job is kept is tested on both in test_openwire_cron."""
    q = "/queue/" + unique()
    with broker_on("sqlite", tmp_path) as proc:
        client = connect(proc.stomp_port)
        try:
            client.subscribe_sync(q, "s")
            client.send_sync(q, "cron", persistent="true", AMQ_SCHEDULED_CRON="* * * * *",
                             AMQ_SCHEDULED_DELAY=100, AMQ_SCHEDULED_PERIOD=100, AMQ_SCHEDULED_REPEAT=1)
            got = [client.listener.get(timeout=70), client.listener.get(timeout=5)]
            assert [m.body for m in got] == ["cron", "cron"]
            assert len({m.headers["message-id"] for m in got}) == 2
            assert len({m.headers["scheduledJobId"] for m in got}) == 1
            assert "AMQ_SCHEDULED_CRON" not in got[0].headers
            client.listener.none(0.3)
        finally:
            client.close()


# -- expiry --------------------------------------------------------------------------------------------
def test_expired_messages_are_not_delivered_and_persistent_ones_go_to_dlq(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    tag = unique("tag")
    producer = connect(port)
    try:
        past = str(_now_ms() - 1000)
        producer.send_sync(q, "dead-p", expires=past, persistent="true", tag=tag)
        producer.send_sync(q, "dead-n", expires=past, tag=tag)
        producer.send_sync(q, "soon", expires=str(_now_ms() + 300), persistent="true", tag=tag)
        producer.send_sync(q, "alive", expires=str(_now_ms() + 600_000), tag=tag)
        time.sleep(0.4)
        producer.subscribe_sync(q, "s")
        got = producer.exactly(1)
        assert got[0].body == "alive" and int(got[0].headers["expires"]) > _now_ms()
        producer.subscribe_sync("/queue/ActiveMQ.DLQ", "dlq", selector=f"tag = '{tag}'")
        dead = producer.exactly(2)
        assert sorted(m.body for m in dead) == ["dead-p", "soon"]
        for m in dead:
            assert m.headers["expires"] == "0"
            # ActiveMQ's cause, naming the expiration the message had.
            assert m.headers["dlqDeliveryFailureCause"] == \
                "java.lang.Throwable: Message Expired. Expiration:" + m.headers["originalExpiration"]
            assert m.headers["original-destination"] == q
            assert m.headers["persistent"] == "true"
    finally:
        producer.close()


def test_message_expiring_while_queued_is_dropped(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with RawStomp(port) as c:
        c.connect("1.2")
        c.send("SEND", {"destination": q, "expires": str(_now_ms() + 200)}, "short-lived")
        c.nothing()
        time.sleep(0.3)
        c.send("SUBSCRIBE", {"destination": q, "id": "s", "receipt": "r"})
        c.expect("RECEIPT")
        c.nothing()


# -- priority -------------------------------------------------------------------------------------------
def test_priority_order(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    items = [(p, i) for p in range(10) for i in range(3)]
    random.Random(7).shuffle(items)
    producer = connect(port)
    try:
        for p, i in items:
            producer.send(q, f"{p}:{i}", headers={"priority": str(p), "persistent": "true"})
        producer.sync()
        producer.subscribe_sync(q, "s")
        got = producer.exactly(len(items))
        order = [tuple(map(int, m.body.split(":"))) for m in got]
        # highest priority first; FIFO within a priority
        expected = sorted(items, key=lambda pi: (-pi[0], [x for x in items if x[0] == pi[0]].index(pi)))
        assert order == expected
        assert all(m.headers["priority"] == m.body.split(":")[0] for m in got)
    finally:
        producer.close()


def test_redelivered_high_priority_message_still_comes_first(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with RawStomp(port) as c:
        c.connect("1.2")
        c.send("SEND", {"destination": q, "priority": "9"}, "urgent")
        c.send("SEND", {"destination": q, "priority": "1"}, "later")
        c.send("SUBSCRIBE", {"destination": q, "id": "s", "ack": "client",
                             "activemq.prefetchSize": "1", "receipt": "r"})
        c.expect("RECEIPT")
        assert c.expect("MESSAGE").body == b"urgent"
    with RawStomp(port) as c:
        c.connect("1.2")
        c.send("SUBSCRIBE", {"destination": q, "id": "s", "receipt": "r"})
        c.expect("RECEIPT")
        assert [c.expect("MESSAGE").body for _ in range(2)] == [b"urgent", b"later"]


# -- message groups ------------------------------------------------------------------------------------
def test_message_groups_stick_to_one_consumer(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    consumers = [connect(port) for _ in range(3)]
    try:
        for i, c in enumerate(consumers):
            c.subscribe_sync(q, f"c{i}", ack="client-individual")
        producer = consumers[0]
        groups = ["A", "B", "C", "D"]
        for n in range(24):
            producer.send(q, f"{groups[n % 4]}{n}", headers={"JMSXGroupID": groups[n % 4]})
        producer.sync()
        owner: dict[str, int] = {}
        total = 0
        for i, c in enumerate(consumers):
            for m in c.everything():
                total += 1
                assert "JMSXGroupID" not in m.headers
                group = m.body[0]
                assert owner.setdefault(group, i) == i, f"group {group} on two consumers"
                c.ack(m.headers["ack"])
        assert total == 24
        assert len(set(owner.values())) > 1, "groups should spread over consumers"
    finally:
        for c in consumers:
            c.close()


def test_group_moves_when_its_consumer_leaves(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    first, second = connect(port), connect(port)
    try:
        first.subscribe_sync(q, "f")
        first.send_sync(q, "g1", JMSXGroupID="G")
        assert first.listener.get().body == "g1"
        second.subscribe_sync(q, "s")
        first.send_sync(q, "g2", JMSXGroupID="G")
        assert first.listener.get().body == "g2"
        second.none()
        first.close()
        producer = connect(port)
        producer.send_sync(q, "g3", JMSXGroupID="G")
        producer.close()
        assert second.listener.get().body == "g3"
    finally:
        second.close()


def test_a_negative_group_sequence_closes_the_group(shared_broker):
    """As ActiveMQ: JMSXGroupSeq -1 is the group's last message; the next one may go to
    any consumer (here the other one, as the owner still holds what it was given)."""
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    first, second = connect(port), connect(port)
    try:
        # the owner can hold two unacknowledged messages: g1 and g2 fill it
        first.subscribe_sync(q, "f", ack="client-individual", **{"activemq.prefetchSize": "2"})
        first.send_sync(q, "g1", JMSXGroupID="G")
        assert first.listener.get().body == "g1"
        second.subscribe_sync(q, "s", ack="client-individual")
        first.send_sync(q, "g2", JMSXGroupID="G", JMSXGroupSeq="-1")
        last = first.listener.get()
        assert last.body == "g2" and "JMSXGroupSeq" not in last.headers
        second.none()
        first.send_sync(q, "h1", JMSXGroupID="G")
        first.send_sync(q, "h2", JMSXGroupID="G")
        # the full owner no longer holds the group up: it has a new owner
        assert [m.body for m in second.everything()] == ["h1", "h2"]
        first.none()
    finally:
        first.close()
        second.close()


# -- consumer priority and exclusive consumers -------------------------------------------------------
def test_consumer_priority(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    low, high = connect(port), connect(port)
    try:
        low.subscribe_sync(q, "low", **{"activemq.priority": "1"})
        high.subscribe_sync(q, "high", **{"activemq.priority": "10"})
        for i in range(10):
            low.send(q, str(i))
        low.sync()
        assert len(high.exactly(10)) == 10
        low.none()
    finally:
        low.close()
        high.close()


def test_exclusive_consumer_takes_everything_until_it_leaves(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    other, exclusive = connect(port), connect(port)
    try:
        other.subscribe_sync(q, "o")
        exclusive.subscribe_sync(q, "x", **{"activemq.exclusive": "true"})
        for i in range(6):
            other.send(q, str(i))
        other.sync()
        assert len(exclusive.exactly(6)) == 6
        other.none()
        exclusive.close()
        other.send_sync(q, "after")
        assert other.listener.get().body == "after"
    finally:
        other.close()
