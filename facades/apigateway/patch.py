"""PATCH operations (``op``/``path``/``value``) on API Gateway documents.

Paths are JSON pointers into the resource as GetX returns it
(``/description``, ``/variables/name``, ``/binaryMediaTypes/image~1png``,
``/throttle/rateLimit``), typed by the resource's output shape: values arrive
as strings and are converted to the member's type. A path that names no
writable member is ``BadRequestException`` naming the path, as AWS answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from botocore.model import Shape

from facades.apigateway.service import bad_request

_OPS = ("add", "remove", "replace", "copy", "move", "test")


def split(path: str) -> list[str]:
    """Pointer segments, unescaped (``~1`` is ``/``, ``~0`` is ``~``)."""
    if not path.startswith("/"):
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def invalid_path(op: str, path: str, allowed: Iterable[str]) -> Exception:
    return bad_request(
        f"Invalid patch path '{path}' specified for op '{op}'. Must be one of: [{', '.join(sorted(allowed))}]"
    )


def coerce(shape: Shape, value: Any, path: str) -> Any:
    """A patch value (always a string on the wire) as the member's type."""
    kind = shape.type_name
    try:
        if kind == "boolean":
            if str(value).lower() not in ("true", "false"):
                raise ValueError(value)
            return str(value).lower() == "true"
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("float", "double"):
            return float(value)
    except (TypeError, ValueError):
        raise bad_request(f"Invalid value '{value}' specified for path '{path}'") from None
    return value


def apply(doc: dict[str, Any], operations: Iterable[Mapping[str, Any]], shape: Shape,
          writable: Iterable[str]) -> dict[str, Any]:
    """``doc`` with ``operations`` applied (``doc`` itself is changed).

    ``writable`` lists the top-level members a client may change.
    """
    allowed = set(writable)
    for operation in operations:
        op = operation.get("op", "")
        path = operation.get("path", "")
        if op not in _OPS:
            raise bad_request(f"Invalid patch operation specified. Must be one of: [{', '.join(_OPS)}]")
        parts = split(path)
        if not parts or parts[0] not in allowed:
            raise invalid_path(op, path, (f"/{a}" for a in allowed))
        member_name, rest = parts[0], parts[1:]
        member = shape.members[member_name]
        _apply_one(doc, member_name, member, rest, op, path, operation.get("value"))
    return doc


def _apply_one(doc: dict[str, Any], name: str, member: Shape, rest: list[str], op: str, path: str,
               value: Any) -> None:
    kind = member.type_name
    if kind == "map":
        if not rest:
            if op == "remove":
                doc.pop(name, None)
                return
            raise invalid_path(op, path, [f"/{name}/{{key}}"])
        key = "/".join(rest)
        target = doc.setdefault(name, {})
        if op == "remove":
            target.pop(key, None)
        elif member.value.type_name in ("structure", "map", "list"):
            raise invalid_path(op, path, [f"/{name}"])
        else:
            target[key] = coerce(member.value, value, path)
        return
    if kind == "list":
        items = doc.setdefault(name, [])
        item = "/".join(rest) if rest else value
        if op == "remove":
            if item in items:
                items.remove(item)
        elif item is not None and item not in items:
            items.append(item)
        return
    if kind == "structure":
        if not rest:
            if op == "remove":
                doc.pop(name, None)
                return
            raise invalid_path(op, path, (f"/{name}/{m}" for m in member.members))
        field_name = rest[0]
        field_shape = member.members.get(field_name)
        if field_shape is None or (len(rest) > 1 and field_shape.type_name != "list"):
            raise invalid_path(op, path, (f"/{name}/{m}" for m in member.members))
        target = doc.setdefault(name, {})
        if field_shape.type_name == "list":
            # ``/endpointConfiguration/types/EDGE`` names the item to replace or remove.
            items = target.setdefault(field_name, [])
            old = "/".join(rest[1:])
            if old or op == "replace":
                items[:] = [i for i in items if old and i != old]
            if op != "remove" and value is not None:
                items.append(value)
        elif op == "remove":
            target.pop(field_name, None)
        else:
            target[field_name] = coerce(field_shape, value, path)
        return
    if rest:
        raise invalid_path(op, path, [f"/{name}"])
    if op == "remove":
        doc.pop(name, None)
    else:
        doc[name] = coerce(member, value, path)
