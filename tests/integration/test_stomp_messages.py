"""SEND and MESSAGE: bodies, the headers ActiveMQ clients rely on, escaping per version,
destinations."""
from __future__ import annotations

import re
import time

import pytest

from tests.conftest import unique
from tests.integration.stomp_client import RawStomp, connect

MESSAGE_ID = re.compile(r"^ID:.+:\d+:-1:1:\d+$")


def _subscribed(port: int, destination: str, version: str = "1.2", **headers: str) -> RawStomp:
    c = RawStomp(port)
    c.connect(version)
    sub = {"destination": destination, "receipt": "sub", **headers}
    if version != "1.0" and "id" not in sub:
        sub["id"] = "s1"
    c.send("SUBSCRIBE", sub)
    c.expect("RECEIPT")
    return c


def _send_raw(port: int, destination: str, body: bytes = b"", version: str = "1.2",
              **headers: str) -> None:
    with RawStomp(port) as p:
        p.connect(version)
        assert p.roundtrip("SEND", {"destination": destination, **headers}, body).command == "RECEIPT"


# -- bodies -------------------------------------------------------------------------------------
def test_content_length_body_keeps_nul_bytes_and_length(shared_broker):
    q = "/queue/" + unique()
    body = b"\0a\0b\0\xff\x00end"
    with _subscribed(shared_broker.stomp_port, q) as c:
        _send_raw(shared_broker.stomp_port, q, body, **{"content-length": str(len(body))})
        msg = c.expect("MESSAGE")
        assert msg.body == body
        assert msg.headers["content-length"] == str(len(body))


def test_body_without_content_length_comes_back_without_it(shared_broker):
    q = "/queue/" + unique()
    with _subscribed(shared_broker.stomp_port, q) as c:
        _send_raw(shared_broker.stomp_port, q, "plain text ✓".encode())
        msg = c.expect("MESSAGE")
        assert msg.body == "plain text ✓".encode()
        assert "content-length" not in msg.headers


def test_amq_msg_type_overrides_text_or_bytes(shared_broker):
    q = "/queue/" + unique()
    with _subscribed(shared_broker.stomp_port, q) as c:
        _send_raw(shared_broker.stomp_port, q, b"as text", **{"content-length": "7", "amq-msg-type": "text"})
        text = c.expect("MESSAGE")
        # As ActiveMQ: an explicit amq-msg-type (and the SEND's content-length) are kept as
        # properties, so they come back as headers.
        assert text.body == b"as text" and text.headers["content-length"] == "7"
        assert text.headers["amq-msg-type"] == "text"
        _send_raw(shared_broker.stomp_port, q, b"as bytes", **{"amq-msg-type": "bytes"})
        data = c.expect("MESSAGE")
        assert data.body == b"as bytes" and data.headers["content-length"] == "8"
        assert data.headers["amq-msg-type"] == "bytes"


def test_large_binary_body_round_trips(shared_broker):
    q = "/queue/" + unique()
    body = bytes(range(256)) * 4096  # 1 MiB with NULs everywhere
    with _subscribed(shared_broker.stomp_port, q) as c:
        _send_raw(shared_broker.stomp_port, q, body, persistent="true",
                  **{"content-length": str(len(body))})
        msg = c.expect("MESSAGE")
        assert msg.body == body
        assert msg.headers["content-length"] == str(len(body))


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_stomp_py_send_and_receive(shared_broker, version):
    q = "/queue/" + unique()
    client = connect(shared_broker.stomp_port, version)
    try:
        client.subscribe_sync(q, sub_id="sub-" + version)
        for i in range(20):
            client.send(q, f"message {i} é")
        got = client.listener.take(20)
        assert [m.body for m in got] == [f"message {i} é" for i in range(20)]
    finally:
        client.close()


# -- MESSAGE headers --------------------------------------------------------------------------------
def test_message_headers_always_present(shared_broker):
    q = "/queue/" + unique()
    with _subscribed(shared_broker.stomp_port, q) as c:
        before = int(time.time() * 1000)
        _send_raw(shared_broker.stomp_port, q, b"x")
        msg = c.expect("MESSAGE")
        h = msg.headers
        assert h["destination"] == q
        assert MESSAGE_ID.match(h["message-id"]), h["message-id"]
        assert h["expires"] == "0"
        assert h["priority"] == "4"
        assert before - 1000 <= int(h["timestamp"]) <= int(time.time() * 1000) + 1000
        assert h["subscription"] == "s1"
        for absent in ("persistent", "redelivered", "ack", "content-length", "receipt", "transaction"):
            assert absent not in h


def test_message_ids_are_unique_and_ordered(shared_broker):
    q = "/queue/" + unique()
    with _subscribed(shared_broker.stomp_port, q) as c, RawStomp(shared_broker.stomp_port) as p:
        p.connect("1.2")
        for i in range(5):
            p.send("SEND", {"destination": q}, str(i))
        ids = [c.expect("MESSAGE").headers["message-id"] for _ in range(5)]
        assert len(set(ids)) == 5
        assert [int(i.rsplit(":", 1)[1]) for i in ids] == sorted(int(i.rsplit(":", 1)[1]) for i in ids)


def test_persistent_header_only_when_persistent(shared_broker):
    q = "/queue/" + unique()
    with _subscribed(shared_broker.stomp_port, q) as c:
        _send_raw(shared_broker.stomp_port, q, b"p", persistent="true")
        _send_raw(shared_broker.stomp_port, q, b"n", persistent="false")
        _send_raw(shared_broker.stomp_port, q, b"d")
        got = {m.body: m.headers for m in (c.expect("MESSAGE") for _ in range(3))}
        assert got[b"p"]["persistent"] == "true"
        assert "persistent" not in got[b"n"] and "persistent" not in got[b"d"]


def test_subscription_header_per_version(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with _subscribed(port, q, "1.0") as c10:
        _send_raw(port, q, b"x")
        assert "subscription" not in c10.expect("MESSAGE").headers
    with _subscribed(port, q, "1.0", id="mine") as c10:
        _send_raw(port, q, b"x")
        assert c10.expect("MESSAGE").headers["subscription"] == "mine"
    with _subscribed(port, q, "1.1", id="eleven") as c11:
        _send_raw(port, q, b"x")
        assert c11.expect("MESSAGE").headers["subscription"] == "eleven"


@pytest.mark.parametrize("ack, has_ack", [("auto", False), ("client", True), ("client-individual", True)])
def test_ack_header_in_12_for_client_modes_only(shared_broker, ack, has_ack):
    q = "/queue/" + unique()
    with _subscribed(shared_broker.stomp_port, q, ack=ack) as c:
        _send_raw(shared_broker.stomp_port, q, b"x")
        msg = c.expect("MESSAGE")
        assert ("ack" in msg.headers) is has_ack
        if has_ack:
            assert msg.headers["ack"] != msg.headers["message-id"]


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_no_ack_header_before_12(shared_broker, version):
    q = "/queue/" + unique()
    with _subscribed(shared_broker.stomp_port, q, version, ack="client", id="s") as c:
        _send_raw(shared_broker.stomp_port, q, b"x")
        assert "ack" not in c.expect("MESSAGE").headers


def test_jms_headers_and_user_properties_pass_through(shared_broker):
    q = "/queue/" + unique()
    with _subscribed(shared_broker.stomp_port, q) as c:
        _send_raw(shared_broker.stomp_port, q, b"x", **{
            "correlation-id": "corr-1", "type": "OrderPlaced", "reply-to": "/queue/replies",
            "custom": "value", "n": "42", "with space": "a b", "priority": "7",
            "expires": str(int(time.time() * 1000) + 600_000)})
        h = c.expect("MESSAGE").headers
        assert h["correlation-id"] == "corr-1"
        assert h["type"] == "OrderPlaced"
        assert h["reply-to"] == "/queue/replies"
        assert h["custom"] == "value" and h["n"] == "42" and h["with space"] == "a b"
        assert h["priority"] == "7"
        assert int(h["expires"]) > time.time() * 1000


def test_send_headers_named_as_jms_fields_set_the_field(shared_broker):
    """As ActiveMQ's setObjectProperty: JMSType is the type, JMSXGroupSeq the group's
    sequence (which a STOMP consumer never sees), JMSPriority the priority, and so on;
    none of them comes back as a property."""
    q = "/queue/" + unique()
    with _subscribed(shared_broker.stomp_port, q) as c:
        _send_raw(shared_broker.stomp_port, q, b"x", **{
            "type": "overridden", "JMSType": "OrderPlaced", "JMSCorrelationID": "c-9",
            "JMSXGroupID": "g1", "JMSXGroupSeq": "1", "JMSPriority": "8",
            "JMSDeliveryMode": "PERSISTENT", "JMSRedelivered": "true", "JMSXDeliveryCount": "5"})
        h = c.expect("MESSAGE").headers
        assert h["type"] == "OrderPlaced" and h["correlation-id"] == "c-9"
        assert h["priority"] == "8" and h["persistent"] == "true"
        assert "redelivered" not in h
        assert not {name for name in h if name.startswith("JMS")}, h


def test_broker_owned_send_headers_are_removed(shared_broker):
    q = "/queue/" + unique()
    with _subscribed(shared_broker.stomp_port, q) as c:
        _send_raw(shared_broker.stomp_port, q, b"x", **{
            "message-id": "ID:forged", "redelivered": "true", "subscription": "forged",
            "JMSXGroupID": "g1"})
        h = c.expect("MESSAGE").headers
        assert h["message-id"] != "ID:forged" and MESSAGE_ID.match(h["message-id"])
        assert "redelivered" not in h
        assert h["subscription"] == "s1"
        assert "JMSXGroupID" not in h


# -- escaping --------------------------------------------------------------------------------------
@pytest.mark.parametrize("version, wire", [
    ("1.2", b"tricky:a\\cb\\nc\\\\d\\re"),
    ("1.1", b"tricky:a\\cb\\nc\\\\d\re"),
])
def test_outgoing_headers_escaped_per_version(shared_broker, version, wire):
    q = "/queue/" + unique()
    with _subscribed(shared_broker.stomp_port, q, version) as c:
        # sent escaped by a 1.2 producer, so the value really holds : \n \\ and \r
        _send_raw(shared_broker.stomp_port, q, b"x", tricky="a:b\nc\\d\re")
        msg = c.expect("MESSAGE")
        assert wire in msg.raw
        if version == "1.2":
            assert msg.headers["tricky"] == "a:b\nc\\d\re"


def test_messages_to_10_clients_are_not_escaped(shared_broker):
    q = "/queue/" + unique()
    with _subscribed(shared_broker.stomp_port, q, "1.0") as c:
        _send_raw(shared_broker.stomp_port, q, b"x", tricky="a:b\\c")
        msg = c.expect("MESSAGE")
        assert b"\ntricky:a:b\\c\n" in msg.raw


def test_10_headers_are_not_unescaped(shared_broker):
    q = "/queue/" + unique()
    with _subscribed(shared_broker.stomp_port, q) as c, RawStomp(shared_broker.stomp_port) as p:
        p.connect("1.0")
        p.send_raw(f"SEND\ndestination:{q}\nraw:a\\cb\n\nx\0".encode())
        assert c.expect("MESSAGE").headers["raw"] == "a\\cb"


def test_escaped_destination_and_header_names(shared_broker):
    q = "/queue/" + unique() + ":colon"
    with _subscribed(shared_broker.stomp_port, q) as c:
        _send_raw(shared_broker.stomp_port, q, b"x", **{"na:me": "v"})
        msg = c.expect("MESSAGE")
        assert msg.headers["destination"] == q
        assert msg.headers["na:me"] == "v"


# -- destinations -------------------------------------------------------------------------------------
def test_destination_without_prefix_is_a_queue(shared_broker):
    name = unique("bare")
    with _subscribed(shared_broker.stomp_port, "/queue/" + name) as c:
        _send_raw(shared_broker.stomp_port, name, b"x")
        assert c.expect("MESSAGE").headers["destination"] == "/queue/" + name


def test_activemq_url_forms(shared_broker):
    name = unique()
    with _subscribed(shared_broker.stomp_port, "/queue/" + name) as cq, \
            _subscribed(shared_broker.stomp_port, "/topic/" + name) as ct:
        _send_raw(shared_broker.stomp_port, "queue://" + name, b"q")
        _send_raw(shared_broker.stomp_port, "topic://" + name, b"t")
        assert cq.expect("MESSAGE").body == b"q"
        assert ct.expect("MESSAGE").body == b"t"
        cq.nothing()
        ct.nothing()


def test_queue_round_robin_between_consumers(shared_broker):
    q = "/queue/" + unique()
    port = shared_broker.stomp_port
    consumers = [connect(port) for _ in range(3)]
    producer = connect(port)
    try:
        for i, c in enumerate(consumers):
            c.subscribe_sync(q, f"c{i}")
        for i in range(30):
            producer.send(q, str(i))
        producer.sync()
        got = [c.listener.take(10) for c in consumers]
        bodies = sorted(int(m.body) for batch in got for m in batch)
        assert bodies == list(range(30))
        for c in consumers:
            c.none()
    finally:
        for c in consumers + [producer]:
            c.close()


def test_composite_destination_mixes_queues_and_topics(shared_broker):
    port = shared_broker.stomp_port
    a, b, t = unique("a"), unique("b"), unique("t")
    with _subscribed(port, f"/queue/{a}") as ca, _subscribed(port, f"/queue/{b}") as cb, \
            _subscribed(port, f"/topic/{t}") as ct:
        _send_raw(port, f"/queue/{a},/queue/{b},/topic/{t}", b"everywhere")
        for c in (ca, cb, ct):
            assert c.expect("MESSAGE").body == b"everywhere"
        # a bare name in a composite takes the kind of the first destination
        _send_raw(port, f"/queue/{a},{b}", b"both queues")
        assert ca.expect("MESSAGE").body == b"both queues"
        assert cb.expect("MESSAGE").body == b"both queues"
        ct.nothing()


def test_composite_subscription(shared_broker):
    port = shared_broker.stomp_port
    a, b = unique("a"), unique("b")
    with _subscribed(port, f"/queue/{a},/queue/{b}") as c:
        _send_raw(port, f"/queue/{a}", b"from a")
        _send_raw(port, f"/queue/{b}", b"from b")
        got = {c.expect("MESSAGE").headers["destination"] for _ in range(2)}
        assert got == {f"/queue/{a}", f"/queue/{b}"}


def test_unsubscribe_stops_delivery(shared_broker):
    q = "/queue/" + unique()
    client = connect(shared_broker.stomp_port)
    try:
        client.subscribe_sync(q, "s")
        r = client.receipt()
        client.unsubscribe("s", headers={"receipt": r})
        client.listener.wait_receipt(r)
        client.send_sync(q, "later")
        client.none()
    finally:
        client.close()


def test_10_unsubscribe_by_destination(shared_broker):
    q = "/queue/" + unique()
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.0")
        assert c.roundtrip("SUBSCRIBE", {"destination": q}).command == "RECEIPT"
        assert c.roundtrip("UNSUBSCRIBE", {"destination": q}).command == "RECEIPT"
        _send_raw(shared_broker.stomp_port, q, b"x")
        c.nothing()


def test_duplicate_subscription_id_is_an_error(shared_broker):
    q = "/queue/" + unique()
    with _subscribed(shared_broker.stomp_port, q, id="same") as c:
        err = c.roundtrip("SUBSCRIBE", {"destination": q, "id": "same"})
        assert err.command == "ERROR" and err.headers["message"]
        assert c.is_open()


def test_slow_reader_gets_everything_in_order(shared_broker):
    """A consumer that does not read for a while fills its socket; the broker pauses and
    resumes dispatch with the transport and delivers it all, in order, once the reader
    catches up."""
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    body = b"x" * 4096
    n = 1500   # about 6 MB: far more than the socket buffers hold
    with RawStomp(port) as p:
        p.connect("1.2")
        for i in range(n):
            p.send("SEND", {"destination": q, "n": str(i)}, body)
        p.nothing()
    with RawStomp(port) as c:
        c.connect("1.2")
        c.send("SUBSCRIBE", {"destination": q, "id": "s", "receipt": "r"})
        time.sleep(0.3)   # not reading: the socket buffers fill and the transport pauses
        assert c.expect("RECEIPT").headers["receipt-id"] == "r"
        got = [int(c.expect("MESSAGE").headers["n"]) for _ in range(n)]
        assert got == list(range(n))
        c.nothing()
