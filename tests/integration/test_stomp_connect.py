"""STOMP CONNECT, version negotiation and heart-beats."""
from __future__ import annotations

import time

import pytest

from tests.conftest import unique
from tests.integration.stomp_client import RawStomp, connect, wait_until


def test_no_accept_version_is_stomp_10_with_full_connected(shared_broker):
    with RawStomp(shared_broker.stomp_port) as c:
        c.send("CONNECT", {"login": "anyone", "passcode": "whatever"})
        frame = c.expect("CONNECTED")
        h = frame.headers
        assert h["version"] == "1.0"
        assert h["server"].startswith("ActiveMQ/5.17.2")
        assert h["heart-beat"] == "0,0"
        assert h["session"].startswith("ID:")
        assert frame.raw.endswith(b"\0")


@pytest.mark.parametrize("offered, agreed", [
    ("1.0", "1.0"), ("1.1", "1.1"), ("1.2", "1.2"), ("1.0,1.1", "1.1"), ("1.2,1.0", "1.2"),
    ("1.0,1.1,1.2", "1.2"), ("1.1,3.0", "1.1"), ("9.9,1.0", "1.0"),
])
def test_highest_common_version_is_chosen(shared_broker, offered, agreed):
    with RawStomp(shared_broker.stomp_port) as c:
        assert c.connect(offered).headers["version"] == agreed


def test_unsupported_version_gets_error_and_close(shared_broker):
    with RawStomp(shared_broker.stomp_port) as c:
        c.send("CONNECT", {"accept-version": "2.0", "host": "localhost"})
        frames = c.wait_closed()
        assert [f.command for f in frames] == ["ERROR"]
        err = frames[0]
        assert err.headers["message"] == "Invalid Protocol version[2.0], supported versions are: [1.2, 1.1, 1.0]"
        assert err.headers["version"] == "1.0,1.1,1.2"
        assert err.headers["content-type"] == "text/plain" and err.body
    # the broker keeps serving
    with RawStomp(shared_broker.stomp_port) as c:
        assert c.connect("1.2").headers["version"] == "1.2"


def test_stomp_command_connects(shared_broker):
    with RawStomp(shared_broker.stomp_port) as c:
        c.send("STOMP", {"accept-version": "1.2", "host": "localhost"})
        assert c.expect("CONNECTED").headers["version"] == "1.2"


def test_session_is_client_id_and_connected_headers_not_escaped(shared_broker):
    client_id = "app:" + unique("cid")
    with RawStomp(shared_broker.stomp_port) as c:
        frame = c.connect("1.2", **{"client-id": client_id, "receipt": "c-1", "request-id": "q-7"})
        # CONNECTED headers are never escaped, even on 1.2
        assert f"\nsession:{client_id}\n".encode() in frame.raw
        # As ActiveMQ: request-id wins over receipt and comes back as both headers.
        assert frame.headers["receipt-id"] == "q-7"
        assert frame.headers["response-id"] == "q-7"


def test_connect_receipt_alone_is_echoed_as_response_id_too(shared_broker):
    with RawStomp(shared_broker.stomp_port) as c:
        frame = c.connect("1.2", receipt="c-1")
        assert frame.headers["receipt-id"] == "c-1" and frame.headers["response-id"] == "c-1"
        assert frame.headers["server"] == "ActiveMQ/5.17.2"


def test_session_without_client_id_is_connection_id(shared_broker):
    with RawStomp(shared_broker.stomp_port) as a, RawStomp(shared_broker.stomp_port) as b:
        sa = a.connect("1.1").headers["session"]
        sb = b.connect("1.1").headers["session"]
        assert sa.startswith("ID:") and sb.startswith("ID:") and sa != sb


def test_duplicate_client_id_is_refused_and_closed(shared_broker):
    client_id = unique("dup")
    with RawStomp(shared_broker.stomp_port) as first:
        first.connect("1.2", **{"client-id": client_id})
        with RawStomp(shared_broker.stomp_port) as second:
            second.send("CONNECT", {"accept-version": "1.2", "host": "x", "client-id": client_id})
            frames = second.wait_closed()
            assert [f.command for f in frames] == ["ERROR"]
            assert "InvalidClientIDException" in frames[0].headers["message"]
            assert frames[0].body
        # the first connection is untouched
        assert first.roundtrip("BEGIN", {"transaction": "t"}).command == "RECEIPT"
    # once the owner left, the id is free again (the broker notices the close)
    def reconnects() -> bool:
        with RawStomp(shared_broker.stomp_port) as third:
            third.send("CONNECT", {"accept-version": "1.2", "host": "x", "client-id": client_id})
            return third.recv().command == "CONNECTED"
    wait_until(reconnects, message="client-id released")


def test_second_connect_is_a_non_fatal_error(shared_broker):
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.2")
        c.send("CONNECT", {"accept-version": "1.2", "host": "x", "receipt": "again"})
        err = c.expect("ERROR")
        assert err.headers["message"] == "Already connected."
        assert err.headers["receipt-id"] == "again"
        assert c.roundtrip("BEGIN", {"transaction": "t1"}).command == "RECEIPT"


def test_frames_before_connect_get_non_fatal_error(shared_broker):
    q = "/queue/" + unique()
    with RawStomp(shared_broker.stomp_port) as c:
        c.send("SEND", {"destination": q, "receipt": "early"}, "x")
        err = c.expect("ERROR")
        assert err.headers["message"] == "Not connected."
        assert err.headers["receipt-id"] == "early"
        assert c.is_open()
        c.connect("1.2")
        c.send("SUBSCRIBE", {"destination": q, "id": "s", "receipt": "sub"})
        c.expect("RECEIPT")
        c.nothing()   # the early SEND was not accepted


def test_any_login_is_accepted(shared_broker):
    client = connect(shared_broker.stomp_port, "1.2", username="nobody", passcode="wrong")
    try:
        client.send_sync("/queue/" + unique(), "hello")
    finally:
        client.close()


# -- heart-beats --------------------------------------------------------------------------------
@pytest.mark.parametrize("offered, answered", [("0,0", "0,0"), ("1000,2000", "2000,1000"),
                                               ("0,5000", "5000,0"), ("30000,0", "0,30000")])
def test_heart_beat_is_the_clients_value_swapped(shared_broker, offered, answered):
    with RawStomp(shared_broker.stomp_port) as c:
        assert c.connect("1.2", **{"heart-beat": offered}).headers["heart-beat"] == answered


@pytest.mark.parametrize("version", ["1.0", "1.2"])
def test_broker_sends_heart_beats_every_cy_ms(shared_broker, version):
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect(version, **{"heart-beat": "0,100"})
        c.heartbeats = 0
        start = time.monotonic()
        c.nothing(0.75)
        elapsed = time.monotonic() - start
        # one EOL every 100 ms; allow for scheduling jitter, but not for silence
        assert 4 <= c.heartbeats <= elapsed / 0.1 + 2, c.heartbeats


@pytest.mark.parametrize("bad", ["abc", "1,2,3", "-1,0", "100", "1,x"])
def test_invalid_heart_beat_is_fatal(shared_broker, bad):
    with RawStomp(shared_broker.stomp_port) as c:
        c.send("CONNECT", {"accept-version": "1.2", "host": "x", "heart-beat": bad})
        frames = c.wait_closed()
        assert [f.command for f in frames] == ["ERROR"]
        assert "heart-beat" in frames[0].headers["message"]
        assert frames[0].headers["content-type"] == "text/plain" and frames[0].body


def test_silent_client_is_dropped_and_its_messages_redelivered(shared_broker):
    q = "/queue/" + unique()
    producer = connect(shared_broker.stomp_port)
    try:
        producer.send_sync(q, "held", persistent="true")
        with RawStomp(shared_broker.stomp_port) as c:
            c.connect("1.2", **{"heart-beat": "300,0"})
            c.send("SUBSCRIBE", {"destination": q, "id": "s", "ack": "client"})
            msg = c.expect("MESSAGE")
            assert msg.body == b"held"
            start = time.monotonic()
            c.wait_closed(timeout=5)   # no input at all from here on
            waited = time.monotonic() - start
            assert 0.2 <= waited <= 2.0, waited
        producer.subscribe_sync(q, "back", ack="client-individual")
        again = producer.listener.get()
        assert again.body == "held"
        assert again.headers["redelivered"] == "true"
    finally:
        producer.close()


def test_heart_beating_client_stays_connected(shared_broker):
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.1", **{"heart-beat": "200,0"})
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            c.send_raw(b"\n")
            c.nothing(0.08)
        assert c.roundtrip("BEGIN", {"transaction": "t"}).command == "RECEIPT"


def test_heart_beats_on_a_10_connection_drop_silent_client(shared_broker):
    with RawStomp(shared_broker.stomp_port) as c:
        assert c.connect(None, **{"heart-beat": "200,0"}).headers["version"] == "1.0"
        c.wait_closed(timeout=3)


def test_stomp_py_with_heart_beats_keeps_working(shared_broker):
    q = "/queue/" + unique()
    client = connect(shared_broker.stomp_port, "1.2", heartbeats=(400, 400))
    try:
        client.subscribe_sync(q)
        time.sleep(1.3)  # several heart-beat periods both ways
        assert client.is_connected()
        client.send_sync(q, "still here")
        assert client.listener.get().body == "still here"
    finally:
        client.close()
