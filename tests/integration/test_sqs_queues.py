"""SQS queue actions through boto3, under both protocols:
CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, Get/SetQueueAttributes, PurgeQueue,
Tag/Untag/ListQueueTags, Add/RemovePermission, and their errors."""
from __future__ import annotations

import json
import re
import time

import pytest

from tests.conftest import unique
from tests.integration.sqs_clients import (ACCOUNT, PROTOCOLS, REGION, create_queue, expect_error,
                                           queue_arn, queue_attributes, receive, sqs_client)

# Starts the MessageRetentionPeriod probes early (see tests/integration/conftest.py).
pytestmark = pytest.mark.usefixtures("sqs_retention_probes")


@pytest.fixture(params=PROTOCOLS)
def sqs(request: pytest.FixtureRequest, shared_broker):
    return sqs_client(request.param, shared_broker.aws_url)


def name(prefix: str = "q") -> str:
    return unique(prefix)


# ---------------------------------------------------------------------------------------------
# CreateQueue / GetQueueUrl
# ---------------------------------------------------------------------------------------------
def test_create_queue_returns_url_and_arn(sqs, shared_broker):
    q = name()
    url = sqs.create_queue(QueueName=q)["QueueUrl"]
    assert url == f"{shared_broker.aws_url}/{ACCOUNT}/{q}"
    assert sqs.get_queue_url(QueueName=q)["QueueUrl"] == url
    assert queue_arn(sqs, url) == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{q}"


def test_create_queue_is_idempotent_with_same_attributes(sqs):
    q = name()
    url = create_queue(sqs, q, VisibilityTimeout=7)
    assert create_queue(sqs, q, VisibilityTimeout=7) == url
    # No attributes at all is "the same" too: AWS compares only what is given.
    assert sqs.create_queue(QueueName=q)["QueueUrl"] == url


def test_create_queue_with_other_attributes_is_queue_already_exists(sqs):
    q = name()
    create_queue(sqs, q, VisibilityTimeout=7)
    with expect_error(sqs, "QueueAlreadyExists", 400, "QueueNameExists") as caught:
        create_queue(sqs, q, VisibilityTimeout=7, DelaySeconds=2)
    # AWS names the (first) attribute that differs.
    assert caught["error"].response["Error"]["Message"] == (
        "A queue already exists with the same name and a different value for attribute DelaySeconds")


@pytest.mark.parametrize("bad", ["has space", "dot.name", "x" * 81, "slash/name", "ünïcode"])
def test_create_queue_invalid_name(sqs, bad):
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.create_queue(QueueName=bad)


def test_create_queue_name_limits(sqs):
    q = unique("n")
    longest = q + "x" * (80 - len(q))
    assert len(longest) == 80
    url = sqs.create_queue(QueueName=longest)["QueueUrl"]
    assert url.endswith("/" + longest)
    fifo = q + "y" * (75 - len(q)) + ".fifo"
    assert len(fifo) == 80
    assert sqs.create_queue(QueueName=fifo, Attributes={"FifoQueue": "true"})["QueueUrl"].endswith("/" + fifo)
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.create_queue(QueueName="y" + fifo, Attributes={"FifoQueue": "true"})


def test_create_queue_empty_name_is_invalid_parameter_value(sqs):
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.create_queue(QueueName="")


def test_fifo_name_and_attribute_must_agree(sqs):
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.create_queue(QueueName=name() + ".fifo")            # .fifo without FifoQueue=true
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.create_queue(QueueName=name(), Attributes={"FifoQueue": "true"})   # no .fifo


def test_create_queue_rejects_fifo_only_attribute_on_standard_queue(sqs):
    with expect_error(sqs, "InvalidAttributeName", 400, "InvalidAttributeName"):
        sqs.create_queue(QueueName=name(), Attributes={"ContentBasedDeduplication": "true"})


@pytest.mark.parametrize("attribute,value", [("DeduplicationScope", "queue"), ("FifoThroughputLimit", "perQueue")])
def test_create_queue_rejects_high_throughput_setting_on_standard_queue(sqs, attribute, value):
    with expect_error(sqs, "InvalidAttributeName", 400, "InvalidAttributeName") as caught:
        sqs.create_queue(QueueName=name(), Attributes={attribute: value})
    assert caught["error"].response["Error"]["Message"] == (
        f"You can specify the {attribute} only when FifoQueue is set to true.")


def test_set_fifo_queue_on_a_fifo_queue(sqs):
    """Setting FifoQueue=true again is a no-op; false is refused as a change of queue type."""
    url = create_queue(sqs, name() + ".fifo", FifoQueue="true")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
    with expect_error(sqs, "InvalidAttributeValue", 400, "InvalidAttributeValue") as caught:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "false"})
    assert caught["error"].response["Error"]["Message"] == (
        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.")


def test_create_queue_rejects_unknown_attribute(sqs):
    with expect_error(sqs, "InvalidAttributeName", 400, "InvalidAttributeName"):
        sqs.create_queue(QueueName=name(), Attributes={"NoSuchAttribute": "1"})


@pytest.mark.parametrize("attribute,value", [
    ("VisibilityTimeout", "43201"), ("VisibilityTimeout", "-1"), ("VisibilityTimeout", "soon"),
    ("MessageRetentionPeriod", "59"), ("MessageRetentionPeriod", "1209601"),
    ("MaximumMessageSize", "1023"), ("MaximumMessageSize", "1048577"),
    ("DelaySeconds", "901"), ("ReceiveMessageWaitTimeSeconds", "21"),
])
def test_create_queue_rejects_out_of_range_attribute(sqs, attribute, value):
    with expect_error(sqs, "InvalidAttributeValue", 400, "InvalidAttributeValue"):
        sqs.create_queue(QueueName=name(), Attributes={attribute: value})


def test_get_queue_url_of_missing_queue(sqs):
    with expect_error(sqs, "AWS.SimpleQueueService.NonExistentQueue", 400, "QueueDoesNotExist") as caught:
        sqs.get_queue_url(QueueName=name("missing"))
    # the class users catch
    assert isinstance(caught["error"], sqs.exceptions.QueueDoesNotExist)


def test_get_queue_url_with_owner_account(sqs):
    q = name()
    url = sqs.create_queue(QueueName=q)["QueueUrl"]
    assert sqs.get_queue_url(QueueName=q, QueueOwnerAWSAccountId=ACCOUNT)["QueueUrl"] == url


def test_actions_on_missing_queue_are_queue_does_not_exist(sqs, shared_broker):
    url = f"{shared_broker.aws_url}/{ACCOUNT}/{name('missing')}"
    calls = [
        lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]),
        lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5"}),
        lambda: sqs.send_message(QueueUrl=url, MessageBody="x"),
        lambda: sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "x"}]),
        lambda: sqs.receive_message(QueueUrl=url),
        lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle="whatever"),
        lambda: sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="whatever", VisibilityTimeout=1),
        lambda: sqs.purge_queue(QueueUrl=url),
        lambda: sqs.delete_queue(QueueUrl=url),
        lambda: sqs.tag_queue(QueueUrl=url, Tags={"a": "b"}),
        lambda: sqs.untag_queue(QueueUrl=url, TagKeys=["a"]),
        lambda: sqs.list_queue_tags(QueueUrl=url),
        lambda: sqs.list_dead_letter_source_queues(QueueUrl=url),
        lambda: sqs.add_permission(QueueUrl=url, Label="l", AWSAccountIds=[ACCOUNT], Actions=["SendMessage"]),
        lambda: sqs.remove_permission(QueueUrl=url, Label="l"),
    ]
    for call in calls:
        with expect_error(sqs, "AWS.SimpleQueueService.NonExistentQueue", 400, "QueueDoesNotExist"):
            call()


# ---------------------------------------------------------------------------------------------
# ListQueues
# ---------------------------------------------------------------------------------------------
def test_list_queues_by_prefix(sqs):
    prefix = unique("lp")
    urls = sorted(sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(3))
    other = sqs.create_queue(QueueName=unique("lq"))["QueueUrl"]
    listed = sqs.list_queues(QueueNamePrefix=prefix)
    assert sorted(listed["QueueUrls"]) == urls
    assert "NextToken" not in listed
    assert other in sqs.list_queues()["QueueUrls"]
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=unique("none"))


def test_list_queues_pagination(sqs):
    prefix = unique("pg")
    urls = sorted(sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(5))
    pages = []
    page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2)
    pages.append(page["QueueUrls"])
    while "NextToken" in page:
        page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2, NextToken=page["NextToken"])
        pages.append(page["QueueUrls"])
        assert len(pages) <= 5, pages
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(u for p in pages for u in p) == urls
    # boto3's paginator follows the same tokens
    paginated = [u for p in sqs.get_paginator("list_queues").paginate(
        QueueNamePrefix=prefix, PaginationConfig={"PageSize": 3}) for u in p.get("QueueUrls", [])]
    assert sorted(paginated) == urls


def test_list_queues_bad_max_results(sqs):
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.list_queues(MaxResults=0)
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.list_queues(MaxResults=1001)


# ---------------------------------------------------------------------------------------------
# DeleteQueue
# ---------------------------------------------------------------------------------------------
def test_delete_queue(sqs):
    q = name()
    url = sqs.create_queue(QueueName=q)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="doomed")
    sqs.delete_queue(QueueUrl=url)
    with expect_error(sqs, "AWS.SimpleQueueService.NonExistentQueue", 400, "QueueDoesNotExist"):
        sqs.get_queue_url(QueueName=q)
    with expect_error(sqs, "AWS.SimpleQueueService.NonExistentQueue", 400, "QueueDoesNotExist"):
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert url not in sqs.list_queues(QueueNamePrefix=q).get("QueueUrls", [])
    with expect_error(sqs, "AWS.SimpleQueueService.QueueDeletedRecently", 400, "QueueDeletedRecently"):
        sqs.create_queue(QueueName=q)                  # the name is free again only after 60 s


# ---------------------------------------------------------------------------------------------
# Get/SetQueueAttributes
# ---------------------------------------------------------------------------------------------
def test_default_attributes(sqs):
    q = name()
    before = int(time.time())
    url = sqs.create_queue(QueueName=q)["QueueUrl"]
    attrs = queue_attributes(sqs, url)
    assert attrs["VisibilityTimeout"] == "30"
    assert attrs["MessageRetentionPeriod"] == "345600"
    assert attrs["MaximumMessageSize"] == "1048576"
    assert attrs["DelaySeconds"] == "0"
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "0"
    assert attrs["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{q}"
    for counter in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed"):
        assert attrs[counter] == "0"
    created = int(attrs["CreatedTimestamp"])
    assert before - 2 <= created <= time.time() + 2
    assert int(attrs["LastModifiedTimestamp"]) >= created
    for absent in ("FifoQueue", "RedrivePolicy", "Policy"):
        assert absent not in attrs


def test_get_selected_attributes(sqs):
    url = create_queue(sqs, name(), DelaySeconds=3)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds", "VisibilityTimeout"])
    assert attrs["Attributes"] == {"DelaySeconds": "3", "VisibilityTimeout": "30"}
    # no names at all: no attributes
    assert sqs.get_queue_attributes(QueueUrl=url).get("Attributes", {}) == {}


def test_get_unknown_attribute_name(sqs, shared_broker):
    url = create_queue(sqs, name())
    # botocore validates the enum only loosely (a plain list of strings), so this reaches the broker.
    with expect_error(sqs, "InvalidAttributeName", 400, "InvalidAttributeName"):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["NoSuchAttribute"])


def test_set_attributes_and_last_modified(sqs):
    url = create_queue(sqs, name())
    created = int(queue_attributes(sqs, url, "CreatedTimestamp")["CreatedTimestamp"])
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "VisibilityTimeout": "45", "DelaySeconds": "2", "MaximumMessageSize": "2048",
        "MessageRetentionPeriod": "120", "ReceiveMessageWaitTimeSeconds": "1"})
    attrs = queue_attributes(sqs, url)
    assert (attrs["VisibilityTimeout"], attrs["DelaySeconds"], attrs["MaximumMessageSize"],
            attrs["MessageRetentionPeriod"], attrs["ReceiveMessageWaitTimeSeconds"]) == \
        ("45", "2", "2048", "120", "1")
    assert int(attrs["LastModifiedTimestamp"]) >= created


def test_set_attributes_errors(sqs):
    url = create_queue(sqs, name())
    with expect_error(sqs, "InvalidAttributeName", 400, "InvalidAttributeName"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"QueueArn": "arn:aws:sqs:us-east-1:1:x"})
    with expect_error(sqs, "InvalidAttributeName", 400, "InvalidAttributeName"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"ApproximateNumberOfMessages": "3"})
    with expect_error(sqs, "InvalidAttributeName", 400, "InvalidAttributeName"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
    with expect_error(sqs, "InvalidAttributeValue", 400, "InvalidAttributeValue"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "43201"})
    with expect_error(sqs, "InvalidAttributeValue", 400, "InvalidAttributeValue"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": "{not json"})
    # nothing was changed by the failed calls
    assert queue_attributes(sqs, url, "VisibilityTimeout")["VisibilityTimeout"] == "30"


def test_fifo_queue_attributes(sqs):
    url = sqs.create_queue(QueueName=name() + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    attrs = queue_attributes(sqs, url)
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "false"
    assert attrs["DeduplicationScope"] == "queue"
    assert attrs["FifoThroughputLimit"] == "perQueue"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "ContentBasedDeduplication": "true", "DeduplicationScope": "messageGroup",
        "FifoThroughputLimit": "perMessageGroupId"})
    attrs = queue_attributes(sqs, url)
    assert (attrs["ContentBasedDeduplication"], attrs["DeduplicationScope"], attrs["FifoThroughputLimit"]) == \
        ("true", "messageGroup", "perMessageGroupId")
    with expect_error(sqs, "InvalidAttributeValue", 400, "InvalidAttributeValue"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"DeduplicationScope": "everything"})


def test_approximate_counts(sqs):
    url = create_queue(sqs, name())
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    got = receive(sqs, url, max_messages=1, visibility=60)
    assert len(got) == 1
    attrs = queue_attributes(sqs, url)
    assert (attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"],
            attrs["ApproximateNumberOfMessagesDelayed"]) == ("2", "1", "1")


def test_redrive_allow_policy_and_policy_round_trip(sqs):
    url = create_queue(sqs, name())
    allow = json.dumps({"redrivePermission": "denyAll"})
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "s1", "Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
        "Resource": queue_arn(sqs, url)}]})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedriveAllowPolicy": allow, "Policy": policy})
    attrs = queue_attributes(sqs, url, "RedriveAllowPolicy", "Policy")
    assert json.loads(attrs["RedriveAllowPolicy"]) == json.loads(allow)
    assert json.loads(attrs["Policy"]) == json.loads(policy)


def test_attributes_come_back_as_sqs_keeps_them(sqs):
    """SQS parses what it is given: booleans in any case come back in lower case, integers
    without leading zeros, and a RedrivePolicy whose maxReceiveCount was a string comes back
    as compact JSON with a number (code that compares the count with an int relies on it)."""
    dlq = create_queue(sqs, name("dlq"))
    url = sqs.create_queue(QueueName=name() + ".fifo", Attributes={
        "FifoQueue": "True", "ContentBasedDeduplication": "TRUE", "DelaySeconds": "05"})["QueueUrl"]
    attrs = queue_attributes(sqs, url)
    assert (attrs["ContentBasedDeduplication"], attrs["DelaySeconds"]) == ("true", "5")
    source = sqs.create_queue(QueueName=name(), Attributes={"RedrivePolicy": json.dumps(
        {"maxReceiveCount": "7", "deadLetterTargetArn": queue_arn(sqs, dlq)})})["QueueUrl"]
    policy = queue_attributes(sqs, source, "RedrivePolicy")["RedrivePolicy"]
    assert policy == f'{{"deadLetterTargetArn":"{queue_arn(sqs, dlq)}","maxReceiveCount":7}}'
    allow = '{ "redrivePermission": "byQueue", "sourceQueueArns": ["%s"] }' % queue_arn(sqs, source)
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": allow})
    assert queue_attributes(sqs, dlq, "RedriveAllowPolicy")["RedriveAllowPolicy"] == \
        f'{{"redrivePermission":"byQueue","sourceQueueArns":["{queue_arn(sqs, source)}"]}}'


# ---------------------------------------------------------------------------------------------
# PurgeQueue
# ---------------------------------------------------------------------------------------------
def test_purge_queue(sqs):
    url = create_queue(sqs, name())
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(5)])
    assert len(receive(sqs, url, max_messages=1, visibility=60)) == 1   # one in flight, purged too
    sqs.purge_queue(QueueUrl=url)
    assert receive(sqs, url) == []
    attrs = queue_attributes(sqs, url)
    assert (attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")
    # messages sent after the purge are kept
    sqs.send_message(QueueUrl=url, MessageBody="after")
    assert [m["Body"] for m in receive(sqs, url, wait=1)] == ["after"]


def test_purge_twice_within_60s_is_purge_queue_in_progress(sqs):
    url = create_queue(sqs, name())
    sqs.purge_queue(QueueUrl=url)
    with expect_error(sqs, "AWS.SimpleQueueService.PurgeQueueInProgress", 403, "PurgeQueueInProgress"):
        sqs.purge_queue(QueueUrl=url)


# ---------------------------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------------------------
def test_tags(sqs):
    url = sqs.create_queue(QueueName=name(), tags={"team": "core", "env": "test"})["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core", "env": "test"}
    sqs.tag_queue(QueueUrl=url, Tags={"env": "prod", "cost": "42"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core", "env": "prod", "cost": "42"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team", "cost", "never-set"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "prod"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["env"])
    assert sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}


def test_tag_errors_leave_the_tags_as_they_were(sqs):
    url = sqs.create_queue(QueueName=name(), tags={"team": "core"})["QueueUrl"]
    with expect_error(sqs, "MissingParameter") as caught:
        sqs.tag_queue(QueueUrl=url, Tags={})
    assert caught["error"].response["Error"]["Message"] == "The request must contain the parameter Tags."
    with expect_error(sqs, "MissingParameter"):
        sqs.untag_queue(QueueUrl=url, TagKeys=[])
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.tag_queue(QueueUrl=url, Tags={f"k{i}": "v" for i in range(50)})     # 51 with "team"
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core"}


def test_untagged_queue_lists_no_tags(sqs):
    url = create_queue(sqs, name())
    assert sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}


# ---------------------------------------------------------------------------------------------
# Permissions
# ---------------------------------------------------------------------------------------------
def _statements(sqs, url) -> list[dict]:
    policy = queue_attributes(sqs, url, "Policy").get("Policy")
    return json.loads(policy)["Statement"] if policy else []


def test_add_and_remove_permission(sqs):
    url = create_queue(sqs, name())
    arn = queue_arn(sqs, url)
    sqs.add_permission(QueueUrl=url, Label="send-only", AWSAccountIds=["111122223333"],
                       Actions=["SendMessage"])
    sqs.add_permission(QueueUrl=url, Label="recv", AWSAccountIds=["111122223333", "444455556666"],
                       Actions=["ReceiveMessage", "DeleteMessage"])
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy["Id"] == f"{arn}/SQSDefaultPolicy"
    statements = {s["Sid"]: s for s in _statements(sqs, url)}
    assert set(statements) == {"send-only", "recv"}
    # as SQS writes them: one account or action bare, several as a list
    assert statements["send-only"]["Action"] == "SQS:SendMessage"
    assert statements["recv"]["Principal"]["AWS"] == ["arn:aws:iam::111122223333:root",
                                                      "arn:aws:iam::444455556666:root"]
    send = statements["send-only"]
    assert send["Effect"] == "Allow"
    assert send["Resource"] == arn
    actions = send["Action"] if isinstance(send["Action"], list) else [send["Action"]]
    assert [a.lower() for a in actions] == ["sqs:sendmessage"]
    principals = send["Principal"]["AWS"]
    principals = principals if isinstance(principals, list) else [principals]
    assert [re.sub(r"^arn:aws:iam::(\d+):root$", r"\1", p) for p in principals] == ["111122223333"]

    with expect_error(sqs, "InvalidParameterValue"):    # labels are unique
        sqs.add_permission(QueueUrl=url, Label="recv", AWSAccountIds=["111122223333"], Actions=["SendMessage"])

    sqs.remove_permission(QueueUrl=url, Label="send-only")
    assert [s["Sid"] for s in _statements(sqs, url)] == ["recv"]
    sqs.remove_permission(QueueUrl=url, Label="recv")
    assert _statements(sqs, url) == []
    with expect_error(sqs, "InvalidParameterValue") as caught:
        sqs.remove_permission(QueueUrl=url, Label="recv")
    assert caught["error"].response["Error"]["Message"] == (
        "Value recv for parameter Label is invalid. Reason: can't find label.")


def test_add_permission_rejects_unknown_action(sqs):
    url = create_queue(sqs, name())
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.add_permission(QueueUrl=url, Label="bad", AWSAccountIds=["111122223333"], Actions=["FlyToTheMoon"])
    with expect_error(sqs, "InvalidParameterValue") as caught:
        sqs.add_permission(QueueUrl=url, Label="bad", AWSAccountIds=["111122223333"], Actions=["DeleteQueue"])
    assert caught["error"].response["Error"]["Message"] == (
        "Value SQS:DeleteQueue for parameter ActionName is invalid. "
        "Reason: Only the queue owner is allowed to invoke this action.")


def test_add_permission_allows_seven_actions_per_statement(sqs):
    """SQS's policy quota is seven actions a statement; an eighth is OverLimit (403)."""
    url = create_queue(sqs, name())
    actions = ["ChangeMessageVisibility", "DeleteMessage", "GetQueueAttributes", "GetQueueUrl",
               "ListDeadLetterSourceQueues", "PurgeQueue", "ReceiveMessage", "SendMessage"]
    with expect_error(sqs, "OverLimit", 403, "OverLimit") as caught:
        sqs.add_permission(QueueUrl=url, Label="many", AWSAccountIds=["111122223333"], Actions=actions)
    assert caught["error"].response["Error"]["Message"] == "8 Actions were found, maximum allowed is 7."
    sqs.add_permission(QueueUrl=url, Label="many", AWSAccountIds=["111122223333"], Actions=actions[:7])
