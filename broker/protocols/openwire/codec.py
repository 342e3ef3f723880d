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

    # A missing field reads as None; dict.get itself, so an attribute costs no Python call.
    __getattr__ = dict.get

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
        decoder = _DECODERS.get((code, self.version))
        if decoder is None:
            if code not in s.SCHEMA:
                raise OpenWireError(f"unknown data type {code}")
            decoder = _DECODERS[(code, self.version)] = _compile(code, self.version, _decoder_lines)
        return decoder(self, depth)

    def magic(self) -> None:
        if self.take(8) != MAGIC:
            raise OpenWireError("bad magic: not an OpenWire client")

    def signed_byte(self) -> int:
        value = self.byte()
        return value - 256 if value > 127 else value

    def array(self, allowed: frozenset[int], depth: int) -> list[Struct | None] | None:
        if not self.boolean():
            return None
        count = self.unpack(_SHORT)
        if count < 0:
            raise OpenWireError("negative array size")
        return [self.obj(allowed, depth) for _ in range(count)]

    def throwable(self, depth: int) -> tuple[str | None, str | None] | None:
        # Kept as data (class name, message): it is never used to build anything. Stack
        # traces are never negotiated, so a throwable is just these two strings.
        if not self.boolean():
            return None
        return self.string(), self.string()


# Connection ids, destination and property names repeat in every frame: short strings are
# encoded once.
_ENCODED_STRINGS: dict[str, bytes] = {}


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
        encoded = _ENCODED_STRINGS.get(value)
        if encoded is None:
            raw = encode_utf(value)
            if len(raw) > 65535:
                raise OpenWireError("string longer than 65535 bytes")
            encoded = b"\x01" + _USHORT.pack(len(raw)) + raw
            if len(value) <= 128:
                if len(_ENCODED_STRINGS) >= 4096:
                    _ENCODED_STRINGS.clear()
                _ENCODED_STRINGS[value] = encoded
        self.out += encoded

    def struct(self, value: Struct) -> None:
        encoder = _ENCODERS.get((value.type, self.version))
        if encoder is None:
            encoder = _ENCODERS[(value.type, self.version)] = _compile(value.type, self.version, _encoder_lines)
        encoder(self, value)

    def bytes_(self, value: bytes | None) -> None:
        if value is None:
            self.out.append(0)
        else:
            self.out.append(1)
            self.out += _INT.pack(len(value))
            self.out += value

    def array(self, value: list[Struct | None] | None) -> None:
        if value is None:
            self.out.append(0)
        else:
            self.out.append(1)
            self.out += _SHORT.pack(len(value))
            for item in value:
                self.obj(item)

    def throwable(self, value: tuple[str | None, str | None] | None) -> None:
        if value is None:
            self.out.append(0)
        else:
            self.out.append(1)
            self.string(value[0])
            self.string(value[1])

    def obj(self, value: Struct | None) -> None:
        if value is None:
            self.out.append(0)
            return
        self.out.append(1)
        self.out.append(value.type)
        self.struct(value)


# Each type's field list is turned into one straight-line function per protocol version
# (from the schema table, never from the wire), so a frame is read without looking up
# field kinds one by one.
_DECODERS: dict[tuple[int, int], Any] = {}
_ENCODERS: dict[tuple[int, int], Any] = {}
_READ = {s.BOOL: "r.boolean()", s.BYTE: "r.signed_byte()", s.INT: "r.unpack(_INT)",
         s.LONG: "r.unpack(_LONG)", s.STRING: "r.string()", s.BYTES: "r.bytes_()",
         s.THROWABLE: "r.throwable(depth)"}
_WRITE = {s.BOOL: "o.append(1 if {v} else 0)", s.BYTE: "o.append(({v} or 0) & 0xFF)",
          s.INT: "o += _INT.pack({v} or 0)", s.LONG: "o += _LONG.pack({v} or 0)",
          s.STRING: "w.string({v})", s.BYTES: "w.bytes_({v})", s.OBJECT: "w.obj({v})",
          s.ARRAY: "w.array({v})", s.THROWABLE: "w.throwable({v})", s.MAGIC: "o += MAGIC"}


def _decoder_lines(code: int, fields: list[s.Field]) -> list[str]:
    # Primitive fields are read inline from the frame bytes `d` at offset `p`; a read past
    # the end raises IndexError or struct.error, which decode() reports as a bad frame.
    lines = ["def run(r, depth):", f"    out = Struct({code})", "    d = r.data", "    p = r.pos"]
    for i, f in enumerate(fields):
        key = repr(f.name)
        if f.kind == s.BOOL:
            lines += ["    b = d[p]", "    p += 1", "    if b > 1: raise OpenWireError('invalid boolean')",
                      f"    out[{key}] = b == 1"]
        elif f.kind == s.BYTE:
            lines += ["    b = d[p]", "    p += 1", f"    out[{key}] = b - 256 if b > 127 else b"]
        elif f.kind == s.INT:
            lines += [f"    out[{key}] = _int_at(d, p)[0]", "    p += 4"]
        elif f.kind == s.LONG:
            lines += [f"    out[{key}] = _long_at(d, p)[0]", "    p += 8"]
        elif f.kind == s.STRING:
            lines += [f"    out[{key}], p = _string_at(d, p)"]
        elif f.kind == s.BYTES:
            lines += [f"    out[{key}], p = _bytes_at(d, p)"]
        else:
            call = {s.OBJECT: f"r.obj(A{i}, depth)", s.ARRAY: f"r.array(A{i}, depth)",
                    s.THROWABLE: "r.throwable(depth)", s.MAGIC: "r.magic()"}[f.kind]
            target = "" if f.kind == s.MAGIC else f"out[{key}] = "
            lines += ["    r.pos = p", f"    {target}{call}", "    p = r.pos"]
    return lines + ["    r.pos = p", "    return out"]


def _string_at(d: bytes, p: int) -> tuple[str | None, int]:
    if not d[p]:
        return None, p + 1
    (n,) = _USHORT.unpack_from(d, p + 1)
    end = p + 3 + n
    if end > len(d):
        raise OpenWireError("frame truncated")
    return decode_utf(d[p + 3:end]), end


def _bytes_at(d: bytes, p: int) -> tuple[bytes | None, int]:
    if not d[p]:
        return None, p + 1
    (n,) = _INT.unpack_from(d, p + 1)
    end = p + 5 + n
    if n < 0 or end > len(d):
        raise OpenWireError("frame truncated")
    return d[p + 5:end], end


def _encoder_lines(code: int, fields: list[s.Field]) -> list[str]:
    lines = ["def run(w, value):", "    o = w.out", "    get = value.get"]
    for f in fields:
        lines.append("    " + _WRITE[f.kind].format(v=f"get({f.name!r})"))
    return lines


def _compile(code: int, version: int, make_lines: Any) -> Any:
    fields = [f for f in s.SCHEMA[code].fields if f.since <= version]
    namespace: dict[str, Any] = {"Struct": Struct, "_INT": _INT, "_LONG": _LONG, "MAGIC": MAGIC,
                                 "OpenWireError": OpenWireError, "_int_at": _INT.unpack_from,
                                 "_long_at": _LONG.unpack_from, "_string_at": _string_at,
                                 "_bytes_at": _bytes_at}
    namespace.update({f"A{i}": f.allowed for i, f in enumerate(fields)})
    exec("\n".join(make_lines(code, fields)), namespace)  # noqa: S102 - source built from SCHEMA only
    return namespace["run"]


def encode(command: Struct, version: int = MAX_VERSION) -> bytes:
    """One size-prefixed frame."""
    writer = _Writer(version)
    writer.out += b"\0\0\0\0"
    writer.out.append(command.type)
    writer.struct(command)
    out = writer.out
    out[0:4] = _INT.pack(len(out) - 4)
    return bytes(out)


def decode(body: bytes, version: int = MAX_VERSION) -> Struct | None:
    """One frame without its size prefix; None for the null object (type 0)."""
    reader = _Reader(body, version)
    code = reader.byte()
    if code == 0:
        return None
    if code not in s.SCHEMA:
        raise OpenWireError(f"unknown command type {code}")
    try:
        out = reader.struct(code, 0)
    except (UnicodeDecodeError, struct.error, IndexError) as exc:
        raise OpenWireError(str(exc) or "frame truncated") from None
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
