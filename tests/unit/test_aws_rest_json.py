"""The REST-JSON protocol, driven by botocore's real `apigateway` client: its serializer
produces each request (URI labels, query strings, headers, JSON bodies, raw payloads), the
dispatcher routes and parses it, and botocore's parser reads the answers and errors back."""
from __future__ import annotations

import datetime
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from facades.apigateway.service import apigateway_model, apigateway_service, bad_request, not_found
from facades.aws.dispatch import AwsDispatcher, WireRequest, WireResponse
from facades.aws.rest_json import RestRouter
from facades.aws.sigv4 import SigV4Verifier
from tests.unit.auth_support import security_with_keys

ENDPOINT = "http://gw.test:4599"


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data

    def read(self, *_: Any) -> bytes:  # streamed payloads (GetExport) are read, not streamed
        data, self._data = self._data, b""
        return data


def _client(dispatcher: AwsDispatcher) -> Any:
    def send(request: Any, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        body = request.body or b""
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        headers.setdefault("host", url.netloc)
        wire = WireRequest(method=request.method, scheme=url.scheme, host=headers["host"], path=url.path or "/",
                           query=parse_qsl(url.query, keep_blank_values=True), headers=headers,
                           body=body.encode() if isinstance(body, str) else body, client_address="127.0.0.1")
        answers: list[WireResponse] = []
        dispatcher.handle(wire).addCallback(answers.append)
        (answer,) = answers
        return AWSResponse(request.url, answer.status, answer.headers, _Body(answer.body))

    made = boto3.client("apigateway", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id="k",
                        aws_secret_access_key="s", config=Config(retries={"total_max_attempts": 1}))
    made.meta.events.register("before-send.api-gateway", send)
    return made


def _dispatcher(handlers: dict) -> AwsDispatcher:
    return AwsDispatcher([apigateway_service(handlers)], SigV4Verifier(security_with_keys({}), "000000000000"), "us-east-1")


def test_uri_labels_body_members_and_renamed_members() -> None:
    seen: list[dict] = []

    def put_integration(ctx: Any, params: dict) -> dict:
        seen.append(params)
        return {"type": params["type"], "httpMethod": params["integrationHttpMethod"], "timeoutInMillis": 1000}
    client = _client(_dispatcher({"PutIntegration": put_integration}))
    answer = client.put_integration(restApiId="api1", resourceId="res/1", httpMethod="GET", type="HTTP",
                                    integrationHttpMethod="POST", uri="http://x", timeoutInMillis=1000,
                                    requestParameters={"integration.request.header.a": "'b'"})
    assert seen == [{"restApiId": "api1", "resourceId": "res/1", "httpMethod": "GET", "type": "HTTP",
                     "integrationHttpMethod": "POST", "uri": "http://x", "timeoutInMillis": 1000,
                     "requestParameters": {"integration.request.header.a": "'b'"}}]
    assert answer["httpMethod"] == "POST" and answer["timeoutInMillis"] == 1000
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 201


def test_query_strings_lists_and_timestamps() -> None:
    seen: list[dict] = []

    def get_resources(ctx: Any, params: dict) -> dict:
        seen.append(params)
        return {"items": [{"id": "r", "path": "/"}]}

    def get_rest_api(ctx: Any, params: dict) -> dict:
        return {"id": params["restApiId"], "createdDate": 1700000000.5}
    client = _client(_dispatcher({"GetResources": get_resources, "GetRestApi": get_rest_api}))
    assert client.get_resources(restApiId="a", embed=["methods"], limit=5)["items"] == [{"id": "r", "path": "/"}]
    assert seen == [{"restApiId": "a", "embed": ["methods"], "limit": 5}]
    created = client.get_rest_api(restApiId="x")["createdDate"]
    assert created.astimezone(datetime.timezone.utc) == datetime.datetime(2023, 11, 14, 22, 13, 20, 500000,
                                                                         tzinfo=datetime.timezone.utc)


def test_raw_payloads_both_ways_and_query_literals() -> None:
    seen: list[dict] = []

    def import_rest_api(ctx: Any, params: dict) -> dict:
        seen.append(params)
        return {"id": "new"}

    def get_export(ctx: Any, params: dict) -> dict:
        seen.append(params)
        return {"body": b"openapi: 3.0.1\n", "contentType": "application/yaml",
                "contentDisposition": 'attachment; filename="x.yaml"'}
    client = _client(_dispatcher({"ImportRestApi": import_rest_api, "GetExport": get_export,
                                  "CreateRestApi": lambda ctx, params: {"id": "created"}}))
    assert client.import_rest_api(body=b'{"openapi": "3.0.1"}', parameters={"endpointConfigurationTypes": "REGIONAL"})["id"] == "new"
    assert seen[0]["body"] == b'{"openapi": "3.0.1"}'
    assert seen[0]["parameters"]["endpointConfigurationTypes"] == "REGIONAL"
    assert client.create_rest_api(name="n")["id"] == "created"  # same path, no mode=import
    exported = client.get_export(restApiId="a", stageName="s", exportType="oas30", accepts="application/yaml",
                                 parameters={"extensions": "integrations"})
    assert exported["body"].read() == b"openapi: 3.0.1\n"
    assert exported["contentType"] == "application/yaml"
    assert seen[1]["accepts"] == "application/yaml" and seen[1]["parameters"] == {"extensions": "integrations"}


def test_errors_become_the_modeled_exceptions() -> None:
    def missing(ctx: Any, params: dict) -> dict:
        raise not_found("Invalid API identifier specified 000000000000:zz")

    def refused(ctx: Any, params: dict) -> dict:
        raise bad_request("Invalid patch path '/x' specified for op 'replace'.")
    client = _client(_dispatcher({"GetRestApi": missing, "UpdateRestApi": refused}))
    with pytest.raises(client.exceptions.NotFoundException) as not_there:
        client.get_rest_api(restApiId="zz")
    assert not_there.value.response["Error"]["Message"] == "Invalid API identifier specified 000000000000:zz"
    assert not_there.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(client.exceptions.BadRequestException):
        client.update_rest_api(restApiId="a", patchOperations=[{"op": "replace", "path": "/x", "value": "1"}])
    with pytest.raises(client.exceptions.BadRequestException, match="not supported"):
        client.get_vpc_links()


def test_router_matches_every_modeled_operation_and_nothing_else() -> None:
    model = apigateway_model()
    router = RestRouter(model)
    raw = model._service_description["operations"]  # noqa: SLF001
    for name, operation in raw.items():
        uri, _, query = operation["http"]["requestUri"].partition("?")
        path = uri.replace("{", "").replace("}", "").replace("+", "")
        found = router.match(operation["http"]["method"], path, [tuple(query.split("="))] if query else [])
        assert found is not None and found[0] == name, (name, found)
    assert router.match("GET", "/restapis/a/b/c/d/e/f/g/h", []) is None
    assert router.match("TRACE", "/restapis", []) is None
