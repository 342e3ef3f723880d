"""ERROR frames in ActiveMQ 5.17's own words, so clients and people matching on them see
what they would see with ActiveMQ; which errors close the connection is ActiveMQ's too."""
from __future__ import annotations

import pytest

from tests.conftest import unique
from tests.integration.stomp_client import RawStomp


def error_of(port: int, version: str, command: str, headers: dict[str, str], body: bytes = b"") -> str:
    with RawStomp(port) as c:
        c.connect(version)
        frame = c.roundtrip(command, headers, body)
        assert frame.command == "ERROR", frame
        assert c.is_open(), "this error must not close the connection"
        return frame.headers["message"]


@pytest.mark.parametrize("version,command,headers,message", [
    ("1.2", "SEND", {}, "SEND received without a Destination specified!"),
    ("1.2", "SUBSCRIBE", {"destination": "/queue/x"}, "SUBSCRIBE received without a subscription id!"),
    ("1.2", "SUBSCRIBE", {"id": "1"}, "Invalid empty or 'null' Destination header"),
    ("1.2", "UNSUBSCRIBE", {}, "UNSUBSCRIBE received without a subscription id!"),
    ("1.0", "UNSUBSCRIBE", {}, "Must specify the subscriptionId or the destination you are unsubscribing from"),
    ("1.2", "UNSUBSCRIBE", {"id": "nope"}, "No subscription matched."),
    ("1.2", "ACK", {}, "ACK received without a ack id for acknowledge!"),
    ("1.2", "NACK", {}, "NACK received without an ack header to acknowledge!"),
    ("1.2", "ACK", {"id": "42"}, "Unexpected ACK received for message-id [null]"),
    ("1.1", "ACK", {"message-id": "m"}, "ACK received without a subscription id for acknowledge!"),
    ("1.1", "NACK", {"message-id": "m"}, "NACK received without a subscription id for acknowledge!"),
    ("1.0", "ACK", {}, "ACK received without a message-id to acknowledge!"),
    ("1.0", "ACK", {"message-id": "m"}, "Unexpected ACK received for message-id [m]"),
    ("1.0", "NACK", {"message-id": "m"}, "NACK received but connection is in v1.0 mode."),
    ("1.2", "BEGIN", {}, "Must specify the transaction you are beginning"),
    ("1.2", "COMMIT", {}, "Must specify the transaction you are committing"),
    ("1.2", "ABORT", {"transaction": "zz"}, "Invalid transaction id: zz"),
    ("1.2", "SEND", {"destination": "/queue/x", "transaction": "zz"}, "Invalid transaction id: zz"),
])
def test_activemq_error_texts(shared_broker, version, command, headers, message):
    assert error_of(shared_broker.stomp_port, version, command, headers) == message


def test_transaction_started_twice(shared_broker):
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.2")
        assert c.roundtrip("BEGIN", {"transaction": "t1"}).command == "RECEIPT"
        assert c.roundtrip("BEGIN", {"transaction": "t1"}).headers["message"] == \
            "The transaction was already started: t1"


def test_durable_subscription_on_a_queue(shared_broker):
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.2", **{"client-id": unique("cid")})
        frame = c.roundtrip("SUBSCRIBE", {"destination": "/queue/" + unique(), "id": "1",
                                          "activemq.subscriptionName": "s"})
        assert frame.headers["message"] == "Invalid Subscription: cannot durably subscribe to a Queue destination!"


def test_unknown_command_error_carries_the_receipt_and_closes(shared_broker):
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.2")
        c.send("BOGUS", {"receipt": "r-9"})
        err = c.expect("ERROR")
        assert err.headers["message"] == "Unknown STOMP action: BOGUS"
        assert err.headers["receipt-id"] == "r-9"
        c.wait_closed()


def test_bad_content_length_is_fatal(shared_broker):
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.2")
        c.send_raw(b"SEND\ndestination:/queue/x\ncontent-length:abc\n\nabc\0")
        assert c.expect("ERROR").headers["message"] == "Specified content-length is not a valid integer"
        c.wait_closed()
