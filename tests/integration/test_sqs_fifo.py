"""SQS FIFO queues through boto3, under both protocols: order per
MessageGroupId, a group blocked while one of its messages is in flight, deduplication by id
and by content, SequenceNumber, and the FIFO-only rules of sends."""
from __future__ import annotations

import hashlib

import pytest

from tests.conftest import unique
from tests.integration.sqs_clients import PROTOCOLS, expect_error, receive, receive_until, sqs_client

# Starts the MessageRetentionPeriod probes early (see tests/integration/conftest.py).
pytestmark = pytest.mark.usefixtures("sqs_retention_probes")


@pytest.fixture(params=PROTOCOLS)
def sqs(request: pytest.FixtureRequest, shared_broker):
    return sqs_client(request.param, shared_broker.aws_url)


def fifo_queue(sqs, **attributes: str) -> str:
    return sqs.create_queue(QueueName=unique("f") + ".fifo",
                            Attributes={"FifoQueue": "true", **attributes})["QueueUrl"]


@pytest.fixture
def url(sqs) -> str:
    return fifo_queue(sqs)


def send(sqs, url: str, body: str, group: str, dedup: str | None = None, **kw):
    return sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group,
                            MessageDeduplicationId=dedup or unique("d"), **kw)


def test_order_within_groups(sqs, url):
    for i in range(5):
        send(sqs, url, f"a{i}", "A")
        send(sqs, url, f"b{i}", "B")
    got = receive_until(sqs, url, 10, delete=True)
    bodies = [m["Body"] for m in got]
    assert [b for b in bodies if b[0] == "a"] == [f"a{i}" for i in range(5)]
    assert [b for b in bodies if b[0] == "b"] == [f"b{i}" for i in range(5)]
    for m in got:
        assert m["Attributes"]["MessageGroupId"] == m["Body"][0].upper()


def test_group_is_blocked_while_a_message_is_in_flight(sqs, url):
    send(sqs, url, "g1", "G")
    send(sqs, url, "g2", "G")
    send(sqs, url, "h1", "H")
    [first] = receive(sqs, url, max_messages=1, visibility=30)
    assert first["Body"] in ("g1", "h1")
    if first["Body"] == "h1":        # take G's head too so the test covers the blocked group
        sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
        [first] = receive(sqs, url, max_messages=1, visibility=30)
    assert first["Body"] == "g1"
    others = [m["Body"] for m in receive(sqs, url, visibility=30)]
    assert "g2" not in others                          # G is blocked behind g1
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    assert [m["Body"] for m in receive(sqs, url, wait=1)] == ["g2"]


def test_group_unblocks_when_visibility_expires_and_order_is_kept(sqs, url):
    send(sqs, url, "m1", "G")
    send(sqs, url, "m2", "G")
    first = receive(sqs, url, max_messages=1, visibility=1)
    assert [m["Body"] for m in first] == ["m1"]
    assert receive(sqs, url) == []
    again = receive_until(sqs, url, 1, timeout=5)
    assert [m["Body"] for m in again] == ["m1"]          # the same head comes back, not m2
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_receive_takes_several_messages_of_one_group_in_order(sqs, url):
    for i in range(4):
        send(sqs, url, f"m{i}", "G")
    # As on SQS: a free group's head and the messages behind it, up to MaxNumberOfMessages
    got = receive(sqs, url, max_messages=3)
    assert [m["Body"] for m in got] == ["m0", "m1", "m2"]
    # ...while another receive gets nothing of the group until those are settled
    assert receive(sqs, url, max_messages=10) == []
    for m in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert [m["Body"] for m in receive(sqs, url, max_messages=10)] == ["m3"]


def test_other_groups_are_served_while_one_is_held(sqs, url):
    for body in ("g1", "g2", "g3"):
        send(sqs, url, body, "G")
    send(sqs, url, "h1", "H")
    first = receive(sqs, url, max_messages=2, visibility=30)
    assert [m["Body"] for m in first] == ["g1", "g2"]
    assert [m["Body"] for m in receive(sqs, url, max_messages=10, visibility=30)] == ["h1"]


def test_deduplication_by_id(sqs, url):
    first = send(sqs, url, "once", "G", dedup="same-id")
    second = send(sqs, url, "once again", "G", dedup="same-id")     # accepted, not delivered
    assert second["MessageId"]
    assert first["SequenceNumber"]
    # each send's digest is of the body it sent; the receive's of the one kept
    assert second["MD5OfMessageBody"] == hashlib.md5(b"once again").hexdigest()
    got = receive_until(sqs, url, 1, delete=True)
    assert [m["Body"] for m in got] == ["once"]
    assert got[0]["MD5OfBody"] == first["MD5OfMessageBody"] == hashlib.md5(b"once").hexdigest()
    assert got[0]["Attributes"]["MessageDeduplicationId"] == "same-id"
    assert receive(sqs, url) == []
    # still deduplicated after the first was deleted (5-minute interval)
    send(sqs, url, "third time", "G", dedup="same-id")
    assert receive(sqs, url) == []


def test_content_based_deduplication(sqs):
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="G")
    sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="G")
    sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="G",
                     MessageAttributes={"a": {"DataType": "String", "StringValue": "attributes do not count"}})
    sqs.send_message(QueueUrl=url, MessageBody="other body", MessageGroupId="G")
    got = receive_until(sqs, url, 2, delete=True)
    assert [m["Body"] for m in got] == ["same body", "other body"]
    assert got[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same body").hexdigest()
    assert receive(sqs, url) == []
    # an explicit id wins over the content hash
    sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="G", MessageDeduplicationId="explicit")
    assert [m["Body"] for m in receive_until(sqs, url, 1)] == ["same body"]


def test_sequence_numbers_increase(sqs, url):
    seqs = [int(send(sqs, url, f"m{i}", "G")["SequenceNumber"]) for i in range(3)]
    seqs.append(int(send(sqs, url, "other group", "H")["SequenceNumber"]))
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    got = receive_until(sqs, url, 4, delete=True)
    assert sorted(int(m["Attributes"]["SequenceNumber"]) for m in got) == seqs


def test_fifo_batch(sqs, url):
    result = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": f"e{i}", "MessageBody": f"m{i}", "MessageGroupId": "G", "MessageDeduplicationId": f"d{i}"}
        for i in range(5)])
    assert result.get("Failed", []) == []
    by_id = {r["Id"]: r for r in result["Successful"]}
    seqs = [int(by_id[f"e{i}"]["SequenceNumber"]) for i in range(5)]
    assert seqs == sorted(seqs)
    assert [m["Body"] for m in receive_until(sqs, url, 5, delete=True)] == [f"m{i}" for i in range(5)]


def test_fifo_batch_with_invalid_entry_fails_whole_request(sqs, url):
    # SendMessage calls the group id missing; SendMessageBatch calls it invalid (AWS-recorded).
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "ok", "MessageBody": "m", "MessageGroupId": "G", "MessageDeduplicationId": "d1"},
            {"Id": "nogroup", "MessageBody": "m", "MessageDeduplicationId": "d2"}])
    assert receive(sqs, url) == []


def test_fifo_send_rules(sqs, url):
    with expect_error(sqs, "MissingParameter"):                    # group id is required
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    with expect_error(sqs, "InvalidParameterValue"):               # no dedup id, no content dedup
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="G")
    with expect_error(sqs, "InvalidParameterValue"):               # per-message delay
        send(sqs, url, "x", "G", DelaySeconds=1)
    with expect_error(sqs, "InvalidParameterValue"):               # 129 characters
        send(sqs, url, "x", "G" * 129)
    with expect_error(sqs, "InvalidParameterValue"):               # not printable ASCII
        send(sqs, url, "x", "grüppe")
    send(sqs, url, "x", "G" * 128)                                  # 128 is fine
    assert [m["Attributes"]["MessageGroupId"] for m in receive(sqs, url)] == ["G" * 128]


def test_fifo_queue_delay_seconds(sqs):
    url = fifo_queue(sqs, DelaySeconds="1")
    send(sqs, url, "delayed", "G")
    assert receive(sqs, url) == []
    assert [m["Body"] for m in receive(sqs, url, wait=2)] == ["delayed"]
