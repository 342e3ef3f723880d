"""PATCH operations on API Gateway documents, typed by the model's output shapes."""
from __future__ import annotations

import pytest

from facades.apigateway import patch
from facades.apigateway.service import apigateway_model
from facades.aws.errors import AwsError


def _shape(name: str):
    return apigateway_model().shape_for(name)


def test_scalars_maps_lists_and_structures() -> None:
    doc = {"name": "a", "binaryMediaTypes": ["image/png"]}
    patch.apply(doc, [
        {"op": "replace", "path": "/name", "value": "b"},
        {"op": "add", "path": "/binaryMediaTypes/application~1pdf"},
        {"op": "remove", "path": "/binaryMediaTypes/image~1png"},
        {"op": "replace", "path": "/minimumCompressionSize", "value": "1024"},
        {"op": "replace", "path": "/disableExecuteApiEndpoint", "value": "TRUE"},
        {"op": "replace", "path": "/endpointConfiguration/types", "value": "EDGE"},
        {"op": "replace", "path": "/endpointConfiguration/types/EDGE", "value": "REGIONAL"},  # as Terraform sends it
    ], _shape("RestApi"), ("name", "binaryMediaTypes", "minimumCompressionSize", "disableExecuteApiEndpoint",
                           "endpointConfiguration"))
    assert doc == {"name": "b", "binaryMediaTypes": ["application/pdf"], "minimumCompressionSize": 1024,
                   "disableExecuteApiEndpoint": True, "endpointConfiguration": {"types": ["REGIONAL"]}}
    stage = {"variables": {"a": "1"}}
    patch.apply(stage, [{"op": "replace", "path": "/variables/b", "value": "2"},
                        {"op": "remove", "path": "/variables/a"}], _shape("Stage"), ("variables",))
    assert stage == {"variables": {"b": "2"}}


@pytest.mark.parametrize("operation, fragment", [
    ({"op": "replace", "path": "/id", "value": "x"}, "Invalid patch path '/id' specified for op 'replace'"),
    ({"op": "replace", "path": "name", "value": "x"}, "Invalid patch path 'name'"),
    ({"op": "replace", "path": "/minimumCompressionSize", "value": "big"}, "Invalid value 'big'"),
    ({"op": "replace", "path": "/disableExecuteApiEndpoint", "value": "maybe"}, "Invalid value 'maybe'"),
    ({"op": "explode", "path": "/name"}, "Invalid patch operation"),
    ({"op": "replace", "path": "/endpointConfiguration/nope", "value": "x"}, "/endpointConfiguration/nope"),
])
def test_bad_operations_are_bad_requests_naming_the_path(operation: dict, fragment: str) -> None:
    with pytest.raises(AwsError) as error:
        patch.apply({}, [operation], _shape("RestApi"),
                    ("name", "minimumCompressionSize", "disableExecuteApiEndpoint", "endpointConfiguration"))
    assert error.value.code == "BadRequestException" and error.value.status == 400
    assert fragment in str(error.value)


def test_pointer_unescaping() -> None:
    assert patch.split("/~1pets~1{id}/GET/caching/enabled") == ["/pets/{id}", "GET", "caching", "enabled"]
    assert patch.split("/a~0b") == ["a~b"]
    assert patch.split("") == []
