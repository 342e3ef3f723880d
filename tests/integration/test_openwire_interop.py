"""One queue, every door: JMS (OpenWire) ↔ STOMP ↔ SQS with ActiveMQ's mapping
(TextMessage ↔ no content-length, BytesMessage ↔ content-length, JMS headers ↔ STOMP
headers), and better than ActiveMQ where it loses things: typed JMS properties survive a
trip through STOMP or SQS and back, and 4-byte UTF-8 and U+0000 survive in text bodies."""
from __future__ import annotations

import base64

import pytest

from tests.conftest import BrokerProcess, unique
from tests.integration.jms import JmsPrograms
from tests.integration.sqs_clients import create_queue, make_client, receive
from tests.integration.stomp_client import RawStomp

# Starts the MessageRetentionPeriod probes early (see tests/integration/conftest.py).
pytestmark = pytest.mark.usefixtures("sqs_retention_probes")

TYPED = ("{pBool=Boolean:true, pByte=Byte:7, pDouble=Double:3.25, pFloat=Float:1.5, pInt=Integer:42, "
         "pLong=Long:1234567890123, pShort=Short:300, pString=String:h\u00e9llo, seq=Integer:0}")
STANDARD = {"subscription", "destination", "message-id", "persistent", "redelivered", "expires",
            "priority", "timestamp", "ack", "content-length"}


def url(broker: BrokerProcess) -> str:
    return f"tcp://127.0.0.1:{broker.openwire_port}"


def stomp_receive(port: int, queue: str) -> RawStomp:
    client = RawStomp(port)
    client.connect("1.2")
    client.send("SUBSCRIBE", {"destination": f"/queue/{queue}", "id": "s1", "receipt": "sub"})
    client.expect("RECEIPT")
    return client


def test_jms_to_stomp_and_back_keeps_headers_and_typed_properties(shared_broker: BrokerProcess,
                                                                   jms: JmsPrograms) -> None:
    first, second = unique("j2s"), unique("s2j")
    jms.run(url(shared_broker), "send", first, "1")
    with stomp_receive(shared_broker.stomp_port, first) as stomp:
        msg = stomp.expect("MESSAGE")
        h = msg.headers
        # ActiveMQ's JMS -> STOMP mapping.
        assert msg.body == b"msg0" and "content-length" not in h
        assert h["destination"] == f"/queue/{first}"
        assert h["message-id"].startswith("ID:") and h["message-id"].endswith(":1:1:1")
        assert h["correlation-id"] == "corr-0" and h["persistent"] == "true" and h["priority"] == "4"
        assert h["expires"] == "0" and int(h["timestamp"]) > 0 and "redelivered" not in h
        assert (h["pInt"], h["pLong"], h["pBool"], h["pFloat"], h["pDouble"], h["pShort"], h["pByte"]) == \
            ("42", "1234567890123", "true", "1.5", "3.25", "300", "7")
        assert h["pString"] == "h\u00e9llo"
        # Re-sent by the STOMP client with its headers, the message reaches JMS with its types.
        resend = {k: v for k, v in h.items() if k not in STANDARD}
        resend.update({"destination": f"/queue/{second}", "persistent": "true", "receipt": "r"})
        stomp.send("SEND", resend, msg.body)
        stomp.expect("RECEIPT")
    out = jms.run(url(shared_broker), "receive", second, "1")
    assert out["body0"] == "text:msg0"
    assert out["props0"] == TYPED
    assert out["headers0"] == "corr-0,null,2,4,false,null"


def test_stomp_to_jms_text_bytes_and_headers(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    q = unique("s2j")
    with RawStomp(shared_broker.stomp_port) as stomp:
        stomp.connect("1.2")
        stomp.send("SEND", {"destination": f"/queue/{q}", "color": "red", "num": "42", "type": "order",
                            "correlation-id": "c-1", "reply-to": "/queue/replies", "priority": "7",
                            "persistent": "true"}, "text \U0001F600 body".encode())
        stomp.send("SEND", {"destination": f"/queue/{q}", "content-length": "3"}, b"\x00\x01\x02")
        stomp.send("SEND", {"destination": f"/queue/{q}", "content-length": "4", "amq-msg-type": "text",
                            "receipt": "r"}, b"t\x00xt")
        stomp.expect("RECEIPT")
    out = jms.run(url(shared_broker), "receive", q, "3")
    # No content-length: a TextMessage; a 4-byte character survives (ActiveMQ's getText() throws).
    assert out["body0"] == "text:text \U0001F600 body"
    # STOMP headers are String properties, as in ActiveMQ (no type inference).
    assert out["props0"] == "{color=String:red, num=String:42}"
    assert out["headers0"] == "c-1,order,2,7,false,queue://replies"
    assert out["body1"] == "bytes:" + base64.b64encode(b"\x00\x01\x02").decode()
    assert out["headers1"] == "null,null,1,4,false,null"
    assert out["body2"] == "text:t\x00xt"
    assert out["props2"] == "{amq-msg-type=String:text, content-length=String:4}"


def test_unicode_text_from_jms_reaches_stomp_as_real_utf8(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    q = unique("uni")
    jms.run(url(shared_broker), "send", q, "1", "persistent", "unicode")
    with stomp_receive(shared_broker.stomp_port, q) as stomp:
        msg = stomp.expect("MESSAGE")
    # Standard UTF-8 (not Java's modified UTF-8), and a length so the NUL does not end the frame.
    assert msg.body == "smile \U0001F600 nul\x00 end 0".encode()
    assert msg.headers["content-length"] == str(len(msg.body))


def test_sqs_and_jms_share_a_queue_with_typed_attributes(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    sqs = make_client("json", shared_broker.aws_url)
    q = unique("sqs")
    queue_url = create_queue(sqs, q)
    sqs.send_message(QueueUrl=queue_url, MessageBody="from sqs \u2713", MessageAttributes={
        "count": {"DataType": "Number", "StringValue": "42"},
        "big": {"DataType": "Number", "StringValue": "12345678901"},
        "ratio": {"DataType": "Number", "StringValue": "2.5"},
        "name": {"DataType": "String", "StringValue": "x"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}})
    out = jms.run(url(shared_broker), "receive", q, "1")
    assert out["body0"] == "text:from sqs \u2713"
    assert out["props0"] == ("{big=Long:12345678901, blob=byte[]:AP8=, count=Integer:42, name=String:x, "
                             "ratio=Double:2.5}")
    jms.run(url(shared_broker), "send", q, "1")
    (message,) = receive(sqs, queue_url, wait=5)
    assert message["Body"] == "msg0"
    attrs = message["MessageAttributes"]
    # Java types travel as SQS custom type labels...
    assert attrs["pInt"] == {"DataType": "Number.int", "StringValue": "42"}
    assert attrs["pDouble"] == {"DataType": "Number.double", "StringValue": "3.25"}
    assert attrs["pBool"] == {"DataType": "String.boolean", "StringValue": "true"}
    assert attrs["pString"] == {"DataType": "String", "StringValue": "h\u00e9llo"}
    # ...so an SQS client passing the message on gives JMS its exact types back.
    back = unique("sqs")
    back_url = create_queue(sqs, back)
    sqs.send_message(QueueUrl=back_url, MessageBody=message["Body"], MessageAttributes=attrs)
    out = jms.run(url(shared_broker), "receive", back, "1")
    assert out["props0"] == TYPED


def test_jms_wildcard_queue_consumer(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    base = "wild." + unique()
    with RawStomp(shared_broker.stomp_port) as stomp:
        stomp.connect("1.2")
        for part in ("a", "b"):
            stomp.send("SEND", {"destination": f"/queue/{base}.{part}", "receipt": part}, f"to {part}".encode())
            stomp.expect("RECEIPT")
    out = jms.run(url(shared_broker), "receive", f"{base}.*", "2")
    assert sorted([out["body0"], out["body1"]]) == ["text:to a", "text:to b"]


@pytest.mark.parametrize("kind", ["temp-queue", "temp-topic"])
def test_jms_responder_replies_to_a_stomp_temp_destination(shared_broker: BrokerProcess, jms: JmsPrograms,
                                                          kind: str) -> None:
    q = unique("rpc")
    responder = jms.start(url(shared_broker), "responder", q)
    try:
        assert responder.stdout is not None
        assert responder.stdout.readline().strip() == "ready=yes"   # its advisory consumer is up
        with RawStomp(shared_broker.stomp_port) as stomp:
            stomp.connect("1.2")
            stomp.send("SUBSCRIBE", {"destination": f"/{kind}/replies", "id": "r", "receipt": "sub"})
            stomp.expect("RECEIPT")
            # Made after the JMS client connected: announced to it live.
            stomp.send("SEND", {"destination": f"/queue/{q}", "reply-to": f"/{kind}/replies",
                                "correlation-id": "c-7"}, b"ping")
            reply = stomp.expect("MESSAGE")
            assert reply.body == b"re: ping" and reply.headers["correlation-id"] == "c-7"
            assert reply.headers["destination"] == f"/{kind}/replies"
        out = jms.finish(responder)
        assert out["request"].startswith(f"text:ping,{kind}://ID:")
    finally:
        if responder.poll() is None:
            responder.kill()


def test_client_ids_are_one_namespace_across_stomp_and_jms(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    client_id = unique("cid")
    with RawStomp(shared_broker.stomp_port) as stomp:
        stomp.connect("1.2", **{"client-id": client_id})
        out = jms.run(url(shared_broker), "clientid", client_id, ok=False)
    assert out["error"].startswith(f"javax.jms.InvalidClientIDException: Broker: localhost - Client: {client_id} "
                                   "already connected from tcp://127.0.0.1:")


def test_durable_subscription_shared_by_jms_and_stomp(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    name = unique("dur")
    # JMS: durable subscriber sub1 of client cid-<name> receives one message, goes away,
    # and a message is published while it is away.
    out = jms.run(url(shared_broker), "durable", name, "leave")
    assert out["online"] == "text:online"
    # The same subscription, resumed by a STOMP client with the same client id.
    with RawStomp(shared_broker.stomp_port) as stomp:
        stomp.connect("1.2", **{"client-id": f"cid-{name}"})
        stomp.send("SUBSCRIBE", {"destination": f"/topic/{name}", "id": "d",
                                 "activemq.subscriptionName": "sub1"})
        msg = stomp.expect("MESSAGE")
        assert msg.body == b"offline"
        stomp.nothing()
