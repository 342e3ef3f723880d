"""Ack modes, NACK, redelivery and the DLQ."""
from __future__ import annotations

import time

import pytest

from tests.conftest import unique
from tests.integration.stomp_client import RawStomp, connect, wait_until


def _fill(port: int, q: str, n: int, persistent: bool = True, **headers: str) -> None:
    producer = connect(port)
    try:
        for i in range(n):
            producer.send(q, f"m{i}", headers={"persistent": str(persistent).lower(), **headers})
        producer.sync()
    finally:
        producer.close()


def _consumer(port: int, q: str, version: str = "1.2", ack: str = "client", sub_id: str = "s",
              **headers: str) -> RawStomp:
    c = RawStomp(port)
    c.connect(version)
    c.send("SUBSCRIBE", {"destination": q, "id": sub_id, "ack": ack, "receipt": "sub", **headers})
    c.expect("RECEIPT")
    return c


def _drain_bodies(port: int, q: str) -> list[tuple[str, bool]]:
    """(body, redelivered) of everything left in the queue, acked as it comes."""
    client = connect(port)
    try:
        client.subscribe_sync(q, "drain", ack="auto")
        return [(m.body, m.headers.get("redelivered") == "true") for m in client.everything()]
    finally:
        client.close()


def _dlq_messages(port: int, tag: str) -> list:
    client = connect(port)
    try:
        client.subscribe_sync("/queue/ActiveMQ.DLQ", "dlq", ack="client-individual", selector=f"tag = '{tag}'")
        got = client.everything()
        for m in got:
            client.ack(m.headers["ack"])
        client.sync()
        return got
    finally:
        client.close()


def test_client_ack_is_cumulative(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    _fill(port, q, 5)
    with _consumer(port, q, ack="client") as c:
        msgs = [c.expect("MESSAGE") for _ in range(5)]
        assert c.roundtrip("ACK", {"id": msgs[2].headers["ack"]}).command == "RECEIPT"
        # m0 and m1 went with m2: acking them now is an error
        err = c.roundtrip("ACK", {"id": msgs[0].headers["ack"]})
        assert err.command == "ERROR" and err.headers["message"]
    assert _drain_bodies(port, q) == [("m3", True), ("m4", True)]


def test_client_ack_is_per_subscription(shared_broker):
    port = shared_broker.stomp_port
    qa, qb = "/queue/" + unique("a"), "/queue/" + unique("b")
    _fill(port, qa, 2)
    _fill(port, qb, 2)
    with RawStomp(port) as c:
        c.connect("1.2")
        c.send("SUBSCRIBE", {"destination": qa, "id": "a", "ack": "client"})
        c.send("SUBSCRIBE", {"destination": qb, "id": "b", "ack": "client"})
        msgs = [c.expect("MESSAGE") for _ in range(4)]
        last_a = [m for m in msgs if m.headers["subscription"] == "a"][-1]
        assert c.roundtrip("ACK", {"id": last_a.headers["ack"]}).command == "RECEIPT"
    assert _drain_bodies(port, qa) == []
    assert sorted(_drain_bodies(port, qb)) == [("m0", True), ("m1", True)]


def test_client_individual_acks_only_that_message(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    _fill(port, q, 3)
    with _consumer(port, q, ack="client-individual") as c:
        msgs = [c.expect("MESSAGE") for _ in range(3)]
        for m in (msgs[0], msgs[2]):
            assert c.roundtrip("ACK", {"id": m.headers["ack"]}).command == "RECEIPT"
    assert _drain_bodies(port, q) == [("m1", True)]


def test_auto_ack_needs_no_ack(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    _fill(port, q, 3)
    with _consumer(port, q, ack="auto") as c:
        assert [c.expect("MESSAGE").body for _ in range(3)] == [b"m0", b"m1", b"m2"]
    assert _drain_bodies(port, q) == []


def test_ack_forms_per_version(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    _fill(port, q, 6)
    # 1.0: message-id alone (or with the subscription)
    with _consumer(port, q, "1.0", ack="client-individual", **{"activemq.prefetchSize": "1"}) as c:
        m = c.expect("MESSAGE")
        answer, more = c.answer("ACK", {"message-id": m.headers["message-id"]})
        assert answer.command == "RECEIPT"
        m = more[0] if more else c.expect("MESSAGE")
        assert m.body == b"m1"
        answer, more = c.answer("ACK", {"message-id": m.headers["message-id"], "subscription": "s"})
        assert answer.command == "RECEIPT"
    # 1.1: message-id and subscription; without subscription it is an error
    with _consumer(port, q, "1.1", ack="client-individual", **{"activemq.prefetchSize": "1"}) as c:
        m = c.expect("MESSAGE")
        assert m.body == b"m2" and m.headers["redelivered"] == "true"  # leased by the 1.0 session
        err = c.roundtrip("ACK", {"message-id": m.headers["message-id"]})
        assert err.command == "ERROR" and err.headers["message"]
        answer, more = c.answer("ACK", {"message-id": m.headers["message-id"], "subscription": "s"})
        assert answer.command == "RECEIPT"
        m = more[0] if more else c.expect("MESSAGE")
        assert m.body == b"m3"
    # 1.2: id = the ack header; the message-id is not an ack id
    with _consumer(port, q, "1.2", ack="client-individual", **{"activemq.prefetchSize": "1"}) as c:
        m = c.expect("MESSAGE")
        assert m.body == b"m3"   # m3 was left unacked by the 1.1 session: redelivered first
        assert m.headers["redelivered"] == "true"
        err = c.roundtrip("ACK", {"id": m.headers["message-id"]})
        assert err.command == "ERROR"
        assert c.answer("ACK", {"id": m.headers["ack"]})[0].command == "RECEIPT"
    assert [b for b, _ in _drain_bodies(port, q)] == ["m4", "m5"]


def test_double_ack_and_unknown_ack_are_non_fatal_errors(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    _fill(port, q, 1)
    with _consumer(port, q, ack="client-individual") as c:
        m = c.expect("MESSAGE")
        assert c.roundtrip("ACK", {"id": m.headers["ack"]}).command == "RECEIPT"
        again = c.roundtrip("ACK", {"id": m.headers["ack"]})
        assert again.command == "ERROR" and again.headers["message"] and again.body
        unknown = c.roundtrip("ACK", {"id": "999999"})
        assert unknown.command == "ERROR"
        missing = c.roundtrip("ACK", {})
        assert missing.command == "ERROR"
        assert c.is_open()


def test_ack_with_stomp_py(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    client = connect(port, "1.1")
    try:
        client.subscribe_sync(q, "s11", ack="client-individual")
        client.send_sync(q, "one", persistent="true")
        m = client.listener.get()
        r = client.receipt()
        client.ack(m.headers["message-id"], "s11", receipt=r)
        client.listener.wait_receipt(r)
    finally:
        client.close()
    assert _drain_bodies(port, q) == []


# -- redelivery -----------------------------------------------------------------------------------
def test_unacked_messages_redelivered_on_disconnect_forever(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    _fill(port, q, 1)
    for attempt in range(8):  # more than OpenWire's 6: STOMP never dead-letters on its own
        with _consumer(port, q, ack="client") as c:
            m = c.expect("MESSAGE")
            assert m.body == b"m0"
            assert ("redelivered" in m.headers) is (attempt > 0)
            if attempt:
                assert m.headers["redelivered"] == "true"
            assert "JMSXDeliveryCount" not in m.headers
    assert _drain_bodies(port, q) == [("m0", True)]


def test_unsubscribe_returns_unacked_messages(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    _fill(port, q, 2)
    with _consumer(port, q, ack="client-individual") as c:
        first = [c.expect("MESSAGE") for _ in range(2)]
        assert c.roundtrip("UNSUBSCRIBE", {"id": "s"}).command == "RECEIPT"
        # the old ack ids are gone with the subscription
        assert c.roundtrip("ACK", {"id": first[0].headers["ack"]}).command == "ERROR"
        c.send("SUBSCRIBE", {"destination": q, "id": "s2", "ack": "client-individual"})
        again = [c.expect("MESSAGE") for _ in range(2)]
        assert [m.body for m in again] == [b"m0", b"m1"]
        assert all(m.headers["redelivered"] == "true" for m in again)


def test_redelivered_message_goes_back_to_the_head(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    _fill(port, q, 3)
    with _consumer(port, q, ack="client-individual", **{"activemq.prefetchSize": "1"}) as c:
        assert c.expect("MESSAGE").body == b"m0"
    assert [b for b, _ in _drain_bodies(port, q)] == ["m0", "m1", "m2"]


def test_abrupt_close_redelivers_to_other_consumer(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    other = connect(port)
    try:
        c = _consumer(port, q, ack="client", **{"activemq.prefetchSize": "10"})
        _fill(port, q, 3)
        got = [c.expect("MESSAGE").body for _ in range(3)]
        other.subscribe_sync(q, "other", ack="client-individual")
        other.none()   # all three are leased to c
        c.abort()                  # no DISCONNECT: a crash
        again = other.listener.take(3)
        assert [m.body for m in again] == [b.decode() for b in got]
        assert all(m.headers["redelivered"] == "true" for m in again)
    finally:
        other.close()


def test_prefetch_limits_unacked_messages(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    _fill(port, q, 5)
    with _consumer(port, q, ack="client-individual", **{"activemq.prefetchSize": "2"}) as c:
        a, b = c.expect("MESSAGE"), c.expect("MESSAGE")
        c.nothing()
        c.send("ACK", {"id": a.headers["ack"]})
        assert c.expect("MESSAGE").body == b"m2"
        c.nothing()


def test_prefetch_spreads_work_between_slow_consumers(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with _consumer(port, q, ack="client", sub_id="a", **{"activemq.prefetchSize": "1"}) as c1, \
            _consumer(port, q, ack="client", sub_id="b", **{"activemq.prefetchSize": "1"}) as c2:
        _fill(port, q, 4)
        m1, m2 = c1.expect("MESSAGE"), c2.expect("MESSAGE")
        c1.nothing()
        c2.nothing()
        c1.send("ACK", {"id": m1.headers["ack"]})
        c2.send("ACK", {"id": m2.headers["ack"]})
        assert {c1.expect("MESSAGE").body, c2.expect("MESSAGE").body} == {b"m2", b"m3"}


# -- NACK and the DLQ ------------------------------------------------------------------------------
def test_nack_persistent_goes_to_dlq_with_headers(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    tag = unique("tag")
    expires = str(int(time.time() * 1000) + 3_600_000)
    _fill(port, q, 1, persistent=True, tag=tag, color="red", expires=expires)
    with _consumer(port, q, ack="client-individual") as c:
        m = c.expect("MESSAGE")
        assert c.roundtrip("NACK", {"id": m.headers["ack"]}).command == "RECEIPT"
        c.nothing()   # not redelivered here
    dead = _dlq_messages(port, tag)
    assert len(dead) == 1
    h = dead[0].headers
    assert dead[0].body == "m0"
    assert h["message-id"] == m.headers["message-id"]
    assert h["original-destination"] == q
    assert h["originalExpiration"] == expires
    assert h["color"] == "red"
    assert h["persistent"] == "true"
    assert h["destination"] == "/queue/ActiveMQ.DLQ"
    assert _drain_bodies(port, q) == []


def test_nack_non_persistent_is_dropped(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    tag = unique("tag")
    _fill(port, q, 1, persistent=False, tag=tag)
    with _consumer(port, q, ack="client") as c:
        m = c.expect("MESSAGE")
        assert c.roundtrip("NACK", {"id": m.headers["ack"]}).command == "RECEIPT"
    assert _dlq_messages(port, tag) == []
    assert _drain_bodies(port, q) == []


def test_nack_in_client_mode_is_not_cumulative(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    tag = unique("tag")
    _fill(port, q, 3, tag=tag)
    with _consumer(port, q, ack="client") as c:
        msgs = [c.expect("MESSAGE") for _ in range(3)]
        assert c.roundtrip("NACK", {"id": msgs[1].headers["ack"]}).command == "RECEIPT"
        assert c.roundtrip("ACK", {"id": msgs[2].headers["ack"]}).command == "RECEIPT"
    assert [m.body for m in _dlq_messages(port, tag)] == ["m1"]
    assert _drain_bodies(port, q) == []


def test_nack_11_needs_subscription(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    tag = unique("tag")
    _fill(port, q, 1, tag=tag)
    with _consumer(port, q, "1.1", ack="client-individual") as c:
        m = c.expect("MESSAGE")
        assert c.roundtrip("NACK", {"message-id": m.headers["message-id"]}).command == "ERROR"
        assert c.roundtrip("NACK", {"message-id": m.headers["message-id"],
                                    "subscription": "s"}).command == "RECEIPT"
    assert len(_dlq_messages(port, tag)) == 1


def test_nack_on_10_is_an_error(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    _fill(port, q, 1)
    with _consumer(port, q, "1.0", ack="client") as c:
        m = c.expect("MESSAGE")
        err = c.roundtrip("NACK", {"message-id": m.headers["message-id"]})
        assert err.command == "ERROR" and err.headers["message"]
        assert c.roundtrip("ACK", {"message-id": m.headers["message-id"]}).command == "RECEIPT"


def test_nack_with_stomp_py(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    tag = unique("tag")
    client = connect(port)
    try:
        client.subscribe_sync(q, "s", ack="client-individual")
        client.send_sync(q, "bad", persistent="true", tag=tag)
        m = client.listener.get()
        r = client.receipt()
        client.nack(m.headers["ack"], receipt=r)
        client.listener.wait_receipt(r)
    finally:
        client.close()
    assert [m.body for m in _dlq_messages(port, tag)] == ["bad"]


@pytest.mark.parametrize("ack", ["client", "client-individual"])
def test_durable_topic_redelivery_has_no_redelivered_header(shared_broker, ack):
    port = shared_broker.stomp_port
    topic = "/topic/" + unique()
    client_id = unique("dur")
    def subscribe() -> RawStomp:
        c = RawStomp(port)
        c.connect("1.2", **{"client-id": client_id})
        c.send("SUBSCRIBE", {"destination": topic, "id": "d", "ack": ack, "receipt": "s",
                             "activemq.subscriptionName": "sub"})
        c.expect("RECEIPT")
        return c
    with subscribe() as c:
        _fill(port, topic, 1)
        assert c.expect("MESSAGE").body == b"m0"
    def again() -> bool:
        try:
            c = subscribe()
        except AssertionError:
            return False  # the client id is released once the broker saw the close
        with c:
            m = c.expect("MESSAGE")
            assert m.body == b"m0"
            assert "redelivered" not in m.headers
            c.send("ACK", {"id": m.headers["ack"]})
            return True
    wait_until(again, message="durable subscriber reconnect")
