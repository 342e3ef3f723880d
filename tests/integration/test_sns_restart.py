"""Across kill -9: a Publish that was answered is in every subscribed queue, and topics,
subscriptions, attributes and the signing key come back as they were."""
from __future__ import annotations

import json
import urllib.request

from tests.conftest import BrokerProcess, unique
from tests.integration.sns_clients import queue_with_arn, sns_client, sqs
from tests.integration.sqs_clients import ACCOUNT, receive_until
from tests.integration.test_store import sql


def test_answered_publishes_survive_kill_9_in_every_queue(broker: BrokerProcess):
    sns = sns_client(broker.aws_url)
    name = unique("durable")
    arn = sns.create_topic(Name=name, Attributes={"DisplayName": "Kept"}, Tags=[{"Key": "k", "Value": "v"}])["TopicArn"]
    queues = [f"{name}-q{i}" for i in range(3)]
    for queue in queues:
        _, qarn = queue_with_arn(broker.aws_url, queue)
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                      Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps({"n": [{"exists": True}]})})
    for i in range(20):
        sns.publish(TopicArn=arn, Message=f"m{i}", MessageAttributes={"n": {"DataType": "Number", "StringValue": str(i)}})
    sns.publish(TopicArn=arn, Message="filtered out")                # no "n": reaches no queue
    broker.restart(hard=True)
    sns = sns_client(broker.aws_url)

    def url(queue: str) -> str:
        return f"{broker.aws_url}/{ACCOUNT}/{queue}"
    for queue in queues:
        got = receive_until(sqs(broker.aws_url), url(queue), 20, delete=True)
        assert sorted(m["Body"] for m in got) == sorted(f"m{i}" for i in range(20))
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["DisplayName"] == "Kept" and attrs["SubscriptionsConfirmed"] == "3"
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    assert len(sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]) == 3
    # subscriptions keep delivering, with their filter policies, after the restart
    sns.publish(TopicArn=arn, Message="after", MessageAttributes={"n": {"DataType": "Number", "StringValue": "1"}})
    sns.publish(TopicArn=arn, Message="filtered")
    for queue in queues:
        assert [m["Body"] for m in receive_until(sqs(broker.aws_url), url(queue), 1, delete=True)] == ["after"]
        assert sqs(broker.aws_url).receive_message(QueueUrl=url(queue)).get("Messages") is None


def test_the_signing_certificate_is_kept_across_restarts(broker: BrokerProcess):
    sns = sns_client(broker.aws_url)
    arn = sns.create_topic(Name=unique("cert"))["TopicArn"]
    url, qarn = queue_with_arn(broker.aws_url, unique("certq"))
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
    sns.publish(TopicArn=arn, Message="m")
    [msg] = receive_until(sqs(broker.aws_url), url, 1)
    cert_url = json.loads(msg["Body"])["SigningCertURL"]
    before = urllib.request.urlopen(cert_url, timeout=10).read()
    assert before.startswith(b"-----BEGIN CERTIFICATE-----")
    broker.restart(hard=True)
    after = urllib.request.urlopen(f"{broker.aws_url}/{cert_url.split('/')[-1]}", timeout=10).read()
    assert after == before


def test_a_fifo_topic_keeps_its_deduplication_window_across_kill_9(broker: BrokerProcess):
    sns = sns_client(broker.aws_url)
    arn = sns.create_topic(Name=unique("dedup") + ".fifo",
                           Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    url, qarn = queue_with_arn(broker.aws_url, unique("dedupq") + ".fifo", FifoQueue="true")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    by_id = sns.publish(TopicArn=arn, Message="a", MessageGroupId="g", MessageDeduplicationId="d1")
    by_content = sns.publish(TopicArn=arn, Message="b", MessageGroupId="g")
    # read and deleted: the queue's own window no longer knows them after a restart
    assert [m["Body"] for m in receive_until(sqs(broker.aws_url), url, 2, delete=True)] == ["a", "b"]
    broker.restart(hard=True)
    sns = sns_client(broker.aws_url)
    again = sns.publish(TopicArn=arn, Message="a again", MessageGroupId="g", MessageDeduplicationId="d1")
    assert (again["MessageId"], again["SequenceNumber"]) == (by_id["MessageId"], by_id["SequenceNumber"])
    assert sns.publish(TopicArn=arn, Message="b", MessageGroupId="g")["MessageId"] == by_content["MessageId"]
    sns.publish(TopicArn=arn, Message="new", MessageGroupId="g", MessageDeduplicationId="d2")
    assert [m["Body"] for m in receive_until(sqs(broker.aws_url), url, 1, delete=True)] == ["new"]
    assert sqs(broker.aws_url).receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None


def test_subscriptions_deleted_counts_unsubscribes_across_kill_9(broker: BrokerProcess):
    sns = sns_client(broker.aws_url)
    name = unique("gone")
    arn = sns.create_topic(Name=name)["TopicArn"]
    subs = [sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_with_arn(broker.aws_url, f"{name}-{i}")[1],
                          ReturnSubscriptionArn=True)["SubscriptionArn"] for i in range(3)]
    sns.unsubscribe(SubscriptionArn=subs[0])
    sns.unsubscribe(SubscriptionArn=subs[1])

    def counts() -> tuple[str, str]:
        attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        return attrs["SubscriptionsConfirmed"], attrs["SubscriptionsDeleted"]
    assert counts() == ("1", "2")
    broker.restart(hard=True)
    sns = sns_client(broker.aws_url)
    assert counts() == ("1", "2")
    sns.delete_topic(TopicArn=arn)                    # a topic made again starts from nothing
    sns.create_topic(Name=name)
    assert counts() == ("0", "0")


def test_raw_copies_share_one_stored_body_and_envelopes_are_stored_whole(broker: BrokerProcess, store_url):
    sns = sns_client(broker.aws_url)
    name = unique("once")
    arn = sns.create_topic(Name=name)["TopicArn"]
    urls = []
    for i, raw in enumerate(["true", "true", "true", "false"]):
        url, qarn = queue_with_arn(broker.aws_url, f"{name}-{i}")
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": raw})
        urls.append(url)
    body = "B" * 10_000
    sns.publish(TopicArn=arn, Message=body, MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    (stored,) = sql(store_url, "SELECT count(*), sum(length(body)) FROM contents")
    assert stored == (1, 10_000), "one body for the three raw copies"
    (envelope,) = sql(store_url, "SELECT count(*) FROM messages WHERE content_id IS NULL AND length(body) > 10000")
    assert envelope == (1,)
    broker.restart(hard=True)
    ids = set()
    for url in urls[:3]:
        [msg] = receive_until(sqs(broker.aws_url), url, 1, delete=True)
        assert msg["Body"] == body and msg["MessageAttributes"]["k"]["StringValue"] == "v"
        ids.add(msg["MessageId"])
    assert len(ids) == 3, "each queue's copy has a MessageId of its own"
    assert json.loads(receive_until(sqs(broker.aws_url), urls[3], 1)[0]["Body"])["Message"] == body
