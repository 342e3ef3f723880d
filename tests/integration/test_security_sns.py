"""SNS through the portal and the authorization map (boto3 with the users' keys): Publish
needs write on the topic, topic management and subscriptions admin, listings show only
usable topics, refusals are AuthorizationError and change nothing; SNS→SQS deliveries obey
the queue's SQS Policy."""
from __future__ import annotations

import json
from typing import Iterator

import boto3
import pytest

from tests.conftest import BrokerProcess
from tests.integration.security_support import MAP, USERS, config_text, module_broker
from tests.integration.sqs_clients import REGION, client_config, expect_error

pytestmark = pytest.mark.usefixtures("sqs_retention_probes")

SNS_MAP = MAP + [
    {"topic": "events", "read": ["consumers"], "write": ["producers"], "admin": ["producers", "admins"]},
    {"topic": "audit", "read": ["admins"], "write": ["admins"], "admin": ["admins"]},
    {"queue": ">", "read": ["admins"], "write": ["admins"], "admin": ["admins"]},
]
DENIED = ("User: arn:aws:iam::000000000000:user/{user} is not authorized to perform: SNS:{action} on "
          "resource: arn:aws:sns:us-east-1:000000000000:{topic} because no identity-based policy allows "
          "the SNS:{action} action")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def secure(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    yield from module_broker(request, tmp_path_factory, config_text(authorization=SNS_MAP))


def client(broker: BrokerProcess, user: str, service: str = "sns"):
    _, key, secret = USERS[user]
    return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION) \
        .client(service, endpoint_url=broker.aws_url, config=client_config())


def topics(c) -> list[str]:
    return sorted(t["TopicArn"].rsplit(":", 1)[-1] for t in c.list_topics()["Topics"])


def test_topic_actions_need_their_rights(secure):
    producer, reader, admin = (client(secure, u) for u in ("orders-app", "reader", "admin"))
    with expect_error(reader, "AuthorizationError", 403) as caught:
        reader.create_topic(Name="events")
    assert caught["error"].response["Error"]["Message"] == DENIED.format(user="reader", action="CreateTopic",
                                                                         topic="events")
    assert "events" not in topics(admin)                  # the refused create made nothing
    arn = producer.create_topic(Name="events")["TopicArn"]
    producer.publish(TopicArn=arn, Message="allowed")
    with expect_error(reader, "AuthorizationError", 403) as caught:
        reader.publish(TopicArn=arn, Message="refused")
    assert caught["error"].response["Error"]["Message"] == DENIED.format(user="reader", action="Publish",
                                                                         topic="events")
    with expect_error(reader, "AuthorizationError", 403):
        reader.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[{"Id": "1", "Message": "refused"}])
    with expect_error(reader, "AuthorizationError", 403):
        reader.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="x")
    with expect_error(reader, "AuthorizationError", 403):
        reader.tag_resource(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}])
    with expect_error(reader, "AuthorizationError", 403):
        reader.subscribe(TopicArn=arn, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:000000000000:vault")
    with expect_error(reader, "AuthorizationError", 403):
        reader.delete_topic(TopicArn=arn)
    assert reader.get_topic_attributes(TopicArn=arn)["Attributes"]["TopicArn"] == arn   # read: may look
    assert reader.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []        # nothing subscribed
    with expect_error(producer, "AuthorizationError", 403):
        producer.create_topic(Name="audit")


def test_listings_show_only_usable_topics(secure):
    admin, reader = client(secure, "admin"), client(secure, "reader")
    audit = admin.create_topic(Name="audit")["TopicArn"]
    events = admin.create_topic(Name="events")["TopicArn"]
    queue_arn = _queue(secure, "listed")[1]
    admin.subscribe(TopicArn=audit, Protocol="sqs", Endpoint=queue_arn)
    assert {"audit", "events"} <= set(topics(admin))
    assert "events" in topics(reader) and "audit" not in topics(reader)
    assert all(s["TopicArn"] != audit for s in reader.list_subscriptions()["Subscriptions"])
    assert any(s["TopicArn"] == audit for s in admin.list_subscriptions()["Subscriptions"])
    with expect_error(reader, "AuthorizationError", 403):
        reader.get_topic_attributes(TopicArn=audit)
    assert events


def _queue(broker: BrokerProcess, name: str, policy: dict | None = None) -> tuple[str, str]:
    sqs = client(broker, "admin", "sqs")
    attributes = {"Policy": json.dumps(policy)} if policy else {}
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _allow_sns(queue_arn: str, topic_arn: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]}


def test_delivery_to_sqs_follows_the_queue_policy(secure):
    admin, sqs = client(secure, "admin"), client(secure, "admin", "sqs")
    topic = admin.create_topic(Name="audit")["TopicArn"]
    other_topic = topic.rsplit(":", 1)[0] + ":events"
    arn_of = "arn:aws:sqs:us-east-1:000000000000:{}".format
    queues = {
        "no-policy": _queue(secure, "sns-no-policy"),
        "allowed": _queue(secure, "sns-allowed", _allow_sns(arn_of("sns-allowed"), topic)),
        "other-topic": _queue(secure, "sns-other-topic", _allow_sns(arn_of("sns-other-topic"), other_topic)),
    }
    for _, arn in queues.values():
        admin.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    admin.publish(TopicArn=topic, Message="audited")

    def bodies(url: str) -> list[str]:
        return [m["Body"] for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])]
    assert bodies(queues["no-policy"][0]) == ["audited"]
    assert bodies(queues["allowed"][0]) == ["audited"]
    # Deliveries happen before Publish answers: nothing arrived, nothing will.
    assert bodies(queues["other-topic"][0]) == []


def _deny_all_but_reads(queue_arn: str) -> dict:
    return {"Effect": "Deny", "Principal": "*", "NotAction": ["sqs:ReceiveMessage", "sqs:Get*"],
            "Resource": queue_arn}


def test_a_deny_with_not_action_refuses_the_delivery(secure):
    admin, sqs = client(secure, "admin"), client(secure, "admin", "sqs")
    topic = admin.create_topic(Name="audit")["TopicArn"]
    arn = "arn:aws:sqs:us-east-1:000000000000:sns-not-action"
    policy = _allow_sns(arn, topic)
    policy["Statement"].append(_deny_all_but_reads(arn))
    url, _ = _queue(secure, "sns-not-action", policy)
    admin.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    admin.publish(TopicArn=topic, Message="denied")
    # Deliveries happen before Publish answers: nothing arrived, nothing will.
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []


def test_a_changed_queue_policy_counts_from_the_next_publish(secure):
    admin, sqs = client(secure, "admin"), client(secure, "admin", "sqs")
    topic = admin.create_topic(Name="audit")["TopicArn"]
    arn = "arn:aws:sqs:us-east-1:000000000000:sns-changing"
    allowing = _allow_sns(arn, topic)
    denying = {**allowing, "Statement": [*allowing["Statement"], _deny_all_but_reads(arn)]}
    url, _ = _queue(secure, "sns-changing", allowing)
    admin.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})

    def delivered(text: str) -> list[str]:
        admin.publish(TopicArn=topic, Message=text)
        found = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", [])
        for m in found:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return [m["Body"] for m in found]

    assert delivered("first") == ["first"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(denying)})
    assert delivered("second") == []
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(allowing)})
    assert delivered("third") == ["third"]
