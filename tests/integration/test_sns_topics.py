"""SNS actions on topics and subscriptions through boto3, with AWS's errors, on a real broker."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.conftest import unique
from tests.integration.sns_clients import queue_with_arn, sns_client, sqs
from tests.integration.sqs_clients import ACCOUNT, REGION, expect_error


@pytest.fixture
def sns(shared_broker):
    return sns_client(shared_broker.aws_url)


def _arn(name: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"


def test_create_topic_is_idempotent_and_listed(sns):
    name = unique("t")
    arn = sns.create_topic(Name=name, Attributes={"DisplayName": "Orders"})["TopicArn"]
    assert arn == _arn(name)
    assert sns.create_topic(Name=name, Attributes={"DisplayName": "Orders"})["TopicArn"] == arn
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException") as caught:
        sns.create_topic(Name=name, Attributes={"DisplayName": "Other"})
    assert "Topic already exists with different attributes" in str(caught["error"])
    arns = []
    kwargs: dict = {}
    for _ in range(100):
        page = sns.list_topics(**kwargs)
        arns += [t["TopicArn"] for t in page["Topics"]]
        if "NextToken" not in page:
            break
        kwargs = {"NextToken": page["NextToken"]}
    assert arn in arns


def test_list_topics_pages_by_100(sns):
    prefix = unique("page")
    created = {sns.create_topic(Name=f"{prefix}-{i:03d}")["TopicArn"] for i in range(105)}
    first = sns.list_topics()
    assert len(first["Topics"]) == 100 and "NextToken" in first
    seen = {t["TopicArn"] for t in first["Topics"]}
    token = first["NextToken"]
    while token:
        page = sns.list_topics(NextToken=token)
        seen |= {t["TopicArn"] for t in page["Topics"]}
        token = page.get("NextToken")
    assert created <= seen


def _list_deleting(list_page, key: str, item: str, delete, mine) -> set[str]:
    """Every ARN a paginated listing returns while each listed item of ours is deleted
    before the next page is asked for (as a clean-up loop does)."""
    seen: set[str] = set()
    kwargs: dict = {}
    while True:
        page = list_page(**kwargs)
        for entry in page[key]:
            seen.add(entry[item])
            if mine(entry[item]):
                delete(entry[item])
        if "NextToken" not in page:
            return seen
        kwargs = {"NextToken": page["NextToken"]}


def test_list_topics_goes_on_after_the_token_topic_is_deleted(sns):
    """105 adjacent topics of ours span a page boundary, so some NextToken names a topic
    deleted since: the listing carries on after it instead of refusing the token."""
    prefix = unique("gone")
    created = {sns.create_topic(Name=f"{prefix}-{i:03d}")["TopicArn"] for i in range(105)}
    seen = _list_deleting(sns.list_topics, "Topics", "TopicArn",
                          lambda arn: sns.delete_topic(TopicArn=arn), lambda arn: arn in created)
    assert created <= seen
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException"):
        sns.list_topics(NextToken="not-a-token")


def test_list_subscriptions_goes_on_after_the_token_subscription_is_deleted(sns, shared_broker):
    arn = sns.create_topic(Name=unique("subgone"))["TopicArn"]
    created = set()
    for i in range(105):
        _, qarn = queue_with_arn(shared_broker.aws_url, unique(f"sg{i}"))
        created.add(sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"])
    seen = _list_deleting(lambda **kw: sns.list_subscriptions_by_topic(TopicArn=arn, **kw), "Subscriptions",
                          "SubscriptionArn", lambda sub: sns.unsubscribe(SubscriptionArn=sub), lambda sub: True)
    assert seen == created


def test_topic_attributes(sns):
    arn = sns.create_topic(Name=unique("attrs"))["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["TopicArn"] == arn and attrs["Owner"] == ACCOUNT
    assert (attrs["SubscriptionsConfirmed"], attrs["SubscriptionsPending"], attrs["SubscriptionsDeleted"]) == \
        ("0", "0", "0")
    assert json.loads(attrs["Policy"])["Statement"][0]["Resource"] == arn
    assert json.loads(attrs["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3
    policy = {"http": {"defaultHealthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 1, "maxDelayTarget": 4,
                                                     "backoffFunction": "exponential"}}}
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(policy))
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Shown")
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert json.loads(attrs["DeliveryPolicy"]) == policy
    assert attrs["DisplayName"] == "Shown"
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException"):
        sns.set_topic_attributes(TopicArn=arn, AttributeName="NoSuchThing", AttributeValue="x")
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException"):
        sns.set_topic_attributes(TopicArn=arn, AttributeName="DeliveryPolicy",
                                 AttributeValue='{"http": {"defaultHealthyRetryPolicy": {"backoffFunction": "x"}}}')
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException"):
        sns.set_topic_attributes(TopicArn=arn, AttributeName="ContentBasedDeduplication", AttributeValue="true")
    # A topic policy IAM refuses (Action with NotAction in one statement) is refused; one with
    # NotAction alone is taken.
    statement = {"Effect": "Deny", "Principal": "*", "NotAction": "sns:Get*", "Resource": arn}
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException") as caught:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(
            {"Version": "2012-10-17", "Statement": [{**statement, "Action": "sns:Publish"}]}))
    assert caught["error"].response["Error"]["Message"] == "Invalid parameter: Policy Error: null"
    taken = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=taken)
    assert json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"]) == json.loads(taken)


def test_fifo_topic(sns):
    name = unique("f") + ".fifo"
    arn = sns.create_topic(Name=name, Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (attrs["FifoTopic"], attrs["ContentBasedDeduplication"]) == ("true", "true")
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException"):
        sns.create_topic(Name=unique("nofifo"), Attributes={"FifoTopic": "true"})
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException") as caught:
        sns.create_topic(Name="bad name!")
    assert caught["error"].response["Error"]["Message"] == "Invalid parameter: Topic Name"


def test_fifo_topic_booleans_in_any_case(sns):
    """``str(True)`` from Python is a boolean to SNS; it is kept in lower case, so
    publishing sees content-based deduplication and an identical CreateTopic is idempotent."""
    name = unique("fb") + ".fifo"
    attributes = {"FifoTopic": "True", "ContentBasedDeduplication": "True"}
    arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    assert sns.create_topic(Name=name, Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})[
        "TopicArn"] == arn
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["ContentBasedDeduplication"] == "true"
    assert "MessageId" in sns.publish(TopicArn=arn, Message="m", MessageGroupId="g")
    sns.set_topic_attributes(TopicArn=arn, AttributeName="ContentBasedDeduplication", AttributeValue="FALSE")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["ContentBasedDeduplication"] == "false"


def test_delete_topic_removes_its_subscriptions(sns, shared_broker):
    arn = sns.create_topic(Name=unique("del"))["TopicArn"]
    _, qarn = queue_with_arn(shared_broker.aws_url, unique("dq"))
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)                         # deleting twice succeeds, as on AWS
    with expect_error(sns, "NotFound", 404, "NotFoundException"):
        sns.get_topic_attributes(TopicArn=arn)
    with expect_error(sns, "NotFound", 404, "NotFoundException"):
        sns.get_subscription_attributes(SubscriptionArn=sub)
    assert sub not in [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]]


def test_tags(sns):
    arn = sns.create_topic(Name=unique("tags"), Tags=[{"Key": "team", "Value": "a"}])["TopicArn"]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "a"}]
    sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with expect_error(sns, "ResourceNotFound", 404, "ResourceNotFoundException"):
        sns.list_tags_for_resource(ResourceArn=_arn(unique("missing")))
    with expect_error(sns, "TagLimitExceeded", 400, "TagLimitExceededException"):
        sns.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])


def test_subscription_life_cycle(sns, shared_broker):
    arn = sns.create_topic(Name=unique("subs"))["TopicArn"]
    _, qarn = queue_with_arn(shared_broker.aws_url, unique("sq"))
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                        Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    assert sub.startswith(arn + ":")
    # idempotent with the same attributes, an error with others
    assert sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"] == sub
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException"):
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "false"})
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert (attrs["Protocol"], attrs["Endpoint"], attrs["TopicArn"], attrs["PendingConfirmation"],
            attrs["RawMessageDelivery"]) == ("sqs", qarn, arn, "false", "true")
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                    AttributeValue='{"color": ["red"]}')
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert (attrs["FilterPolicy"], attrs["FilterPolicyScope"]) == ('{"color": ["red"]}', "MessageAttributes")
    listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert listed == [{"SubscriptionArn": sub, "Owner": ACCOUNT, "Protocol": "sqs", "Endpoint": qarn,
                       "TopicArn": arn}]
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsConfirmed"] == "1"
    sns.unsubscribe(SubscriptionArn=sub)
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []
    with expect_error(sns, "NotFound", 404, "NotFoundException"):
        sns.unsubscribe(SubscriptionArn=sub)


def test_subscribe_errors(sns, shared_broker):
    arn = sns.create_topic(Name=unique("suberr"))["TopicArn"]
    _, qarn = queue_with_arn(shared_broker.aws_url, unique("sq"))
    with expect_error(sns, "NotFound", 404, "NotFoundException"):
        sns.subscribe(TopicArn=_arn(unique("none")), Protocol="sqs", Endpoint=qarn)
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException") as caught:
        sns.subscribe(TopicArn="not-an-arn", Protocol="sqs", Endpoint=qarn)
    assert caught["error"].response["Error"]["Message"] == (
        "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1")
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException") as caught:
        sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="someone@example.com")
    assert "http, https, sqs" in caught["error"].response["Error"]["Message"]
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException"):
        sns.subscribe(TopicArn=arn, Protocol="carrier-pigeon", Endpoint="x")
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException"):
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint="http://not-an-arn")
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException"):
        sns.subscribe(TopicArn=arn, Protocol="http", Endpoint="ftp://x")
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException") as caught:
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"FilterPolicy": "{not json"})
    assert caught["error"].response["Error"]["Message"] == (
        "Invalid parameter: Attributes Reason: FilterPolicy: failed to parse JSON.")
    _, fifo_arn = queue_with_arn(shared_broker.aws_url, unique("fq") + ".fifo", FifoQueue="true")
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException"):
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=fifo_arn)
    with expect_error(sns, "NotFound", 404, "NotFoundException"):
        sns.get_subscription_attributes(SubscriptionArn=arn + ":00000000-0000-0000-0000-000000000000")


def test_publish_errors_reach_nobody(sns, shared_broker):
    arn = sns.create_topic(Name=unique("puberr"))["TopicArn"]
    url, qarn = queue_with_arn(shared_broker.aws_url, unique("pq"))
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
    cases = [
        (dict(TopicArn=arn, Message=""), "InvalidParameter", "Invalid parameter: Empty message"),
        (dict(TopicArn=arn, Message="x" * (256 * 1024 + 1)), "InvalidParameter", "Invalid parameter: Message too long"),
        (dict(TopicArn=arn, Message="x" * (256 * 1024 - 10),
              MessageAttributes={"big": {"DataType": "String", "StringValue": "y" * 20}}),
         "InvalidParameter", "Invalid parameter: Message too long"),
        (dict(TopicArn=arn, Message="{bad", MessageStructure="json"), "InvalidParameter",
         "Invalid parameter: Message Structure - JSON message body failed to parse"),
        (dict(TopicArn=arn, Message='{"sqs": "x"}', MessageStructure="json"), "InvalidParameter",
         "Invalid parameter: Message Structure - No default entry in JSON message body"),
        (dict(TopicArn=arn, Message="m", MessageAttributes={"a": {"DataType": "Bogus", "StringValue": "1"}}),
         "ParameterValueInvalid", "The message attribute 'a' has an invalid message attribute type, the set of "
                                  "supported type prefixes is Binary, Number, and String."),
        (dict(TopicArn=arn, Message="m", MessageAttributes={"n": {"DataType": "Number", "StringValue": "abc"}}),
         "ParameterValueInvalid", "Could not cast message attribute 'n' value to number."),
        (dict(TopicArn=arn, Message="m", Subject="line\nbreak"), "InvalidParameter", "Invalid parameter: Subject"),
        (dict(TopicArn=arn, Message="m", MessageDeduplicationId="d"), "InvalidParameter", None),
        (dict(TopicArn="arn:aws:sqs:us-east-1:0:x", Message="m"), "InvalidParameter", "Invalid parameter: TopicArn"),
    ]
    for kwargs, code, message in cases:
        with expect_error(sns, code, 400) as caught:
            sns.publish(**kwargs)
        if message is not None:
            assert caught["error"].response["Error"]["Message"] == message, kwargs
    with expect_error(sns, "NotFound", 404, "NotFoundException"):
        sns.publish(TopicArn=_arn(unique("nothere")), Message="m")
    with expect_error(sns, "ParameterValueInvalid", 400, "InvalidParameterValueException"):
        sns.publish(TopicArn=arn, Message="m", MessageAttributes={"a": {"DataType": "Bogus", "StringValue": "1"}})
    assert sqs(shared_broker.aws_url).receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None
    sns.publish(TopicArn=arn, Message="still serving")
    got = sqs(shared_broker.aws_url).receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert json.loads(got[0]["Body"])["Message"] == "still serving"


def test_publish_batch(sns, shared_broker):
    arn = sns.create_topic(Name=unique("batch"))["TopicArn"]
    url, qarn = queue_with_arn(shared_broker.aws_url, unique("bq"))
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    result = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "ok1", "Message": "one"}, {"Id": "bad", "Message": "two", "Subject": "a\nb"},
        {"Id": "ok2", "Message": "three"}])
    assert sorted(s["Id"] for s in result["Successful"]) == ["ok1", "ok2"]
    assert result["Failed"] == [{"Id": "bad", "Code": "InvalidParameter", "Message": "Invalid parameter: Subject",
                                 "SenderFault": True}]
    with expect_error(sns, "TooManyEntriesInBatchRequest", 400, "TooManyEntriesInBatchRequestException"):
        sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
            {"Id": str(i), "Message": "m"} for i in range(11)])
    with expect_error(sns, "BatchEntryIdsNotDistinct", 400, "BatchEntryIdsNotDistinctException"):
        sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[{"Id": "a", "Message": "m"}] * 2)
    with expect_error(sns, "InvalidBatchEntryId", 400, "InvalidBatchEntryIdException"):
        sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[{"Id": "no spaces", "Message": "m"}])
    with expect_error(sns, "BatchRequestTooLong", 400, "BatchRequestTooLongException"):
        sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
            {"Id": str(i), "Message": "x" * 100_000} for i in range(3)])
    client = sqs(shared_broker.aws_url)
    bodies = []
    for _ in range(20):
        bodies += [m["Body"] for m in client.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                             WaitTimeSeconds=1).get("Messages", [])]
        if len(bodies) >= 2:
            break
    assert sorted(bodies) == ["one", "three"]


def test_publish_batch_to_fifo_topic_without_ids_fails_whole(sns):
    """On a FIFO topic an entry without MessageGroupId (or without a deduplication id the
    topic cannot derive) fails the whole PublishBatch, not only that entry."""
    arn = sns.create_topic(Name=unique("bf") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    good = {"Id": "good", "Message": "m", "MessageGroupId": "g", "MessageDeduplicationId": "d"}
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException") as caught:
        sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[good, {"Id": "nogroup", "Message": "m"}])
    assert caught["error"].response["Error"]["Message"] == (
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException") as caught:
        sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
            good, {"Id": "nodedup", "Message": "m", "MessageGroupId": "g"}])
    assert caught["error"].response["Error"]["Message"] == (
        "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly")
    assert [s["Id"] for s in sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[good])["Successful"]] == [
        "good"]


def test_unsupported_actions_answer_a_modeled_error(sns):
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException"):
        sns.list_platform_applications()


def test_query_wire_format(shared_broker):
    """What a client without an SDK sees: form-encoded requests, XML in the SNS namespace."""
    def post(**form: str) -> tuple[int, str]:
        data = urllib.parse.urlencode({"Version": "2010-03-31", **form}).encode()
        try:
            with urllib.request.urlopen(urllib.request.Request(shared_broker.aws_url + "/", data=data),
                                        timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
    name = unique("wire")
    status, body = post(Action="CreateTopic", Name=name)
    assert status == 200
    assert body.startswith('<?xml version="1.0"?><CreateTopicResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">')
    assert f"<CreateTopicResult><TopicArn>{_arn(name)}</TopicArn></CreateTopicResult>" in body
    status, body = post(Action="GetTopicAttributes", TopicArn=_arn(unique("missing")))
    assert status == 404
    assert '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">' in body
    assert "<Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message>" in body


def test_add_and_remove_permission(sns):
    arn = sns.create_topic(Name=unique("perm"))["TopicArn"]
    sns.add_permission(TopicArn=arn, Label="pub", AWSAccountId=["999999999999"], ActionName=["Publish"])
    policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    assert policy["Id"] == "__default_policy_ID"                     # the default statement stays
    assert [s["Sid"] for s in policy["Statement"]] == ["__default_statement_ID", "pub"]
    assert policy["Statement"][1] == {"Sid": "pub", "Effect": "Allow",
                                      "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                                      "Action": "SNS:Publish", "Resource": arn}
    sns.add_permission(TopicArn=arn, Label="two", AWSAccountId=["888888888888", "999999999999"],
                       ActionName=["Publish", "Subscribe"])
    two = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])["Statement"][2]
    assert two["Action"] == ["SNS:Publish", "SNS:Subscribe"] and len(two["Principal"]["AWS"]) == 2

    with expect_error(sns, "InvalidParameter") as caught:
        sns.add_permission(TopicArn=arn, Label="pub", AWSAccountId=["999999999999"], ActionName=["Publish"])
    assert caught["error"].response["Error"]["Message"] == "Invalid parameter: Statement already exists"
    with expect_error(sns, "InvalidParameter") as caught:
        sns.add_permission(TopicArn=arn, Label="bad", AWSAccountId=["999999999999"], ActionName=["FlyAway"])
    assert caught["error"].response["Error"]["Message"] == (
        "Invalid parameter: Policy statement action out of service scope!")
    with expect_error(sns, "NotFound", 404):
        sns.add_permission(TopicArn=arn + "-gone", Label="x", AWSAccountId=["999999999999"], ActionName=["Publish"])

    sns.remove_permission(TopicArn=arn, Label="pub")
    sns.remove_permission(TopicArn=arn, Label="never-added")
    policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["__default_statement_ID", "two"]


def _message(caught: dict) -> str:
    return caught["error"].response["Error"]["Message"]


def test_arn_and_name_faults_are_worded_as_on_aws(shared_broker):
    """Texts recorded from AWS: a short ARN's element count, a topic ARN given as a
    subscription's, a missing required parameter, a topic name that does not fit."""
    sns = sns_client(shared_broker.aws_url, validate=False)
    arn = sns.create_topic(Name=unique("arnerr"))["TopicArn"]
    cases = [
        (lambda: sns.publish(TopicArn="randomstring:1", Message="m"),
         "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 2"),
        (lambda: sns.publish(TopicArn="", Message="m"),
         "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1"),
        (lambda: sns.subscribe(TopicArn="arn:aws:sns:us-east-1:random", Protocol="sqs", Endpoint="x"),
         "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 5"),
        (lambda: sns.unsubscribe(SubscriptionArn="randomstring"),
         "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not 1"),
        (lambda: sns.unsubscribe(SubscriptionArn=arn), "Invalid parameter: SubscriptionId"),
        (lambda: sns.unsubscribe(), "Invalid parameter: SubscriptionArn Reason: no value for required parameter"),
        (lambda: sns.create_topic(Name=""), "Invalid parameter: Topic Name"),
        (lambda: sns.create_topic(Name=unique("nofifo"), Attributes={"FifoTopic": "true"}),
         "Invalid parameter: Topic Name"),
    ]
    for call, message in cases:
        with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException") as caught:
            call()
        assert _message(caught) == message


def test_message_attribute_faults_are_worded_as_on_aws(sns):
    arn = sns.create_topic(Name=unique("attrerr"))["TopicArn"]
    string = {"DataType": "String", "StringValue": "v"}
    cases = [
        ({"a" * 257: string}, "Length of message attribute name must be less than 256 bytes."),
        ({"in^valid": string}, "Invalid non-alphanumeric character '#x5E' was found in the message attribute "
                               "name. Can only include alphanumeric characters, hyphens, underscores, or dots."),
        ({".a": string}, "Invalid message attribute name starting with character '.' was found."),
        ({"a.": string}, "Invalid message attribute name ending with character '.' was found."),
        ({"a..b": string}, "Message attribute name can not have successive '.' character."),
        ({"attr1": {"DataType": "String", "BinaryValue": b"x"}},
         "The message attribute 'attr1' with type 'String' must use field 'String'."),
        ({"attr1": {"DataType": "Number", "BinaryValue": b"x"}},
         "The message attribute 'attr1' with type 'Number' must use field 'String'."),
        ({"attr1": {"DataType": "Binary", "StringValue": "x"}},
         "The message attribute 'attr1' with type 'Binary' must use field 'Binary'."),
    ]
    for attributes, message in cases:
        with expect_error(sns, "ParameterValueInvalid", 400) as caught:
            sns.publish(TopicArn=arn, Message="m", MessageAttributes=attributes)
        assert _message(caught) == message


def test_an_attribute_without_data_type_is_a_validation_error(shared_broker):
    sns = sns_client(shared_broker.aws_url, validate=False)
    arn = sns.create_topic(Name=unique("notype"))["TopicArn"]
    attributes = {"attr1": {"StringValue": "v"}}
    with expect_error(sns, "ValidationError", 400) as caught:
        sns.publish(TopicArn=arn, Message="m", MessageAttributes=attributes)
    assert _message(caught) == ("1 validation error detected: Value null at 'messageAttributes.attr1.member.dataType' "
                                "failed to satisfy constraint: Member must not be null")
    with expect_error(sns, "ValidationError", 400) as caught:
        sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
            {"Id": "1", "Message": "m", "MessageAttributes": attributes}])
    assert _message(caught) == ("1 validation error detected: Value null at 'publishBatchRequestEntries.1.member."
                                "messageAttributes.attr1.member.dataType' failed to satisfy constraint: "
                                "Member must not be null")


@pytest.mark.parametrize("entry_id,message", [
    ("message.id", "The Id of a batch entry in the batch request contains an impermissible character: message.id"),
    ("a" * 81, "The Id of a batch entry in the batch request is too long: " + "a" * 81),
])
def test_publish_batch_names_the_bad_entry_id(sns, entry_id, message):
    arn = sns.create_topic(Name=unique("batchid"))["TopicArn"]
    with expect_error(sns, "InvalidBatchEntryId", 400, "InvalidBatchEntryIdException") as caught:
        sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[{"Id": entry_id, "Message": "m"}])
    assert _message(caught) == message


def test_subscription_attribute_faults_name_their_request_part(sns, shared_broker):
    """Subscribe's faults are about its Attributes; SetSubscriptionAttributes' are not."""
    arn = sns.create_topic(Name=unique("subattr"))["TopicArn"]
    _, qarn = queue_with_arn(shared_broker.aws_url, unique("sa"))
    with expect_error(sns, "InvalidParameter", 400) as caught:
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "wrongvalue"})
    assert _message(caught) == ("Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value "
                                "[wrongvalue]. Must be true or false.")
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    with expect_error(sns, "InvalidParameter", 400) as caught:
        sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery",
                                        AttributeValue="test-ValUe")
    assert _message(caught) == "Invalid parameter: RawMessageDelivery: Invalid value [test-ValUe]. Must be true or false."
    with expect_error(sns, "InvalidParameter", 400) as caught:
        sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                        AttributeValue=json.dumps({"a": {"b": ["c"]}}))
    assert _message(caught) == ("Invalid parameter: Filter policy scope MessageAttributes does not support "
                                "nested filter policy")


def test_confirm_subscription_faults_are_the_tokens(sns):
    """A topic that does not exist or a hex token nobody has: the Token parameter's fault;
    a token SNS could not have made: "Invalid token" (AWS-recorded)."""
    arn = sns.create_topic(Name=unique("confirm"))["TopicArn"]
    cases = [(arn + "-gone", "ab" * 64, "Invalid parameter: Token"), (arn, "ab" * 64, "Invalid parameter: Token"),
             (arn, "randomtoken", "Invalid token")]
    for topic, token, message in cases:
        with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException") as caught:
            sns.confirm_subscription(TopicArn=topic, Token=token)
        assert _message(caught) == message


def test_publish_to_a_push_endpoint_finds_none(sns):
    target = f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/APNS/app/0f7d5971-aa8b-4bd5-b585-0826e9f93a66"
    with expect_error(sns, "InvalidParameter", 400, "InvalidParameterException") as caught:
        sns.publish(TargetArn=target, Message="m")
    assert _message(caught) == "Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified"
