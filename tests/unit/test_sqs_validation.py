"""SQS input rules: what is refused, with which code and wording."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given, strategies as st

from facades.aws.errors import AwsError
from facades.aws.message_attributes import attributes_size
from facades.sqs import validation as v
from facades.sqs.errors import INVALID_CHARACTERS

STANDARD = v.QueueLimits()
FIFO = v.QueueLimits(fifo=True)
SMALL = v.QueueLimits(maximum_message_size=1024)


def refused(check: Callable[[], object]) -> tuple[str, str]:
    with pytest.raises(AwsError) as raised:
        check()
    return raised.value.query_code, raised.value.message_for("json")


# -- queue names --------------------------------------------------------------

NAME_ERROR = "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
FIFO_NAME_ERROR = (
    "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, "
    "must end with .fifo suffix and be 1 to 80 in length."
)


@pytest.mark.parametrize(("name", "fifo"), [("a", False), ("A-b_9" * 16, False), ("x" * 75 + ".fifo", True)])
def test_valid_queue_names(name: str, fifo: bool) -> None:
    v.validate_queue_name(name, fifo=fifo)


@pytest.mark.parametrize(
    ("name", "fifo", "message"),
    [
        ("in.fo", False, NAME_ERROR),
        ("example.fifo", False, NAME_ERROR),
        ("ééwwà)", False, NAME_ERROR),
        ("x" * 81, False, NAME_ERROR),
        ("", False, NAME_ERROR),
        ("example", True, FIFO_NAME_ERROR),
        ("x" * 76 + ".fifo", True, FIFO_NAME_ERROR),
        (".fifo", True, FIFO_NAME_ERROR),
    ],
)
def test_invalid_queue_names(name: str, fifo: bool, message: str) -> None:
    assert refused(lambda: v.validate_queue_name(name, fifo=fifo)) == ("InvalidParameterValue", message)


def test_fifo_requests_are_recognised() -> None:
    assert v.is_fifo_request({"FifoQueue": "true"})
    assert v.is_fifo_request({"FifoQueue": "TRUE"})
    assert not v.is_fifo_request({"FifoQueue": "false"})
    assert not v.is_fifo_request(None)


# -- queue attributes ---------------------------------------------------------

RANGES = [
    ("DelaySeconds", 0, 900),
    ("MaximumMessageSize", 1024, 1_048_576),
    ("MessageRetentionPeriod", 60, 1_209_600),
    ("ReceiveMessageWaitTimeSeconds", 0, 20),
    ("VisibilityTimeout", 0, 43_200),
    ("KmsDataKeyReusePeriodSeconds", 60, 86_400),
]


@pytest.mark.parametrize(("name", "low", "high"), RANGES)
def test_integer_attribute_ranges(name: str, low: int, high: int) -> None:
    v.validate_queue_attributes({name: str(low)}, fifo=False, creating=True)
    v.validate_queue_attributes({name: str(high)}, fifo=False, creating=False)
    for bad in (str(low - 1), str(high + 1), "", " 6", "5.5", "true", "ten"):
        assert refused(lambda: v.validate_queue_attributes({name: bad}, fifo=False, creating=True)) == (
            "InvalidAttributeValue",
            f"Invalid value for the parameter {name}.",
        )


@pytest.mark.parametrize(
    ("attributes", "fifo", "creating", "code", "message"),
    [
        ({"QueueArn": "arn"}, False, True, "InvalidAttributeName", "Unknown Attribute QueueArn."),
        ({"ApproximateNumberOfMessages": "1"}, False, False, "InvalidAttributeName", "Unknown Attribute ApproximateNumberOfMessages."),
        ({"Colour": "blue"}, False, True, "InvalidAttributeName", "Unknown Attribute Colour."),
        ({"FifoQueue": "false"}, False, True, "InvalidAttributeName", "Unknown Attribute FifoQueue."),
        ({"ContentBasedDeduplication": "true"}, False, True, "InvalidAttributeName", "Unknown Attribute ContentBasedDeduplication."),
        ({"FifoQueue": "false"}, True, False, "InvalidAttributeValue",
         "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported."),
        ({"FifoQueue": "true"}, False, False, "InvalidAttributeName", "Unknown Attribute FifoQueue."),
        ({"DeduplicationScope": "queue"}, False, True, "InvalidAttributeName",
         "You can specify the DeduplicationScope only when FifoQueue is set to true."),
        ({"FifoThroughputLimit": "perQueue"}, False, True, "InvalidAttributeName",
         "You can specify the FifoThroughputLimit only when FifoQueue is set to true."),
        ({"ContentBasedDeduplication": "yes"}, True, True, "InvalidAttributeValue", "Invalid value for the parameter ContentBasedDeduplication."),
        ({"DeduplicationScope": "group"}, True, True, "InvalidAttributeValue", "Invalid value for the parameter DeduplicationScope."),
        ({"FifoThroughputLimit": "perGroup"}, True, True, "InvalidAttributeValue", "Invalid value for the parameter FifoThroughputLimit."),
        ({"SqsManagedSseEnabled": "maybe"}, False, True, "InvalidAttributeValue", "Invalid value for the parameter SqsManagedSseEnabled."),
        (
            {"SqsManagedSseEnabled": "true", "KmsMasterKeyId": "alias/aws/sqs"},
            False,
            True,
            "InvalidAttributeValue",
            "You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.",
        ),
    ],
)
def test_invalid_queue_attributes(attributes: dict, fifo: bool, creating: bool, code: str, message: str) -> None:
    assert refused(lambda: v.validate_queue_attributes(attributes, fifo=fifo, creating=creating)) == (code, message)


def test_valid_fifo_attributes() -> None:
    v.validate_queue_attributes(
        {
            "FifoQueue": "true",
            "ContentBasedDeduplication": "false",
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
            "KmsMasterKeyId": "alias/aws/sqs",
            "SqsManagedSseEnabled": "false",
            "Policy": "",
            "RedrivePolicy": "",
            "RedriveAllowPolicy": "",
        },
        fifo=True,
        creating=True,
    )


DLQ = "arn:aws:sqs:us-east-1:123456789012:MyDLQ"


def redrive_refusal(policy: object, fifo: bool = False) -> tuple[str, str]:
    raw = policy if isinstance(policy, str) else json.dumps(policy, separators=(",", ":"))
    return refused(lambda: v.validate_queue_attributes({"RedrivePolicy": raw}, fifo=fifo, creating=True))


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        ({}, "Redrive policy does not contain mandatory attribute: maxReceiveCount."),
        ({"maxReceiveCount": 5}, "Redrive policy does not contain mandatory attribute: deadLetterTargetArn."),
        ({"deadLetterTargetArn": DLQ, "maxReceiveCount": -36}, "Invalid value for maxReceiveCount: -36, valid values are from 1 to 1000 both inclusive."),
        ({"deadLetterTargetArn": DLQ, "maxReceiveCount": 4023}, "Invalid value for maxReceiveCount: 4023, valid values are from 1 to 1000 both inclusive."),
        ({"deadLetterTargetArn": DLQ, "maxReceiveCount": "x"}, "Invalid value for maxReceiveCount: x, valid values are from 1 to 1000 both inclusive."),
        ({"deadLetterTargetArn": "arn:aws:sns:us-east-1:123456789012:MyTopic", "maxReceiveCount": 5}, "Only SQS queues are valid resources for deadLetterTargetArn."),
        ({"deadLetterTargetArn": DLQ + ".fifo", "maxReceiveCount": 5}, "Dead-letter queue must be same type of queue as the source.."),
        ({"deadLetterTargetArn": DLQ, "maxReceiveCount": 5, "dummyField": "x"}, "Only following attributes are supported: [maxReceiveCount, deadLetterTargetArn]."),
    ],
)
def test_invalid_redrive_policies(policy: dict, reason: str) -> None:
    raw = json.dumps(policy, separators=(",", ":"))
    assert redrive_refusal(policy) == (
        "InvalidParameterValue",
        f"Value {raw} for parameter RedrivePolicy is invalid. Reason: {reason}",
    )


@pytest.mark.parametrize("raw", [" ", "4", "[]", "{not json"])
def test_a_redrive_policy_must_be_a_json_map(raw: str) -> None:
    assert redrive_refusal(raw) == (
        "InvalidAttributeValue",
        "Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map.",
    )


def test_valid_redrive_policies() -> None:
    for policy, fifo in (
        ({"deadLetterTargetArn": DLQ, "maxReceiveCount": 5}, False),
        ({"deadLetterTargetArn": DLQ, "maxReceiveCount": "1000"}, False),
        ({"deadLetterTargetArn": DLQ + ".fifo", "maxReceiveCount": 1}, True),
    ):
        kept = v.validate_queue_attributes({"RedrivePolicy": json.dumps(policy)}, fifo=fifo, creating=True)
        assert json.loads(kept["RedrivePolicy"]) == {**policy, "maxReceiveCount": int(policy["maxReceiveCount"])}


def test_attributes_are_kept_in_the_form_sqs_shows() -> None:
    kept = v.validate_queue_attributes({"DelaySeconds": "007", "SqsManagedSseEnabled": "FALSE",
                                        "RedrivePolicy": "", "Policy": ""}, fifo=False, creating=True)
    assert kept == {"DelaySeconds": "7", "SqsManagedSseEnabled": "false", "RedrivePolicy": "", "Policy": ""}


UNSUPPORTED_ALLOW = (
    "Invalid value for the parameter RedriveAllowPolicy. Reason: Amazon SQS can't create the redrive allow policy, "
    "as it\u2019s in an unsupported format."
)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("badjson", UNSUPPORTED_ALLOW),
        ("[]", UNSUPPORTED_ALLOW),
        ("{}", UNSUPPORTED_ALLOW),
        ('{"redrivePermission":"dummy"}', UNSUPPORTED_ALLOW),
        ('{"redrivePermission":"allowAll","dummy":"value"}', UNSUPPORTED_ALLOW),
        ('{"redrivePermission":"byQueue","sourceQueueArns":"arn:aws:sqs"}', UNSUPPORTED_ALLOW),
        (
            '{"redrivePermission":"byQueue"}',
            'Value {"redrivePermission":"byQueue"} for parameter RedriveAllowPolicy is invalid. Reason: Amazon SQS '
            "can't create the redrive allow policy. When you specify the byQueue permission type, you must also "
            "specify one or more sourceQueueArns values.",
        ),
        (
            '{"redrivePermission":"denyAll","sourceQueueArns":["a"]}',
            'Value {"redrivePermission":"denyAll","sourceQueueArns":["a"]} for parameter RedriveAllowPolicy is '
            "invalid. Reason: Amazon SQS can't create the redrive allow policy. To specify one or more source queue "
            "ARNs, you must set redrivePermission to byQueue.",
        ),
    ],
)
def test_invalid_redrive_allow_policies(policy: str, message: str) -> None:
    assert refused(lambda: v.validate_queue_attributes({"RedriveAllowPolicy": policy}, fifo=False, creating=True))[1] == message


def test_at_most_ten_redrive_sources() -> None:
    policy = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [f"{DLQ}{i}" for i in range(11)]})
    message = refused(lambda: v.validate_queue_attributes({"RedriveAllowPolicy": policy}, fifo=False, creating=True))[1]
    assert message.endswith("The maximum number of source queue ARNs you can specify is 10.")
    v.validate_queue_attributes({"RedriveAllowPolicy": '{"redrivePermission":"allowAll"}'}, fifo=False, creating=True)


STATEMENT = {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": DLQ}


@pytest.mark.parametrize(
    "policy",
    [
        "533",
        "null",
        json.dumps({"Dummyfield": "x", "Version": "2012-10-17", "Statement": [STATEMENT]}),
        json.dumps({"Version": "4532-10-17", "Statement": [STATEMENT]}),
        json.dumps({"Version": "2012-10-17", "Statement": []}),
        json.dumps({"Version": "2012-10-17", "Statement": {**STATEMENT, "dummy": "value"}}),
        # Elements that exclude each other, or none of Action / NotAction.
        json.dumps({"Version": "2012-10-17", "Statement": {**STATEMENT, "NotAction": "sqs:ReceiveMessage"}}),
        json.dumps({"Version": "2012-10-17", "Statement": {**STATEMENT, "NotResource": DLQ}}),
        json.dumps({"Version": "2012-10-17", "Statement": {**STATEMENT, "NotPrincipal": {"AWS": "1"}}}),
        json.dumps({"Version": "2012-10-17", "Statement": {k: w for k, w in STATEMENT.items() if k != "Action"}}),
        json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "NotPrincipal": {"AWS": "1"},
                                                           "Action": "sqs:*", "Resource": DLQ}}),
    ],
)
def test_invalid_access_policies(policy: str) -> None:
    assert refused(lambda: v.validate_queue_attributes({"Policy": policy}, fifo=False, creating=True)) == (
        "InvalidAttributeValue",
        "Invalid value for the parameter Policy.",
    )


def test_valid_access_policies() -> None:
    for document in (
        {"Version": "2008-10-17", "Statement": STATEMENT},
        {"Id": "x", "Version": "2012-10-17", "Statement": [STATEMENT, {**STATEMENT, "Sid": "2"}]},
        {"Version": "2012-10-17", "Statement": {"Effect": "Deny", "NotPrincipal": {"AWS": "1"},
                                                "NotAction": "sqs:Get*", "NotResource": DLQ}},
    ):
        v.validate_queue_attributes({"Policy": json.dumps(document)}, fifo=False, creating=True)


def test_attribute_names_for_get_queue_attributes() -> None:
    v.validate_attribute_names(["All", "QueueArn", "ApproximateNumberOfMessages", "RedriveAllowPolicy"])
    assert refused(lambda: v.validate_attribute_names(["Colour"])) == ("InvalidAttributeName", "Unknown Attribute Colour.")


# -- messages -----------------------------------------------------------------


def send(**message: object) -> dict:
    return {"QueueUrl": "u", "MessageBody": "hello", **message}


def test_a_plain_message_is_valid() -> None:
    v.validate_send_message(send(), STANDARD)


@pytest.mark.parametrize("body", ["", None])
def test_an_empty_body_is_missing(body: str | None) -> None:
    assert refused(lambda: v.validate_send_message(send(MessageBody=body), STANDARD)) == (
        "MissingParameter",
        "The request must contain the parameter MessageBody.",
    )


@pytest.mark.parametrize("character", ["\x00", "\x08", "\x0b", "\ud800", "\ufffe", "\uffff"])
def test_characters_outside_xml_are_invalid_contents(character: str) -> None:
    assert refused(lambda: v.validate_message_body(f"a{character}b")) == ("InvalidMessageContents", INVALID_CHARACTERS)


def test_characters_inside_xml_are_fine() -> None:
    v.validate_message_body("\t\n\r \ud7ff\ue000\ufffd\U00010000\U0010ffff ü 😀")


@given(st.binary(max_size=64) | st.text(st.characters(max_codepoint=0x7F), max_size=64).map(str.encode))
def test_the_ascii_fast_path_agrees_with_the_full_pattern(data: bytes) -> None:
    """is_xml_ascii (a deletion pass) says yes exactly for the ASCII the XML pattern allows."""
    expected = data.isascii() and v.INVALID_CHARACTER.search(data.decode("ascii")) is None
    assert v.is_xml_ascii(data) == expected


@pytest.mark.parametrize(
    ("message", "limits", "code", "text"),
    [
        (send(DelaySeconds=-234), STANDARD, "InvalidParameterValue", "Value -234 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."),
        (send(DelaySeconds=1000), STANDARD, "InvalidParameterValue", "Value 1000 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."),
        (send(MessageBody="a" * 1025), SMALL, "InvalidParameterValue", "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."),
        (
            send(MessageBody="a" * 513, MessageAttributes={"a1": {"DataType": "String", "StringValue": "b" * 256}, "a2": {"DataType": "String", "StringValue": "c" * 256}}),
            SMALL,
            "InvalidParameterValue",
            "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.",
        ),
        (send(MessageDeduplicationId="1000"), STANDARD, "InvalidParameterValue", "Value 1000 for parameter MessageDeduplicationId is invalid. Reason: The request include parameter that is not valid for this queue type."),
        (send(MessageGroupId="g"), FIFO, "InvalidParameterValue", "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"),
        (send(MessageDeduplicationId="d"), FIFO, "MissingParameter", "The request must contain the parameter MessageGroupId."),
        (send(MessageGroupId="g", MessageDeduplicationId="d", DelaySeconds=60), FIFO, "InvalidParameterValue", "Value 60 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type."),
        (send(MessageGroupId="g" * 129), FIFO, "InvalidParameterValue", f"Value {'g' * 129} for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length."),
        (send(MessageGroupId="g", MessageDeduplicationId="d é"), FIFO, "InvalidParameterValue", "Value d é for parameter MessageDeduplicationId is invalid. Reason: MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length."),
    ],
)
def test_invalid_sends(message: dict, limits: v.QueueLimits, code: str, text: str) -> None:
    assert refused(lambda: v.validate_send_message(message, limits)) == (code, text)


def test_valid_fifo_and_fair_queue_sends() -> None:
    v.validate_send_message(send(MessageGroupId="g-1", MessageDeduplicationId="!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"), FIFO)
    v.validate_send_message(send(MessageGroupId="g"), v.QueueLimits(fifo=True, content_based_deduplication=True))
    v.validate_send_message(send(MessageGroupId="tenant-1"), STANDARD)  # fair queues


def attribute_refusal(attributes: dict) -> str:
    code, message = refused(lambda: v.validate_send_message(send(MessageAttributes=attributes), STANDARD))
    assert code == "InvalidParameterValue"
    return message


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"Hello": {"DataType": "Number", "StringValue": "world"}}, "Can't cast the value of message (user) attribute 'Hello' to a number."),
        ({"Hello": {"DataType": "Number", "StringValue": "1" * 39}}, "Can't cast the value of message (user) attribute 'Hello' to a number."),
        ({"Hello": {"DataType": "Number", "StringValue": "1e127"}}, "Can't cast the value of message (user) attribute 'Hello' to a number."),
        ({"Hello": {"DataType": "String", "StringValue": ""}}, "Message (user) attribute 'Hello' must contain a non-empty value of type 'String'."),
        ({"Hello": {"DataType": "Binary", "BinaryValue": b""}}, "Message (user) attribute 'Hello' must contain a non-empty value of type 'Binary'."),
        ({"": {"DataType": "String", "StringValue": "v"}}, "The request must contain non-empty message (user) attribute names."),
        ({"Hello": {}}, "The message (user) attribute 'Hello' must contain a non-empty message attribute value."),
        ({"Hello": {"StringValue": "v"}}, "The message (user) attribute 'Hello' must contain a non-empty message attribute type."),
        ({"Hello": {"DataType": "InvalidType", "StringValue": "v"}}, "The type of message (user) attribute 'Hello' is invalid. You must use only the following supported type prefixes: Binary, Number, String."),
        ({"Hello": {"DataType": "StringList", "StringListValues": ["World"]}}, "Message attribute list values in SendMessage operation are not supported."),
        ({"AWS.Hello": {"DataType": "String", "StringValue": "v"}}, "You can't use message attribute names beginning with 'AWS.' or 'Amazon'. These strings are reserved for internal use."),
        ({"amazon.Hello": {"DataType": "String", "StringValue": "v"}}, "You can't use message attribute names beginning with 'AWS.' or 'Amazon'. These strings are reserved for internal use."),
        ({"a" * 256: {"DataType": "String", "StringValue": "v"}}, "Message (user) attribute name must be shorter than 256 bytes."),
        ({"a": {"DataType": "String." + "a" * 250, "StringValue": "v"}}, "Message (user) attribute type must be shorter than 256 bytes."),
        ({"a b": {"DataType": "String", "StringValue": "v"}}, "The message attribute name 'a b' is invalid. Attribute name can contain A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.) characters."),
        ({"a..b": {"DataType": "String", "StringValue": "v"}}, "The message attribute name 'a..b' is invalid. Attribute name can contain A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.) characters."),
        ({"a": {"DataType": "String", "StringValue": "\x00"}}, INVALID_CHARACTERS),
        ({f"attrib{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}, "Number of message attributes [11] exceeds the allowed maximum [10]."),
    ],
)
def test_invalid_message_attributes(attributes: dict, message: str) -> None:
    assert attribute_refusal(attributes) == message


def test_valid_message_attributes() -> None:
    v.validate_message_attributes(
        {
            "UserId": {"DataType": "Number.bigint", "StringValue": "1234567890123456789012"},
            "price": {"DataType": "Number", "StringValue": "-1.5e-3"},
            "zero": {"DataType": "Number", "StringValue": "0.000"},
            "blob.part": {"DataType": "Binary.gzip", "BinaryValue": b"\x00"},
            "s_1-x": {"DataType": "String.json", "StringValue": "{}"},
        }
    )


def test_system_attributes() -> None:
    v.validate_message_system_attributes({"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}})
    code, message = refused(
        lambda: v.validate_message_system_attributes({"Hello": {"DataType": "String", "StringValue": "World"}})
    )
    assert (code, message) == ("InvalidParameterValue", "Message system attribute name 'Hello' is invalid.")
    assert refused(
        lambda: v.validate_message_system_attributes({"AWSTraceHeader": {"DataType": "Number", "StringValue": "1"}})
    )[0] == "InvalidParameterValue"


def test_message_size_counts_body_and_attribute_names_types_and_values() -> None:
    message = send(
        MessageBody="message3",
        MessageAttributes={"Yolo": {"DataType": "Number.customtype", "StringValue": "12345678901234567890"}},
    )
    assert v.message_size(message) == 8 + 4 + 17 + 20
    assert attributes_size({"b": {"DataType": "Binary", "BinaryValue": b"123"}}) == 1 + 6 + 3


# -- batches ------------------------------------------------------------------


def entries(count: int) -> list[dict]:
    return [{"Id": f"id-{i}", "MessageBody": f"m{i}"} for i in range(count)]


@pytest.mark.parametrize(
    ("operation", "batch", "code", "message"),
    [
        ("SendMessageBatch", [], "AWS.SimpleQueueService.EmptyBatchRequest", "There should be at least one SendMessageBatchRequestEntry in the request."),
        ("DeleteMessageBatch", [], "AWS.SimpleQueueService.EmptyBatchRequest", "There should be at least one DeleteMessageBatchRequestEntry in the request."),
        ("SendMessageBatch", entries(11), "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "Maximum number of entries per request are 10. You have sent 11."),
        ("DeleteMessageBatch", [{"Id": "id-1"}, {"ReceiptHandle": "r"}], "MissingParameter", "The request must contain the parameter DeleteMessageBatchRequestEntry.2.Id."),
        ("SendMessageBatch", [{"Id": "é"}], "AWS.SimpleQueueService.InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long."),
        ("SendMessageBatch", [{"Id": " "}], "AWS.SimpleQueueService.InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long."),
        ("ChangeMessageVisibilityBatch", [{"Id": "x" * 81}], "AWS.SimpleQueueService.InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long."),
        ("SendMessageBatch", [{"Id": "some-id"}, {"Id": "some-id"}], "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id some-id repeated."),
    ],
)
def test_invalid_batches(operation: str, batch: list, code: str, message: str) -> None:
    assert refused(lambda: v.validate_batch_entries(operation, batch)) == (code, message)


def test_valid_batch() -> None:
    v.validate_batch_entries("SendMessageBatch", entries(10) + [])
    v.validate_batch_entries("DeleteMessageBatch", [{"Id": "x" * 80}])


def test_batch_total_size_is_limited_by_the_request_limit_not_the_queue() -> None:
    batch = [
        {"Id": "1", "MessageBody": "a" * 131072},
        {"Id": "2", "MessageBody": "b" * 131000},
        {"Id": "3", "MessageBody": "message3", "MessageAttributes": {"Yolo": {"DataType": "Number.customtype", "StringValue": "12345678901234567890"}}},
        {"Id": "4", "MessageBody": "message4", "MessageAttributes": {"Yolo": {"DataType": "String", "StringValue": "c" * 50}}},
    ]
    assert refused(lambda: v.validate_send_batch(batch, SMALL, limit=262144)) == (
        "AWS.SimpleQueueService.BatchRequestTooLong",
        "Batch requests cannot be longer than 262144 bytes. You have sent 262189 bytes.",
    )
    v.validate_send_batch(batch, SMALL)  # within today's 1 MiB; entries are checked one by one


def test_standard_batch_entries_fail_alone_fifo_entries_fail_the_request() -> None:
    batch = [{"Id": "1", "MessageBody": "ok"}, {"Id": "2"}]
    v.validate_send_batch(batch, STANDARD)
    error = pytest.raises(AwsError, v.validate_send_message, batch[1], STANDARD, entry_prefix="SendMessageBatchRequestEntry.2")
    assert error.value.as_batch_entry("2", "json") == {
        "Id": "2",
        "SenderFault": True,
        "Code": "MissingParameter",
        "Message": "The request must contain the parameter SendMessageBatchRequestEntry.2.MessageBody.",
    }
    fifo_batch = [{"Id": "1", "MessageBody": "ok", "MessageGroupId": "g", "MessageDeduplicationId": "d"}, {"Id": "2"}]
    assert refused(lambda: v.validate_send_batch(fifo_batch, FIFO)) == (
        "MissingParameter",
        "The request must contain the parameter SendMessageBatchRequestEntry.2.MessageBody.",
    )


def test_standard_batch_entries_with_deduplication_ids_use_the_short_wording() -> None:
    message = {"Id": "1", "MessageBody": "m", "MessageDeduplicationId": "id-1"}
    assert refused(lambda: v.validate_send_message(message, STANDARD, entry_prefix="SendMessageBatchRequestEntry.1")) == (
        "InvalidParameterValue",
        "The request include parameter that is not valid for this queue type",
    )


@pytest.mark.parametrize("handle", [None, "", " "])
def test_blank_receipt_handles_are_missing(handle: str | None) -> None:
    assert refused(lambda: v.validate_receipt_handle(handle)) == (
        "MissingParameter",
        "The request must contain the parameter ReceiptHandle.",
    )


# -- receive and visibility ---------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"MaxNumberOfMessages": 50}, "Value 50 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."),
        ({"MaxNumberOfMessages": 0}, "Value 0 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."),
        ({"WaitTimeSeconds": 21}, "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."),
        ({"WaitTimeSeconds": -1}, "Value -1 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."),
        ({"VisibilityTimeout": 43201}, "Value 43201 for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided."),
    ],
)
def test_invalid_receives(params: dict, message: str) -> None:
    assert refused(lambda: v.validate_receive_message({"QueueUrl": "u", **params})) == ("InvalidParameterValue", message)


def test_valid_receives() -> None:
    v.validate_receive_message({"QueueUrl": "u"})
    v.validate_receive_message({"QueueUrl": "u", "MaxNumberOfMessages": 10, "WaitTimeSeconds": 20, "VisibilityTimeout": 0})


def test_visibility_timeouts() -> None:
    v.validate_visibility_timeout(0)
    v.validate_visibility_timeout(43200)
    for bad in (-10, 43201):
        assert refused(lambda: v.validate_visibility_timeout(bad)) == (
            "InvalidParameterValue",
            f"Value {bad} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.",
        )
    assert v.visibility_limit_exceeded(43199).message_for("json") == (
        "Value 43199 for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message "
        "is beyond the limit [43200 seconds]"
    )


def test_list_max_results() -> None:
    v.validate_max_results(None)
    v.validate_max_results(1000)
    assert refused(lambda: v.validate_max_results(0))[0] == "InvalidParameterValue"


@given(st.lists(st.none() | st.sampled_from(["a", "b", "A-1", "x_y", "", " ", "a b", " a", "a ", "é", "a" * 80, "a" * 81])
                | st.text(max_size=4), min_size=1, max_size=10))
def test_batch_entry_ids_are_judged_as_one_entry_at_a_time_judges_them(ids: list[str | None]) -> None:
    """The one-match road for good batches refuses what the entry-by-entry check refuses."""
    entries = [{} if entry_id is None else {"Id": entry_id} for entry_id in ids]

    def outcome(check: Callable[[], object]) -> tuple[str, str] | None:
        try:
            check()
        except AwsError as error:
            return error.query_code, error.message_for("json")
        return None
    assert outcome(lambda: v.validate_batch_entries("DeleteMessageBatch", entries)) == outcome(
        lambda: v._check_entry_ids("DeleteMessageBatchRequestEntry", entries))


@pytest.mark.parametrize(
    ("message", "limits", "code", "text"),
    [
        (send(MessageBody="a" * 1025), SMALL, "InvalidParameterValue",
         "One or more parameters cannot be validated. Reason: Message must be shorter than 1024 bytes."),
        (send(MessageDeduplicationId="d"), FIFO, "InvalidParameterValue",
         "The request must contain the parameter MessageGroupId."),
    ],
)
def test_invalid_batch_entries_are_worded_as_sqs_words_them(
    message: dict, limits: v.QueueLimits, code: str, text: str
) -> None:
    """A batch entry's refusal differs from SendMessage's for the same fault (AWS-recorded)."""
    entry = {"Id": "1", **message}
    check = lambda: v.validate_send_message(entry, limits, entry_prefix="SendMessageBatchRequestEntry.1")  # noqa: E731
    assert refused(check) == (code, text)


def test_a_fifo_queue_may_be_set_fifo_again() -> None:
    """SetQueueAttributes FifoQueue=true on a FIFO queue is accepted and changes nothing."""
    assert v.validate_queue_attributes({"FifoQueue": "true"}, fifo=True, creating=False) == {}
