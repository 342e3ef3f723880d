"""The engine's topic tap and the SNS fan-out behind it, on an in-memory engine with a
Clock: whichever door publishes, subscribed queues get the envelope or the raw message."""
from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from twisted.internet.task import Clock

from broker.engine.broker import Broker
from broker.engine.message import Message
from facades.sns.envelope import Publication
from facades.sns.fanout import Fanout
from facades.sns.signing import Signer
from facades.sns.state import SnsState, Topic

SIGNER = Signer.generate(datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))


def test_the_tap_sees_every_publication_after_the_topic_subscribers():
    broker = Broker(None, Clock())
    seen: list[tuple[str, str]] = []
    broker.add_topic_tap(lambda topic, message: seen.append((topic, message.body.decode())))
    broker.publish("orders", Message("id-1", b"hello"))
    broker.publish("other", Message("id-2", b"again"))
    assert seen == [("orders", "hello"), ("other", "again")]


@pytest.fixture
def setup() -> tuple[Broker, SnsState, Fanout, Topic]:
    broker = Broker(None, Clock())
    state = SnsState(broker, "us-east-1", "000000000000", "http://mq:18080")
    fanout = Fanout(state, SIGNER, Clock())
    broker.add_topic_tap(fanout.tap)
    topic = Topic(name="orders", arn="arn:aws:sns:us-east-1:000000000000:orders", owner="000000000000")
    state.save_topic(topic)
    return broker, state, fanout, topic


def _subscribe(state: SnsState, topic: Topic, queue: str, **attributes: str) -> None:
    broker = state.broker
    broker.create_queue(queue)
    sub = state.new_subscription(topic, "sqs", f"arn:aws:sqs:us-east-1:000000000000:{queue}", "000000000000",
                                 "", dict(attributes))
    sub.confirmed = True


def _bodies(broker: Broker, queue: str) -> list[Any]:
    q = broker.queue(queue, create=False)
    assert q is not None
    return [m for m in q.browse()]


def test_a_stomp_publication_reaches_sns_subscriptions(setup):
    broker, state, _, topic = setup
    _subscribe(state, topic, "enveloped")
    _subscribe(state, topic, "raw", RawMessageDelivery="true")
    _subscribe(state, topic, "filtered", FilterPolicy='{"color": ["blue"]}')
    broker.publish("orders", Message("ID:stomp-1", b"from stomp", properties={"color": "red"}))
    [enveloped] = _bodies(broker, "enveloped")
    doc = json.loads(enveloped.body)
    assert (doc["Type"], doc["MessageId"], doc["TopicArn"], doc["Message"]) == \
        ("Notification", "ID:stomp-1", topic.arn, "from stomp")
    assert doc["SigningCertURL"] == "http://mq:18080/SimpleNotificationService-mqgate.pem"
    assert doc["MessageAttributes"] == {"color": {"Type": "String", "Value": "red"}}
    [raw] = _bodies(broker, "raw")
    assert (raw.body, raw.properties, raw.types) == (b"from stomp", {"color": "red"}, {"color": "String"})
    assert _bodies(broker, "filtered") == []


def test_sns_publication_signs_once_per_protocol_text(setup):
    broker, state, fanout, topic = setup
    for name in ("a", "b", "c"):
        _subscribe(state, topic, name)
    publication = Publication(message_id="m-1", topic_arn=topic.arn, message="hi", timestamp_ms=1_700_000_000_123)
    fanout.publish("orders", publication)
    docs = [json.loads(_bodies(broker, n)[0].body) for n in ("a", "b", "c")]
    assert {d["Signature"] for d in docs} == {docs[0]["Signature"]}
    assert len({d["UnsubscribeURL"] for d in docs}) == 3
    assert docs[0]["Timestamp"] == "2023-11-14T22:13:20.123Z"


def test_a_deleted_queue_sends_to_the_redrive_queue(setup):
    broker, state, _, topic = setup
    _subscribe(state, topic, "gone", RedrivePolicy='{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:0:dlq"}')
    broker.create_queue("dlq")
    broker.delete_queue("gone")
    broker.publish("orders", Message("x", b"lost"))
    [dead] = _bodies(broker, "dlq")
    assert json.loads(dead.body)["Message"] == "lost"


def test_unconfirmed_and_dropped_subscriptions_get_nothing(setup):
    broker, state, _, topic = setup
    _subscribe(state, topic, "kept")
    broker.create_queue("pending")
    state.new_subscription(topic, "sqs", "arn:aws:sqs:us-east-1:0:pending", "0", "", {})
    _subscribe(state, topic, "dropped")
    state.drop_subscription(next(s for s in state.by_topic["orders"] if s.endpoint.endswith(":dropped")))
    broker.publish("orders", Message("x", b"m"))
    assert len(_bodies(broker, "kept")) == 1
    assert _bodies(broker, "pending") == [] and _bodies(broker, "dropped") == []
