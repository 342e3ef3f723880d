"""Where SQS departs from generic AWS request handling."""

from __future__ import annotations

import dataclasses

import pytest

from facades.aws.service import AwsRequestContext
from facades.sqs.service import sqs_service

SERVICE = sqs_service({})


def ctx(action: str, protocol: str = "query", path: str = "/000000000000/orders") -> AwsRequestContext:
    return AwsRequestContext(
        service="sqs",
        action=action,
        protocol=protocol,  # type: ignore[arg-type]
        region="us-east-1",
        account_id="000000000000",
        access_key=None,
        request_id="r",
        host="localhost:4599",
        scheme="http",
        path=path,
        client_address="127.0.0.1",
    )


def test_handlers_must_name_sqs_operations() -> None:
    with pytest.raises(ValueError, match="DropQueue"):
        sqs_service({"DropQueue": lambda ctx, params: None})


def test_the_service_speaks_both_protocols_on_one_operation_list() -> None:
    assert SERVICE.target_prefix == "AmazonSQS"
    assert SERVICE.xml_namespace == "http://queue.amazonaws.com/doc/2012-11-05/"
    assert "sqs" in SERVICE.signing_names
    assert SERVICE.json_model.operation_names == SERVICE.query_model.operation_names
    assert SERVICE.has_operation("SendMessage") and not SERVICE.has_operation("Publish")


def test_queue_url_comes_from_the_path_for_query_clients_only() -> None:
    params: dict = {}
    SERVICE.complete_params(ctx("PurgeQueue"), params)
    assert params == {"QueueUrl": "http://localhost:4599/000000000000/orders"}

    for context in (ctx("PurgeQueue", protocol="json"), ctx("PurgeQueue", path="/"), ctx("ListQueues")):
        untouched: dict = {}
        SERVICE.complete_params(context, untouched)
        assert untouched == {}

    explicit = {"QueueUrl": "http://elsewhere/1/q"}
    SERVICE.complete_params(ctx("PurgeQueue"), explicit)
    assert explicit == {"QueueUrl": "http://elsewhere/1/q"}


def test_a_missing_queue_name_is_an_invalid_value() -> None:
    error = SERVICE.missing_parameter("CreateQueue", "QueueName")
    assert error.query_code == "InvalidParameterValue"
    assert SERVICE.missing_parameter("SendMessage", "QueueUrl").message_for("json") == (
        "The request must contain the parameter QueueUrl."
    )


def test_unimplemented_operations_are_unsupported() -> None:
    error = SERVICE.unimplemented("ListQueues", "json")
    assert (error.code, error.query_code) == ("UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation")


def test_base_url_is_what_the_client_used() -> None:
    assert dataclasses.replace(ctx("GetQueueUrl"), scheme="https").base_url == "https://localhost:4599"
