"""One queue, two doors: SQS and STOMP on the same queues.

SQS SendMessage -> STOMP subscriber gets the body and the attributes as headers (types kept for
the way back); STOMP SEND with user headers -> SQS ReceiveMessage returns them as
MessageAttributes; STOMP NACK/disconnect and SQS visibility expiry both count as receives
(ApproximateReceiveCount, RedrivePolicy); DelaySeconds and AMQ_SCHEDULED_DELAY are one thing."""
from __future__ import annotations

import base64
import hashlib
import json
import threading
import time

import pytest

from tests.conftest import unique
from tests.integration.sqs_clients import (PROTOCOLS, create_queue, make_client, queue_arn, queue_attributes,
                                           receive, receive_until, sqs_client)
from tests.integration.stomp_client import RawStomp, build, connect

# Starts the MessageRetentionPeriod probes early (see tests/integration/conftest.py).
pytestmark = pytest.mark.usefixtures("sqs_retention_probes")

# Headers every MESSAGE frame carries whatever the message; the rest are the message's own.
_STOMP_STANDARD = {"subscription", "destination", "message-id", "persistent", "redelivered", "expires",
                   "priority", "timestamp", "ack", "content-length", "content-type"}


@pytest.fixture(params=PROTOCOLS)
def sqs(request: pytest.FixtureRequest, shared_broker):
    return sqs_client(request.param, shared_broker.aws_url)


def _md5_of_attributes(attributes: dict) -> str:
    """AWS's algorithm (see test_sqs_messages.aws_md5_of_attributes)."""
    out = b""
    for name in sorted(attributes):
        value = attributes[name]
        out += len(name.encode()).to_bytes(4, "big") + name.encode()
        out += len(value["DataType"].encode()).to_bytes(4, "big") + value["DataType"].encode()
        data = bytes(value["BinaryValue"]) if "BinaryValue" in value else value["StringValue"].encode()
        out += (b"\x02" if "BinaryValue" in value else b"\x01") + len(data).to_bytes(4, "big") + data
    return hashlib.md5(out).hexdigest()


def _raw_consumer(port: int, queue: str, ack: str = "client-individual") -> RawStomp:
    c = RawStomp(port)
    c.connect("1.2")
    c.send("SUBSCRIBE", {"destination": f"/queue/{queue}", "id": "s1", "ack": ack, "receipt": "sub"})
    c.expect("RECEIPT")
    return c


# ---------------------------------------------------------------------------------------------
# SQS -> STOMP
# ---------------------------------------------------------------------------------------------
def test_sqs_send_reaches_stomp_subscriber_with_attributes_as_headers(sqs, shared_broker):
    q = unique("s2s")
    url = create_queue(sqs, q)
    attrs = {"color": {"DataType": "String", "StringValue": "blue"},
             "count": {"DataType": "Number", "StringValue": "42"},
             "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}}
    sent = sqs.send_message(QueueUrl=url, MessageBody="from sqs ✓", MessageAttributes=attrs)
    client = connect(shared_broker.stomp_port)
    try:
        client.subscribe_sync(f"/queue/{q}", "1", ack="auto")
        msg = client.listener.get()
        assert msg.body == "from sqs ✓"
        assert msg.headers["color"] == "blue"
        assert msg.headers["count"] == "42"
        assert base64.b64decode(msg.headers["blob"]) == b"\x00\xff"
        assert msg.headers["message-id"] == sent["MessageId"]
        assert msg.headers.get("persistent") == "true"
        assert "redelivered" not in msg.headers
        client.none()
    finally:
        client.close()
    assert receive(sqs, url) == []                 # consumed by STOMP (auto ack)


def test_attribute_types_round_trip_through_a_stomp_client(sqs, shared_broker):
    q_in, q_out = unique("rt-in"), unique("rt-out")
    url_in = create_queue(sqs, q_in)
    url_out = create_queue(sqs, q_out)
    attrs = {"n": {"DataType": "Number.float", "StringValue": "2.5"},
             "b": {"DataType": "Binary.gz", "BinaryValue": b"\x1f\x8b"},
             "s": {"DataType": "String", "StringValue": "plain"}}
    sqs.send_message(QueueUrl=url_in, MessageBody="round trip", MessageAttributes=attrs)
    client = connect(shared_broker.stomp_port)
    try:
        client.subscribe_sync(f"/queue/{q_in}", "1", ack="auto")
        msg = client.listener.get()
        # a STOMP application forwards the message with all its own headers (SenderId is the
        # SQS system attribute the broker shows as a header; it is not a user attribute)
        forward = {k: v for k, v in msg.headers.items() if k not in _STOMP_STANDARD | {"SenderId"}}
        client.send_sync(f"/queue/{q_out}", msg.body, persistent="true", **forward)
    finally:
        client.close()
    [back] = receive_until(sqs, url_out, 1)
    assert back["Body"] == "round trip"
    assert back["MessageAttributes"] == attrs
    assert back["MD5OfMessageAttributes"] == _md5_of_attributes(attrs)


# ---------------------------------------------------------------------------------------------
# STOMP -> SQS
# ---------------------------------------------------------------------------------------------
def test_stomp_send_is_received_by_sqs_with_headers_as_attributes(sqs, shared_broker):
    q = unique("st2s")
    client = connect(shared_broker.stomp_port)
    try:
        before = int(time.time() * 1000)
        client.send_sync(f"/queue/{q}", "from stomp", persistent="true", color="red", order_id="A-17")
    finally:
        client.close()
    url = sqs.get_queue_url(QueueName=q)["QueueUrl"]           # the STOMP queue exists for SQS
    [msg] = receive_until(sqs, url, 1)
    assert msg["Body"] == "from stomp"
    assert msg["MD5OfBody"] == hashlib.md5(b"from stomp").hexdigest()
    expected = {"color": {"DataType": "String", "StringValue": "red"},
                "order_id": {"DataType": "String", "StringValue": "A-17"}}
    assert msg["MessageAttributes"] == expected
    assert msg["MD5OfMessageAttributes"] == _md5_of_attributes(expected)
    assert msg["Attributes"]["ApproximateReceiveCount"] == "1"
    assert int(msg["Attributes"]["SentTimestamp"]) >= before - 1000
    sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])


def test_stomp_body_with_characters_xml_cannot_carry(sqs, shared_broker):
    """A STOMP body may hold bytes SQS would refuse; receiving it must not break the client
    (under Query the reply is XML)."""
    q = unique("ctl")
    c = RawStomp(shared_broker.stomp_port)
    try:
        c.connect("1.2")
        body = "a\x01b\x00c".encode()
        c.send("SEND", {"destination": f"/queue/{q}", "content-length": str(len(body)),
                        "persistent": "true", "receipt": "r"}, body)
        c.expect("RECEIPT")
    finally:
        c.close()
    url = sqs.get_queue_url(QueueName=q)["QueueUrl"]
    [msg] = receive_until(sqs, url, 1)
    assert msg["Body"].startswith("a") and msg["Body"].endswith("c")
    assert msg["MD5OfBody"] == hashlib.md5(msg["Body"].encode()).hexdigest()


def test_long_poll_is_woken_by_a_stomp_send(sqs, shared_broker):
    q = unique("lp")
    url = create_queue(sqs, q)
    protocol = sqs.meta.service_model.protocol
    poller = make_client("query" if protocol == "query" else "json", shared_broker.aws_url)
    out: dict = {}

    def poll() -> None:
        start = time.monotonic()
        out["messages"] = receive(poller, url, wait=2)
        out["elapsed"] = time.monotonic() - start

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    time.sleep(0.3)
    client = connect(shared_broker.stomp_port)
    try:
        client.send_sync(f"/queue/{q}", "wake", persistent="true")
    finally:
        client.close()
    thread.join(5)
    assert [m["Body"] for m in out["messages"]] == ["wake"]
    assert out["elapsed"] < 1.3, out["elapsed"]


# ---------------------------------------------------------------------------------------------
# receive counts across doors
# ---------------------------------------------------------------------------------------------
def test_stomp_nack_counts_as_a_receive(sqs, shared_broker):
    """Issue 3: a NACK counts as a receive for ApproximateReceiveCount and the DLQ, so with
    maxReceiveCount 3 one NACK leaves the message in its queue, receive count raised."""
    dlq = create_queue(sqs, unique("dlq"))
    q = unique("nack")
    url = create_queue(sqs, q, RedrivePolicy=json.dumps({"deadLetterTargetArn": queue_arn(sqs, dlq),
                                                         "maxReceiveCount": 3}))
    sent = sqs.send_message(QueueUrl=url, MessageBody="nack me")
    c = _raw_consumer(shared_broker.stomp_port, q)
    msg = c.expect("MESSAGE")
    assert msg.headers["message-id"] == sent["MessageId"]
    # NACK and leave in one write: whatever the broker redelivers before the DISCONNECT is
    # a delivery too, and is counted below.
    c.send_raw(build("NACK", {"id": msg.headers["ack"]}) + build("DISCONNECT", {"receipt": "bye"}))
    frames = c.wait_closed()
    c.abort()
    deliveries = 1 + sum(1 for f in frames if f.command == "MESSAGE")
    assert deliveries < 3, frames
    assert receive(sqs, dlq) == []
    [again] = receive_until(sqs, url, 1)
    assert again["MessageId"] == sent["MessageId"]
    assert again["Attributes"]["ApproximateReceiveCount"] == str(deliveries + 1)


def test_stomp_disconnect_without_ack_counts_as_a_receive(sqs, shared_broker):
    q = unique("disc")
    url = create_queue(sqs, q)
    sqs.send_message(QueueUrl=url, MessageBody="dropped")
    c = _raw_consumer(shared_broker.stomp_port, q, ack="client")
    c.expect("MESSAGE")
    c.abort()                                       # crashed client: no ACK, no DISCONNECT
    [again] = receive_until(sqs, url, 1)
    assert again["Body"] == "dropped"
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_sqs_visibility_expiry_shows_as_redelivered_to_stomp(sqs, shared_broker):
    q = unique("vis")
    url = create_queue(sqs, q)
    sqs.send_message(QueueUrl=url, MessageBody="lapsed")
    assert len(receive(sqs, url, visibility=1)) == 1
    time.sleep(1.2)
    c = _raw_consumer(shared_broker.stomp_port, q)
    try:
        msg = c.expect("MESSAGE")
        assert msg.body == b"lapsed"
        assert msg.headers.get("redelivered") == "true"
        c.send("ACK", {"id": msg.headers["ack"], "receipt": "acked"})
        c.expect("RECEIPT")
    finally:
        c.close()
    assert receive(sqs, url) == []


def test_stomp_nack_counts_towards_redrive_policy(sqs, shared_broker):
    dlq = create_queue(sqs, unique("dlq"))
    q = unique("src")
    url = create_queue(sqs, q, RedrivePolicy=json.dumps({"deadLetterTargetArn": queue_arn(sqs, dlq),
                                                         "maxReceiveCount": 1}))
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    c = _raw_consumer(shared_broker.stomp_port, q)
    try:
        msg = c.expect("MESSAGE")
        c.send("NACK", {"id": msg.headers["ack"], "receipt": "nacked"})
        c.expect("RECEIPT")                             # no second delivery: it exceeded the count
        c.nothing(0.3)
    finally:
        c.close()
    [dead] = receive_until(sqs, dlq, 1)
    assert dead["Body"] == "poison"
    assert receive(sqs, url) == []


# ---------------------------------------------------------------------------------------------
# delays
# ---------------------------------------------------------------------------------------------
def test_sqs_delay_seconds_delays_stomp_delivery(sqs, shared_broker):
    q = unique("d2s")
    url = create_queue(sqs, q)
    client = connect(shared_broker.stomp_port)
    try:
        client.subscribe_sync(f"/queue/{q}", "1", ack="auto")
        start = time.monotonic()
        sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
        client.listener.none(0.6)
        msg = client.listener.get(3)
        assert msg.body == "later"
        assert time.monotonic() - start >= 0.9
    finally:
        client.close()


def test_amq_scheduled_delay_delays_sqs_receive(sqs, shared_broker):
    q = unique("s2d")
    url = create_queue(sqs, q)
    client = connect(shared_broker.stomp_port)
    try:
        start = time.monotonic()
        client.send_sync(f"/queue/{q}", "scheduled", persistent="true", AMQ_SCHEDULED_DELAY="1000")
    finally:
        client.close()
    assert receive(sqs, url) == []
    assert queue_attributes(sqs, url, "ApproximateNumberOfMessagesDelayed")["ApproximateNumberOfMessagesDelayed"] == "1"
    [msg] = receive(sqs, url, wait=2)
    assert msg["Body"] == "scheduled"
    assert time.monotonic() - start >= 0.9
