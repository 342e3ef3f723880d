"""Dead-letter queues through boto3, under both protocols: RedrivePolicy moves a
message on the receive that exceeds maxReceiveCount, ListDeadLetterSourceQueues, and message
move tasks (Start/Cancel/ListMessageMoveTasks) that redrive it back."""
from __future__ import annotations

import json
import time

import pytest

from tests.conftest import unique
from tests.integration.sqs_clients import (ACCOUNT, PROTOCOLS, REGION, create_queue, expect_error, queue_arn,
                                           queue_attributes, receive, receive_until, sqs_client, wait_until)

# Starts the MessageRetentionPeriod probes early (see tests/integration/conftest.py).
pytestmark = pytest.mark.usefixtures("sqs_retention_probes")


@pytest.fixture(params=PROTOCOLS)
def sqs(request: pytest.FixtureRequest, shared_broker):
    return sqs_client(request.param, shared_broker.aws_url)


def redrive(dlq_arn: str, max_receives: int) -> str:
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives})


def pair(sqs, max_receives: int, **source_attrs) -> tuple[str, str, str]:
    """(source url, dlq url, dlq arn)"""
    dlq = create_queue(sqs, unique("dlq"))
    arn = queue_arn(sqs, dlq)
    src = create_queue(sqs, unique("src"), RedrivePolicy=redrive(arn, max_receives), **source_attrs)
    return src, dlq, arn


def count(sqs, url: str) -> int:
    return int(queue_attributes(sqs, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"])


def to_dlq(sqs, src: str, dlq: str, n: int) -> None:
    """With maxReceiveCount 1: receive each message once, let the lease lapse, and the next
    receive moves them all."""
    receive_until(sqs, src, n, visibility=1)
    time.sleep(1.1)
    assert receive(sqs, src) == []
    wait_until(lambda: count(sqs, dlq) == n, message=f"{n} messages in the DLQ")


def test_redrive_on_the_receive_that_exceeds_max_receive_count(sqs):
    src, dlq, _ = pair(sqs, 2)
    attrs = {"k": {"DataType": "String", "StringValue": "v"}, "n": {"DataType": "Number", "StringValue": "7"}}
    sent = sqs.send_message(QueueUrl=src, MessageBody="poison", MessageAttributes=attrs)
    [r1] = receive(sqs, src, visibility=1)
    assert r1["Attributes"]["ApproximateReceiveCount"] == "1"
    [r2] = receive_until(sqs, src, 1, visibility=1)            # visibility expiry counts as a receive
    assert r2["Attributes"]["ApproximateReceiveCount"] == "2"
    assert receive(sqs, dlq) == []                              # not yet: 2 receives are allowed
    # the third receive exceeds maxReceiveCount: the message moves instead of being returned
    time.sleep(1.1)
    assert receive(sqs, src) == []
    [dead] = receive_until(sqs, dlq, 1)
    assert dead["Body"] == "poison"
    assert dead["MessageAttributes"] == attrs
    assert dead["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert dead["Attributes"]["DeadLetterQueueSourceArn"] == queue_arn(sqs, src)
    assert count(sqs, src) == 0


def test_redrive_policy_round_trip_and_removal(sqs):
    src, dlq, arn = pair(sqs, 3)
    policy = json.loads(queue_attributes(sqs, src, "RedrivePolicy")["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == arn
    assert int(policy["maxReceiveCount"]) == 3
    sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": ""})
    assert "RedrivePolicy" not in queue_attributes(sqs, src)


def test_redrive_policy_errors(sqs):
    dlq = create_queue(sqs, unique("dlq"))
    arn = queue_arn(sqs, dlq)
    url = create_queue(sqs, unique("src"))
    fifo_dlq = sqs.create_queue(QueueName=unique("fdlq") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{unique('missing')}"
    for bad in (redrive(arn, 0), redrive(arn, 1001), redrive(missing, 3), redrive(queue_arn(sqs, fifo_dlq), 3),
                json.dumps({"maxReceiveCount": 3}), json.dumps({"deadLetterTargetArn": arn})):
        with expect_error(sqs, "InvalidParameterValue"):
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": bad})
    with expect_error(sqs, "InvalidAttributeValue", 400, "InvalidAttributeValue"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": "not json"})
    assert "RedrivePolicy" not in queue_attributes(sqs, url)


def test_list_dead_letter_source_queues(sqs):
    dlq = create_queue(sqs, unique("dlq"))
    arn = queue_arn(sqs, dlq)
    sources = sorted(create_queue(sqs, unique("src"), RedrivePolicy=redrive(arn, 5)) for _ in range(3))
    create_queue(sqs, unique("unrelated"))
    assert sorted(sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]) == sources
    pages, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = sqs.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=2, **kw)
        pages.append(page["queueUrls"])
        token = page.get("NextToken")
        if not token:
            break
        assert len(pages) < 5
    assert [len(p) for p in pages] == [2, 1]
    assert sorted(u for p in pages for u in p) == sources
    lonely = create_queue(sqs, unique("lonely"))
    assert sqs.list_dead_letter_source_queues(QueueUrl=lonely).get("queueUrls", []) == []


# ---------------------------------------------------------------------------------------------
# message move tasks
# ---------------------------------------------------------------------------------------------
def _tasks(sqs, source_arn: str) -> list[dict]:
    return sqs.list_message_move_tasks(SourceArn=source_arn).get("Results", [])


def test_move_task_redrives_back_to_the_source(sqs):
    src, dlq, dlq_arn = pair(sqs, 1)
    sqs.send_message_batch(QueueUrl=src, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    to_dlq(sqs, src, dlq, 3)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    done = wait_until(lambda: [t for t in _tasks(sqs, dlq_arn) if t["Status"] == "COMPLETED"],
                      message="move task COMPLETED")
    task = done[0]
    assert task["SourceArn"] == dlq_arn
    assert task["ApproximateNumberOfMessagesMoved"] == 3
    assert int(task["StartedTimestamp"]) > 0
    assert sorted(m["Body"] for m in receive_until(sqs, src, 3, delete=True)) == ["m0", "m1", "m2"]
    assert count(sqs, dlq) == 0


def test_move_task_to_a_chosen_destination(sqs):
    src, dlq, dlq_arn = pair(sqs, 1)
    other = create_queue(sqs, unique("dest"))
    other_arn = queue_arn(sqs, other)
    sqs.send_message(QueueUrl=src, MessageBody="elsewhere")
    to_dlq(sqs, src, dlq, 1)
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=other_arn)
    wait_until(lambda: any(t["Status"] == "COMPLETED" for t in _tasks(sqs, dlq_arn)), message="move task done")
    task = _tasks(sqs, dlq_arn)[0]
    assert task["DestinationArn"] == other_arn
    assert [m["Body"] for m in receive_until(sqs, other, 1)] == ["elsewhere"]
    assert receive(sqs, src) == []


def test_cancel_move_task(sqs):
    src, dlq, dlq_arn = pair(sqs, 1)
    sqs.send_message_batch(QueueUrl=src, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(6)])
    to_dlq(sqs, src, dlq, 6)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    [running] = _tasks(sqs, dlq_arn)
    assert running["Status"] == "RUNNING"
    assert running["TaskHandle"] == handle
    assert running["MaxNumberOfMessagesPerSecond"] == 1
    # one active task per source queue
    with expect_error(sqs, "AWS.SimpleQueueService.UnsupportedOperation", 400, "UnsupportedOperation"):
        sqs.start_message_move_task(SourceArn=dlq_arn)
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert 0 <= moved < 6
    status = wait_until(lambda: _tasks(sqs, dlq_arn)[0]["Status"] in ("CANCELLING", "CANCELLED")
                        and _tasks(sqs, dlq_arn)[0]["Status"], message="task cancelled")
    assert status in ("CANCELLING", "CANCELLED")
    time.sleep(1.2)
    assert count(sqs, dlq) >= 6 - moved - 1           # the rest stays in the DLQ
    assert count(sqs, dlq) > 0


def test_move_task_errors(sqs):
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{unique('missing')}"
    with expect_error(sqs, "ResourceNotFoundException", 404, "ResourceNotFoundException"):
        sqs.start_message_move_task(SourceArn=missing)
    with expect_error(sqs, "ResourceNotFoundException", 404, "ResourceNotFoundException"):
        sqs.list_message_move_tasks(SourceArn=missing)
