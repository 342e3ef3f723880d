"""AWS JSON 1.0, both directions, driven by the operation's shapes.

Requests are checked the way AWS's request framework (Coral) checks them:
a value of the wrong JSON type is a ``SerializationException`` with Coral's
wording, strings accept numbers and booleans (Coral coerces them), ``null``
means absent, unknown members are ignored.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from collections.abc import Callable, Mapping
from typing import Any

from botocore.model import Shape

from facades.aws import fast_json
from facades.aws.errors import AwsError, common_error
from facades.aws.shape_values import ABSENT, ResponseShapeError, integer_bounds

CONTENT_TYPE = "application/x-amz-json-1.0"

_KIND = {"structure": "a Structure", "map": "a Map", "list": "a List"}
_NUMBER_KIND = {"integer": "an Integer", "long": "a Long", "float": "a Float", "double": "a Double"}


def parse_params(shape: Shape | None, body: bytes) -> dict[str, Any]:
    """The typed params of a JSON request body (``{}`` when there is none)."""
    if not body.strip():
        document: object = {}
    else:
        try:
            document = fast_json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise _serialization("Unable to parse request body as JSON.") from None
    if shape is None:
        return {}
    value = _parser(shape)(document)
    return {} if value is ABSENT else value


def serialize_result(shape: Shape | None, data: Mapping[str, Any] | None) -> bytes:
    """The JSON body of a successful response; ``{}`` for shapeless outputs."""
    if shape is None or not data:
        return b"{}"
    try:
        document = _dumper(shape)(data)
    except _DumpError as error:
        raise ResponseShapeError(f"result{''.join(reversed(error.path))}: {error.args[0]}") from None
    return fast_json.dumps(document)


def render_error(error: AwsError) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of an error, as query-compatible AWS sends it.

    boto3 takes the exception class from ``__type`` and reports the code
    from ``x-amzn-query-error`` (``QueueDoesNotExist`` class, code
    ``AWS.SimpleQueueService.NonExistentQueue``), so both are always sent
    for service errors.
    """
    spec = error.spec
    body: dict[str, str] = {"__type": f"{spec.namespace}#{spec.code}"}
    message = error.message_for("json")
    if message:
        body["message"] = message
    headers = {"Content-Type": CONTENT_TYPE}
    if spec.query_compatible:
        headers["x-amzn-query-error"] = f"{spec.query_code};{spec.fault}"
    return spec.status, headers, json.dumps(body, ensure_ascii=False).encode()


def _serialization(message: str) -> AwsError:
    return common_error("SerializationException", message)


def _token(value: object) -> str:
    if isinstance(value, bool):
        return "BOOLEAN_VALUE"
    if isinstance(value, (int, float)):
        return "NUMBER_VALUE"
    return "STRING_VALUE"


def _wrong_container(value: object) -> AwsError | None:
    if isinstance(value, dict):
        return _serialization("Start of structure or map found where not expected.")
    if isinstance(value, list):
        return _serialization("Start of list found where not expected")
    return None


def _parse(shape: Shape, value: object) -> Any:
    if value is None:
        return ABSENT
    kind = shape.type_name
    if kind == "structure":
        return _parse_structure(shape, value)
    if kind == "list":
        if not isinstance(value, list):
            raise _wrong_container(value) or _serialization(f"{_token(value)} can not be converted to a List")
        items = (_parse(shape.member, item) for item in value)
        return [item for item in items if item is not ABSENT]
    if kind == "map":
        if not isinstance(value, dict):
            raise _wrong_container(value) or _serialization(f"{_token(value)} can not be converted to a Map")
        parsed = {k: _parse(shape.value, v) for k, v in value.items()}
        return {k: v for k, v in parsed.items() if v is not ABSENT}
    if kind in ("string", "character"):
        return _parse_string(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _wrong_container(value) or _serialization(f"{_token(value)} can not be converted to a Boolean")
        return value
    if kind in ("integer", "long"):
        return _parse_integer(kind, value)
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _wrong_container(value) or _serialization(
                f"{_token(value)} can not be converted to {_NUMBER_KIND[kind]}"
            )
        return float(value)
    if kind == "blob":
        return _parse_blob(value)
    if kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _wrong_container(value) or _serialization(f"{_token(value)} can not be converted to a Timestamp")
        try:
            return datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise _serialization("NUMBER_VALUE can not be converted to a Timestamp") from None
    raise ResponseShapeError(f"unsupported shape type {kind}")


def _parse_structure(shape: Shape, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        if isinstance(value, list):
            raise _serialization("Start of list found where not expected")
        raise _serialization(f"{_token(value)} can not be converted to a Structure")
    parsed = {}
    for name, member in shape.members.items():
        if name in value:
            item = _parse(member, value[name])
            if item is not ABSENT:
                parsed[name] = item
    return parsed


def _parse_string(value: object) -> str:
    if isinstance(value, dict):
        raise _serialization("Start of structure or map found where not expected.")
    if isinstance(value, list):
        raise _serialization("Unrecognized collection type class java.lang.String")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return str(value)


def _parse_integer(kind: str, value: object) -> int:
    error = _wrong_container(value)
    if error is not None:
        raise error
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _serialization(f"{_token(value)} can not be converted to {_NUMBER_KIND[kind]}")
    low, high = integer_bounds(kind)
    if (isinstance(value, float) and not value.is_integer()) or not low <= value <= high:
        raise _serialization(f"NUMBER_VALUE can not be converted to {_NUMBER_KIND[kind]}")
    return int(value)


def _parse_blob(value: object) -> bytes:
    if not isinstance(value, str):
        raise _wrong_container(value) or _serialization(f"{_token(value)} can not be converted to a Blob")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _serialization("Base64 encoded binary data is invalid.") from None


def _dump(shape: Shape, value: Any, path: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            raise ResponseShapeError(f"{path}: expected a mapping for {shape.name}")
        unknown = set(value) - set(shape.members)
        if unknown:
            raise ResponseShapeError(f"{path}: {shape.name} has no member(s) {sorted(unknown)}")
        return {
            name: _dump(shape.members[name], item, f"{path}.{name}")
            for name, item in value.items()
            if item is not None
        }
    if kind == "list":
        return [_dump(shape.member, item, f"{path}[]") for item in value]
    if kind == "map":
        return {str(k): _dump(shape.value, v, f"{path}.{k}") for k, v in value.items()}
    if kind == "blob":
        if not isinstance(value, (bytes, bytearray)):
            raise ResponseShapeError(f"{path}: expected bytes")
        return base64.b64encode(value).decode()
    if kind == "boolean":
        return bool(value)
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    if kind == "timestamp":
        return value.timestamp() if isinstance(value, datetime.datetime) else value
    return str(value)


# -- compiled codecs ---------------------------------------------------------
#
# The walkers above, specialised once per shape: a parser or dumper is a
# closure that already knows its shape's kind and its members' codecs, so a
# request pays no shape lookups or kind tests. They behave exactly as
# ``_parse`` / ``_dump`` (which stay the reference and the fallback).

_Codec = Callable[[Any], Any]
_PARSERS: dict[Shape, _Codec] = {}
_DUMPERS: dict[Shape, _Codec] = {}


def _cached(cache: dict[Shape, _Codec], compile_: Callable[[Shape], _Codec], shape: Shape) -> _Codec:
    codec = cache.get(shape)
    if codec is None:
        # A recursive shape reaches itself while compiling: let it go through
        # the cache, which holds the real codec by the time it is called.
        cache[shape] = lambda value: cache[shape](value)
        codec = cache[shape] = compile_(shape)
    return codec


def _parser(shape: Shape) -> _Codec:
    return _cached(_PARSERS, _compile_parser, shape)


def _dumper(shape: Shape) -> _Codec:
    return _cached(_DUMPERS, _compile_dumper, shape)


def _compile_parser(shape: Shape) -> _Codec:
    kind = shape.type_name
    if kind == "structure":
        members = [(name, _parser(member)) for name, member in shape.members.items()]
        # A str is its own parse for a string member: a value of such members only, each a
        # str (most batch entries: an Id and a receipt handle or a body), is its own parse.
        texts = frozenset(name for name, member in shape.members.items() if member.type_name == "string")

        def parse_structure(value: object) -> Any:
            if value is None:
                return ABSENT
            if value.__class__ is not dict:
                return _parse_structure(shape, value)  # raises the right error
            if texts.issuperset(value):  # type: ignore[arg-type]
                for item in value.values():  # type: ignore[attr-defined]
                    if item.__class__ is not str:
                        break
                else:
                    return value
            parsed = {}
            for name, parse in members:
                if name in value:  # type: ignore[operator]
                    item = parse(value[name])  # type: ignore[index]
                    if item is not ABSENT:
                        parsed[name] = item
            return parsed
        return parse_structure
    if kind == "list":
        parse_member = _parser(shape.member)

        def parse_list(value: object) -> Any:
            if value is None:
                return ABSENT
            if value.__class__ is not list:
                return _parse(shape, value)  # raises the right error
            items = [parse_member(item) for item in value]  # type: ignore[attr-defined]
            return [item for item in items if item is not ABSENT]
        return parse_list
    if kind == "map":
        parse_value = _parser(shape.value)

        def parse_map(value: object) -> Any:
            if value is None:
                return ABSENT
            if value.__class__ is not dict:
                return _parse(shape, value)  # raises the right error
            parsed = {k: parse_value(v) for k, v in value.items()}  # type: ignore[attr-defined]
            return {k: v for k, v in parsed.items() if v is not ABSENT}
        return parse_map
    if kind in ("string", "character"):
        def parse_string(value: object) -> Any:
            if value.__class__ is str:
                return value
            return ABSENT if value is None else _parse_string(value)
        return parse_string
    return lambda value: _parse(shape, value)


class _DumpError(ResponseShapeError):
    """A :class:`ResponseShapeError` still collecting its path on the way up."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.path: list[str] = []


def _compile_dumper(shape: Shape) -> _Codec:
    kind = shape.type_name
    if kind == "structure":
        dumpers = {name: _dumper(member) for name, member in shape.members.items()}
        known = frozenset(dumpers)
        # Members a str is written as itself (most of every answer): no dumper call for them.
        texts = frozenset(name for name, member in shape.members.items() if member.type_name == "string")

        def dump_structure(value: Any) -> Any:
            if value.__class__ is dict:
                if texts.issuperset(value):
                    # Text members only, each a str (most result entries): the document
                    # is the value itself, no copy.
                    for item in value.values():
                        if item.__class__ is not str:
                            break
                    else:
                        return value
            elif not isinstance(value, Mapping):
                raise _DumpError(f"expected a mapping for {shape.name}")
            if not known.issuperset(value):
                raise _DumpError(f"{shape.name} has no member(s) {sorted(set(value) - known)}")
            out = {}
            for name, item in value.items():
                if item.__class__ is str and name in texts:
                    out[name] = item
                elif item is not None:
                    try:
                        out[name] = dumpers[name](item)
                    except _DumpError as error:
                        error.path.append(f".{name}")
                        raise
            return out
        return dump_structure
    if kind == "list":
        dump_member = _dumper(shape.member)

        def dump_list(value: Any) -> Any:
            try:
                return [dump_member(item) for item in value]
            except _DumpError as error:
                error.path.append("[]")
                raise
        return dump_list
    if kind == "map":
        dump_value = _dumper(shape.value)

        def dump_map(value: Any) -> Any:
            out = {}
            for k, v in value.items():
                try:
                    out[str(k)] = dump_value(v)
                except _DumpError as error:
                    error.path.append(f".{k}")
                    raise
            return out
        return dump_map
    if kind == "blob":
        def dump_blob(value: Any) -> Any:
            if not isinstance(value, (bytes, bytearray)):
                raise _DumpError("expected bytes")
            return base64.b64encode(value).decode()
        return dump_blob
    if kind in ("boolean", "integer", "long", "float", "double", "timestamp"):
        return lambda value: _dump(shape, value, "")
    return lambda value: value if value.__class__ is str else str(value)


def value_parser(shape: Shape) -> Callable[[Any], Any]:
    """The parser of one JSON value of ``shape`` (``ABSENT`` for ``null``);
    other JSON-bodied protocols parse their members with it."""
    return _parser(shape)


def value_dumper(shape: Shape) -> Callable[[Any], Any]:
    """The JSON document of one value of ``shape``; raises ResponseShapeError."""
    dump = _dumper(shape)

    def checked(value: Any) -> Any:
        try:
            return dump(value)
        except _DumpError as error:
            raise ResponseShapeError(f"result{''.join(reversed(error.path))}: {error.args[0]}") from None
    return checked


def encode(document: Any) -> bytes:
    """Compact UTF-8 JSON, as every AWS JSON protocol answers."""
    return fast_json.dumps(document)
