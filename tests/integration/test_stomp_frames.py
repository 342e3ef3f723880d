"""STOMP frames on the wire and bad input: every ERROR has a `message` header and a readable body, fatal errors
close the connection, others do not, and the broker keeps serving everyone else."""
from __future__ import annotations

import socket

import pytest

from tests.conftest import BrokerProcess, unique
from tests.integration.stomp_client import RawStomp, build, connect


def _assert_error(frame, fragment: str | None = None) -> None:
    assert frame.command == "ERROR", frame
    assert frame.headers.get("message"), frame
    assert frame.headers.get("content-type", "").startswith("text/plain"), frame
    assert frame.body.strip(), "ERROR body must explain the error"
    if fragment is not None:
        assert fragment.lower() in frame.headers["message"].lower(), frame.headers["message"]


def _fatal(port: int, payload: bytes, fragment: str | None = None, version: str = "1.2",
           connect_first: bool = True):
    """Send `payload` and check: one ERROR, then the broker closes the connection."""
    with RawStomp(port) as c:
        if connect_first:
            c.connect(version)
        c.send_raw(payload)
        frames = c.wait_closed()
        assert len(frames) == 1, frames
        _assert_error(frames[0], fragment)
        return frames[0]


def _still_serving(port: int) -> None:
    q = "/queue/" + unique("alive")
    client = connect(port)
    try:
        client.subscribe_sync(q)
        client.send_sync(q, "ok")
        assert client.listener.get().body == "ok"
    finally:
        client.close()


def test_every_frame_ends_with_nul_and_eol(shared_broker):
    q = "/queue/" + unique()
    sock = socket.create_connection(("127.0.0.1", shared_broker.stomp_port), timeout=5)
    try:
        def read_frame() -> bytes:
            data = b""
            while not data.endswith(b"\0\n"):
                chunk = sock.recv(1)
                assert chunk, "closed early"
                data += chunk
            return data
        sock.sendall(build("CONNECT", {"accept-version": "1.2", "host": "x"}))
        assert read_frame().startswith(b"CONNECTED\n")
        sock.sendall(build("SUBSCRIBE", {"destination": q, "id": "1", "receipt": "r1"}))
        assert read_frame().startswith(b"RECEIPT\n")
        sock.sendall(build("SEND", {"destination": q}, b"body"))
        assert read_frame().startswith(b"MESSAGE\n")
        sock.sendall(build("ACK", {"id": "nope", "receipt": "r2"}))
        assert read_frame().startswith(b"ERROR\n")
    finally:
        sock.close()


def test_unknown_command_is_fatal_and_nothing_is_lost(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with RawStomp(port) as c:
        c.connect("1.2")
        assert c.roundtrip("SEND", {"destination": q, "persistent": "true"}, "kept").command == "RECEIPT"
        c.send_raw(b"FROB\nreceipt:r\n\nx\0")
        frames = c.wait_closed()
        assert len(frames) == 1
        _assert_error(frames[0], "Unknown STOMP action")
    client = connect(port)
    try:
        client.subscribe_sync(q)
        assert client.listener.get().body == "kept"
    finally:
        client.close()


def test_lowercase_command_is_unknown(shared_broker):
    _fatal(shared_broker.stomp_port, build("send", {"destination": "/queue/x"}, "b"), "Unknown")


@pytest.mark.parametrize("payload, fragment", [
    (b"SEND\ndestination:/queue/cl\ncontent-length:3\n\nabcdef\0", "trailing null byte"),
    (b"SEND\ndestination:/queue/cl\ncontent-length:abc\n\nabc\0", "content-length"),
    (b"SEND\ndestination:/queue/cl\ncontent-length:-1\n\nabc\0", "content-length"),
    (b"SEND\ndestination:/queue/cl\nno colon here\n\nabc\0", "header"),
    (b"SEND\ndestination:/queue/cl\nx:\xff\xfe\n\nabc\0", "UTF-8"),
    (b"SEND\ndestination:/queue/cl\ncontent-length:999999999999\n\n", "maximum"),
])
def test_malformed_frames_are_fatal(shared_broker, payload, fragment):
    _fatal(shared_broker.stomp_port, payload, fragment)
    _still_serving(shared_broker.stomp_port)


def test_garbage_before_connect_is_fatal(shared_broker):
    _fatal(shared_broker.stomp_port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "Unknown", connect_first=False)


def test_default_limits_header_line_and_header_count(shared_broker):
    port = shared_broker.stomp_port
    long_line = build("SEND", {"destination": "/queue/x", "h": "v" * 10300}, "b")
    _fatal(port, long_line, "maximum header length")
    many = build("SEND", [("destination", "/queue/x")] + [(f"h{i}", "v") for i in range(1001)], "b")
    _fatal(port, many, "maximum number of headers")
    # just inside the limits is fine
    q = "/queue/" + unique()
    with RawStomp(port) as c:
        c.connect("1.2")
        headers = [("destination", q)] + [(f"h{i}", "v") for i in range(990)] + [("big", "v" * 10000)]
        assert c.roundtrip("SEND", dict(headers), "b").command == "RECEIPT"


def test_oversized_content_length_is_refused_before_the_body(shared_broker):
    # 200 MB announced: refused at once, without waiting for (or buffering) the body
    _fatal(shared_broker.stomp_port,
           b"SEND\ndestination:/queue/x\ncontent-length:200000000\n\npartial", "maximum")


@pytest.fixture(scope="module")
def small_limits_broker(tmp_path_factory):
    """A broker with small, configured STOMP limits (protocol-only: SQLite is enough)."""
    workdir = tmp_path_factory.mktemp("limits")
    config = workdir / "mqgate.toml"
    config.write_text("stomp_max_header_line = 200\nstomp_max_headers = 10\nstomp_max_body = 1000\n"
                      "stomp_max_connections = 3\n")
    proc = BrokerProcess(f"sqlite:///{workdir}/mqgate.db", workdir, extra=["--config", str(config)]).start()
    try:
        yield proc
    finally:
        proc.kill()


def test_configured_limits_are_enforced(small_limits_broker):
    port = small_limits_broker.stomp_port
    q = "/queue/" + unique()
    _fatal(port, build("SEND", {"destination": q, "h": "v" * 250}, "b"), "maximum header length")
    _fatal(port, build("SEND", [("destination", q)] + [(f"h{i}", "v") for i in range(11)], "b"),
           "maximum number of headers")
    _fatal(port, build("SEND", {"destination": q, "content-length": "1001"}, b"x" * 1001), "maximum")
    # a body without content-length is cut off as soon as it passes the limit
    with RawStomp(port) as c:
        c.connect("1.2")
        c.send_raw(b"SEND\ndestination:" + q.encode() + b"\n\n" + b"y" * 1500)
        frames = c.wait_closed()
        assert len(frames) == 1
        _assert_error(frames[0], "maximum")
    # at the limits everything works
    client = connect(port)
    try:
        client.subscribe_sync(q)
        client.send_sync(q, b"z" * 1000, **{"content-length": 1000})
        assert len(client.listener.get().body) == 1000
    finally:
        client.close()


def test_connection_limit(small_limits_broker):
    port = small_limits_broker.stomp_port
    held = [RawStomp(port) for _ in range(3)]
    try:
        for c in held:
            c.connect("1.2")
        with RawStomp(port) as extra:
            extra.send("CONNECT", {"accept-version": "1.2", "host": "x"})
            extra.wait_closed()
        # the three are unaffected, and a slot frees up when one leaves
        assert held[0].roundtrip("BEGIN", {"transaction": "t"}).command == "RECEIPT"
        held.pop().close()
        with RawStomp(port) as again:
            assert again.connect("1.2").headers["version"] == "1.2"
    finally:
        for c in held:
            c.close()


# -- non-fatal errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("command, headers, fragment", [
    ("SEND", {}, "destination"),
    ("SUBSCRIBE", {"id": "1"}, "destination"),
    ("SEND", {"destination": "/unknown/x"}, "destination"),
    ("SEND", {"destination": "/queue/"}, "destination"),
    ("SUBSCRIBE", {"destination": "/queue/sel", "id": "2", "selector": "a = = 1"}, "a = = 1"),
    ("COMMIT", {"transaction": "never-begun"}, "transaction"),
    ("ABORT", {"transaction": "never-begun"}, "transaction"),
    ("SEND", {"destination": "/queue/tx", "transaction": "never-begun"}, "transaction"),
    ("ACK", {"id": "12345"}, None),
    ("NACK", {"id": "12345"}, None),
    ("UNSUBSCRIBE", {"id": "no-such-sub"}, None),
    ("SUBSCRIBE", {"id": "4", "destination": "/queue/x", "activemq.prefetchSize": "many"}, None),
    ("SEND", {"destination": "/queue/bad", "priority": "high"}, "priority"),
    ("SEND", {"destination": "/queue/bad", "expires": "tomorrow"}, "expires"),
    ("SEND", {"destination": "/queue/bad", "AMQ_SCHEDULED_DELAY": "soon"}, None),
    ("SEND", {"destination": "/queue/bad", "AMQ_SCHEDULED_CRON": "every minute"}, "AMQ_SCHEDULED_CRON"),
    ("SEND", {"destination": "/queue/bad,"}, "destination"),
    ("SEND", {"destination": "/queue/bad", "persistent": "true", "expires": "9" * 25}, "expires"),
    ("SEND", {"destination": "/queue/bad", "persistent": "true", "AMQ_SCHEDULED_DELAY": "9" * 25},
     "AMQ_SCHEDULED_DELAY"),
    ("SEND", {"destination": "/queue/bad", "AMQ_SCHEDULED_PERIOD": "1000",
              "AMQ_SCHEDULED_REPEAT": "100000000"}, "AMQ_SCHEDULED_REPEAT"),
])
def test_non_fatal_errors_keep_the_connection(shared_broker, command, headers, fragment):
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.2")
        err = c.roundtrip(command, headers)
        _assert_error(err, fragment)
        # the connection still works
        assert c.roundtrip("BEGIN", {"transaction": "ok"}).command == "RECEIPT"


@pytest.mark.parametrize("header", ["expires", "JMSExpiration"])
def test_values_the_store_cannot_hold_do_not_fail_other_clients(shared_broker, header):
    """A persistent SEND with an out-of-range number is refused at the door: it never
    reaches the group commit, where it would fail everyone else's sends in that batch."""
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with RawStomp(port) as bad, RawStomp(port) as good:
        bad.connect("1.2")
        good.connect("1.2")
        for i in range(5):
            bad.send("SEND", {"destination": q, "persistent": "true", header: str(2 ** 70)}, "bad")
            good.send("SEND", {"destination": q, "persistent": "true", "receipt": f"g{i}"}, f"good{i}")
        answers = [good.recv() for _ in range(5)]
        assert [(f.command, f.headers.get("receipt-id")) for f in answers] == \
            [("RECEIPT", f"g{i}") for i in range(5)]
        assert [bad.expect("ERROR").headers["message"] for _ in range(5)]
    client = connect(port)
    try:
        client.subscribe_sync(q)
        assert [m.body for m in client.exactly(5)] == [f"good{i}" for i in range(5)]
    finally:
        client.close()


def test_error_without_receipt_has_no_receipt_id(shared_broker):
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.2")
        c.send("SEND", {}, "no destination")
        err = c.expect("ERROR")
        _assert_error(err)
        assert "receipt-id" not in err.headers


def test_receipts_on_every_client_frame(shared_broker):
    q = "/queue/" + unique()
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.2")
        assert c.roundtrip("SUBSCRIBE", {"destination": q, "id": "s", "ack": "client"}).command == "RECEIPT"
        c.send("SEND", {"destination": q, "receipt": "sent"}, "a")
        frames = {f.command: f for f in (c.recv(), c.recv())}
        assert frames["RECEIPT"].headers["receipt-id"] == "sent"
        msg = frames["MESSAGE"]
        assert msg.body == b"a"
        assert c.roundtrip("BEGIN", {"transaction": "t"}).command == "RECEIPT"
        assert c.roundtrip("ACK", {"id": msg.headers["ack"], "transaction": "t"}).command == "RECEIPT"
        assert c.roundtrip("COMMIT", {"transaction": "t"}).command == "RECEIPT"
        assert c.roundtrip("BEGIN", {"transaction": "t2"}).command == "RECEIPT"
        assert c.roundtrip("ABORT", {"transaction": "t2"}).command == "RECEIPT"
        assert c.roundtrip("UNSUBSCRIBE", {"id": "s"}).command == "RECEIPT"
        c.send("DISCONNECT", {"receipt": "bye"})
        frames = c.wait_closed()
        assert [(f.command, f.headers.get("receipt-id")) for f in frames] == [("RECEIPT", "bye")]


def test_repeated_header_first_value_wins(shared_broker):
    q = "/queue/" + unique()
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.2")
        c.send("SUBSCRIBE", {"destination": q, "id": "s", "receipt": "r"})
        c.expect("RECEIPT")
        c.send("SEND", [("destination", q), ("color", "red"), ("color", "blue"),
                        ("destination", "/queue/elsewhere")], "x")
        msg = c.expect("MESSAGE")
        assert msg.headers["color"] == "red"
        assert [v for n, v in msg.header_list if n == "color"] == ["red"]
        assert msg.headers["destination"] == q


@pytest.mark.parametrize("version, expected", [("1.0", "padded"), ("1.1", "  padded  "),
                                               ("1.2", "  padded  ")])
def test_header_values_trimmed_on_10_only(shared_broker, version, expected):
    q = "/queue/" + unique()
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect(version)
        c.send("SUBSCRIBE", {"destination": q, "id": "s", "receipt": "r"})
        c.expect("RECEIPT")
        c.send_raw(f"SEND\ndestination:{q}\nspace:  padded  \n\nx\0".encode())
        assert c.expect("MESSAGE").headers["space"] == expected


@pytest.mark.parametrize("version", ["1.0", "1.2"])
def test_crlf_lines_are_accepted(shared_broker, version):
    q = "/queue/" + unique()
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect(version)
        c.send_raw(f"SUBSCRIBE\r\ndestination:{q}\r\nid:s\r\nreceipt:r1\r\n\r\n\0\r\n".encode())
        assert c.expect("RECEIPT").headers["receipt-id"] == "r1"
        c.send_raw(f"SEND\r\ndestination:{q}\r\nk:v\r\n\r\nbody\0".encode())
        msg = c.expect("MESSAGE")
        assert msg.body == b"body"
        assert msg.headers["k"] == "v"


def test_client_vanishing_mid_frame_loses_nothing(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with RawStomp(port) as c:
        c.connect("1.2")
        assert c.roundtrip("SEND", {"destination": q, "persistent": "true"}, "whole").command == "RECEIPT"
        c.send_raw(b"SEND\ndestination:" + q.encode() + b"\ncontent-length:100\n\nhalf a bo")
        c.abort()
    client = connect(port)
    try:
        client.subscribe_sync(q)
        assert [m.body for m in client.everything()] == ["whole"]
    finally:
        client.close()


def test_many_bad_clients_do_not_disturb_a_good_one(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    good = connect(port)
    try:
        good.subscribe_sync(q, ack="client-individual")
        bad_inputs = [b"\0\0\0", b"CONNECT\naccept-version:1.2\n\n\0SEND\n\n\0" * 2,
                      b"\xff" * 100, b"CONNECT\n" + b"a" * 20000, b"SUBSCRIBE\n\n\0"]
        for i, payload in enumerate(bad_inputs * 4):
            with RawStomp(port) as bad:
                bad.send_raw(payload)
                good.send_sync(q, f"m{i}", persistent="true")
        got = good.listener.take(len(bad_inputs) * 4)
        assert [m.body for m in got] == [f"m{i}" for i in range(len(bad_inputs) * 4)]
    finally:
        good.close()


def test_disconnect_answers_pending_receipts_first(shared_broker):
    """A producer that pipelines persistent SENDs and a DISCONNECT gets every RECEIPT."""
    q = "/queue/" + unique()
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.2")
        frames = [build("SEND", {"destination": q, "persistent": "true", "receipt": f"s{i}"}, str(i))
                  for i in range(20)]
        c.send_raw(b"".join(frames) + build("DISCONNECT", {"receipt": "bye"}))
        answers = c.wait_closed()
        assert [f.headers.get("receipt-id") for f in answers] == [f"s{i}" for i in range(20)] + ["bye"]
    client = connect(shared_broker.stomp_port)
    try:
        client.subscribe_sync(q)
        assert [m.body for m in client.exactly(20)] == [str(i) for i in range(20)]
    finally:
        client.close()


def test_disconnect_without_receipt_closes(shared_broker):
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.2")
        c.send("DISCONNECT")
        assert c.wait_closed() == []
