"""SQS state across kill -9."""
from __future__ import annotations

import time

import pytest

from tests.integration.sqs_clients import create_queue, make_client, queue_attributes, receive, receive_until

# Starts the MessageRetentionPeriod probes early (see tests/integration/conftest.py).
pytestmark = pytest.mark.usefixtures("sqs_retention_probes")

LEASE = 4      # visibility timeout of the in-flight messages, seconds


def _visible_now(sqs, url) -> list[dict]:
    got: list[dict] = []
    while batch := receive(sqs, url, visibility=60):
        got += batch
    return got


def test_kill_9_loses_nothing_and_keeps_leases(broker):
    sqs = make_client("json", broker.aws_url)
    url = create_queue(sqs, "durable", VisibilityTimeout=17)
    sqs.tag_queue(QueueUrl=url, Tags={"keep": "me"})
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}",
                                                   "MessageAttributes": {"i": {"DataType": "Number", "StringValue": str(i)}}}
                                                  for i in range(6)])
    [deleted] = receive(sqs, url, max_messages=1)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=deleted["ReceiptHandle"])
    in_flight = receive(sqs, url, max_messages=2, visibility=LEASE)
    leased_at = time.monotonic()
    assert len(in_flight) == 2
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=LEASE)

    broker.restart(hard=True)
    restarted_after = time.monotonic() - leased_at

    sqs = make_client("json", broker.aws_url)            # new port
    url = sqs.get_queue_url(QueueName="durable")["QueueUrl"]
    attrs = queue_attributes(sqs, url)
    assert attrs["VisibilityTimeout"] == "17"
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"keep": "me"}

    visible = _visible_now(sqs, url)
    leased_bodies = sorted(m["Body"] for m in in_flight)
    # The leases and the delay end at about the same moment (LEASE after the receive).
    due = set(leased_bodies) | {"delayed"}
    if restarted_after < LEASE - 1:
        # the leases survived: only the three never received are visible
        assert len(visible) == 3, [m["Body"] for m in visible]
        assert not {m["Body"] for m in visible} & due
        late = receive_until(sqs, url, len(due), timeout=LEASE + 15)
        assert time.monotonic() - leased_at >= LEASE - 0.3
    else:                                                # a slow restart: they ran out on the way
        late = [m for m in visible if m["Body"] in due]
        visible = [m for m in visible if m["Body"] not in due]
        if len(late) < len(due):                         # ... or run out any moment now
            late += receive_until(sqs, url, len(due) - len(late), timeout=LEASE + 15)
    back = [m for m in late if m["Body"] in leased_bodies]
    assert sorted(m["Body"] for m in back) == leased_bodies
    for m in back:
        assert m["Attributes"]["ApproximateReceiveCount"] == "2"
        assert m["MessageAttributes"]["i"]["DataType"] == "Number"
    everything = {m["Body"] for m in visible} | {m["Body"] for m in back}
    assert everything == {f"m{i}" for i in range(6)} - {deleted["Body"]}
    # the delayed message kept its delay (it was not visible before it), and nothing else is left
    assert [m["Body"] for m in late if m not in back] == ["delayed"]
    assert receive(sqs, url, wait=1) == []


def test_receipt_handle_from_before_a_crash_still_deletes(broker):
    """An in-flight lease survives the crash, so the consumer that held it can still finish."""
    sqs = make_client("json", broker.aws_url)
    url = create_queue(sqs, "handles")
    sqs.send_message(QueueUrl=url, MessageBody="work")
    # A lease far longer than any restart: the handle is still the current one afterwards.
    [msg] = receive(sqs, url, visibility=120)
    broker.restart(hard=True)
    sqs = make_client("json", broker.aws_url)
    url = sqs.get_queue_url(QueueName="handles")["QueueUrl"]
    before = queue_attributes(sqs, url)
    assert (before["ApproximateNumberOfMessages"], before["ApproximateNumberOfMessagesNotVisible"]) == ("0", "1")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    after = queue_attributes(sqs, url)
    assert (after["ApproximateNumberOfMessages"], after["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")
    # ... and across one more crash: the delete was committed, not only applied in memory.
    broker.restart(hard=True)
    sqs = make_client("json", broker.aws_url)
    url = sqs.get_queue_url(QueueName="handles")["QueueUrl"]
    again = queue_attributes(sqs, url)
    assert (again["ApproximateNumberOfMessages"], again["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")


def test_clean_stop_keeps_everything_too(broker):
    sqs = make_client("json", broker.aws_url)
    fifo = sqs.create_queue(QueueName="order.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=fifo, MessageBody=f"f{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}")
    broker.restart(hard=False)
    sqs = make_client("json", broker.aws_url)
    fifo = sqs.get_queue_url(QueueName="order.fifo")["QueueUrl"]
    # deduplication ids are remembered across the restart
    sqs.send_message(QueueUrl=fifo, MessageBody="dup", MessageGroupId="g", MessageDeduplicationId="d1")
    assert [m["Body"] for m in receive_until(sqs, fifo, 3, delete=True)] == ["f0", "f1", "f2"]
    assert receive(sqs, fifo) == []
