"""SQS messages through boto3, under both protocols:
SendMessage(+Batch), ReceiveMessage, DeleteMessage(+Batch), attributes and their MD5 digests,
body validation, sizes, and the per-entry results of batches."""
from __future__ import annotations

import hashlib
import time

import pytest

from facades.sqs import checksums
from tests.conftest import unique
from tests.integration.sqs_clients import (PROTOCOLS, create_queue, expect_error, queue_attributes, receive,
                                           receive_until, sqs_client)

# Starts the MessageRetentionPeriod probes early (see tests/integration/conftest.py).
pytestmark = pytest.mark.usefixtures("sqs_retention_probes")


@pytest.fixture(params=PROTOCOLS)
def sqs(request: pytest.FixtureRequest, shared_broker):
    return sqs_client(request.param, shared_broker.aws_url)


@pytest.fixture
def url(sqs) -> str:
    return create_queue(sqs, unique("m"))


# ---------------------------------------------------------------------------------------------
# AWS's MD5 algorithm, written here independently of facades/sqs/checksums.py
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html
#  "Calculating the MD5 message digest for message attributes")
# ---------------------------------------------------------------------------------------------
def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def aws_md5_of_attributes(attributes: dict) -> str:
    """Sort by name; per attribute: name, data type (each 4-byte length + UTF-8), one transport
    byte (1 = String/Number, 2 = Binary), then the value (4-byte length + bytes)."""
    encoded = b""
    for attr_name in sorted(attributes):
        value = attributes[attr_name]
        encoded += _length_prefixed(attr_name.encode("utf-8"))
        encoded += _length_prefixed(value["DataType"].encode("utf-8"))
        if "BinaryValue" in value:
            encoded += b"\x02" + _length_prefixed(bytes(value["BinaryValue"]))
        else:
            encoded += b"\x01" + _length_prefixed(value["StringValue"].encode("utf-8"))
    return hashlib.md5(encoded).hexdigest()


def aws_md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode("utf-8")).hexdigest()


ATTRIBUTES = {
    "color": {"DataType": "String", "StringValue": "blue"},
    "count": {"DataType": "Number", "StringValue": "42"},
    "ratio": {"DataType": "Number.float", "StringValue": "-3.14"},
    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe\xff"},
    "img": {"DataType": "Binary.png", "BinaryValue": b"\x89PNG"},
    "label": {"DataType": "String.custom", "StringValue": "héllo ✓"},
}


def test_md5_implementations_agree_on_a_fixed_vector():
    # The two implementations the broker is checked against must agree with each other.
    assert aws_md5_of_attributes(ATTRIBUTES) == checksums.md5_of_message_attributes(ATTRIBUTES)
    assert aws_md5_of_body("héllo") == checksums.md5_of_body("héllo")


# ---------------------------------------------------------------------------------------------
# send / receive / delete
# ---------------------------------------------------------------------------------------------
def test_send_receive_delete(sqs, url):
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert sent["MD5OfMessageBody"] == aws_md5_of_body("hello") == checksums.md5_of_body("hello")
    assert "MD5OfMessageAttributes" not in sent
    assert "SequenceNumber" not in sent
    [msg] = receive(sqs, url)
    assert msg["MessageId"] == sent["MessageId"]
    assert msg["Body"] == "hello"
    assert msg["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert "MessageAttributes" not in msg and "MD5OfMessageAttributes" not in msg
    sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    assert queue_attributes(sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible") == \
        {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_an_answer_larger_than_the_socket_buffer_arrives_whole(sqs, url):
    bodies = [f"{i}" + "x" * 250_000 for i in range(10)]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    got = receive_until(sqs, url, 10)
    assert sorted(m["Body"] for m in got) == sorted(bodies)
    assert all(m["MD5OfBody"] == aws_md5_of_body(m["Body"]) for m in got)
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
    assert len(deleted["Successful"]) == 10 and not deleted.get("Failed")


def test_message_ids_are_distinct(sqs, url):
    ids = {sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")["MessageId"] for i in range(5)}
    assert len(ids) == 5
    assert {m["MessageId"] for m in receive_until(sqs, url, 5)} == ids


def test_message_attributes_round_trip_with_md5(sqs, url):
    sent = sqs.send_message(QueueUrl=url, MessageBody="attrs", MessageAttributes=ATTRIBUTES)
    expected = aws_md5_of_attributes(ATTRIBUTES)
    assert sent["MD5OfMessageAttributes"] == expected
    assert sent["MD5OfMessageAttributes"] == checksums.md5_of_message_attributes(ATTRIBUTES)
    [msg] = receive(sqs, url)
    assert msg["MessageAttributes"] == ATTRIBUTES          # types, custom suffixes and bytes kept
    assert msg["MD5OfMessageAttributes"] == expected
    assert aws_md5_of_attributes(msg["MessageAttributes"]) == expected
    assert msg["MD5OfBody"] == aws_md5_of_body("attrs")


def test_unicode_body_round_trip(sqs, url):
    body = "Grüße — 你好 — \U0001F600 — tab\there\r\nnew line \ue000\ufffd \U0010fffd"
    sent = sqs.send_message(QueueUrl=url, MessageBody=body)
    assert sent["MD5OfMessageBody"] == aws_md5_of_body(body)
    [msg] = receive(sqs, url)
    assert msg["Body"] == body
    assert msg["MD5OfBody"] == aws_md5_of_body(body)


def test_xml_special_characters_round_trip(sqs, url):
    body = "<a href=\"x\">&amp; ' ]]> </a>"
    attrs = {"x": {"DataType": "String", "StringValue": "<&>\"'"}}
    sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attrs)
    [msg] = receive(sqs, url)
    assert msg["Body"] == body
    assert msg["MessageAttributes"] == attrs


def test_message_attribute_name_filter(sqs, url):
    attrs = {
        "a.one": {"DataType": "String", "StringValue": "1"},
        "a.two": {"DataType": "String", "StringValue": "2"},
        "b": {"DataType": "String", "StringValue": "3"},
    }
    sqs.send_message(QueueUrl=url, MessageBody="filtered", MessageAttributes=attrs)
    [msg] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["b"], VisibilityTimeout=0)["Messages"]
    assert msg["MessageAttributes"] == {"b": attrs["b"]}
    [msg] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["a.*"], VisibilityTimeout=0,
                                 WaitTimeSeconds=1)["Messages"]
    assert msg["MessageAttributes"] == {"a.one": attrs["a.one"], "a.two": attrs["a.two"]}
    [msg] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0, WaitTimeSeconds=1)["Messages"]
    assert "MessageAttributes" not in msg


def test_system_attributes_on_receive(sqs, url):
    before = int(time.time() * 1000)
    sqs.send_message(QueueUrl=url, MessageBody="sys")
    [msg] = receive(sqs, url, visibility=0)
    attrs = msg["Attributes"]
    sent_at = int(attrs["SentTimestamp"])
    first = int(attrs["ApproximateFirstReceiveTimestamp"])
    assert before - 2000 <= sent_at <= first <= time.time() * 1000 + 2000
    assert attrs["ApproximateReceiveCount"] == "1"
    assert attrs["SenderId"]
    for fifo_only in ("MessageGroupId", "MessageDeduplicationId", "SequenceNumber"):
        assert fifo_only not in attrs
    [again] = receive(sqs, url, wait=1)
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again["Attributes"]["ApproximateFirstReceiveTimestamp"] == attrs["ApproximateFirstReceiveTimestamp"]
    # Only what was asked for
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=0)
    [only] = sqs.receive_message(QueueUrl=url, AttributeNames=["SentTimestamp"], WaitTimeSeconds=1)["Messages"]
    assert set(only["Attributes"]) == {"SentTimestamp"}


def test_aws_trace_header_system_attribute(sqs, url):
    trace = {"AWSTraceHeader": {"DataType": "String",
                                "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}}
    sent = sqs.send_message(QueueUrl=url, MessageBody="traced", MessageSystemAttributes=trace)
    assert sent["MD5OfMessageSystemAttributes"] == aws_md5_of_attributes(trace)
    assert sent["MD5OfMessageSystemAttributes"] == checksums.md5_of_message_system_attributes(trace)
    [msg] = receive(sqs, url)
    assert msg["Attributes"]["AWSTraceHeader"] == trace["AWSTraceHeader"]["StringValue"]


def test_delete_message_with_invalid_receipt_handle(sqs, url):
    with expect_error(sqs, "ReceiptHandleIsInvalid", 400, "ReceiptHandleIsInvalid"):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-receipt-handle")


def test_delete_message_without_receipt_handle(sqs, url):
    with expect_error(sqs, "MissingParameter"):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="")


def test_receipt_handle_of_other_queue_is_invalid(sqs, url):
    other = create_queue(sqs, unique("other"))
    sqs.send_message(QueueUrl=other, MessageBody="x")
    [msg] = receive(sqs, other)
    with expect_error(sqs, "ReceiptHandleIsInvalid", 400, "ReceiptHandleIsInvalid"):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])


# ---------------------------------------------------------------------------------------------
# body and attribute validation
# ---------------------------------------------------------------------------------------------
def test_empty_body_is_missing_parameter(sqs, url):
    with expect_error(sqs, "MissingParameter"):
        sqs.send_message(QueueUrl=url, MessageBody="")


@pytest.mark.parametrize("bad", ["\x00", "a\x08b", "\x1f", "\ufffe", "\uffff"])
def test_invalid_body_characters(sqs, url, bad):
    with expect_error(sqs, "InvalidMessageContents", 400, "InvalidMessageContents"):
        sqs.send_message(QueueUrl=url, MessageBody=bad)


@pytest.mark.parametrize("attributes", [
    {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)},      # more than 10
    {"n": {"DataType": "Number", "StringValue": "not-a-number"}},
    {"AWS.reserved": {"DataType": "String", "StringValue": "v"}},
    {"amazon.reserved": {"DataType": "String", "StringValue": "v"}},
    {"bad name": {"DataType": "String", "StringValue": "v"}},
    {"s": {"DataType": "String", "StringValue": ""}},
    {"t": {"DataType": "Integer", "StringValue": "1"}},
    {"b": {"DataType": "Binary", "StringValue": "not binary"}},
], ids=["eleven", "nan", "aws-prefix", "amazon-prefix", "space", "empty", "bad-type", "binary-as-string"])
def test_invalid_message_attributes(sqs, url, attributes):
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attributes)


def test_ten_attributes_are_fine(sqs, url):
    attrs = {f"a{i}": {"DataType": "String", "StringValue": str(i)} for i in range(10)}
    sent = sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attrs)
    assert sent["MD5OfMessageAttributes"] == aws_md5_of_attributes(attrs)


@pytest.mark.parametrize("delay", [-1, 901])
def test_delay_seconds_out_of_range(sqs, url, delay):
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=delay)


def test_message_deduplication_id_on_standard_queue(sqs, url):
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d1")


@pytest.mark.parametrize("args", [
    {"MaxNumberOfMessages": 0}, {"MaxNumberOfMessages": 11},
    {"WaitTimeSeconds": 21}, {"WaitTimeSeconds": -1},
    {"VisibilityTimeout": 43201}, {"VisibilityTimeout": -1},
], ids=lambda a: "-".join(f"{k}={v}" for k, v in a.items()))
def test_receive_parameters_out_of_range(sqs, url, args):
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.receive_message(QueueUrl=url, **args)


# ---------------------------------------------------------------------------------------------
# sizes
# ---------------------------------------------------------------------------------------------
def test_maximum_message_size_of_queue(sqs):
    url = create_queue(sqs, unique("small"), MaximumMessageSize=1024)
    sqs.send_message(QueueUrl=url, MessageBody="x" * 1024)
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1025)
    # UTF-8 bytes count, not characters
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody="é" * 513)
    # attributes count too: name + type + value
    attrs = {"k": {"DataType": "String", "StringValue": "v"}}        # 1 + 6 + 1 = 8 bytes
    sqs.send_message(QueueUrl=url, MessageBody="x" * (1024 - 8), MessageAttributes=attrs)
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody="x" * (1024 - 7), MessageAttributes=attrs)
    assert sorted(len(m["Body"]) for m in receive_until(sqs, url, 2)) == [1016, 1024]


def test_default_maximum_is_one_mebibyte(sqs, url):
    body = "x" * 1_048_576
    sent = sqs.send_message(QueueUrl=url, MessageBody=body)
    assert sent["MD5OfMessageBody"] == aws_md5_of_body(body)
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.send_message(QueueUrl=url, MessageBody=body + "x")
    [msg] = receive(sqs, url)
    assert msg["Body"] == body


# ---------------------------------------------------------------------------------------------
# SendMessageBatch
# ---------------------------------------------------------------------------------------------
def test_send_message_batch(sqs, url):
    entries = [{"Id": f"e{i}", "MessageBody": f"body {i}",
                "MessageAttributes": {"i": {"DataType": "Number", "StringValue": str(i)}}} for i in range(10)]
    result = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert result.get("Failed", []) == []
    by_id = {r["Id"]: r for r in result["Successful"]}
    assert set(by_id) == {e["Id"] for e in entries}
    for entry in entries:
        ok = by_id[entry["Id"]]
        assert ok["MD5OfMessageBody"] == aws_md5_of_body(entry["MessageBody"])
        assert ok["MD5OfMessageAttributes"] == aws_md5_of_attributes(entry["MessageAttributes"])
        assert ok["MessageId"]
    got = receive_until(sqs, url, 10)
    assert sorted(m["Body"] for m in got) == sorted(e["MessageBody"] for e in entries)
    assert {m["MessageId"] for m in got} == {r["MessageId"] for r in result["Successful"]}


def test_send_message_batch_per_entry_failures(sqs, url):
    result = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "good1", "MessageBody": "fine"},
        {"Id": "badchars", "MessageBody": "bad \x00 body"},
        {"Id": "baddelay", "MessageBody": "late", "DelaySeconds": 901},
        {"Id": "badattr", "MessageBody": "x", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "x"}}},
        {"Id": "good2", "MessageBody": "also fine"},
    ])
    assert sorted(r["Id"] for r in result["Successful"]) == ["good1", "good2"]
    failed = {f["Id"]: f for f in result["Failed"]}
    assert set(failed) == {"badchars", "baddelay", "badattr"}
    assert failed["badchars"]["Code"] == "InvalidMessageContents"
    assert failed["baddelay"]["Code"] == "InvalidParameterValue"
    assert failed["badattr"]["Code"] == "InvalidParameterValue"
    assert all(f["SenderFault"] is True and f["Message"] for f in failed.values())
    assert sorted(m["Body"] for m in receive_until(sqs, url, 2)) == ["also fine", "fine"]
    assert receive(sqs, url) == []


def test_send_message_batch_empty(sqs, url):
    with expect_error(sqs, "AWS.SimpleQueueService.EmptyBatchRequest", 400, "EmptyBatchRequest"):
        sqs.send_message_batch(QueueUrl=url, Entries=[])


def test_send_message_batch_too_many_entries(sqs, url):
    with expect_error(sqs, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400,
                      "TooManyEntriesInBatchRequest"):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(11)])
    assert receive(sqs, url) == []


def test_send_message_batch_ids_not_distinct(sqs, url):
    with expect_error(sqs, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, "BatchEntryIdsNotDistinct"):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "same", "MessageBody": "1"},
                                                      {"Id": "same", "MessageBody": "2"}])
    assert receive(sqs, url) == []


@pytest.mark.parametrize("bad_id", ["has space", "dot.id", "x" * 81])
def test_send_message_batch_invalid_id(sqs, url, bad_id):
    with expect_error(sqs, "AWS.SimpleQueueService.InvalidBatchEntryId", 400, "InvalidBatchEntryId"):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": bad_id, "MessageBody": "1"}])


def test_send_message_batch_id_of_80_chars(sqs, url):
    result = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "A_-9" * 20, "MessageBody": "1"}])
    assert [r["Id"] for r in result["Successful"]] == ["A_-9" * 20]


def test_send_message_batch_too_long(sqs, url):
    entries = [{"Id": str(i), "MessageBody": "x" * 110_000} for i in range(10)]     # 1.1 MB in total
    with expect_error(sqs, "AWS.SimpleQueueService.BatchRequestTooLong", 400, "BatchRequestTooLong"):
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert receive(sqs, url) == []


# ---------------------------------------------------------------------------------------------
# DeleteMessageBatch
# ---------------------------------------------------------------------------------------------
def test_delete_message_batch(sqs, url):
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    got = receive_until(sqs, url, 3, visibility=1)
    entries = [{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got[:2])]
    entries.append({"Id": "bogus", "ReceiptHandle": "not-a-receipt-handle"})
    result = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    assert sorted(r["Id"] for r in result["Successful"]) == ["d0", "d1"]
    [failed] = result["Failed"]
    assert (failed["Id"], failed["Code"], failed["SenderFault"]) == ("bogus", "ReceiptHandleIsInvalid", True)
    # the undeleted one comes back after its visibility timeout, the deleted ones never
    back = receive_until(sqs, url, 1, timeout=5)
    assert [m["Body"] for m in back] == [got[2]["Body"]]
    assert receive(sqs, url) == []


def test_delete_message_batch_errors(sqs, url):
    with expect_error(sqs, "AWS.SimpleQueueService.EmptyBatchRequest", 400, "EmptyBatchRequest"):
        sqs.delete_message_batch(QueueUrl=url, Entries=[])
    with expect_error(sqs, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400,
                      "TooManyEntriesInBatchRequest"):
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": "h"} for i in range(11)])
    with expect_error(sqs, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, "BatchEntryIdsNotDistinct"):
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "a", "ReceiptHandle": "h1"},
                                                        {"Id": "a", "ReceiptHandle": "h2"}])
    with expect_error(sqs, "AWS.SimpleQueueService.InvalidBatchEntryId", 400, "InvalidBatchEntryId"):
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "no way", "ReceiptHandle": "h1"}])
