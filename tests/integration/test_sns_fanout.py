"""SNS publications reach SQS queues (enveloped and raw), STOMP topic subscribers, and
STOMP publications reach SNS subscriptions: one topic, every door."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest

from tests.conftest import unique
from tests.integration.sns_clients import queue_with_arn, sns_client, sqs
from tests.integration.sqs_clients import expect_error, receive_until
from tests.integration.stomp_client import connect


@pytest.fixture
def sns(shared_broker):
    return sns_client(shared_broker.aws_url)


def _fanout(sns, broker, raw: bool, count: int = 3) -> tuple[str, list[str]]:
    arn = sns.create_topic(Name=unique("fan"))["TopicArn"]
    urls = []
    for _ in range(count):
        url, qarn = queue_with_arn(broker.aws_url, unique("fq"))
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                      Attributes={"RawMessageDelivery": "true" if raw else "false"})
        urls.append(url)
    return arn, urls


ATTRS = {"color": {"DataType": "String", "StringValue": "blue"},
         "count": {"DataType": "Number", "StringValue": "42"},
         "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}}


def test_publish_reaches_three_queues_in_the_sns_envelope(sns, shared_broker):
    arn, urls = _fanout(sns, shared_broker, raw=False)
    sent = sns.publish(TopicArn=arn, Message="hello ✓", Subject="greeting", MessageAttributes=ATTRS)
    client = sqs(shared_broker.aws_url)
    for url in urls:
        [msg] = receive_until(client, url, 1)
        body = json.loads(msg["Body"])
        assert msg.get("MessageAttributes") is None
        assert body["Type"] == "Notification"
        assert body["MessageId"] == sent["MessageId"]
        assert (body["TopicArn"], body["Subject"], body["Message"]) == (arn, "greeting", "hello ✓")
        assert body["SignatureVersion"] == "1" and body["Signature"]
        assert body["SigningCertURL"].endswith(".pem")
        assert "Action=Unsubscribe" in body["UnsubscribeURL"]
        assert body["Timestamp"].endswith("Z")
        assert body["MessageAttributes"] == {
            "color": {"Type": "String", "Value": "blue"}, "count": {"Type": "Number", "Value": "42"},
            "blob": {"Type": "Binary", "Value": base64.b64encode(b"\x00\xff").decode()}}


def test_raw_delivery_keeps_attributes_with_their_types(sns, shared_broker):
    arn, urls = _fanout(sns, shared_broker, raw=True)
    sns.publish(TargetArn=arn, Message="raw body", MessageAttributes=ATTRS)     # TargetArn names a topic too
    for url in urls:
        [msg] = receive_until(sqs(shared_broker.aws_url), url, 1)
        assert msg["Body"] == "raw body"
        assert msg["MD5OfBody"] == hashlib.md5("raw body".encode()).hexdigest()
        assert msg["MessageAttributes"] == {
            "color": {"DataType": "String", "StringValue": "blue"},
            "count": {"DataType": "Number", "StringValue": "42"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}}


def test_message_structure_json_sends_each_protocol_its_message(sns, shared_broker):
    arn, [url] = _fanout(sns, shared_broker, raw=True, count=1)
    stomp = connect(shared_broker.stomp_port)
    try:
        stomp.subscribe_sync(f"/topic/{arn.rsplit(':', 1)[1]}", "1", ack="auto")
        sns.publish(TopicArn=arn, MessageStructure="json",
                    Message=json.dumps({"default": "for everyone", "sqs": "for queues"}))
        assert stomp.listener.get().body == "for everyone"
    finally:
        stomp.close()
    [msg] = receive_until(sqs(shared_broker.aws_url), url, 1)
    assert msg["Body"] == "for queues"


def test_sns_publish_reaches_stomp_topic_subscribers(sns, shared_broker):
    name = unique("st")
    arn = sns.create_topic(Name=name)["TopicArn"]
    stomp = connect(shared_broker.stomp_port)
    try:
        stomp.subscribe_sync(f"/topic/{name}", "1", ack="auto")
        sent = sns.publish(TopicArn=arn, Message="to stomp", MessageAttributes=ATTRS)
        msg = stomp.listener.get()
        assert msg.body == "to stomp"
        assert msg.headers["message-id"] == sent["MessageId"]
        assert msg.headers["color"] == "blue"
        assert msg.headers["count"] == "42"
        assert base64.b64decode(msg.headers["blob"]) == b"\x00\xff"
        assert "count=Number" in msg.headers["mqgate-attribute-types"]
    finally:
        stomp.close()


def test_stomp_send_to_topic_reaches_sns_subscriptions(sns, shared_broker):
    name = unique("from-stomp")
    arn = sns.create_topic(Name=name)["TopicArn"]
    url, qarn = queue_with_arn(shared_broker.aws_url, unique("q"))
    raw_url, raw_arn = queue_with_arn(shared_broker.aws_url, unique("q"))
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"})
    stomp = connect(shared_broker.stomp_port)
    try:
        stomp.send_sync(f"/topic/{name}", "from stomp", persistent="true", color="red")
    finally:
        stomp.close()
    [enveloped] = receive_until(sqs(shared_broker.aws_url), url, 1)
    body = json.loads(enveloped["Body"])
    assert (body["Type"], body["TopicArn"], body["Message"]) == ("Notification", arn, "from stomp")
    assert body["MessageAttributes"] == {"color": {"Type": "String", "Value": "red"}}
    [raw] = receive_until(sqs(shared_broker.aws_url), raw_url, 1)
    assert raw["Body"] == "from stomp"
    assert raw["MessageAttributes"] == {"color": {"DataType": "String", "StringValue": "red"}}


def test_a_stomp_topic_is_an_sns_topic(sns, shared_broker):
    name = unique("stomp-made")
    stomp = connect(shared_broker.stomp_port)
    try:
        stomp.subscribe_sync(f"/topic/{name}", "1", ack="auto")
        arns = []
        token = None
        for _ in range(100):
            page = sns.list_topics(**({"NextToken": token} if token else {}))
            arns += [t["TopicArn"] for t in page["Topics"]]
            token = page.get("NextToken")
            if not token:
                break
        [arn] = [a for a in arns if a.endswith(":" + name)]
        sns.publish(TopicArn=arn, Message="found it")
        assert stomp.listener.get().body == "found it"
    finally:
        stomp.close()


def test_filter_policies_choose_the_subscriptions(sns, shared_broker):
    arn = sns.create_topic(Name=unique("filter"))["TopicArn"]
    red_url, red_arn = queue_with_arn(shared_broker.aws_url, unique("red"))
    big_url, big_arn = queue_with_arn(shared_broker.aws_url, unique("big"))
    body_url, body_arn = queue_with_arn(shared_broker.aws_url, unique("body"))
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=red_arn, Attributes={
        "RawMessageDelivery": "true", "FilterPolicy": json.dumps({"color": ["red", {"prefix": "dark"}]})})
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=big_arn, Attributes={
        "RawMessageDelivery": "true", "FilterPolicy": json.dumps({"size": [{"numeric": [">=", 10]}]})})
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=body_arn, Attributes={
        "RawMessageDelivery": "true", "FilterPolicyScope": "MessageBody",
        "FilterPolicy": json.dumps({"order": {"status": ["paid"]}})})

    def publish(message: str, **attrs: tuple[str, str]) -> None:
        sns.publish(TopicArn=arn, Message=message, MessageAttributes={
            k: {"DataType": t, "StringValue": v} for k, (t, v) in attrs.items()})
    publish("red small", color=("String", "red"), size=("Number", "3"))
    publish("darkblue big", color=("String", "darkblue"), size=("Number", "12.5"))
    publish("green", color=("String", "green"))
    publish(json.dumps({"order": {"status": "paid", "id": 1}}))
    publish(json.dumps({"order": {"status": "open"}}))
    client = sqs(shared_broker.aws_url)
    assert sorted(m["Body"] for m in receive_until(client, red_url, 2)) == ["darkblue big", "red small"]
    assert [m["Body"] for m in receive_until(client, big_url, 1)] == ["darkblue big"]
    assert [json.loads(m["Body"])["order"]["status"] for m in receive_until(client, body_url, 1)] == ["paid"]
    for url in (red_url, big_url, body_url):
        assert client.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None


def test_fifo_topic_to_fifo_queue_keeps_group_order_and_dedups(sns, shared_broker):
    arn = sns.create_topic(Name=unique("ft") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url, qarn = queue_with_arn(shared_broker.aws_url, unique("fq") + ".fifo", FifoQueue="true")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    first = sns.publish(TopicArn=arn, Message="m0", MessageGroupId="g", MessageDeduplicationId="d0")
    again = sns.publish(TopicArn=arn, Message="m0", MessageGroupId="g", MessageDeduplicationId="d0")
    assert again["MessageId"] == first["MessageId"] and first["SequenceNumber"]
    for i in range(1, 5):
        sns.publish(TopicArn=arn, Message=f"m{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}")
    client = sqs(shared_broker.aws_url)
    got = []
    for _ in range(20):
        batch = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       AttributeNames=["All"]).get("Messages", [])
        for m in batch:
            got.append(m)
            client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if len(got) >= 5:
            break
    assert [m["Body"] for m in got] == [f"m{i}" for i in range(5)]
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"g"}
    assert client.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException"):
        sns.publish(TopicArn=arn, Message="no group", MessageDeduplicationId="x")
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException"):
        sns.publish(TopicArn=arn, Message="no dedup", MessageGroupId="g")


def test_a_message_larger_than_the_queue_takes_goes_to_the_dead_letter_queue_or_nowhere(sns, shared_broker):
    arn = sns.create_topic(Name=unique("big"))["TopicArn"]
    small_url, small_arn = queue_with_arn(shared_broker.aws_url, unique("small"), MaximumMessageSize="1024")
    other_url, other_arn = queue_with_arn(shared_broker.aws_url, unique("small2"), MaximumMessageSize="1024")
    dlq_url, dlq_arn = queue_with_arn(shared_broker.aws_url, unique("bigdlq"))
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=small_arn,
                  Attributes={"RawMessageDelivery": "true",
                              "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=other_arn)                 # enveloped, no DLQ
    fits = "f" * (1024 - len("n") - len("String") - 1)
    sns.publish(TopicArn=arn, Message=fits, MessageAttributes={"n": {"DataType": "String", "StringValue": "x"}})
    sns.publish(TopicArn=arn, Message=fits + "+", MessageAttributes={"n": {"DataType": "String", "StringValue": "x"}})
    sns.publish(TopicArn=arn, Message="tiny")
    client = sqs(shared_broker.aws_url)
    # raw: the body and its attributes count, exactly 1024 bytes fits
    assert sorted(m["Body"] for m in receive_until(client, small_url, 2, delete=True)) == [fits, "tiny"]
    [dead] = receive_until(client, dlq_url, 1, delete=True)
    assert dead["Body"] == fits + "+"
    # enveloped: the envelope around a 1 KiB message is past 1024 bytes, so only "tiny" arrives
    assert [json.loads(m["Body"])["Message"] for m in receive_until(client, other_url, 1, delete=True)] == ["tiny"]
    assert client.receive_message(QueueUrl=other_url, WaitTimeSeconds=1).get("Messages") is None
    assert client.receive_message(QueueUrl=small_url).get("Messages") is None
