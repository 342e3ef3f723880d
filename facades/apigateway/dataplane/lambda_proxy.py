"""Lambda proxy integration: the event API Gateway sends, the result it expects.

Payload format 1.0, as REST APIs send it; a result that is not a JSON object
with an integer ``statusCode`` (and string ``body``) is a malformed Lambda
proxy response: ``502 {"message": "Internal server error"}``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from facades.apigateway.dataplane.backend import BackendResponse
from facades.apigateway.dataplane.errors import GatewayError
from facades.apigateway.dataplane.invocation import Invocation


def is_binary(inv: Invocation, binary_media_types: list[str]) -> bool:
    content_type = inv.content_type
    for media in binary_media_types:
        if media == "*/*" or media == content_type or (
                media.endswith("/*") and content_type.startswith(media[:-1])):
            return True
    return False


def event(inv: Invocation, stage_variables: dict[str, str], binary_media_types: list[str]) -> dict[str, Any]:
    assert inv.match is not None
    multi_headers = inv.multi_headers()
    multi_query = inv.multi_query()
    binary = is_binary(inv, binary_media_types)
    if inv.body:
        body: str | None = base64.b64encode(inv.body).decode() if binary else inv.body.decode("utf-8", "replace")
    else:
        body = None
    context = inv.context
    return {
        "resource": inv.match.resource["path"],
        "path": inv.path,
        "httpMethod": inv.http_method,
        "headers": inv.sent_headers() or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": inv.query_map() or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(inv.match.path_params) or None,
        "stageVariables": stage_variables or None,
        "requestContext": {
            "resourceId": context["resourceId"],
            "resourcePath": context["resourcePath"],
            "httpMethod": inv.http_method,
            "extendedRequestId": context["extendedRequestId"],
            "requestTime": context["requestTime"],
            "path": context["path"],
            "accountId": context["accountId"],
            "protocol": context["protocol"],
            "stage": inv.stage,
            "domainPrefix": context["domainPrefix"],
            "requestTimeEpoch": context["requestTimeEpoch"],
            "requestId": inv.request_id,
            "identity": dict(context["identity"]),
            "domainName": context["domainName"],
            "apiId": inv.api_id,
            **({"authorizer": dict(context["authorizer"])} if context.get("authorizer") else {}),
        },
        "body": body,
        "isBase64Encoded": binary and bool(inv.body),
    }


def result(response: BackendResponse) -> BackendResponse:
    """The HTTP response a Lambda proxy result describes."""
    if response.error_message is not None:
        raise _malformed()
    try:
        document = json.loads(response.body)
    except ValueError:
        raise _malformed() from None
    if not isinstance(document, dict):
        raise _malformed()
    status = document.get("statusCode", 200)
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise _malformed()
    headers = document.get("headers") or {}
    multi = document.get("multiValueHeaders") or {}
    body = document.get("body")
    if not isinstance(headers, dict) or not isinstance(multi, dict) or not (body is None or isinstance(body, str)):
        raise _malformed()
    out_headers = {str(k): str(v) for k, v in headers.items()}
    for name, values in multi.items():
        if isinstance(values, list):
            out_headers[str(name)] = ",".join(str(v) for v in values)
    raw = (body or "").encode()
    if document.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body or "")
        except ValueError:
            raise _malformed() from None
    return BackendResponse(status, out_headers, raw)


def _malformed() -> GatewayError:
    return GatewayError("DEFAULT_5XX", "Internal server error", status=502)
