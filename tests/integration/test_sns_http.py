"""HTTP subscriptions: confirmation, signed notifications, retries, dead letters, durability.

The endpoint is a local HTTP server started by the test; signatures are checked the way
AWS's SDK validators check them, with `cryptography` and the PEM certificate fetched from
the message's SigningCertURL."""
from __future__ import annotations

import base64
import json
import threading
import urllib.request
from typing import Any, Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tests.conftest import BrokerProcess, unique
from tests.integration.sns_clients import Endpoint, queue_with_arn, sns_client, sqs
from tests.integration.sqs_clients import expect_error, receive_until

SIGNED = {"Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
          "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn",
                                       "Type")}
SIGNED["UnsubscribeConfirmation"] = SIGNED["SubscriptionConfirmation"]


def verify(message: dict[str, Any]) -> None:
    """AWS's documented verification: canonical string, certificate from SigningCertURL."""
    pem = urllib.request.urlopen(message["SigningCertURL"], timeout=10).read()
    key = x509.load_pem_x509_certificate(pem).public_key()
    text = "".join(f"{k}\n{message[k]}\n" for k in SIGNED[message["Type"]] if k in message).encode()
    digest = hashes.SHA1() if message["SignatureVersion"] == "1" else hashes.SHA256()
    key.verify(base64.b64decode(message["Signature"]), text, padding.PKCS1v15(), digest)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.close()


def _confirmed(sns, topic_arn: str, server: Endpoint, **attributes: str) -> str:
    sub = sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=server.url, Attributes=attributes,
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    post = server.next(kind="SubscriptionConfirmation")
    return sns.confirm_subscription(TopicArn=topic_arn, Token=post["json"]["Token"])["SubscriptionArn"] or sub


@pytest.mark.parametrize("version", ["1", "2"])
def test_confirmation_by_subscribe_url_then_signed_notifications(shared_broker, endpoint, version):
    sns = sns_client(shared_broker.aws_url)
    topic = sns.create_topic(Name=unique("http"), Attributes={"SignatureVersion": version})["TopicArn"]
    assert sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)["SubscriptionArn"] == \
        "pending confirmation"
    post = endpoint.next(kind="SubscriptionConfirmation")
    confirmation = post["json"]
    assert post["headers"]["content-type"] == "text/plain; charset=UTF-8"
    assert post["headers"]["x-amz-sns-topic-arn"] == topic
    assert post["headers"]["x-amz-sns-message-id"] == confirmation["MessageId"]
    assert (confirmation["Type"], confirmation["TopicArn"], confirmation["SignatureVersion"]) == \
        ("SubscriptionConfirmation", topic, version)
    verify(confirmation)
    [pending] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert pending["SubscriptionArn"] == "PendingConfirmation"
    # the endpoint confirms the way real receivers do: a plain GET of SubscribeURL
    answer = urllib.request.urlopen(confirmation["SubscribeURL"], timeout=10).read().decode()
    assert "<ConfirmSubscriptionResult><SubscriptionArn>" in answer
    [sub] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sub["SubscriptionArn"].startswith(topic + ":")

    sent = sns.publish(TopicArn=topic, Message="signed ✓", Subject="subject",
                       MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    post = endpoint.next(kind="Notification")
    note = post["json"]
    assert post["headers"]["x-amz-sns-message-id"] == sent["MessageId"] == note["MessageId"]
    assert post["headers"]["x-amz-sns-subscription-arn"] == sub["SubscriptionArn"]
    assert post["headers"]["x-amz-sns-topic-arn"] == topic
    assert (note["Message"], note["Subject"]) == ("signed ✓", "subject")
    assert note["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    verify(note)
    tampered = {**note, "Message": "forged"}
    with pytest.raises(Exception):
        verify(tampered)

    if version == "1":
        sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    else:                                           # the link every notification carries
        urllib.request.urlopen(note["UnsubscribeURL"], timeout=10).read()
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    bye = endpoint.next(kind="UnsubscribeConfirmation")
    verify(bye["json"])
    sns.publish(TopicArn=topic, Message="after unsubscribe")
    assert endpoint.quiet(1.0)


def test_confirm_subscription_with_the_token_and_raw_delivery(shared_broker, endpoint):
    sns = sns_client(shared_broker.aws_url)
    topic = sns.create_topic(Name=unique("http-raw"))["TopicArn"]
    sub = _confirmed(sns, topic, endpoint, RawMessageDelivery="true")
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["PendingConfirmation"] == "false"
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException"):
        sns.confirm_subscription(TopicArn=topic, Token="wrong")
    sns.publish(TopicArn=topic, Message="just the text")
    post = endpoint.next(kind="Notification")
    assert post["body"] == "just the text"
    assert post["headers"]["x-amz-sns-rawdelivery"] == "true"


def test_retries_follow_the_delivery_policy(shared_broker):
    server = Endpoint(statuses=(500, 503, 200))
    try:
        sns = sns_client(shared_broker.aws_url)
        topic = sns.create_topic(Name=unique("retry"))["TopicArn"]
        server.statuses = [200]
        policy = {"healthyRetryPolicy": {"numRetries": 3, "minDelayTarget": 1, "maxDelayTarget": 2,
                                         "backoffFunction": "linear"}}
        sub = _confirmed(sns, topic, server, DeliveryPolicy=json.dumps(policy))
        effective = json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
                               ["EffectiveDeliveryPolicy"])
        assert effective["healthyRetryPolicy"]["numRetries"] == 3
        server.statuses = [500, 503, 200]
        sent = sns.publish(TopicArn=topic, Message="try again")
        posts = [server.next(timeout=15, kind="Notification") for _ in range(3)]
        assert {p["json"]["MessageId"] for p in posts} == {sent["MessageId"]}
        assert [p["status"] for p in posts] == [500, 503, 200]
        # linear backoff from 1 s to 2 s over 3 retries: at least 1.33 s, then 1.67 s
        assert posts[1]["at"] - posts[0]["at"] >= 1.3
        assert posts[2]["at"] - posts[1]["at"] >= 1.6
        assert server.quiet(1.0)
    finally:
        server.close()


def test_dead_letter_after_the_last_retry(shared_broker):
    server = Endpoint()
    try:
        sns = sns_client(shared_broker.aws_url)
        topic = sns.create_topic(Name=unique("dlq"))["TopicArn"]
        dlq_url, dlq_arn = queue_with_arn(shared_broker.aws_url, unique("dead"))
        policy = {"healthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 1, "maxDelayTarget": 1}}
        _confirmed(sns, topic, server, DeliveryPolicy=json.dumps(policy),
                   RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn}))
        server.statuses = [500]
        sent = sns.publish(TopicArn=topic, Message="never accepted")
        for _ in range(3):
            server.next(timeout=15, kind="Notification")
        [dead] = receive_until(sqs(shared_broker.aws_url), dlq_url, 1, timeout=10)
        body = json.loads(dead["Body"])
        assert (body["MessageId"], body["Message"]) == (sent["MessageId"], "never accepted")
        assert server.quiet(1.5)
    finally:
        server.close()


def test_a_slow_endpoint_does_not_hold_up_others(shared_broker):
    gate = threading.Event()
    slow, fast = Endpoint(gate=gate), Endpoint()
    try:
        sns = sns_client(shared_broker.aws_url)
        topic = sns.create_topic(Name=unique("slow"))["TopicArn"]
        for server in (slow, fast):
            sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=server.url)
        gate.set()
        for server in (slow, fast):
            token = server.next(kind="SubscriptionConfirmation")["json"]["Token"]
            sns.confirm_subscription(TopicArn=topic, Token=token)
        gate.clear()
        sns.publish(TopicArn=topic, Message="one")
        fast.next(kind="Notification")       # while the slow endpoint still holds its request
        assert not gate.is_set()
        gate.set()
        slow.next(kind="Notification")
    finally:
        gate.set()
        slow.close()
        fast.close()


def test_pending_deliveries_survive_kill_9(broker: BrokerProcess):
    server = Endpoint()
    try:
        sns = sns_client(broker.aws_url)
        topic = sns.create_topic(Name=unique("durable"))["TopicArn"]
        policy = {"healthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 2, "maxDelayTarget": 2}}
        _confirmed(sns, topic, server, DeliveryPolicy=json.dumps(policy))
        server.statuses = [500]
        sent = [sns.publish(TopicArn=topic, Message=f"m{i}")["MessageId"] for i in range(3)]
        failed: set[str] = set()
        while failed != set(sent):                  # each tried once (a slow machine may retry some)
            failed.add(server.next(timeout=15, kind="Notification")["json"]["MessageId"])
        server.statuses = [200]
        broker.restart(hard=True)                   # kill -9 while every delivery waits to retry
        got = set()
        while got != set(sent):
            got.add(server.next(timeout=15, kind="Notification")["json"]["MessageId"])
        assert server.quiet(2.5)                    # delivered once each, then nothing pending
    finally:
        server.close()


def test_throttle_policy_spaces_deliveries(shared_broker, endpoint):
    sns = sns_client(shared_broker.aws_url)
    topic = sns.create_topic(Name=unique("throttle"))["TopicArn"]
    _confirmed(sns, topic, endpoint, DeliveryPolicy=json.dumps({"throttlePolicy": {"maxReceivesPerSecond": 4}}))
    sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": str(i), "Message": f"m{i}"}
                                                                  for i in range(5)])
    posts = [endpoint.next(kind="Notification") for _ in range(5)]
    assert sorted(p["json"]["Message"] for p in posts) == [f"m{i}" for i in range(5)]
    # 4 per second: five deliveries span at least a second
    assert posts[-1]["at"] - posts[0]["at"] >= 0.9
