"""Query-protocol parsing details botocore's serializer never produces."""

from __future__ import annotations

import pytest
from botocore.parsers import create_parser
from hypothesis import given, settings
from hypothesis import strategies as st

from facades.aws import query_protocol
from facades.aws.errors import AwsError
from facades.sqs.errors import sqs_error
from facades.sqs.models import sqs_query_model

MODEL = sqs_query_model()
NAMESPACE = MODEL.metadata["xmlNamespace"]


def parse(operation: str, **pairs: str) -> dict:
    shape = MODEL.operation_model(operation).input_shape
    return query_protocol.parse_params(shape, [(k.replace("__", "."), v) for k, v in pairs.items()])


def test_flattened_maps_and_lists_use_the_legacy_names() -> None:
    params = parse(
        "CreateQueue",
        QueueName="q",
        Attribute__1__Name="VisibilityTimeout",
        Attribute__1__Value="40",
        Tag__1__Key="team",
        Tag__1__Value="core",
    )
    assert params == {"QueueName": "q", "Attributes": {"VisibilityTimeout": "40"}, "tags": {"team": "core"}}


def test_list_indexes_may_be_sparse_and_unordered() -> None:
    params = parse("GetQueueAttributes", QueueUrl="u", AttributeName__3="QueueArn", AttributeName__1="All")
    assert params["AttributeNames"] == ["All", "QueueArn"]


def test_message_attributes_of_batch_entries() -> None:
    params = parse(
        "SendMessageBatch",
        QueueUrl="u",
        SendMessageBatchRequestEntry__1__Id="a",
        SendMessageBatchRequestEntry__1__MessageBody="body",
        SendMessageBatchRequestEntry__1__DelaySeconds="5",
        SendMessageBatchRequestEntry__1__MessageAttribute__1__Name="n",
        SendMessageBatchRequestEntry__1__MessageAttribute__1__Value__DataType="Binary",
        SendMessageBatchRequestEntry__1__MessageAttribute__1__Value__BinaryValue="AAE=",
    )
    assert params["Entries"] == [
        {
            "Id": "a",
            "MessageBody": "body",
            "DelaySeconds": 5,
            "MessageAttributes": {"n": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}},
        }
    ]


def test_an_empty_list_is_the_bare_member_name() -> None:
    assert parse("ReceiveMessage", QueueUrl="u", AttributeNames="")["AttributeNames"] == []


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ({"DelaySeconds": "soon"}, "Value soon for parameter DelaySeconds is invalid. Reason: Must be an integer."),
        ({"DelaySeconds": "1.5"}, "Value 1.5 for parameter DelaySeconds is invalid. Reason: Must be an integer."),
        (
            {"MessageAttribute__1__Name": "n", "MessageAttribute__1__Value__BinaryValue": "%%"},
            "Value %% for parameter MessageAttribute.1.Value.BinaryValue is invalid. Reason: Must be base64-encoded.",
        ),
    ],
)
def test_values_that_do_not_fit_the_shape_are_invalid_parameter_values(pairs: dict, message: str) -> None:
    with pytest.raises(AwsError) as raised:
        parse("SendMessage", QueueUrl="u", MessageBody="m", **pairs)
    assert raised.value.query_code == "InvalidParameterValue"
    assert raised.value.message_for("query") == message


def test_a_map_entry_without_its_key_is_a_missing_parameter() -> None:
    with pytest.raises(AwsError) as raised:
        parse("CreateQueue", QueueName="q", Attribute__1__Value="40")
    assert raised.value.query_code == "MissingParameter"
    assert raised.value.message_for("query") == "The request must contain the parameter Attribute.1.Name."


def test_booleans_accept_any_case() -> None:
    shape = MODEL.shape_for("BatchResultErrorEntry")
    parsed = query_protocol.parse_params(shape, [("Id", "1"), ("SenderFault", "TRUE"), ("Code", "c")])
    assert parsed["SenderFault"] is True


def test_unrelated_pairs_are_ignored() -> None:
    assert parse("ListQueues", Action="ListQueues", Version="2012-11-05", **{"X-Amz-Date": "x"}) == {}


def test_error_response_is_what_an_old_query_client_reads() -> None:
    status, headers, body = query_protocol.render_error(sqs_error("QueueDoesNotExist"), "rid", NAMESPACE)
    assert status == 400
    assert headers["Content-Type"] == "text/xml"
    assert body == (
        f'<?xml version="1.0"?><ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type>'
        "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>"
        "<Message>The specified queue does not exist for this wsdl version.</Message>"
        "<Detail/></Error><RequestId>rid</RequestId></ErrorResponse>"
    ).encode()
    parsed = create_parser("query").parse({"status_code": status, "headers": headers, "body": body}, None)
    assert parsed["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert parsed["ResponseMetadata"]["RequestId"] == "rid"


def test_message_bodies_survive_xml_line_end_normalisation() -> None:
    output = MODEL.operation_model("ReceiveMessage").output_shape
    body = "a\r\nb\rc & <d>"
    xml = query_protocol.serialize_result(
        "ReceiveMessage", output, {"Messages": [{"Body": body}]}, "rid", NAMESPACE
    )
    assert b"&#xD;" in xml
    parsed = create_parser("query").parse({"status_code": 200, "headers": {}, "body": xml}, output)
    assert parsed["Messages"][0]["Body"] == body



def test_characters_xml_cannot_carry_become_replacement_characters() -> None:
    # Text from another door (a STOMP body or header) may hold them; the reply must stay XML.
    output = MODEL.operation_model("ReceiveMessage").output_shape
    message = {"Body": "a\x01b\x00c\ufffe", "MessageAttributes": {"h": {"DataType": "String", "StringValue": "\x1f"}}}
    xml = query_protocol.serialize_result("ReceiveMessage", output, {"Messages": [message]}, "rid", NAMESPACE)
    parsed = create_parser("query").parse({"status_code": 200, "headers": {}, "body": xml}, output)
    got = parsed["Messages"][0]
    assert got["Body"] == "a\ufffdb\ufffdc\ufffd"
    assert got["MessageAttributes"]["h"]["StringValue"] == "\ufffd"


NAMES = st.sampled_from(
    ["QueueUrl", "MessageBody", "DelaySeconds", "Attribute", "MessageAttribute", "SendMessageBatchRequestEntry",
     "Name", "Value", "1", "2", "0", "x", "", "StringValue", "BinaryValue", "DataType", "entry", "member"]
)


@settings(max_examples=300, deadline=None)
@given(
    operation=st.sampled_from(sorted(MODEL.operation_names)),
    pairs=st.lists(st.tuples(st.lists(NAMES, min_size=1, max_size=6).map(".".join), st.text(max_size=8))),
)
def test_arbitrary_pairs_parse_or_fail_as_aws_errors(operation: str, pairs: list) -> None:
    try:
        query_protocol.parse_params(MODEL.operation_model(operation).input_shape, pairs)
    except AwsError:
        pass
