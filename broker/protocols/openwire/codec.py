"""Sans-IO OpenWire codec: loose encoding, no marshal cache, versions 1 to 12.

Bytes in, `Struct`s out, and back. The broker always advertises tight encoding and the
marshal cache off, and the negotiated options are the AND of both sides', so loose
cache-less frames are all a client ever sends once the WireFormatInfo exchange is done.
Every length is checked against what is left of the frame, frames are bounded by the
negotiated maximum, and nesting is bounded, so hostile input ends in `OpenWireError`.
"""
from __future__ import annotations

import struct
from typing import Any, Iterator

from broker.protocols.openwire import schema as s
from broker.protocols.openwire.primitives import decode_utf, encode_utf

MAGIC = b"ActiveMQ"
MAX_VERSION = 12
MAX_DEPTH = 12
DEFAULT_MAX_FRAME = 104_857_600   # ActiveMQ's MaxFrameSize

_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")
_SHORT = struct.Struct(">h")
_USHORT = struct.Struct(">H")


class OpenWireError(ValueError):
    """Input that is not a valid OpenWire frame: the connection that sent it is closed."""


class Struct(dict):
    """One decoded command or data structure: its type code and its fields by name.

    Fields a version does not carry (and absent objects) read as None."""

    __slots__ = ("type",)

    def __init__(self, type_code: int, **fields: Any) -> None:
        super().__init__(fields)
        self.type = type_code

    def __getattr__(self, name: str) -> Any:
        return self.get(name)

    @property
    def type_name(self) -> str:
        return s.SCHEMA[self.type].name

    def __repr__(self) -> str:
        return f"{self.type_name}({dict.__repr__(self)})"


class _Reader:
    __slots__ = ("data", "pos", "end", "version")

    def __init__(self, data: bytes | memoryview, version: int) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.version = version

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise OpenWireError("frame truncated")
        start = self.pos
        self.pos += n
        return bytes(self.data[start:self.pos])

    def unpack(self, fmt: struct.Struct) -> int:
        if self.pos + fmt.size > self.end:
            raise OpenWireError("frame truncated")
        (value,) = fmt.unpack_from(self.data, self.pos)
        self.pos += fmt.size
        return value

    def byte(self) -> int:
        if self.pos >= self.end:
            raise OpenWireError("frame truncated")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def boolean(self) -> bool:
        value = self.byte()
        if value > 1:
            raise OpenWireError(f"invalid boolean {value}")
        return value == 1

    def string(self) -> str | None:
        if not self.boolean():
            return None
        return decode_utf(self.take(self.unpack(_USHORT)))

    def bytes_(self) -> bytes | None:
        if not self.boolean():
            return None
        return self.take(self.unpack(_INT))

    def obj(self, allowed: frozenset[int], depth: int) -> Struct | None:
        if not self.boolean():
            return None
        code = self.byte()
        if code not in allowed:
            raise OpenWireError(f"data type {code} is not allowed here")
        return self.struct(code, depth + 1)

    def struct(self, code: int, depth: int) -> Struct:
        if depth > MAX_DEPTH:
            raise OpenWireError("objects nested too deep")
        spec = s.SCHEMA.get(code)
        if spec is None:
            raise OpenWireError(f"unknown data type {code}")
        out = Struct(code)
        version = self.version
        for f in spec.fields:
            if f.since > version:
                continue
            kind = f.kind
            if kind == s.BOOL:
                out[f.name] = self.boolean()
            elif kind == s.INT:
                out[f.name] = self.unpack(_INT)
            elif kind == s.LONG:
                out[f.name] = self.unpack(_LONG)
            elif kind == s.STRING:
                out[f.name] = self.string()
            elif kind == s.OBJECT:
                out[f.name] = self.obj(f.allowed, depth)
            elif kind == s.BYTE:
                value = self.byte()
                out[f.name] = value - 256 if value > 127 else value
            elif kind == s.BYTES:
                out[f.name] = self.bytes_()
            elif kind == s.ARRAY:
                if self.boolean():
                    count = self.unpack(_SHORT)
                    if count < 0:
                        raise OpenWireError("negative array size")
                    out[f.name] = [self.obj(f.allowed, depth) for _ in range(count)]
                else:
                    out[f.name] = None
            elif kind == s.THROWABLE:
                out[f.name] = self.throwable(depth)
            else:  # MAGIC
                if self.take(8) != MAGIC:
                    raise OpenWireError("bad magic: not an OpenWire client")
        return out

    def throwable(self, depth: int) -> tuple[str | None, str | None] | None:
        # Kept as data (class name, message): it is never used to build anything. Stack
        # traces are never negotiated, so a throwable is just these two strings.
        if not self.boolean():
            return None
        return self.string(), self.string()


class _Writer:
    __slots__ = ("out", "version")

    def __init__(self, version: int) -> None:
        self.out = bytearray()
        self.version = version

    def boolean(self, value: Any) -> None:
        self.out.append(1 if value else 0)

    def string(self, value: str | None) -> None:
        if value is None:
            self.out.append(0)
            return
        raw = encode_utf(value)
        if len(raw) > 65535:
            raise OpenWireError("string longer than 65535 bytes")
        self.out.append(1)
        self.out += _USHORT.pack(len(raw))
        self.out += raw

    def struct(self, value: Struct) -> None:
        out = self.out
        version = self.version
        for f in s.SCHEMA[value.type].fields:
            if f.since > version:
                continue
            kind = f.kind
            v = value.get(f.name)
            if kind == s.BOOL:
                out.append(1 if v else 0)
            elif kind == s.INT:
                out += _INT.pack(v or 0)
            elif kind == s.LONG:
                out += _LONG.pack(v or 0)
            elif kind == s.STRING:
                self.string(v)
            elif kind == s.OBJECT:
                self.obj(v)
            elif kind == s.BYTE:
                out.append((v or 0) & 0xFF)
            elif kind == s.BYTES:
                if v is None:
                    out.append(0)
                else:
                    out.append(1)
                    out += _INT.pack(len(v))
                    out += v
            elif kind == s.ARRAY:
                if v is None:
                    out.append(0)
                else:
                    out.append(1)
                    out += _SHORT.pack(len(v))
                    for item in v:
                        self.obj(item)
            elif kind == s.THROWABLE:
                if v is None:
                    out.append(0)
                else:
                    out.append(1)
                    self.string(v[0])
                    self.string(v[1])
            else:
                out += MAGIC

    def obj(self, value: Struct | None) -> None:
        if value is None:
            self.out.append(0)
            return
        self.out.append(1)
        self.out.append(value.type)
        self.struct(value)


def encode(command: Struct, version: int = MAX_VERSION) -> bytes:
    """One size-prefixed frame."""
    writer = _Writer(version)
    writer.out += b"\0\0\0\0"
    writer.out.append(command.type)
    writer.struct(command)
    out = writer.out
    out[0:4] = _INT.pack(len(out) - 4)
    return bytes(out)


def decode(body: bytes | memoryview, version: int = MAX_VERSION) -> Struct | None:
    """One frame without its size prefix; None for the null object (type 0)."""
    reader = _Reader(body, version)
    code = reader.byte()
    if code == 0:
        return None
    if code not in s.SCHEMA:
        raise OpenWireError(f"unknown command type {code}")
    try:
        out = reader.struct(code, 0)
    except (UnicodeDecodeError, struct.error) as exc:
        raise OpenWireError(str(exc)) from None
    if reader.pos != reader.end:
        raise OpenWireError(f"{reader.end - reader.pos} bytes left over after {out.type_name}")
    return out


class FrameParser:
    """Splits a connection's byte stream into commands, size prefix first.

    Until the client's WireFormatInfo arrives the version is the one both sides start
    with; the protocol sets `version` to the negotiated one after it."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.version = MAX_VERSION
        self.max_frame = max_frame
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[Struct | None]:
        """Commands completed by `data`; raises OpenWireError on the first bad frame."""
        buf = self._buf
        buf += data
        pos = 0
        try:
            while len(buf) - pos >= 4:
                (size,) = _INT.unpack_from(buf, pos)
                if size < 1 or size > self.max_frame:
                    raise OpenWireError(f"frame size {size} is out of range (max {self.max_frame})")
                if len(buf) - pos - 4 < size:
                    break
                command = decode(bytes(buf[pos + 4:pos + 4 + size]), self.version)
                pos += 4 + size
                yield command
        finally:
            del buf[:pos]


def wire_format_info(properties: bytes, version: int = MAX_VERSION) -> bytes:
    """Our WireFormatInfo frame (sent before any version is agreed)."""
    return encode(Struct(s.WIRE_FORMAT_INFO, version=version, marshalled_properties=properties),
                  MAX_VERSION)
