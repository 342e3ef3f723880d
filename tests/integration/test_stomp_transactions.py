"""Transactions over sends and acks."""
from __future__ import annotations

from tests.conftest import unique
from tests.integration.stomp_client import RawStomp, connect


def _remaining(port: int, q: str) -> list[tuple[str, bool]]:
    client = connect(port)
    try:
        client.subscribe_sync(q, "rest")
        return [(m.body, m.headers.get("redelivered") == "true") for m in client.everything()]
    finally:
        client.close()


def test_sends_are_invisible_until_commit(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    consumer = connect(port)
    producer = connect(port)
    try:
        consumer.subscribe_sync(q)
        tx = producer.begin()
        for i in range(3):
            producer.send(q, f"t{i}", headers={"persistent": "true"}, transaction=tx)
        producer.sync()
        consumer.none()
        r = producer.receipt()
        producer.commit(tx, headers={"receipt": r})
        producer.listener.wait_receipt(r)
        got = consumer.exactly(3)
        assert [m.body for m in got] == ["t0", "t1", "t2"]
        assert all("transaction" not in m.headers for m in got)
    finally:
        consumer.close()
        producer.close()


def test_abort_discards_sends(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    producer = connect(port)
    try:
        tx = producer.begin()
        producer.send(q, "never", transaction=tx)
        producer.abort(tx)
        producer.send_sync(q, "after")
    finally:
        producer.close()
    assert _remaining(port, q) == [("after", False)]


def test_commit_applies_acks(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with RawStomp(port) as c:
        c.connect("1.2")
        for i in range(3):
            c.send("SEND", {"destination": q, "persistent": "true"}, f"m{i}")
        c.send("SUBSCRIBE", {"destination": q, "id": "s", "ack": "client-individual"})
        msgs = [c.expect("MESSAGE") for _ in range(3)]
        c.send("BEGIN", {"transaction": "tx"})
        for m in msgs[:2]:
            c.send("ACK", {"id": m.headers["ack"], "transaction": "tx"})
        assert c.roundtrip("COMMIT", {"transaction": "tx"}).command == "RECEIPT"
    assert _remaining(port, q) == [("m2", True)]


def test_abort_returns_acks_and_ack_ids_work_again(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with RawStomp(port) as c:
        c.connect("1.2")
        for i in range(2):
            c.send("SEND", {"destination": q, "persistent": "true"}, f"m{i}")
        c.send("SUBSCRIBE", {"destination": q, "id": "s", "ack": "client-individual"})
        msgs = [c.expect("MESSAGE") for _ in range(2)]
        c.send("BEGIN", {"transaction": "tx"})
        c.send("ACK", {"id": msgs[0].headers["ack"], "transaction": "tx"})
        assert c.roundtrip("ABORT", {"transaction": "tx"}).command == "RECEIPT"
        # not redelivered on this subscription ...
        c.nothing()
        # ... but the ack id is valid again
        assert c.roundtrip("ACK", {"id": msgs[0].headers["ack"]}).command == "RECEIPT"
    assert _remaining(port, q) == [("m1", True)]


def test_aborted_client_ack_is_returned_too(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    with RawStomp(port) as c:
        c.connect("1.2")
        for i in range(3):
            c.send("SEND", {"destination": q}, f"m{i}")
        c.send("SUBSCRIBE", {"destination": q, "id": "s", "ack": "client"})
        msgs = [c.expect("MESSAGE") for _ in range(3)]
        c.send("BEGIN", {"transaction": "tx"})
        c.send("ACK", {"id": msgs[1].headers["ack"], "transaction": "tx"})
        assert c.roundtrip("ABORT", {"transaction": "tx"}).command == "RECEIPT"
        assert c.roundtrip("ACK", {"id": msgs[0].headers["ack"]}).command == "RECEIPT"
    assert [b for b, _ in _remaining(port, q)] == ["m1", "m2"]


def test_transaction_mixing_sends_and_acks(shared_broker):
    """The classic consume-transform-produce step: ack the input and send the output at once."""
    port = shared_broker.stomp_port
    qin, qout = "/queue/" + unique("in"), "/queue/" + unique("out")
    with RawStomp(port) as c:
        c.connect("1.2")
        c.send("SEND", {"destination": qin, "persistent": "true"}, "input")
        c.send("SUBSCRIBE", {"destination": qin, "id": "s", "ack": "client-individual"})
        m = c.expect("MESSAGE")
        c.send("BEGIN", {"transaction": "t"})
        c.send("ACK", {"id": m.headers["ack"], "transaction": "t"})
        c.send("SEND", {"destination": qout, "persistent": "true", "transaction": "t"}, "output")
        assert c.roundtrip("COMMIT", {"transaction": "t"}).command == "RECEIPT"
    assert _remaining(port, qin) == []
    assert _remaining(port, qout) == [("output", False)]


def test_disconnect_rolls_back_open_transactions(shared_broker):
    port = shared_broker.stomp_port
    q, out = "/queue/" + unique(), "/queue/" + unique("out")
    with RawStomp(port) as c:
        c.connect("1.2")
        c.send("SEND", {"destination": q, "persistent": "true"}, "m0")
        c.send("SUBSCRIBE", {"destination": q, "id": "s", "ack": "client"})
        m = c.expect("MESSAGE")
        c.send("BEGIN", {"transaction": "t"})
        c.send("ACK", {"id": m.headers["ack"], "transaction": "t"})
        c.send("SEND", {"destination": out, "transaction": "t"}, "uncommitted")
        c.nothing()
    assert _remaining(port, q) == [("m0", True)]
    assert _remaining(port, out) == []


def test_crash_mid_transaction_keeps_what_was_committed(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    c = RawStomp(port)
    c.connect("1.2")
    c.send("BEGIN", {"transaction": "a"})
    c.send("SEND", {"destination": q, "persistent": "true", "transaction": "a"}, "committed")
    assert c.roundtrip("COMMIT", {"transaction": "a"}).command == "RECEIPT"
    c.send("BEGIN", {"transaction": "b"})
    c.send("SEND", {"destination": q, "persistent": "true", "transaction": "b"}, "lost")
    c.send_raw(b"COMMIT\ntransaction:b\nrec")   # dies mid-frame
    c.abort()
    assert _remaining(port, q) == [("committed", False)]


def test_reusing_an_open_transaction_id_is_an_error(shared_broker):
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.2")
        assert c.roundtrip("BEGIN", {"transaction": "t"}).command == "RECEIPT"
        err = c.roundtrip("BEGIN", {"transaction": "t"})
        assert err.command == "ERROR" and err.headers["message"]
        # still open and usable
        assert c.roundtrip("COMMIT", {"transaction": "t"}).command == "RECEIPT"
        # and the id may be used again once finished
        assert c.roundtrip("BEGIN", {"transaction": "t"}).command == "RECEIPT"


def test_unknown_transaction_errors(shared_broker):
    q = "/queue/" + unique()
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.2")
        for command, headers in [("COMMIT", {"transaction": "x"}), ("ABORT", {"transaction": "x"}),
                                 ("SEND", {"destination": q, "transaction": "x"}),
                                 ("BEGIN", {}), ("COMMIT", {})]:
            err = c.roundtrip(command, headers)
            assert err.command == "ERROR" and err.headers["message"], (command, err)
        c.send("SUBSCRIBE", {"destination": q, "id": "s", "ack": "client"})
        c.send("SEND", {"destination": q}, "x")
        m = c.expect("MESSAGE")
        err = c.roundtrip("ACK", {"id": m.headers["ack"], "transaction": "x"})
        assert err.command == "ERROR"
        # the failed transactional ACK did not consume the ack id
        assert c.roundtrip("ACK", {"id": m.headers["ack"]}).command == "RECEIPT"
    assert _remaining(shared_broker.stomp_port, q) == []


def test_transactions_are_per_connection(shared_broker):
    port = shared_broker.stomp_port
    with RawStomp(port) as a, RawStomp(port) as b:
        a.connect("1.2")
        b.connect("1.2")
        assert a.roundtrip("BEGIN", {"transaction": "shared-name"}).command == "RECEIPT"
        assert b.roundtrip("BEGIN", {"transaction": "shared-name"}).command == "RECEIPT"
        assert b.roundtrip("COMMIT", {"transaction": "shared-name"}).command == "RECEIPT"
        assert a.roundtrip("ABORT", {"transaction": "shared-name"}).command == "RECEIPT"


def test_transactional_nack(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    tag = unique("tag")
    with RawStomp(port) as c:
        c.connect("1.2")
        c.send("SEND", {"destination": q, "persistent": "true", "tag": tag}, "poison")
        c.send("SUBSCRIBE", {"destination": q, "id": "s", "ack": "client-individual"})
        m = c.expect("MESSAGE")
        c.send("BEGIN", {"transaction": "t"})
        c.send("NACK", {"id": m.headers["ack"], "transaction": "t"})
        assert c.roundtrip("COMMIT", {"transaction": "t"}).command == "RECEIPT"
    dlq = connect(port)
    try:
        dlq.subscribe_sync("/queue/ActiveMQ.DLQ", "d", selector=f"tag = '{tag}'")
        assert [m.body for m in dlq.exactly(1)] == ["poison"]
    finally:
        dlq.close()
    assert _remaining(port, q) == []
