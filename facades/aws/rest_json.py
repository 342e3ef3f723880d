"""The AWS REST-JSON protocol (API Gateway, Lambda, ...), driven by the model.

An operation is named by its HTTP method and URI template
(``PUT /restapis/{restapi_id}/resources/{resource_id}/methods/{http_method}``),
its input members come from the URI, the query string, headers and a JSON
body (or a raw payload), and its output goes back the same way, with the
operation's ``responseCode``. Errors carry their code in ``x-amzn-ErrorType``
and a ``{"message": ...}`` body, which is where botocore's REST-JSON parser
reads them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from botocore.model import OperationModel, ServiceModel, Shape

from facades.aws.errors import AwsError, common_error
from facades.aws.json_protocol import encode, value_dumper, value_parser
from facades.aws.shape_values import ABSENT

CONTENT_TYPE = "application/json"

_LABEL = re.compile(r"\{([^}+]+)(\+?)\}")


@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    pattern: re.Pattern[str]
    query_literals: tuple[tuple[str, str], ...]
    labels: tuple[str, ...]
    rank: tuple[int, int, int]


def _compile(name: str, operation: dict[str, Any]) -> _Route:
    uri, _, query = operation["http"]["requestUri"].partition("?")
    literals = tuple((k, v) for k, _, v in (part.partition("=") for part in query.split("&") if part))
    regex: list[str] = []
    labels: list[str] = []
    pos = 0
    for match in _LABEL.finditer(uri):
        regex.append(re.escape(uri[pos:match.start()]))
        regex.append("(.+)" if match.group(2) else "([^/]+)")
        labels.append(match.group(1))
        pos = match.end()
    regex.append(re.escape(uri[pos:]))
    literal_segments = sum(1 for seg in uri.split("/") if seg and "{" not in seg)
    return _Route(
        operation=name,
        method=operation["http"]["method"],
        pattern=re.compile("".join(regex) + "/?"),
        query_literals=literals,
        labels=tuple(labels),
        rank=(-len(literals), -literal_segments, len(labels)),
    )


class RestRouter:
    """Finds the operation a method and path name."""

    def __init__(self, model: ServiceModel) -> None:
        raw = model._service_description["operations"]  # noqa: SLF001 - no public accessor
        routes = sorted((_compile(n, op) for n, op in raw.items()), key=lambda r: r.rank)
        self._routes: dict[str, list[_Route]] = {}
        for route in routes:
            self._routes.setdefault(route.method, []).append(route)
        self.prefixes = frozenset(
            op["http"]["requestUri"].split("/")[1].split("?")[0] for op in raw.values()
        )

    def match(self, method: str, path: str, query: Sequence[tuple[str, str]]) -> tuple[str, dict[str, str]] | None:
        present = set(query)
        for route in self._routes.get(method, ()):
            if route.query_literals and not all(lit in present for lit in route.query_literals):
                continue
            found = route.pattern.fullmatch(path)
            if found is not None:
                return route.operation, {
                    label: unquote(value) for label, value in zip(route.labels, found.groups())
                }
        return None


def _bad(message: str) -> AwsError:
    return common_error("SerializationException", message)


def _scalar(shape: Shape, raw: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise _bad(f"Invalid value for an integer: {raw}") from None
    if kind in ("float", "double"):
        try:
            return float(raw)
        except ValueError:
            raise _bad(f"Invalid value for a number: {raw}") from None
    if kind == "boolean":
        return raw.lower() == "true"
    return raw


def parse_params(
    operation: OperationModel,
    uri_params: Mapping[str, str],
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The typed params of a REST-JSON request."""
    shape = operation.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    payload = shape.serialization.get("payload")
    bound_query = {m.serialization.get("name", n) for n, m in shape.members.items()
                   if m.serialization.get("location") == "querystring" and m.type_name != "map"}
    body_members: dict[str, tuple[str, Shape]] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire in uri_params:
                params[name] = _scalar(member, uri_params[wire])
        elif location == "querystring":
            if member.type_name == "map":
                extra = {k: v for k, v in query if k not in bound_query}
                if extra:
                    params[name] = extra
            elif member.type_name == "list":
                values = [v for k, v in query if k == wire]
                if values:
                    params[name] = [_scalar(member.member, v) for v in values]
            else:
                value = next((v for k, v in query if k == wire), None)
                if value is not None:
                    params[name] = _scalar(member, value)
        elif location == "header":
            value = headers.get(wire.lower())
            if value is not None:
                params[name] = _scalar(member, value)
        elif name == payload:
            if member.type_name == "blob":
                params[name] = bytes(body)
            elif body.strip():
                params[name] = value_parser(member)(_document(body))
        else:
            body_members[wire] = (name, member)
    if body_members and payload is None and body.strip():
        document = _document(body)
        if not isinstance(document, dict):
            raise _bad("Start of structure or map found where not expected.")
        for wire, (name, member) in body_members.items():
            if wire in document:
                value = value_parser(member)(document[wire])
                if value is not ABSENT:
                    params[name] = value
    return params


def _document(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise _bad("Unable to parse request body as JSON.") from None


def serialize_result(operation: OperationModel, data: Mapping[str, Any] | None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a successful response."""
    status = operation.http.get("responseCode", 200)
    shape = operation.output_shape
    headers = {"Content-Type": CONTENT_TYPE}
    if shape is None or data is None:
        return status, headers, b"" if status == 204 else b"{}"
    payload = shape.serialization.get("payload")
    document: dict[str, Any] = {}
    raw: bytes | None = None
    for name, value in data.items():
        if value is None:
            continue
        member = shape.members[name]
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "header":
            headers[wire] = str(value)
        elif name == payload:
            raw = value if member.type_name == "blob" else encode(value_dumper(member)(value))
        else:
            document[wire] = value_dumper(member)(value)
    return status, headers, raw if raw is not None else encode(document)


def render_error(error: AwsError) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of an error, as API Gateway sends them."""
    headers = {"Content-Type": CONTENT_TYPE, "x-amzn-ErrorType": error.code}
    message = error.message_for("rest-json")
    return error.status, headers, encode({"message": message} if message else {})
