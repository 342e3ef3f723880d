"""Java's modified UTF-8 and ActiveMQ's typed maps (message properties, MapMessage and
StreamMessage bodies, WireFormatInfo options).

A typed value is a `(type code, value)` pair, so a Java short stays a short on its way
through the broker; decoding never builds anything but numbers, strings, bytes, dicts and
lists.
"""
from __future__ import annotations

import struct
from typing import Any

NULL, BOOLEAN, BYTE, CHAR, SHORT, INTEGER, LONG, DOUBLE, FLOAT, STRING, BYTE_ARRAY, MAP, LIST, \
    BIG_STRING = range(14)

MAX_DEPTH = 8
Typed = tuple[int, Any]

_FIXED = {BYTE: struct.Struct(">b"), SHORT: struct.Struct(">h"), INTEGER: struct.Struct(">i"),
          LONG: struct.Struct(">q"), DOUBLE: struct.Struct(">d"), FLOAT: struct.Struct(">f"),
          CHAR: struct.Struct(">H")}
_U16 = struct.Struct(">H")
_I32 = struct.Struct(">i")


class PrimitiveError(ValueError):
    """A typed map or value that cannot be decoded (or encoded)."""


# -- modified UTF-8 --------------------------------------------------------------------------
def decode_utf(raw: bytes) -> str:
    """Java's modified UTF-8 (NUL as C0 80, supplementary characters as surrogate pairs)."""
    if raw.isascii():
        return raw.decode("ascii")
    text = raw.replace(b"\xc0\x80", b"\x00").decode("utf-8", "surrogatepass")
    if any("\ud800" <= c <= "\udfff" for c in text):
        # Pair the surrogates up; a lone one cannot be represented and becomes U+FFFD.
        text = text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")
    return text


def encode_utf(text: str) -> bytes:
    if text.isascii() and "\x00" not in text:
        return text.encode("ascii")
    if any(c > "\uffff" for c in text):
        units = text.encode("utf-16-be", "surrogatepass")
        text = "".join(chr(u) for (u,) in struct.iter_unpack(">H", units))
    return text.encode("utf-8", "surrogatepass").replace(b"\x00", b"\xc0\x80")


# -- typed values ------------------------------------------------------------------------------------
class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise PrimitiveError("typed value truncated")
        start = self.pos
        self.pos += n
        return self.data[start:self.pos]

    def unpack(self, fmt: struct.Struct) -> Any:
        return fmt.unpack(self.take(fmt.size))[0]

    def value(self, depth: int) -> Typed:
        code = self.take(1)[0]
        if code == NULL:
            return NULL, None
        if code == BOOLEAN:
            return BOOLEAN, self.take(1)[0] != 0
        fixed = _FIXED.get(code)
        if fixed is not None:
            value = self.unpack(fixed)
            return (CHAR, chr(value)) if code == CHAR else (code, value)
        if code == STRING:
            return STRING, _decode_text(self.take(self.unpack(_U16)))
        if code == BIG_STRING:
            return STRING, _decode_text(self.take(self.unpack(_I32)))
        if code == BYTE_ARRAY:
            return BYTE_ARRAY, self.take(self.unpack(_I32))
        if depth >= MAX_DEPTH:
            raise PrimitiveError("typed values nested too deep")
        if code == MAP:
            return MAP, self.map(depth + 1)
        if code == LIST:
            count = self.unpack(_I32)
            if count < 0 or count > len(self.data) - self.pos:
                raise PrimitiveError("bad list size")
            return LIST, [self.value(depth + 1) for _ in range(count)]
        raise PrimitiveError(f"unknown typed value code {code}")

    def map(self, depth: int = 0) -> dict[str, Typed]:
        count = self.unpack(_I32)
        if count < 0 or count > len(self.data) - self.pos:
            raise PrimitiveError("bad map size")
        out: dict[str, Typed] = {}
        for _ in range(count):
            key = _decode_text(self.take(self.unpack(_U16)))
            out[key] = self.value(depth)
        return out


def _decode_text(raw: bytes) -> str:
    try:
        return decode_utf(raw)
    except UnicodeDecodeError as exc:
        raise PrimitiveError(f"invalid modified UTF-8: {exc}") from None


def decode_map(data: bytes) -> dict[str, Typed]:
    reader = _Reader(data)
    out = reader.map()
    if reader.pos != len(data):
        raise PrimitiveError("bytes left over after a typed map")
    return out


def decode_stream(data: bytes) -> list[Typed]:
    """A StreamMessage body: typed values back to back."""
    reader = _Reader(data)
    out = []
    while reader.pos < len(data):
        out.append(reader.value(0))
    return out


def _put_value(out: bytearray, item: Typed) -> None:
    code, value = item
    out.append(code if code != BIG_STRING else STRING)
    if code == NULL:
        pass
    elif code == BOOLEAN:
        out.append(1 if value else 0)
    elif code == CHAR:
        out += _FIXED[CHAR].pack(ord(value))
    elif code in _FIXED:
        out += _FIXED[code].pack(value)
    elif code in (STRING, BIG_STRING):
        raw = encode_utf(value)
        if len(value) < 8191 and len(raw) <= 65535:  # the Java client's rule, by char count
            out += _U16.pack(len(raw))
        else:
            out[-1] = BIG_STRING
            out += _I32.pack(len(raw))
        out += raw
    elif code == BYTE_ARRAY:
        out += _I32.pack(len(value))
        out += value
    elif code == MAP:
        _put_map(out, value)
    elif code == LIST:
        out += _I32.pack(len(value))
        for entry in value:
            _put_value(out, entry)
    else:
        raise PrimitiveError(f"unknown typed value code {code}")


def _put_map(out: bytearray, values: dict[str, Typed]) -> None:
    out += _I32.pack(len(values))
    for key, item in values.items():
        raw = encode_utf(key)
        out += _U16.pack(len(raw))
        out += raw
        _put_value(out, item)


def encode_map(values: dict[str, Typed]) -> bytes:
    out = bytearray()
    _put_map(out, values)
    return bytes(out)


def encode_value(item: Typed) -> bytes:
    out = bytearray()
    _put_value(out, item)
    return bytes(out)
