"""AWS MessageAttributes ↔ engine message properties, for every AWS door.

SQS and SNS carry the same typed attributes (``DataType`` String/Number/Binary with
optional custom suffixes); the engine keeps them as properties with the declared type next
to the value, so a Number stays a Number through a STOMP client, an SNS fan-out and back.
Properties set by other doors come out as String attributes; JMS-typed ones keep their Java
type as a custom label (`Number.int`, `String.boolean`) for the way back.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from broker.engine.message import Message

_JMS_NUMBERS = {"int", "long", "short", "byte", "float", "double",
                "Integer", "Long", "Short", "Byte", "Float", "Double"}
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")


def to_properties(attributes: Mapping[str, Mapping[str, Any]] | None
                  ) -> tuple[dict[str, str | bytes], dict[str, str] | None]:
    """(properties, types) of a request's MessageAttributes (already validated)."""
    props: dict[str, str | bytes] = {}
    types: dict[str, str] = {}
    for name, value in (attributes or {}).items():
        kind = value["DataType"]
        if kind.startswith("Binary"):
            props[name] = bytes(value["BinaryValue"])
        else:
            props[name] = value["StringValue"]
        types[name] = kind
    return props, types or None


def attributes_size(attributes: Mapping[str, Mapping[str, Any]] | None) -> int:
    """Bytes SQS and SNS count toward a message's size limit for its attributes: name, data
    type and value of each."""
    size = 0
    for name, value in (attributes or {}).items():
        size += len(name.encode()) + len(str(value.get("DataType", "")).encode())
        if value.get("BinaryValue") is not None:
            size += len(bytes(value["BinaryValue"]))
        elif value.get("StringValue") is not None:
            size += len(str(value["StringValue"]).encode())
    return size


def attributes_of(message: Message) -> dict[str, dict[str, Any]]:
    """Every property as a MessageAttributeValue (names AWS cannot carry are left out)."""
    out: dict[str, dict[str, Any]] = {}
    types = message.types or {}
    for name, value in message.properties.items():
        if not _NAME.fullmatch(name):
            continue
        kind = types.get(name)
        if isinstance(value, bytes):
            out[name] = {"DataType": kind if kind and kind.startswith("Binary") else "Binary", "BinaryValue": value}
            continue
        if kind is None or kind.startswith("Binary"):
            kind = "String"
        elif kind in _JMS_NUMBERS:
            kind = "Number." + kind          # the custom label keeps the Java type for the way back
        elif not kind.startswith(("String", "Number")):
            kind = "String." + kind          # boolean, char, ...: text, with the type as its label
        out[name] = {"DataType": kind, "StringValue": value}
    return out
