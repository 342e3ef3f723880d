"""Our codecs against botocore's own, for every SQS operation.

botocore's serializers and parsers are the client side of the wire; if our
parser recovers exactly what botocore serialized, and botocore parses back
exactly what we serialized, real clients agree with us. Sample data covers
every member of every shape (all types, lists, maps, nested structures) and
strings carry the characters that break naive encoders.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest
from botocore.model import ServiceModel, Shape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.utils import percent_encode_sequence

from facades.aws import json_protocol, query_protocol
from facades.sqs.models import LEGACY_QUERY_MODEL_PATH, sqs_json_model, sqs_query_model
from facades.aws.model import load_model_dict

JSON = sqs_json_model()
QUERY = sqs_query_model()
LEGACY = ServiceModel(load_model_dict(LEGACY_QUERY_MODEL_PATH, "sqs"), "sqs")
NAMESPACE = QUERY.metadata["xmlNamespace"]

#: XML/form/JSON specials, a CR (XML normalises it away unless escaped),
#: non-ASCII and a non-BMP character.
AWKWARD = "<&>\"' ü\r\n\t😀 +%=?#"


def sample(shape: Shape, path: str = "v") -> Any:
    """A value for ``shape`` with every member present."""
    kind = shape.type_name
    if kind == "structure":
        return {name: sample(member, f"{path}.{name}") for name, member in shape.members.items()}
    if kind == "list":
        return [sample(shape.member, f"{path}.{i}") for i in range(2)]
    if kind == "map":
        keys = shape.key.enum[:2] if shape.key.enum else ["k1", "k.2"]
        return {key: sample(shape.value, f"{path}.{key}") for key in keys}
    if kind == "string":
        return shape.enum[0] if shape.enum else path + AWKWARD
    if kind == "integer":
        return -7
    if kind == "long":
        return 2**40
    if kind == "boolean":
        return True
    if kind == "blob":
        return b"\x00\xff\r\nbin"
    raise AssertionError(f"no sample for {kind}")


def test_sample_covers_every_sqs_operation() -> None:
    assert len(JSON.operation_names) == 23
    for name in JSON.operation_names:
        operation = JSON.operation_model(name)
        assert operation.input_shape is None or sample(operation.input_shape) is not None


def _query_pairs(params: dict[str, Any], model: ServiceModel, name: str) -> list[tuple[str, str]]:
    request = create_serializer("query").serialize_to_request(params, model.operation_model(name))
    return parse_qsl(percent_encode_sequence(request["body"]), keep_blank_values=True)


OPERATIONS = sorted(JSON.operation_names)
WITH_OUTPUT = [n for n in OPERATIONS if JSON.operation_model(n).output_shape is not None]
LEGACY_OPERATIONS = sorted(LEGACY.operation_names)


@pytest.mark.parametrize("name", OPERATIONS)
def test_json_request_parses_to_what_botocore_serialized(name: str) -> None:
    operation = JSON.operation_model(name)
    params = sample(operation.input_shape)
    request = create_serializer("json").serialize_to_request(params, operation)
    assert request["headers"]["X-Amz-Target"] == f"AmazonSQS.{name}"
    assert json_protocol.parse_params(operation.input_shape, request["body"]) == params


@pytest.mark.parametrize("name", OPERATIONS)
def test_query_request_parses_to_the_same_params_as_json(name: str) -> None:
    params = sample(JSON.operation_model(name).input_shape)
    pairs = _query_pairs(params, QUERY, name)
    assert ("Action", name) in pairs
    assert query_protocol.parse_params(QUERY.operation_model(name).input_shape, pairs) == params


@pytest.mark.parametrize("name", LEGACY_OPERATIONS)
def test_requests_of_an_old_query_client_parse(name: str) -> None:
    """What botocore ≤1.34.89 actually sends, parsed with our derived model."""
    params = sample(LEGACY.operation_model(name).input_shape)
    pairs = _query_pairs(params, LEGACY, name)
    assert query_protocol.parse_params(QUERY.operation_model(name).input_shape, pairs) == params


@pytest.mark.parametrize("name", WITH_OUTPUT)
def test_json_response_reads_back_in_botocore(name: str) -> None:
    shape = JSON.operation_model(name).output_shape
    data = sample(shape)
    body = json_protocol.serialize_result(shape, data)
    parsed = create_parser("json").parse({"status_code": 200, "headers": {}, "body": body}, shape)
    parsed.pop("ResponseMetadata", None)
    assert parsed == data


@pytest.mark.parametrize("name", WITH_OUTPUT)
def test_query_response_reads_back_in_botocore(name: str) -> None:
    shape = QUERY.operation_model(name).output_shape
    data = sample(shape)
    body = query_protocol.serialize_result(name, shape, data, "req-1", NAMESPACE)
    parsed = create_parser("query").parse({"status_code": 200, "headers": {}, "body": body}, shape)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    assert parsed == data


@pytest.mark.parametrize("name", [n for n in LEGACY_OPERATIONS if LEGACY.operation_model(n).output_shape])
def test_query_response_reads_back_in_an_old_query_client(name: str) -> None:
    legacy_shape = LEGACY.operation_model(name).output_shape
    data = sample(legacy_shape)
    body = query_protocol.serialize_result(
        name, QUERY.operation_model(name).output_shape, data, "req-1", NAMESPACE
    )
    parsed = create_parser("query").parse({"status_code": 200, "headers": {}, "body": body}, legacy_shape)
    parsed.pop("ResponseMetadata")
    assert parsed == data


@pytest.mark.parametrize("name", [n for n in OPERATIONS if n not in WITH_OUTPUT])
def test_operations_without_output_answer_metadata_only(name: str) -> None:
    body = query_protocol.serialize_result(name, None, None, "req-2", NAMESPACE)
    assert body == (
        f'<?xml version="1.0"?><{name}Response xmlns="{NAMESPACE}">'
        f"<ResponseMetadata><RequestId>req-2</RequestId></ResponseMetadata></{name}Response>"
    ).encode()
    assert json_protocol.serialize_result(None, None) == b"{}"


def test_current_model_lost_the_query_naming_the_legacy_one_has() -> None:
    """Why the Query model is vendored: this documents the botocore state."""
    assert "awsQueryCompatible" in JSON.metadata
    current = JSON.operation_model("CreateQueue").input_shape.members["Attributes"]
    legacy = LEGACY.operation_model("CreateQueue").input_shape.members["Attributes"]
    assert "name" not in current.serialization
    assert legacy.serialization["name"] == "Attribute"
    assert "error" not in JSON.shape_for("QueueDoesNotExist").metadata
    assert LEGACY.metadata["protocol"] == "query"


def test_derived_query_model_keeps_current_members_and_legacy_traits() -> None:
    receive = QUERY.operation_model("ReceiveMessage")
    assert "MessageSystemAttributeNames" in receive.input_shape.members
    assert receive.output_shape.serialization["resultWrapper"] == "ReceiveMessageResult"
    assert QUERY.shape_for("QueueDoesNotExist").metadata["error"]["code"] == (
        "AWS.SimpleQueueService.NonExistentQueue"
    )
    assert QUERY.operation_names == JSON.operation_names
