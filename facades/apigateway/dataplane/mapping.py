"""Parameter mappings, template selection and integration-response selection.

These are API Gateway's rules for non-proxy integrations: request and
response parameters map from expressions (``method.request.header.X``,
``integration.response.body.JSONPath``, ``'literal'``, ``context.x``,
``stageVariables.x``); a request template is chosen by the request's
Content-Type and ``passthroughBehavior``; an integration response by its
``selectionPattern`` (a Java regex matched against the whole status code, or
a Lambda ``errorMessage``), else the default one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from facades.apigateway.dataplane.backend import BackendResponse
from facades.apigateway.dataplane.errors import GatewayError
from facades.apigateway.dataplane.invocation import Invocation
from facades.apigateway.dataplane.templates import jsonpath


def _context_value(context: dict[str, Any], dotted: str) -> Any:
    value: Any = context
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _body_value(body: bytes, path: str) -> str | None:
    text = body.decode("utf-8", "replace")
    if not path:
        return text
    try:
        found = jsonpath(json.loads(text), "$." + path)
    except ValueError:
        return None
    if found is None:
        return None
    return found if isinstance(found, str) else json.dumps(found)


def _shared_value(expression: str, inv: Invocation,
                  stage_variables: dict[str, str]) -> tuple[bool, str | None]:
    """Literals, `context.*` and `stageVariables.*` read the same on both sides:
    (whether the expression is one of those, its value)."""
    if len(expression) >= 2 and expression[0] == "'" and expression[-1] == "'":
        return True, expression[1:-1]
    if expression.startswith("context."):
        value = _context_value(inv.context, expression[len("context."):])
        return True, None if value is None else str(value)
    if expression.startswith("stageVariables."):
        return True, stage_variables.get(expression[len("stageVariables."):])
    return False, None


def request_value(expression: str, inv: Invocation, stage_variables: dict[str, str]) -> str | None:
    """The value of a request-side mapping expression, or ``None``."""
    handled, value = _shared_value(expression, inv, stage_variables)
    if handled:
        return value
    parts = expression.split(".", 3)
    if parts[:2] != ["method", "request"] or len(parts) < 3:
        return None
    where = parts[2]
    name = parts[3] if len(parts) == 4 else ""
    if where == "header":
        return inv.headers.get(name.lower())
    if where == "multivalueheader":
        value = inv.headers.get(name.lower())
        return None if value is None else value
    if where == "querystring":
        return inv.query_map().get(name)
    if where == "multivaluequerystring":
        values = inv.multi_query().get(name)
        return None if values is None else ",".join(values)
    if where == "path":
        return inv.match.path_params.get(name) if inv.match else None
    if where == "body" or expression.startswith("method.request.body"):
        return _body_value(inv.body, expression[len("method.request.body"):].lstrip("."))
    return None


def integration_params(integration: dict[str, Any], inv: Invocation,
                       stage_variables: dict[str, str]) -> dict[str, dict[str, str]]:
    """``integration.request.{header,querystring,path}.*`` from ``requestParameters``."""
    out: dict[str, dict[str, str]] = {"header": {}, "querystring": {}, "path": {}}
    for target, source in (integration.get("requestParameters") or {}).items():
        parts = target.split(".", 3)
        if len(parts) != 4 or parts[:2] != ["integration", "request"]:
            continue
        where = "querystring" if parts[2] == "multivaluequerystring" else parts[2]
        if where not in out:
            continue
        value = request_value(source, inv, stage_variables)
        if value is not None:
            out[where][parts[3]] = value
    return out


def select_request_template(integration: dict[str, Any], content_type: str) -> str | None:
    """The template for this Content-Type; ``None`` to pass the body through.

    Raises 415 where ``passthroughBehavior`` says unmatched requests are refused.
    """
    templates = integration.get("requestTemplates") or {}
    if content_type in templates:
        return templates[content_type]
    behavior = integration.get("passthroughBehavior", "WHEN_NO_MATCH")
    if behavior == "NEVER" or (behavior == "WHEN_NO_TEMPLATES" and templates):
        raise GatewayError("UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type")
    return None


def response_value(expression: str, backend: BackendResponse, inv: Invocation,
                   stage_variables: dict[str, str]) -> str | None:
    """The value of a response-side mapping expression, or ``None``."""
    handled, value = _shared_value(expression, inv, stage_variables)
    if handled:
        return value
    if expression.startswith("integration.response.header."):
        return backend.header(expression[len("integration.response.header."):])
    if expression.startswith("integration.response.multivalueheader."):
        return backend.header(expression[len("integration.response.multivalueheader."):])
    if expression.startswith("integration.response.body"):
        return _body_value(backend.body, expression[len("integration.response.body"):].lstrip("."))
    return None


def select_integration_response(integration: dict[str, Any], backend: BackendResponse) -> dict[str, Any]:
    """The integration response whose selection pattern matches, else the default.

    No match and no default is a configuration error: ``500 Internal server error``.
    """
    responses = list((integration.get("integrationResponses") or {}).values())
    subject = backend.error_message if backend.error_message is not None else str(backend.status)
    default = None
    for response in responses:
        pattern = response.get("selectionPattern")
        if not pattern:
            default = response
            continue
        try:
            if re.fullmatch(pattern, subject, re.DOTALL):
                return response
        except re.error:
            continue
    if default is None:
        raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
    return default


def select_response_template(templates: dict[str, str], accept: str | None) -> str | None:
    if not templates:
        return None
    for wanted in (accept or "").split(","):
        media = wanted.split(";")[0].strip().lower()
        if media in templates:
            return templates[media]
    return templates.get("application/json", next(iter(templates.values())))
