"""Queue browsing (with its end frame) and temporary destinations, reply-to rewriting included."""
from __future__ import annotations

from tests.conftest import unique
from tests.integration.stomp_client import RawStomp, connect


def _fill(port: int, q: str, *bodies: str, **headers: str) -> None:
    with RawStomp(port) as p:
        p.connect("1.2")
        for body in bodies:
            p.send("SEND", {"destination": q, **headers}, body)
        p.nothing()


def _browse(c: RawStomp, q: str, sub_id: str = "b", **headers: str) -> list:
    c.send("SUBSCRIBE", {"destination": q, "id": sub_id, "browser": "true", "receipt": "br", **headers})
    first = c.recv()
    assert first.command == "RECEIPT", f"RECEIPT must come before any MESSAGE: {first}"
    frames = []
    while True:
        frame = c.expect("MESSAGE")
        if frame.headers.get("browser") == "end":
            assert frame.headers["message-id"] == "0"
            assert frame.body == b""
            assert frame.headers["subscription"] == sub_id
            return frames
        frames.append(frame)


# -- browse -----------------------------------------------------------------------------------------
def test_browse_lists_messages_without_consuming_them(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    _fill(port, q, "a", "b", "c", persistent="true")
    with RawStomp(port) as c:
        c.connect("1.2")
        seen = _browse(c, q)
        assert [m.body for m in seen] == [b"a", b"b", b"c"]
        assert all(m.headers["destination"] == q and m.headers["subscription"] == "b" for m in seen)
        assert all("ack" not in m.headers for m in seen)
        # browsing twice shows the same
        assert [m.body for m in _browse(c, q, "b2")] == [b"a", b"b", b"c"]
    client = connect(port)
    try:
        client.subscribe_sync(q, "s")
        assert [m.body for m in client.exactly(3)] == ["a", "b", "c"]
    finally:
        client.close()


def test_browse_empty_queue_gets_only_the_end_frame(shared_broker):
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.1")
        assert _browse(c, "/queue/" + unique()) == []


def test_browse_with_selector(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with RawStomp(port) as p:
        p.connect("1.2")
        for i, color in enumerate(["red", "blue", "red"]):
            p.send("SEND", {"destination": q, "color": color}, str(i))
        p.nothing()
    with RawStomp(port) as c:
        c.connect("1.2")
        assert [m.body for m in _browse(c, q, selector="color = 'red'")] == [b"0", b"2"]


def test_browse_follows_priority_order(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with RawStomp(port) as p:
        p.connect("1.2")
        for body, prio in (("low", "1"), ("high", "9"), ("mid", "5")):
            p.send("SEND", {"destination": q, "priority": prio}, body)
        p.nothing()
    with RawStomp(port) as c:
        c.connect("1.2")
        assert [m.body for m in _browse(c, q)] == [b"high", b"mid", b"low"]


def test_browser_on_10_gets_activemqs_error(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    _fill(port, q, "x")
    with RawStomp(port) as c:
        c.connect("1.0")
        c.send("SUBSCRIBE", {"destination": q, "browser": "true", "receipt": "r"})
        err = c.expect("ERROR")
        assert err.headers["message"] == "Queue Browser feature only valid for Stomp v1.1+ clients!"
        assert err.headers["receipt-id"] == "r"
        # Not fatal: the connection keeps working, and nothing was consumed.
        c.send("SUBSCRIBE", {"destination": q, "receipt": "r2"})
        c.expect("RECEIPT")
        assert c.expect("MESSAGE").body == b"x"


def test_subscribe_receipt_precedes_messages_even_behind_a_persistent_send(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    _fill(port, q, "waiting", persistent="true")
    with RawStomp(port) as c:
        c.connect("1.2")
        # pipelined: the SEND's receipt waits for a commit, the SUBSCRIBE's comes after it
        c.send_raw(b"".join([
            b"SEND\ndestination:" + q.encode() + b"\npersistent:true\nreceipt:send\n\nnew\0",
            b"SUBSCRIBE\ndestination:" + q.encode() + b"\nid:s\nreceipt:sub\n\n\0"]))
        frames = [c.recv() for _ in range(4)]
        assert [(f.command, f.headers.get("receipt-id")) for f in frames[:2]] == \
            [("RECEIPT", "send"), ("RECEIPT", "sub")]
        assert [f.body for f in frames[2:]] == [b"waiting", b"new"]


# -- temporary queues ----------------------------------------------------------------------------------
def test_request_reply_through_a_temp_queue(shared_broker):
    port = shared_broker.stomp_port
    service_q = "/queue/" + unique("svc")
    with RawStomp(port) as requester, RawStomp(port) as service:
        requester.connect("1.2")
        service.connect("1.2")
        service.send("SUBSCRIBE", {"destination": service_q, "id": "svc", "receipt": "r"})
        service.expect("RECEIPT")
        requester.send("SUBSCRIBE", {"destination": "/temp-queue/replies", "id": "t", "receipt": "r"})
        requester.expect("RECEIPT")
        requester.send("SEND", {"destination": service_q, "reply-to": "/temp-queue/replies",
                                "correlation-id": "42"}, "ping")
        request = service.expect("MESSAGE")
        reply_to = request.headers["reply-to"]
        assert reply_to.startswith("/remote-temp-queue/ID:"), reply_to
        service.send("SEND", {"destination": reply_to, "correlation-id": "42", "receipt": "sent"}, "pong")
        assert service.expect("RECEIPT").headers["receipt-id"] == "sent"
        reply = requester.expect("MESSAGE")
        assert reply.body == b"pong"
        assert reply.headers["destination"] == "/temp-queue/replies"
        assert reply.headers["correlation-id"] == "42"


def test_owner_sees_its_own_temp_queue_name_in_reply_to(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with RawStomp(port) as c:
        c.connect("1.2")
        c.send("SUBSCRIBE", {"destination": q, "id": "s", "receipt": "r"})
        c.expect("RECEIPT")
        c.send("SEND", {"destination": q, "reply-to": "/temp-queue/mine"}, "x")
        assert c.expect("MESSAGE").headers["reply-to"] == "/temp-queue/mine"


def test_temp_queue_names_are_local_to_a_connection(shared_broker):
    port = shared_broker.stomp_port
    with RawStomp(port) as a, RawStomp(port) as b:
        a.connect("1.2")
        b.connect("1.2")
        for c in (a, b):
            c.send("SUBSCRIBE", {"destination": "/temp-queue/same", "id": "t", "receipt": "r"})
            c.expect("RECEIPT")
        a.send("SEND", {"destination": "/temp-queue/same"}, "for a")
        assert a.expect("MESSAGE").body == b"for a"
        b.nothing()


def test_temp_queue_is_deleted_with_its_owner(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with RawStomp(port) as other:
        other.connect("1.2")
        other.send("SUBSCRIBE", {"destination": q, "id": "s", "receipt": "r"})
        other.expect("RECEIPT")
        with RawStomp(port) as owner:
            owner.connect("1.2")
            owner.send("SUBSCRIBE", {"destination": "/temp-queue/t", "id": "t", "receipt": "r"})
            owner.expect("RECEIPT")
            owner.send("SEND", {"destination": q, "reply-to": "/temp-queue/t"}, "x")
            remote = other.expect("MESSAGE").headers["reply-to"]
            assert other.roundtrip("SEND", {"destination": remote}, "while alive").command == "RECEIPT"
            assert owner.expect("MESSAGE").body == b"while alive"
        # the owner is gone (its DISCONNECT was answered): so is the queue
        err = other.roundtrip("SEND", {"destination": remote}, "too late")
        assert err.command == "ERROR"
        assert "DestinationDoesNotExist" in err.headers["message"]
        assert b"DestinationDoesNotExistException" in err.body
        assert other.is_open()
        err = other.roundtrip("SUBSCRIBE", {"destination": remote, "id": "late"})
        assert err.command == "ERROR"
        assert other.roundtrip("BEGIN", {"transaction": "still-ok"}).command == "RECEIPT"


def test_temp_topic(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with RawStomp(port) as owner, RawStomp(port) as other:
        owner.connect("1.2")
        other.connect("1.2")
        owner.send("SUBSCRIBE", {"destination": "/temp-topic/events", "id": "t", "receipt": "r"})
        owner.expect("RECEIPT")
        other.send("SUBSCRIBE", {"destination": q, "id": "s", "receipt": "r"})
        other.expect("RECEIPT")
        owner.send("SEND", {"destination": q, "reply-to": "/temp-topic/events"}, "x")
        remote = other.expect("MESSAGE").headers["reply-to"]
        assert remote.startswith("/remote-temp-topic/ID:")
        other.send("SEND", {"destination": remote}, "event")
        m = owner.expect("MESSAGE")
        assert m.body == b"event"
        assert m.headers["destination"] == "/temp-topic/events"


def test_temp_queue_dies_with_its_messages(shared_broker):
    """A temp queue lives in memory with its owner: what it held is gone with it, even
    persistent messages, and the same local name on a new connection is a new, empty queue."""
    port = shared_broker.stomp_port
    with RawStomp(port) as owner:
        owner.connect("1.2")
        for i in range(3):
            owner.send("SEND", {"destination": "/temp-queue/x", "persistent": "true"}, str(i))
        owner.nothing()
    with RawStomp(port) as again:
        again.connect("1.2")
        again.send("SUBSCRIBE", {"destination": "/temp-queue/x", "id": "t", "receipt": "r"})
        again.expect("RECEIPT")
        again.nothing()
