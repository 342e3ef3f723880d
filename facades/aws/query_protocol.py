"""The AWS Query protocol, both directions, driven by the operation's shapes.

Requests are flat ``name=value`` pairs (form body or URL query) whose names
encode the structure: ``Attribute.1.Name``, ``AttributeName.2``,
``SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue``.
Names are derived from the shapes with exactly the rules botocore's
``QuerySerializer`` uses to produce them, and the same rules, read
backwards, name the elements of the XML replies botocore's ``QueryParser``
reads. Values are typed by the shape: a value that does not convert is
``InvalidParameterValue``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from collections.abc import Iterable, Mapping
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import Shape

from facades.aws.errors import AwsError, common_error
from facades.aws.shape_values import ABSENT, ResponseShapeError, integer_bounds

CONTENT_TYPE = "text/xml"

_INTEGER = re.compile(r"[+-]?\d+")


class _Node:
    """One dotted-name component of the request, with its value if any."""

    __slots__ = ("value", "children")

    def __init__(self) -> None:
        self.value: str | None = None
        self.children: dict[str, _Node] = {}

    def child(self, name: str) -> _Node | None:
        return self.children.get(name)

    def indexed(self) -> list[tuple[int, _Node]]:
        """Children named 1, 2, ... in numeric order (gaps are allowed)."""
        return sorted((int(k), v) for k, v in self.children.items() if k.isdigit() and k != "0")


def parse_params(shape: Shape | None, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The typed params of a Query request's name/value pairs."""
    if shape is None:
        return {}
    root = _Node()
    for name, value in pairs:
        node = root
        for part in name.split("."):
            node = node.children.setdefault(part, _Node())
        node.value = value
    return _parse_structure(shape, root, "")


def serialize_result(
    operation_name: str,
    shape: Shape | None,
    data: Mapping[str, Any] | None,
    request_id: str,
    namespace: str,
) -> bytes:
    """``<XResponse><XResult>…</XResult><ResponseMetadata>…`` for a success."""
    parts = [f'<?xml version="1.0"?><{operation_name}Response xmlns="{namespace}">']
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{operation_name}Result")
        parts.append(f"<{wrapper}>")
        _dump_structure(shape, data or {}, parts, "result")
        parts.append(f"</{wrapper}>")
    parts.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
    parts.append(f"</{operation_name}Response>")
    return "".join(parts).encode()


def render_error(error: AwsError, request_id: str, namespace: str | None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and ``<ErrorResponse>`` body, as SQS/SNS send them."""
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    body = (
        f'<?xml version="1.0"?><ErrorResponse{xmlns}><Error>'
        f"<Type>{error.spec.fault}</Type>"
        f"<Code>{_text(error.query_code)}</Code>"
        f"<Message>{_text(error.message_for('query'))}</Message>"
        f"<Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return error.status, {"Content-Type": CONTENT_TYPE}, body.encode()


# -- names ------------------------------------------------------------------


def _member_name(member: Shape, default: str) -> str:
    return member.serialization.get("name", default)


def _flattened(shape: Shape) -> bool:
    return bool(shape.serialization.get("flattened"))


def _list_item_name(list_shape: Shape, list_name: str) -> tuple[str, bool]:
    """Name under which a list's items are numbered, and whether it replaces
    the list's own name (flattened) or nests under it."""
    if _flattened(list_shape):
        return list_shape.member.serialization.get("name", list_name), True
    return list_shape.member.serialization.get("name", "member"), False


# -- parsing ----------------------------------------------------------------


def _invalid(value: str, path: str, reason: str) -> AwsError:
    return common_error("InvalidParameterValue", f"Value {value} for parameter {path} is invalid. Reason: {reason}")


def _parse_structure(shape: Shape, node: _Node, prefix: str) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for name, member in shape.members.items():
        wire_name = _member_name(member, name)
        if member.type_name == "list":
            item_name, replaces = _list_item_name(member, wire_name)
            if replaces:
                value = _parse_list_items(member, node.child(item_name), node.child(wire_name), _join(prefix, item_name))
            else:
                value = _parse_list(member, node.child(wire_name), _join(prefix, wire_name), item_name)
        else:
            value = _parse(member, node.child(wire_name), _join(prefix, wire_name))
        if value is not ABSENT:
            parsed[name] = value
    return parsed


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _parse(shape: Shape, node: _Node | None, path: str) -> Any:
    if node is None:
        return ABSENT
    kind = shape.type_name
    if kind == "structure":
        return _parse_structure(shape, node, path)
    if kind == "list":
        item_name, flattened = _list_item_name(shape, "")
        items = node if flattened else node.child(item_name)
        return _parse_list_items(shape, items, node, f"{path}.{item_name}" if item_name else path)
    if kind == "map":
        return _parse_map(shape, node, path)
    if node.value is None:
        return ABSENT
    return _scalar(shape, node.value, path)


def _parse_list(shape: Shape, node: _Node | None, path: str, item_name: str) -> Any:
    """A non-flattened list: ``Name.member.1``, or ``Name=`` for empty."""
    if node is None:
        return ABSENT
    return _parse_list_items(shape, node.child(item_name), node, f"{path}.{item_name}")


def _parse_list_items(shape: Shape, items: _Node | None, empty_marker: _Node | None, path: str) -> Any:
    if items is None:
        # botocore sends an empty list as the bare list name with no value.
        return [] if empty_marker is not None and empty_marker.value == "" else ABSENT
    parsed = (_parse(shape.member, item, f"{path}.{i}") for i, item in items.indexed())
    return [value for value in parsed if value is not ABSENT]


def _parse_map(shape: Shape, node: _Node, path: str) -> dict[str, Any]:
    entries = node if _flattened(shape) else node.child("entry") or _Node()
    key_name = _member_name(shape.key, "key")
    value_name = _member_name(shape.value, "value")
    parsed = {}
    for i, entry in entries.indexed():
        key_node = entry.child(key_name)
        entry_path = f"{path}.{i}"
        if key_node is None or key_node.value is None:
            raise common_error(
                "MissingParameter", f"The request must contain the parameter {entry_path}.{key_name}."
            )
        value = _parse(shape.value, entry.child(value_name), f"{entry_path}.{value_name}")
        if value is not ABSENT:
            parsed[key_node.value] = value
    return parsed


def _scalar(shape: Shape, text: str, path: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        low, high = integer_bounds(kind)
        if not _INTEGER.fullmatch(text) or not low <= int(text) <= high:
            raise _invalid(text, path, "Must be an integer.")
        return int(text)
    if kind == "boolean":
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise _invalid(text, path, "Must be true or false.")
        return lowered == "true"
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise _invalid(text, path, "Must be a number.") from None
    if kind == "blob":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid(text, path, "Must be base64-encoded.") from None
    if kind == "timestamp":
        try:
            return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise _invalid(text, path, "Must be an ISO 8601 timestamp.") from None
    return text


# -- serializing ------------------------------------------------------------


#: Characters XML 1.0 cannot carry, not even as character references.
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    # Text from other doors (a STOMP body or header) may hold characters XML
    # cannot carry; one of them would make the whole reply unparseable, so
    # they become U+FFFD, as a lenient decoder would show them.
    value = _XML_INVALID.sub("\ufffd", value)
    # A bare CR would come back as LF after XML end-of-line normalisation;
    # SQS bodies are opaque text and must round-trip exactly.
    return escape(value, {'"': "&quot;", "\r": "&#xD;"})


def _dump_structure(shape: Shape, value: Any, out: list[str], path: str) -> None:
    if not isinstance(value, Mapping):
        raise ResponseShapeError(f"{path}: expected a mapping for {shape.name}")
    unknown = set(value) - set(shape.members)
    if unknown:
        raise ResponseShapeError(f"{path}: {shape.name} has no member(s) {sorted(unknown)}")
    for name, member in shape.members.items():
        item = value.get(name)
        if item is None:
            continue
        wire_name = _member_name(member, name)
        if member.type_name == "list" and _flattened(member):
            element = member.member.serialization.get("name", wire_name)
            for entry in item:
                _dump_element(member.member, element, entry, out, f"{path}.{name}[]")
        elif member.type_name == "map" and _flattened(member):
            for key, entry in item.items():
                out.append(f"<{wire_name}>")
                _dump_map_entry(member, key, entry, out, f"{path}.{name}")
                out.append(f"</{wire_name}>")
        else:
            _dump_element(member, wire_name, item, out, f"{path}.{name}")


def _dump_element(shape: Shape, name: str, value: Any, out: list[str], path: str) -> None:
    out.append(f"<{name}>")
    _dump_content(shape, value, out, path)
    out.append(f"</{name}>")


def _dump_map_entry(shape: Shape, key: str, value: Any, out: list[str], path: str) -> None:
    _dump_element(shape.key, _member_name(shape.key, "key"), key, out, path)
    _dump_element(shape.value, _member_name(shape.value, "value"), value, out, f"{path}.{key}")


def _dump_content(shape: Shape, value: Any, out: list[str], path: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        _dump_structure(shape, value, out, path)
    elif kind == "list":
        element = shape.member.serialization.get("name", "member")
        for entry in value:
            _dump_element(shape.member, element, entry, out, f"{path}[]")
    elif kind == "map":
        for key, entry in value.items():
            out.append("<entry>")
            _dump_map_entry(shape, key, entry, out, path)
            out.append("</entry>")
    elif kind == "blob":
        if not isinstance(value, (bytes, bytearray)):
            raise ResponseShapeError(f"{path}: expected bytes")
        out.append(base64.b64encode(value).decode())
    elif kind == "boolean":
        out.append("true" if value else "false")
    elif kind in ("integer", "long"):
        out.append(str(int(value)))
    elif kind == "timestamp":
        out.append(value.isoformat() if isinstance(value, datetime.datetime) else str(value))
    else:
        out.append(_text(str(value)))
