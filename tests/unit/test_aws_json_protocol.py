"""Bad JSON input is refused the way AWS's request framework refuses it."""

from __future__ import annotations

import json

import pytest
from botocore.parsers import create_parser
from hypothesis import given, settings
from hypothesis import strategies as st

from facades.aws import json_protocol
from facades.aws.errors import AwsError
from facades.aws.shape_values import ResponseShapeError
from facades.sqs.errors import sqs_error
from facades.sqs.models import sqs_json_model

MODEL = sqs_json_model()


def shape(operation: str):
    return MODEL.operation_model(operation).input_shape


def parse(operation: str, document: object) -> dict:
    return json_protocol.parse_params(shape(operation), json.dumps(document).encode())


def refused(operation: str, document: object) -> AwsError:
    with pytest.raises(AwsError) as raised:
        parse(operation, document)
    assert raised.value.code == "SerializationException"
    assert raised.value.status == 400
    return raised.value


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"QueueUrl": "q", "MessageBody": "m", "DelaySeconds": "invalid"}, "STRING_VALUE can not be converted to an Integer"),
        ({"QueueUrl": "q", "MessageBody": "m", "DelaySeconds": "5"}, "STRING_VALUE can not be converted to an Integer"),
        ({"QueueUrl": "q", "MessageBody": "m", "DelaySeconds": {}}, "Start of structure or map found where not expected."),
        ({"QueueUrl": "q", "MessageBody": "m", "DelaySeconds": []}, "Start of list found where not expected"),
        ({"QueueUrl": "q", "MessageBody": "m", "DelaySeconds": 1.5}, "NUMBER_VALUE can not be converted to an Integer"),
        ({"QueueUrl": "q", "MessageBody": "m", "DelaySeconds": 2**31}, "NUMBER_VALUE can not be converted to an Integer"),
        ({"QueueUrl": "q", "MessageBody": {}}, "Start of structure or map found where not expected."),
        ({"QueueUrl": "q", "MessageBody": []}, "Unrecognized collection type class java.lang.String"),
        ({"QueueUrl": "q", "MessageBody": "m", "MessageAttributes": []}, "Start of list found where not expected"),
        ({"QueueUrl": "q", "MessageBody": "m", "MessageAttributes": {"a": {"DataType": "Binary", "BinaryValue": "%%"}}}, "Base64 encoded binary data is invalid."),
    ],
)
def test_wrong_json_types_are_serialization_exceptions(document: dict, message: str) -> None:
    assert refused("SendMessage", document).message_for("json") == message


def test_string_members_accept_numbers_and_booleans_as_coral_does() -> None:
    assert parse("SendMessage", {"QueueUrl": "q", "MessageBody": 0})["MessageBody"] == "0"
    assert parse("SendMessage", {"QueueUrl": "q", "MessageBody": False})["MessageBody"] == "false"


def test_null_is_absent_and_unknown_members_are_ignored() -> None:
    params = parse("SendMessage", {"QueueUrl": "q", "MessageBody": "m", "DelaySeconds": None, "Bogus": 1})
    assert params == {"QueueUrl": "q", "MessageBody": "m"}


def test_integral_floats_are_integers() -> None:
    assert parse("SendMessage", {"QueueUrl": "q", "MessageBody": "m", "DelaySeconds": 5.0})["DelaySeconds"] == 5


def test_booleans_must_be_json_booleans() -> None:
    entry = {"Id": "1", "SenderFault": "yes", "Code": "c"}
    shape_ = MODEL.shape_for("BatchResultErrorEntry")
    with pytest.raises(AwsError, match="STRING_VALUE can not be converted to a Boolean"):
        json_protocol.parse_params(shape_, json.dumps(entry).encode())


@pytest.mark.parametrize("body", [b"{", b"[1]", b"\xff", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_refused(body: bytes) -> None:
    with pytest.raises(AwsError) as raised:
        json_protocol.parse_params(shape("ListQueues"), body)
    assert raised.value.code == "SerializationException"


def test_an_empty_body_is_an_empty_request() -> None:
    assert json_protocol.parse_params(shape("ListQueues"), b"") == {}


def test_error_body_and_header_are_what_boto3_maps_to_exception_classes() -> None:
    status, headers, body = json_protocol.render_error(sqs_error("QueueDoesNotExist"))
    assert status == 400
    assert headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert json.loads(body) == {
        "__type": "com.amazonaws.sqs#QueueDoesNotExist",
        "message": "The specified queue does not exist.",
    }
    parsed = create_parser("json").parse({"status_code": status, "headers": headers, "body": body}, None)
    assert parsed["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert parsed["Error"]["QueryErrorCode"] == "QueueDoesNotExist"


def test_framework_errors_carry_no_query_error_header() -> None:
    status, headers, body = json_protocol.render_error(
        AwsError(sqs_error("SerializationException").spec, "Start of list found where not expected")
    )
    assert "x-amzn-query-error" not in headers
    assert json.loads(body)["__type"] == "com.amazon.coral.service#SerializationException"


def test_responses_refuse_data_their_shape_cannot_carry() -> None:
    output = MODEL.operation_model("GetQueueUrl").output_shape
    with pytest.raises(ResponseShapeError):
        json_protocol.serialize_result(output, {"QueueUrl": "u", "Surprise": 1})
    with pytest.raises(ResponseShapeError):
        json_protocol.serialize_result(MODEL.operation_model("ReceiveMessage").output_shape, {"Messages": [3]})


def test_none_members_are_left_out_of_responses() -> None:
    output = MODEL.operation_model("SendMessage").output_shape
    body = json_protocol.serialize_result(output, {"MessageId": "m", "SequenceNumber": None})
    assert json.loads(body) == {"MessageId": "m"}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
MEMBER_NAMES = st.sampled_from(
    ["QueueUrl", "MessageBody", "DelaySeconds", "MessageAttributes", "Entries", "Attributes", "Tags",
     "AttributeNames", "MaxNumberOfMessages", "Id", "DataType", "StringValue", "BinaryValue"]
)


@settings(max_examples=300, deadline=None)
@given(
    operation=st.sampled_from(sorted(MODEL.operation_names)),
    document=st.dictionaries(MEMBER_NAMES, JSON_VALUES, max_size=5),
)
def test_arbitrary_documents_parse_or_fail_as_aws_errors(operation: str, document: dict) -> None:
    try:
        json_protocol.parse_params(shape(operation), json.dumps(document).encode())
    except AwsError:
        pass


_RESULT_ENTRIES = [MODEL.shape_for(name) for name in ("SendMessageBatchResultEntry", "Message",
                                                      "BatchResultErrorEntry")]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_RESULT_ENTRIES), st.data())
def test_compiled_dumpers_write_what_the_reference_walker_writes(entry, data) -> None:
    """Result entries whose members are all text take a no-copy road: same document, same refusals."""
    texts = sorted(name for name, member in entry.members.items() if member.type_name == "string")
    value = data.draw(st.dictionaries(st.sampled_from(texts + ["Surprise"]),
                                      st.none() | st.text(max_size=4) | st.integers(), max_size=5))
    try:
        expected = json_protocol._dump(entry, value, "")
    except ResponseShapeError:
        with pytest.raises(ResponseShapeError):
            json_protocol.value_dumper(entry)(value)
        return
    assert json_protocol.value_dumper(entry)(value) == expected


_REQUEST_ENTRIES = [MODEL.shape_for(name) for name in ("DeleteMessageBatchRequestEntry",
                                                       "SendMessageBatchRequestEntry",
                                                       "ChangeMessageVisibilityBatchRequestEntry")]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_REQUEST_ENTRIES), st.data())
def test_compiled_parsers_read_what_the_reference_walker_reads(entry, data) -> None:
    """Request entries of text members only, each a str, are their own parse: same params,
    same refusals as the member-by-member walk."""
    texts = sorted(name for name, member in entry.members.items() if member.type_name == "string")
    value = data.draw(st.dictionaries(st.sampled_from(texts + ["Surprise", "VisibilityTimeout", "DelaySeconds"]),
                                      st.none() | st.text(max_size=4) | st.integers(-3, 3) | st.booleans(),
                                      max_size=5))
    try:
        expected = json_protocol._parse(entry, value)
    except AwsError as error:
        with pytest.raises(AwsError) as raised:
            json_protocol.value_parser(entry)(value)
        assert raised.value.message_for("json") == error.message_for("json")
        return
    assert json_protocol.value_parser(entry)(value) == expected
