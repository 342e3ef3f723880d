"""Topics: fan-out, durable subscriptions, Virtual Topics, wildcards, noLocal."""
from __future__ import annotations

from tests.conftest import unique
from tests.integration.stomp_client import RawStomp, connect


def _publish(port: int, destination: str, *bodies: str, **headers: str) -> None:
    producer = connect(port)
    try:
        for body in bodies:
            producer.send(destination, body, headers=dict(headers))
        producer.sync()
    finally:
        producer.close()


def test_every_topic_subscriber_gets_a_copy(shared_broker):
    port = shared_broker.stomp_port
    t = "/topic/" + unique()
    subs = [connect(port) for _ in range(3)]
    try:
        for i, s in enumerate(subs):
            s.subscribe_sync(t, f"s{i}")
        _publish(port, t, "a", "b")
        for s in subs:
            got = s.exactly(2)
            assert [m.body for m in got] == ["a", "b"]
            assert all(m.headers["destination"] == t for m in got)
            assert all("redelivered" not in m.headers for m in got)
    finally:
        for s in subs:
            s.close()


def test_non_durable_subscriber_sees_only_what_is_published_while_subscribed(shared_broker):
    port = shared_broker.stomp_port
    t = "/topic/" + unique()
    _publish(port, t, "before", persistent="true")
    client = connect(port)
    try:
        client.subscribe_sync(t, "s")
        _publish(port, t, "during")
        assert [m.body for m in client.exactly(1)] == ["during"]
        r = client.receipt()
        client.unsubscribe("s", headers={"receipt": r})
        client.listener.wait_receipt(r)
        _publish(port, t, "after")
        client.subscribe_sync(t, "s2")
        client.none()
    finally:
        client.close()


def test_topic_with_client_ack(shared_broker):
    port = shared_broker.stomp_port
    t = "/topic/" + unique()
    with RawStomp(port) as c:
        c.connect("1.2")
        c.send("SUBSCRIBE", {"destination": t, "id": "s", "ack": "client-individual", "receipt": "r"})
        c.expect("RECEIPT")
        _publish(port, t, "x")
        m = c.expect("MESSAGE")
        assert "ack" in m.headers
        assert c.roundtrip("ACK", {"id": m.headers["ack"]}).command == "RECEIPT"


# -- durable subscriptions ---------------------------------------------------------------------
def _durable(port: int, topic: str, client_id: str, name: str = "sub", ack: str = "auto",
             **headers: str) -> RawStomp:
    c = RawStomp(port)
    c.connect("1.2", **{"client-id": client_id})
    c.send("SUBSCRIBE", {"destination": topic, "id": "d", "ack": ack, "receipt": "s",
                         "activemq.subscriptionName": name, **headers})
    frame = c.expect("RECEIPT")
    assert frame.headers["receipt-id"] == "s"
    return c


def test_durable_subscription_keeps_messages_while_offline(shared_broker):
    port = shared_broker.stomp_port
    t = "/topic/" + unique()
    cid = unique("cid")
    _durable(port, t, cid).close()
    _publish(port, t, "p1", persistent="true")
    _publish(port, t, "n1", persistent="false")   # non-persistent too, while the broker runs
    _publish(port, t, "p2", persistent="true")
    with _durable(port, t, cid) as c:
        got = [c.expect("MESSAGE") for _ in range(3)]
        assert sorted(m.body for m in got) == [b"n1", b"p1", b"p2"]
        assert [m.body for m in got if m.headers.get("persistent")] == [b"p1", b"p2"]
        assert all(m.headers["destination"] == t for m in got)
        assert all(m.headers["subscription"] == "d" for m in got)
        c.nothing()


def test_plain_unsubscribe_leaves_durable_subscription_inactive(shared_broker):
    port = shared_broker.stomp_port
    t = "/topic/" + unique()
    cid = unique("cid")
    with _durable(port, t, cid) as c:
        assert c.roundtrip("UNSUBSCRIBE", {"id": "d"}).command == "RECEIPT"
        _publish(port, t, "kept", persistent="true")
        c.nothing()
    with _durable(port, t, cid) as c:
        assert c.expect("MESSAGE").body == b"kept"


def test_unsubscribe_with_subscription_name_destroys_it(shared_broker):
    port = shared_broker.stomp_port
    t = "/topic/" + unique()
    cid = unique("cid")
    with _durable(port, t, cid) as c:
        answer = c.roundtrip("UNSUBSCRIBE", {"id": "d", "activemq.subscriptionName": "sub"})
        assert answer.command == "RECEIPT"
    _publish(port, t, "lost", persistent="true")
    with _durable(port, t, cid) as c:
        c.nothing()


def test_destroy_durable_subscription_while_offline(shared_broker):
    port = shared_broker.stomp_port
    t = "/topic/" + unique()
    cid = unique("cid")
    _durable(port, t, cid).close()
    _publish(port, t, "pending", persistent="true")
    with RawStomp(port) as c:
        c.connect("1.2", **{"client-id": cid})
        assert c.roundtrip("UNSUBSCRIBE", {"activemq.subscriptionName": "sub"}).command == "RECEIPT"
    with _durable(port, t, cid) as c:
        c.nothing()


def test_stomp_py_durable_subscriber(shared_broker):
    port = shared_broker.stomp_port
    t = "/topic/" + unique()
    cid = unique("cid")
    client = connect(port, client_id=cid)
    client.subscribe_sync(t, "dur", ack="client-individual", **{"activemq.subscriptionName": "n"})
    client.close()
    _publish(port, t, "while away", persistent="true")
    client = connect(port, client_id=cid)
    try:
        client.subscribe_sync(t, "dur", ack="client-individual", **{"activemq.subscriptionName": "n"})
        m = client.exactly(1)[0]
        assert m.body == "while away"
        client.ack(m.headers["ack"])
    finally:
        client.close()


def test_two_durable_subscriptions_each_get_a_copy(shared_broker):
    port = shared_broker.stomp_port
    t = "/topic/" + unique()
    cid1, cid2 = unique("cid"), unique("cid")
    _durable(port, t, cid1).close()
    _durable(port, t, cid2, name="other").close()
    _publish(port, t, "both", persistent="true")
    for cid, name in ((cid1, "sub"), (cid2, "other")):
        with _durable(port, t, cid, name=name) as c:
            assert c.expect("MESSAGE").body == b"both"
            c.nothing()


def test_durable_subscription_with_selector(shared_broker):
    port = shared_broker.stomp_port
    t = "/topic/" + unique()
    cid = unique("cid")
    _durable(port, t, cid, selector="color = 'red'").close()
    _publish(port, t, "red", color="red", persistent="true")
    _publish(port, t, "blue", color="blue", persistent="true")
    with _durable(port, t, cid, selector="color = 'red'") as c:
        assert c.expect("MESSAGE").body == b"red"
        c.nothing()


def test_durable_subscription_errors(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with RawStomp(port) as c:
        c.connect("1.2", **{"client-id": unique("cid")})
        err = c.roundtrip("SUBSCRIBE", {"destination": q, "id": "d",
                                        "activemq.subscriptionName": "x"})
        assert err.command == "ERROR" and err.headers["message"]
        assert c.is_open()
    with RawStomp(port) as c:
        c.connect("1.2")  # no client-id
        err = c.roundtrip("SUBSCRIBE", {"destination": "/topic/" + unique(), "id": "d",
                                        "activemq.subscriptionName": "x"})
        assert err.command == "ERROR" and "client" in err.headers["message"].lower()
        assert c.is_open()


# -- Virtual Topics -------------------------------------------------------------------------------
def test_virtual_topic_consumer_queues(shared_broker):
    port = shared_broker.stomp_port
    vt = "VirtualTopic." + unique("Orders")
    qa, qb = f"/queue/Consumer.A.{vt}", f"/queue/Consumer.B.{vt}"
    a1, a2, b = connect(port), connect(port), connect(port)
    try:
        a1.subscribe_sync(qa, "a1")
        a2.subscribe_sync(qa, "a2")
        b.subscribe_sync(qb, "b")
        plain = connect(port)
        plain.subscribe_sync(f"/topic/{vt}", "t")
        _publish(port, f"/topic/{vt}", *[f"o{i}" for i in range(4)], persistent="true")
        # group A competes for one copy, B gets its own, the topic still works as a topic
        got_a = a1.listener.take(2) + a2.listener.take(2)
        assert sorted(m.body for m in got_a) == ["o0", "o1", "o2", "o3"]
        assert all(m.headers["destination"] == qa for m in got_a)
        got_b = b.exactly(4)
        assert [m.body for m in got_b] == ["o0", "o1", "o2", "o3"]
        assert all(m.headers["destination"] == qb for m in got_b)
        assert len(plain.exactly(4)) == 4
        plain.close()
    finally:
        for c in (a1, a2, b):
            c.close()


def test_virtual_topic_queue_keeps_messages_while_consumers_are_offline(shared_broker):
    port = shared_broker.stomp_port
    vt = "VirtualTopic." + unique("Events")
    q = f"/queue/Consumer.Offline.{vt}"
    c = connect(port)
    c.subscribe_sync(q, "x")
    c.close()
    _publish(port, f"/topic/{vt}", "e1", "e2", persistent="true")
    c = connect(port)
    try:
        c.subscribe_sync(q, "x")
        assert [m.body for m in c.exactly(2)] == ["e1", "e2"]
    finally:
        c.close()


# -- wildcards ----------------------------------------------------------------------------------------
def test_wildcards(shared_broker):
    port = shared_broker.stomp_port
    root = unique("w")
    subs = {pattern: connect(port) for pattern in (f"{root}.>", f"{root}.*", f"{root}.*.c", root)}
    try:
        for pattern, client in subs.items():
            client.subscribe_sync("/topic/" + pattern, "s")
        for name in (root, f"{root}.b", f"{root}.b.c", f"{root}.b.d"):
            _publish(port, "/topic/" + name, name)
        received = {p: sorted(m.body for m in c.everything()) for p, c in subs.items()}
        assert received[f"{root}.>"] == sorted([root, f"{root}.b", f"{root}.b.c", f"{root}.b.d"])
        assert received[f"{root}.*"] == [f"{root}.b"]
        assert received[f"{root}.*.c"] == [f"{root}.b.c"]
        assert received[root] == [root]
    finally:
        for c in subs.values():
            c.close()


def test_wildcard_message_carries_the_real_topic(shared_broker):
    port = shared_broker.stomp_port
    root = unique("w")
    c = connect(port)
    try:
        c.subscribe_sync(f"/topic/{root}.>", "s")
        _publish(port, f"/topic/{root}.x.y", "deep")
        assert c.exactly(1)[0].headers["destination"] == f"/topic/{root}.x.y"
    finally:
        c.close()


def test_wildcard_queue_subscription_is_not_a_topic_fanout(shared_broker):
    """A queue named like a pattern is just a queue name for SEND."""
    port = shared_broker.stomp_port
    root = unique("wq")
    c = connect(port)
    try:
        c.subscribe_sync(f"/queue/{root}.a", "s")
        _publish(port, f"/queue/{root}.a", "direct")
        assert [m.body for m in c.exactly(1)] == ["direct"]
    finally:
        c.close()


# -- noLocal ----------------------------------------------------------------------------------------
def test_no_local_skips_own_messages(shared_broker):
    port = shared_broker.stomp_port
    t = "/topic/" + unique()
    with RawStomp(port) as c:
        c.connect("1.2")
        c.send("SUBSCRIBE", {"destination": t, "id": "s", "activemq.noLocal": "true", "receipt": "r"})
        c.expect("RECEIPT")
        c.send("SEND", {"destination": t}, "mine")
        c.nothing()
        _publish(port, t, "theirs")
        assert c.expect("MESSAGE").body == b"theirs"


def test_without_no_local_own_messages_arrive(shared_broker):
    port = shared_broker.stomp_port
    t = "/topic/" + unique()
    with RawStomp(port) as c:
        c.connect("1.2")
        c.send("SUBSCRIBE", {"destination": t, "id": "s", "receipt": "r"})
        c.expect("RECEIPT")
        c.send("SEND", {"destination": t}, "mine")
        assert c.expect("MESSAGE").body == b"mine"


def test_composite_subscription_mixing_queue_and_topic(shared_broker):
    port = shared_broker.stomp_port
    q, t = "/queue/" + unique(), "/topic/" + unique()
    c = connect(port)
    try:
        c.subscribe_sync(f"{q},{t}", "mix", selector="keep = 'yes'")
        c.send(q, "from queue", headers={"keep": "yes"})
        c.send(q, "queue, filtered", headers={"keep": "no"})
        c.send(t, "from topic", headers={"keep": "yes"})
        c.send(t, "topic, filtered", headers={"keep": "no"})
        got = {m.body: m.headers["destination"] for m in c.exactly(2)}
        assert got == {"from queue": q, "from topic": t}
    finally:
        c.close()


def test_nack_on_a_topic_subscription_names_the_topic(shared_broker):
    port = shared_broker.stomp_port
    root = unique("nt")
    tag = unique("tag")
    with RawStomp(port) as c:
        c.connect("1.2")
        c.send("SUBSCRIBE", {"destination": f"/topic/{root}.>", "id": "s", "ack": "client-individual",
                             "receipt": "r"})
        c.expect("RECEIPT")
        _publish(port, f"/topic/{root}.orders", "poison", persistent="true", tag=tag)
        m = c.expect("MESSAGE")
        assert c.roundtrip("NACK", {"id": m.headers["ack"]}).command == "RECEIPT"
    dlq = connect(port)
    try:
        dlq.subscribe_sync("/queue/ActiveMQ.DLQ", "d", selector=f"tag = '{tag}'")
        dead = dlq.exactly(1)[0]
        assert dead.body == "poison"
        assert dead.headers["original-destination"] == f"/topic/{root}.orders"
    finally:
        dlq.close()


def test_wildcard_queue_consumer_reads_every_matching_queue(shared_broker):
    base = "wild." + unique()
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.2")
        c.send("SEND", {"destination": f"/queue/{base}.a", "receipt": "s1"}, b"to a")
        c.expect("RECEIPT")
        c.send("SUBSCRIBE", {"destination": f"/queue/{base}.>", "id": "w", "receipt": "sub"})
        c.expect("RECEIPT")
        first = c.expect("MESSAGE")
        # A matching queue made after the SUBSCRIBE is read too; others are not.
        c.send("SEND", {"destination": f"/queue/{base}.b.c"}, b"to b.c")
        c.send("SEND", {"destination": f"/queue/{base}x"}, b"elsewhere")
        second = c.expect("MESSAGE")
        assert (first.body, first.headers["destination"]) == (b"to a", f"/queue/{base}.a")
        assert (second.body, second.headers["destination"]) == (b"to b.c", f"/queue/{base}.b.c")
        c.nothing()
