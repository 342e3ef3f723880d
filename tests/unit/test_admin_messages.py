"""The REST message API's reading of a request, as ActiveMQ's MessageServlet reads it."""
from __future__ import annotations

import pytest

from broker.admin.messages import MessageApiError, build_message, delivered, destination, posted_text
from broker.engine.message import Message
from broker.protocols.activemq.destinations import QUEUE, TOPIC, Destination


def test_destination_is_a_topic_unless_told_otherwise():
    assert destination(["orders"], {}) == Destination(TOPIC, "orders")
    assert destination(["orders"], {"type": "queue"}) == Destination(QUEUE, "orders")
    assert destination(["a", "b"], {"type": "queue"}) == Destination(QUEUE, "a.b")
    assert destination([], {"destination": "queue://x"}) == Destination(QUEUE, "x")
    with pytest.raises(MessageApiError):
        destination([], {})


def test_parameters_become_headers_and_properties():
    m = build_message({"type": "queue", "body": "b", "JMSPriority": "7", "JMSDeliveryMode": "non-persistent",
                       "JMSCorrelationID": "c-1", "region": "eu"}, "b", "id", 1000)
    assert m.priority == 7 and not m.persistent and m.headers == {"correlation-id": "c-1"}
    assert m.properties == {"region": "eu"} and m.body == b"b"
    assert build_message({}, "x", "id", 1000).persistent                        # ActiveMQ's default
    assert build_message({"JMSTimeToLive": "500"}, "x", "id", 1000).expires == 1500


def test_posted_body_is_the_parameter_or_the_request_read_by_lines():
    assert posted_text({"body": "p"}, b"text/plain", b"ignored") == "p"
    assert posted_text({}, b"text/plain", b"a\nb") == "a\nb\n"
    assert posted_text({}, None, b"a") == ""


def test_a_received_message_answers_with_activemqs_headers():
    found = delivered(Message("ID:1", b"<x/>", properties={"p": "v"}), Destination(QUEUE, "q"), {})
    assert found.headers == {"destination": "queue://q", "id": "ID:1", "p": "v"}
    assert found.content_type == "application/xml" and found.body == b"<x/>"
    raw = delivered(Message("ID:2", b"\xff\x01", headers={"amq-msg-type": "bytes"}), Destination(QUEUE, "q"), {})
    assert raw.body == b"\xff\x01" and raw.content_type == "application/octet-stream"
    typed = delivered(Message("ID:3", b"\xac\xed", headers={"amq-msg-type": "map"}), Destination(QUEUE, "q"), {})
    assert typed.body == b""
