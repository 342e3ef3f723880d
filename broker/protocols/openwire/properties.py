"""JMS typed properties as engine properties, and back.

The engine keeps a property as text (bytes for binary) plus its declared type, so a Java
short set by a JMS producer comes back a short to a JMS consumer after a trip through the
store, a STOMP client or an SQS client. Types other doors declare (SQS Number, Binary) map
to the closest Java type.
"""
from __future__ import annotations

import base64
import binascii
import math
import struct
from decimal import Decimal
from broker.protocols.openwire import primitives as p

_TYPE_NAMES = {p.BOOLEAN: "boolean", p.BYTE: "byte", p.CHAR: "char", p.SHORT: "short",
               p.INTEGER: "int", p.LONG: "long", p.FLOAT: "float", p.DOUBLE: "double",
               p.BYTE_ARRAY: "Binary", p.MAP: "map", p.LIST: "list", p.NULL: "null"}
_CODES = {name: code for code, name in _TYPE_NAMES.items()}
_CODES.update({"Boolean": p.BOOLEAN, "Byte": p.BYTE, "Short": p.SHORT, "Integer": p.INTEGER,
               "Long": p.LONG, "Float": p.FLOAT, "Double": p.DOUBLE})
_INT_RANGES = {p.BYTE: 1 << 7, p.SHORT: 1 << 15, p.INTEGER: 1 << 31, p.LONG: 1 << 63}
_F32 = struct.Struct(">f")


def java_number(value: float, single: bool = False) -> str:
    """Java's Float/Double.toString: shortest text that reads back the same value."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if single:
        for digits in range(1, 10):
            text = f"{value:.{digits}g}"
            if _F32.unpack(_F32.pack(float(text)))[0] == value:
                break
    else:
        text = repr(value)
    number = Decimal(text)
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        plain = format(number, "f")
        return plain if "." in plain else plain + ".0"
    sign, digits, exponent = number.as_tuple()
    digits_text = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) - 1 + int(exponent)
    mantissa = digits_text[0] + "." + (digits_text[1:] or "0")
    return ("-" if sign else "") + f"{mantissa}E{power}"


def to_engine(values: dict[str, p.Typed]) -> tuple[dict[str, str | bytes], dict[str, str] | None]:
    """A decoded property map as engine (properties, types)."""
    props: dict[str, str | bytes] = {}
    types: dict[str, str] = {}
    for name, (code, value) in values.items():
        if code == p.STRING:
            props[name] = value
            continue
        types[name] = _TYPE_NAMES[code]
        if code == p.BOOLEAN:
            props[name] = "true" if value else "false"
        elif code in (p.FLOAT, p.DOUBLE):
            props[name] = java_number(value, single=code == p.FLOAT)
        elif code == p.CHAR:
            props[name] = value
        elif code == p.BYTE_ARRAY:
            props[name] = value
        elif code in (p.MAP, p.LIST):
            props[name] = p.encode_value((code, value))
        elif code == p.NULL:
            props[name] = ""
        else:
            props[name] = str(value)
    return props, types or None


def to_jms(props: dict[str, str | bytes], types: dict[str, str] | None) -> dict[str, p.Typed]:
    """Engine properties as a JMS property map; a value its type cannot hold goes as text."""
    out: dict[str, p.Typed] = {}
    for name, value in props.items():
        kind = types.get(name) if types else None
        out[name] = typed(value, kind)
    return out


def typed(value: str | bytes, kind: str | None) -> p.Typed:
    if isinstance(value, bytes):
        if kind in ("map", "list"):
            try:
                return p.decode_stream(value)[0]
            except (p.PrimitiveError, IndexError):
                pass
        return p.BYTE_ARRAY, value
    if kind is None:
        return p.STRING, value
    if kind.startswith(("Number.", "String.")) and kind.split(".", 1)[1] in _CODES:
        kind = kind.split(".", 1)[1]    # a Java type kept as an SQS custom type label
    try:
        if kind.startswith("Number"):
            return _number(value)
        code = _CODES.get(kind)
        if code is None:
            return p.STRING, value
        if code == p.BOOLEAN:
            return p.BOOLEAN, value.lower() == "true"
        if code in _INT_RANGES:
            number = int(value)
            limit = _INT_RANGES[code]
            return (code, number) if -limit <= number < limit else (p.STRING, value)
        if code in (p.FLOAT, p.DOUBLE):
            return code, float(value)
        if code == p.CHAR and len(value) == 1 and value <= "\uffff":
            return p.CHAR, value
        if code == p.NULL:
            return p.NULL, None
        if code == p.BYTE_ARRAY or code in (p.MAP, p.LIST):
            return typed(_b64(value), kind)
    except ValueError:
        pass
    return p.STRING, value


def _number(text: str) -> p.Typed:
    """An SQS Number: an int when it is whole and fits, a long, else a double."""
    try:
        whole = int(text)
    except ValueError:
        return p.DOUBLE, float(text)
    if -(1 << 31) <= whole < (1 << 31):
        return p.INTEGER, whole
    if -(1 << 63) <= whole < (1 << 63):
        return p.LONG, whole
    return p.STRING, text


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None
