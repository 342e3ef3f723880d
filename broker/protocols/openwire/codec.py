"""Sans-IO OpenWire codec: loose encoding, no marshal cache, versions 1 to 12.

Bytes in, `Struct`s out, and back. The broker always advertises tight encoding and the
marshal cache off, and the negotiated options are the AND of both sides', so loose
cache-less frames are all a client ever sends once the WireFormatInfo exchange is done.
Every length is checked against what is left of the frame, frames are bounded by the
negotiated maximum, and nesting is bounded, so hostile input ends in `OpenWireError`.
"""
from __future__ import annotations

import struct
from operator import itemgetter
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
_SEQUENCES = struct.Struct(">qq")   # a MessageId's producer and broker sequence numbers, its last fields


class OpenWireError(ValueError):
    """Input that is not a valid OpenWire frame: the connection that sent it is closed."""


class Struct(dict):
    """One decoded command or data structure: its type code and its fields by name.

    Fields a version does not carry (and absent objects) read as None."""

    __slots__ = ("type",)

    def __init__(self, type_code: int, **fields: Any) -> None:
        super().__init__(fields)
        self.type = type_code

    # A missing field reads as None, as an attribute or an item. Every field name of the
    # schema is a property reading the dict (below): the __getattr__ fallback alone would
    # raise and swallow an AttributeError on every read.
    __getattr__ = dict.get

    def __missing__(self, key: str) -> None:
        return None

    @property
    def type_name(self) -> str:
        return s.SCHEMA[self.type].name

    def __repr__(self) -> str:
        return f"{self.type_name}({dict.__repr__(self)})"


for _name in {f.name for spec in s.SCHEMA.values() for f in spec.fields} - {"type"}:
    setattr(Struct, _name, property(itemgetter(_name)))   # `type` is the type code's slot


class _Reader:
    """The rarely used parts of decoding (arrays, throwables, the magic), on `data` at `pos`."""

    __slots__ = ("data", "pos", "end", "version")

    def __init__(self, data: bytes, version: int) -> None:
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

    def obj(self, allowed: frozenset[int], depth: int) -> Struct | None:
        if not self.boolean():
            return None
        code = self.byte()
        if code not in allowed:
            raise OpenWireError(f"data type {code} is not allowed here")
        return self.struct(code, depth + 1)

    def struct(self, code: int, depth: int) -> Struct:
        decoder = _decoders(self.version).get(code)
        if decoder is None:
            raise OpenWireError(f"unknown data type {code}")
        out, self.pos = decoder(self.data, self.pos, depth)
        return out

    def magic(self) -> None:
        if self.take(8) != MAGIC:
            raise OpenWireError("bad magic: not an OpenWire client")

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


def _encoded_string(value: str) -> bytes:
    """A present string field: flag, length, modified UTF-8."""
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
    return encoded


def _put_array(out: bytearray, value: list[Struct | None] | None, encoders: dict[int, Any]) -> None:
    if value is None:
        out.append(0)
        return
    out.append(1)
    out += _SHORT.pack(len(value))
    for item in value:
        if item is None:
            out.append(0)
        else:
            out.append(1)
            out.append(item.type)
            encoders[item.type](out, item)


def _put_throwable(out: bytearray, value: tuple[str | None, str | None] | None) -> None:
    if value is None:
        out.append(0)
        return
    out.append(1)
    for text in value:
        out += b"\x00" if text is None else _encoded_string(text)


# Each type's field list is turned into one straight-line function per protocol version
# (from the schema table, never from the wire): fixed-size fields next to each other are
# read and written with one struct format, strings, byte arrays and nested objects inline,
# and a nested object's own function is called straight from the version's table.
_DECODERS: dict[int, dict[int, Any]] = {}
_ENCODERS: dict[int, dict[int, Any]] = {}
_FIXED = {s.BOOL: ("B", 1), s.BYTE: ("b", 1), s.INT: ("i", 4), s.LONG: ("q", 8)}
_new_struct = dict.__new__


def _runs(fields: list[s.Field]) -> Iterator[tuple[int, list[s.Field]]]:
    """The fields in order, consecutive fixed-size ones together: (index of the first, fields)."""
    i = 0
    while i < len(fields):
        j = i + 1
        if fields[i].kind in _FIXED:
            while j < len(fields) and fields[j].kind in _FIXED:
                j += 1
        yield i, fields[i:j]
        i = j


def _decoder_lines(code: int, fields: list[s.Field], namespace: dict[str, Any]) -> list[str]:
    # Reads the frame bytes `d` from offset `p` and returns (struct, offset after it); a read
    # past the end raises IndexError or struct.error, which decode() reports as a bad frame.
    lines = ["def run(d, p, depth):",
             "    if depth > MAX_DEPTH: raise OpenWireError('objects nested too deep')",
             "    end = len(d)", "    out = new(Struct)", f"    out.type = {code}"]
    return lines + _general_field_lines(fields, 0, len(fields), namespace) + ["    return out, p"]


def _fixed_lines(i: int, run: list[s.Field], namespace: dict[str, Any], bad: str,
                 blank: bool = False) -> list[str]:
    """Fixed-size fields next to each other, read with one struct format; a boolean above 1
    runs `bad`. A field of another kind in the run is an empty one (see _sent_lines): its
    flag byte must be 0, or `bad` runs; it is set to None unless `blank` (the struct
    starts with every field None)."""
    namespace[f"F{i}"] = struct.Struct(">" + "".join(_FIXED[x.kind][0] if x.kind in _FIXED else "B"
                                                     for x in run))
    names = [f"v{k}" for k in range(len(run))]
    lines = [f"    {', '.join(names)}, = F{i}.unpack_from(d, p)",
             f"    p += {sum(_FIXED[x.kind][1] if x.kind in _FIXED else 1 for x in run)}"]
    for name, x in zip(names, run):
        if x.kind == s.BOOL:
            lines += [f"    if {name} > 1: {bad}", f"    out[{x.name!r}] = {name} == 1"]
        elif x.kind in _FIXED:
            lines.append(f"    out[{x.name!r}] = {name}")
        else:
            lines.append(f"    if {name}: {bad}")
            if not blank:
                lines.append(f"    out[{x.name!r}] = None")
    return lines


def _field_lines(i: int, f: s.Field, namespace: dict[str, Any]) -> list[str]:
    """One field that is not of a fixed size, read in place."""
    key = repr(f.name)
    if f.kind == s.STRING:
        return ["    if d[p]:",
                "        e = p + 3 + (d[p + 1] << 8 | d[p + 2])",
                "        if e > end: raise OpenWireError('frame truncated')",
                "        t = d[p + 3:e]",
                f"        out[{key}] = t.decode() if t.isascii() else decode_utf(t)",
                "        p = e",
                "    else:", f"        out[{key}] = None", "        p += 1"]
    if f.kind == s.BYTES:
        return ["    if d[p]:",
                "        n, = int_at(d, p + 1)",
                "        e = p + 5 + n",
                "        if n < 0 or e > end: raise OpenWireError('frame truncated')",
                f"        out[{key}] = d[p + 5:e]",
                "        p = e",
                "    else:", f"        out[{key}] = None", "        p += 1"]
    if f.kind == s.OBJECT:
        namespace[f"A{i}"] = f.allowed
        return ["    b = d[p]",
                "    if b:",
                "        if b > 1: raise OpenWireError(f'invalid boolean {b}')",
                "        c = d[p + 1]",
                f"        if c not in A{i}: raise OpenWireError(f'data type {{c}} is not allowed here')",
                "        seen = LAST.get(c)",
                "        if seen is not None and depth < seen[2] and d.startswith(seen[0], p + 2):",
                f"            out[{key}] = seen[1]",
                "            p += 2 + len(seen[0])",
                "        else:",
                "            q = p + 2",
                f"            out[{key}], p = T[c](d, q, depth + 1)",
                "            k = KEPT.get(c)",
                f"            if k: LAST[c] = (d[q:p], out[{key}], k)",
                "    else:", f"        out[{key}] = None", "        p += 1"]
    if f.kind == s.MAGIC:
        return ["    r = Reader(d, version)", "    r.pos = p", "    r.magic()", "    p = r.pos"]
    # Arrays and throwables are rare (and mostly absent): a _Reader reads those.
    namespace[f"A{i}"] = f.allowed
    call = f"r.array(A{i}, depth)" if f.kind == s.ARRAY else "r.throwable(depth)"
    return ["    if d[p]:", "        r = Reader(d, version)", "        r.pos = p",
            f"        out[{key}] = {call}", "        p = r.pos",
            "    else:", f"        out[{key}] = None", "        p += 1"]


# The fields a JMS producer's message may carry; ActiveMQ's client leaves every other one
# of a message command empty (the broker's and the bridges' fields, groups, reply-to ...).
SENT_FIELDS = frozenset({"command_id", "response_required", "producer_id", "destination",
                         "transaction_id", "message_id", "correlation_id", "persistent",
                         "expiration", "priority", "timestamp", "type", "content",
                         "marshalled_properties", "group_sequence", "compressed",
                         "redelivery_counter", "arrival", "recieved_by_df_bridge", "droppable",
                         "broker_in_time", "broker_out_time", "jmsx_group_first_for_consumer"})


def _sent_lines(code: int, fields: list[s.Field], namespace: dict[str, Any]) -> list[str]:
    """A top-level message command as a producer sends it, or None for any other frame
    (a field outside SENT_FIELDS present, an invalid boolean, a read that fails), which
    the type's general function then reads: the same struct as that one gives, with the
    empty fields' flags read together with the fixed-size fields next to them.

    A producer's messages differ from their MessageId's sequence numbers on: the bytes up
    to them are read once (`_kept_run_lines`)."""
    return _kept_run_lines(code, fields, namespace, "producer_id", "message_id", _sent_field_lines,
                           relay=False, blank=True, rest=_sent_rest_lines)


def _ack_lines(code: int, fields: list[s.Field], namespace: dict[str, Any]) -> list[str]:
    """A MessageAck as the general function reads it; a consumer's acks differ from their
    first MessageId's sequence numbers on (the last MessageId is the same as the first,
    for one message): the bytes up to them are read once (`_kept_run_lines`)."""
    return _kept_run_lines(code, fields, namespace, "destination", "first_message_id",
                           _general_field_lines, relay=True, blank=False)


def _kept_run_lines(code: int, fields: list[s.Field], namespace: dict[str, Any], first: str, mid: str,
                    read: Any, relay: bool, blank: bool, rest: Any = None) -> list[str]:
    """A function reading a command of type `code` with `read` (a function giving the lines
    that read fields[i:stop]), except for the fields from `first` to `mid`, a MessageId,
    which come from the bytes kept of the last such command read: a client's commands of
    one kind (a producer's messages, a consumer's acks) differ from their MessageId's
    sequence numbers on. When the bytes up to those numbers are the same as last time,
    the fields take what they gave then (ids and a destination, shared as `_KEPT` shares
    them; with `blank`, from BLANK, where they are kept too) and a new MessageId gets the
    numbers; otherwise `read` reads them, and what they
    gave is kept unless it holds a transaction id (not a `_KEPT` type). `relay`: the
    MessageId becomes `LAST`'s, as reading it would have made it, so a MessageId of the
    same bytes after it is the same struct. `blank`: the struct starts as a copy of BLANK,
    every field None but those `rest` may take from it (a copy of a dict's table, which
    the fields then fill without the table growing as it would one field at a time: worth
    it for the many fields of a message), and `read` leaves the empty fields as they are. `rest`: the function giving the lines
    that read the fields after the MessageId, if not `read`."""
    names = [f.name for f in fields]
    start, end = names.index(first), names.index(mid) + 1
    shared = names[start:end - 1]
    namespace.update(PREFIX=[None], SEQUENCES=_SEQUENCES.unpack_from, update=dict.update,
                     BLANK=dict.fromkeys(names))
    lines = ["def run(d, p):", "    depth = 0", "    end = len(d)", "    out = new(Struct)",
             *(["    update(out, BLANK)"] if blank else []), f"    out.type = {code}"]
    lines += read(fields, 0, start, namespace)
    lines += ["    kept = PREFIX[0]",
              "    if kept is not None and d.startswith(kept[0], p):",
              "        p += len(kept[0])",
              "        ps, bs = SEQUENCES(d, p)",
              "        p += 16"]
    if not blank:   # (with `blank`, BLANK holds them: set with PREFIX below)
        lines += [f"        out[{name!r}] = kept[{k + 1}]" for k, name in enumerate(shared)]
    lines += ["        m = new(Struct)", f"        m.type = {s.MESSAGE_ID}", f"        update(m, kept[{len(shared) + 1}])",
              "        m['producer_sequence_id'] = ps", "        m['broker_sequence_id'] = bs",
              f"        out[{mid!r}] = m"]
    if relay:
        lines.append(f"        LAST[{s.MESSAGE_ID}] = (d[p - kept[-1]:p], m, KEPT[{s.MESSAGE_ID}])")
    lines += ["    else:", "        first = p"]
    lines += ["    " + line for line in read(fields, start, end, namespace)]
    size = f", len(LAST[{s.MESSAGE_ID}][0])" if relay else ""
    lines += [f"        m = out[{mid!r}]",
              "        if m is not None and out['transaction_id'] is None:",
              f"            PREFIX[0] = (d[first:p - 16], {''.join(f'out[{n!r}], ' for n in shared)}dict(m){size})"]
    if blank:
        lines += [f"            BLANK[{n!r}] = out[{n!r}]" for n in shared]
    lines += (rest or read)(fields, end, len(fields), namespace)
    return lines + ["    return out, p"]


def _general_field_lines(fields: list[s.Field], i: int, stop: int, namespace: dict[str, Any]) -> list[str]:
    """The lines of `_decoder_lines` reading fields[i:stop]."""
    lines = []
    for k, run in _runs(fields[i:stop]):
        if run[0].kind in _FIXED:
            lines += _fixed_lines(i + k, run, namespace, "raise OpenWireError('invalid boolean')")
        else:
            lines += _field_lines(i + k, run[0], namespace)
    return lines


def _sent_field_lines(fields: list[s.Field], i: int, stop: int, namespace: dict[str, Any]) -> list[str]:
    """The lines of `_sent_lines` reading fields[i:stop]."""
    lines = []
    for a, b, run in _sent_pieces(fields, i, stop):
        if run:
            lines += _fixed_lines(a, fields[a:b], namespace, "return None", blank=True)
        else:
            lines += _field_lines(a, fields[a], namespace)
    return lines


def _sent_pieces(fields: list[s.Field], i: int, stop: int) -> Iterator[tuple[int, int, bool]]:
    """How `_sent_field_lines` reads fields[i:stop], piece by piece: (first, stop, True)
    for a run of fixed-size and empty fields (read with one struct format), (first,
    first + 1, False) for any other field."""
    while i < stop:
        j = i
        while j < stop and (fields[j].kind in _FIXED or fields[j].name not in SENT_FIELDS):
            j += 1
        if j > i:
            yield i, j, True
            i = j
        else:
            yield i, i + 1, False
            i += 1


# The fields of a producer's message that change from one message to the next (or may: a
# time to live gives each its own expiration); the ones between them are mostly the same
# bytes message after message (a client sets them the same way each time).
VARYING_FIELDS = frozenset({"command_id", "expiration", "timestamp", "content", "marshalled_properties"})


def _sent_rest_lines(fields: list[s.Field], i: int, stop: int, namespace: dict[str, Any]) -> list[str]:
    """The lines of `_sent_lines` reading fields[i:stop], those after the MessageId, which
    hold no object but empty ones. The runs of fixed-size fields among them that hold no
    VARYING_FIELDS, with the strings next to them, are read again only when their bytes
    differ from the last time: the values read then are BLANK's (each struct starts as a
    copy of it; the empty fields stay None there), and their bytes are kept with them."""
    if any(f.kind == s.OBJECT and f.name in SENT_FIELDS for f in fields[i:stop]):
        raise ValueError("an object after the MessageId")
    lines: list[str] = []
    group: list[tuple[int, int, bool]] = []

    def flush() -> None:
        if not any(run for _, _, run in group):   # strings alone: as quickly read as compared
            for a, b, _ in group:
                lines.extend(_sent_field_lines(fields, a, b, namespace))
        else:
            first, last = group[0][0], group[-1][1]
            kept = f"R{first}"   # [the group's bytes last read, or None]
            namespace[kept] = [None]
            lines.extend([f"    r = {kept}[0]", "    if r is not None and d.startswith(r, p):",
                          "        p += len(r)", "    else:", "        q = p"])
            lines.extend("    " + line for line in _sent_field_lines(fields, first, last, namespace))
            lines.append(f"        {kept}[0] = d[q:p]")
            lines.extend(f"        BLANK[{f.name!r}] = out[{f.name!r}]" for f in fields[first:last]
                         if f.kind in _FIXED or f.name in SENT_FIELDS)
        group.clear()

    for a, b, run in _sent_pieces(fields, i, stop):
        if any(f.name in VARYING_FIELDS for f in fields[a:b]):
            flush()
            lines.extend(_sent_field_lines(fields, a, b, namespace))
        else:
            group.append((a, b, run))
    flush()
    return lines


def _encoder_lines(code: int, fields: list[s.Field], namespace: dict[str, Any]) -> list[str]:
    lines = ["def run(o, value):", "    get = value.get"]
    for i, run in _runs(fields):
        f = run[0]
        key = repr(f.name)
        if f.kind in _FIXED:
            namespace[f"F{i}"] = struct.Struct(">" + "".join(
                "B" if x.kind == s.BYTE else _FIXED[x.kind][0] for x in run))
            values = [f"1 if get({x.name!r}) else 0" if x.kind == s.BOOL
                      else f"(get({x.name!r}) or 0) & 0xFF" if x.kind == s.BYTE
                      else f"get({x.name!r}) or 0" for x in run]
            lines.append(f"    o += F{i}.pack({', '.join(values)})")
        elif f.kind == s.STRING:
            lines += [f"    v = get({key})",
                      "    if v is None: o.append(0)",
                      "    else: o += STRINGS.get(v) or encoded_string(v)"]
        elif f.kind == s.BYTES:
            lines += [f"    v = get({key})",
                      "    if v is None: o.append(0)",
                      "    else:", "        o.append(1)", "        o += INT(len(v))", "        o += v"]
        elif f.kind == s.OBJECT:
            lines += [f"    v = get({key})",
                      "    if v is None: o.append(0)",
                      "    else:", "        o.append(1)", "        o.append(v.type)", "        T[v.type](o, v)"]
        elif f.kind == s.ARRAY:
            lines.append(f"    put_array(o, get({key}), T)")
        elif f.kind == s.THROWABLE:
            lines.append(f"    put_throwable(o, get({key}))")
        else:
            lines.append("    o += MAGIC")
    return lines


# Ids and destinations hold nothing but strings, numbers and ids, and every frame of a
# connection repeats the same few (its producer id twice in each message, an ack the same
# message id as its first and last): the last one read of each type is kept with its
# bytes, and the same bytes give the same (shared, never changed) struct back without
# reading them again. Each type maps to the depth below which a kept struct may be given
# back: where reading its bytes again could not pass the nesting limit (a MessageId holds
# a ProducerId one level further down).
_KEPT = {code: MAX_DEPTH for code in {s.CONNECTION_ID, s.SESSION_ID, s.CONSUMER_ID, s.PRODUCER_ID,
                                      s.BROKER_ID} | s.DESTINATIONS}
_KEPT[s.MESSAGE_ID] = MAX_DEPTH - 1


def _table(cache: dict[int, dict[int, Any]], version: int, make_lines: Any) -> dict[int, Any]:
    """Every type's function for one protocol version, compiled together (they call each
    other through the table)."""
    table = cache.get(version)
    if table is not None:
        return table
    table: dict[int, Any] = {}
    _compile(table, s.SCHEMA, version, make_lines, table)
    cache[version] = table
    return table


def _compile(into: dict[int, Any], codes: Any, version: int, make_lines: Any,
             table: dict[int, Any]) -> None:
    """One function per type of `codes` from `make_lines`, calling nested types' functions
    through `table`; the decoders of a version share the structs kept of its ids."""
    last = _SEEN.setdefault(version, {})
    for code in codes:
        fields = [f for f in s.SCHEMA[code].fields if f.since <= version]
        namespace: dict[str, Any] = {
            "Struct": Struct, "new": _new_struct, "T": table, "MAGIC": MAGIC, "MAX_DEPTH": MAX_DEPTH,
            "OpenWireError": OpenWireError, "decode_utf": decode_utf, "int_at": _INT.unpack_from,
            "INT": _INT.pack, "STRINGS": _ENCODED_STRINGS, "encoded_string": _encoded_string,
            "put_array": _put_array, "put_throwable": _put_throwable, "Reader": _Reader,
            "version": version, "LAST": last, "KEPT": _KEPT}
        source = "\n".join(make_lines(code, fields, namespace))
        exec(source, namespace)  # noqa: S102 - source built from SCHEMA only
        into[code] = namespace["run"]


# Per version: the last struct read of each kept type, with its bytes (see _KEPT).
_SEEN: dict[int, dict[int, tuple[bytes, Struct, int]]] = {}
# Per version: the functions for what a producer sends (_sent_lines) and a consumer acks (_ack_lines).
_SENT: dict[int, dict[int, Any]] = {}


def _decoders(version: int) -> dict[int, Any]:
    return _DECODERS.get(version) or _table(_DECODERS, version, _decoder_lines)


def _sent_decoders(version: int) -> dict[int, Any]:
    table = _SENT.get(version)
    if table is None:
        table = {}
        _compile(table, s.MESSAGE_TYPES, version, _sent_lines, _decoders(version))
        _compile(table, (s.MESSAGE_ACK,), version, _ack_lines, _decoders(version))
        _SENT[version] = table
    return table


def _encoders(version: int) -> dict[int, Any]:
    return _ENCODERS.get(version) or _table(_ENCODERS, version, _encoder_lines)


def encode(command: Struct, version: int = MAX_VERSION) -> bytes:
    """One size-prefixed frame."""
    out = bytearray(b"\0\0\0\0")
    out.append(command.type)
    _encoders(version)[command.type](out, command)
    out[0:4] = _INT.pack(len(out) - 4)
    return bytes(out)


def dispatch_head(consumer_id: Struct | None, destination: Struct | None, version: int) -> bytes:
    """What a MessageDispatch frame holds after its size prefix and before its message:
    the same for every dispatch to one consumer and destination, so encoded once."""
    frame = encode(Struct(s.MESSAGE_DISPATCH, command_id=0, response_required=False,
                          consumer_id=consumer_id, destination=destination), version)
    return frame[4:-5]   # the absent message's flag and redeliveryCounter come last


def encode_dispatch(head: bytes, message: Struct, redelivery_counter: int, version: int) -> bytes:
    """The frame encode() gives for a MessageDispatch of `message` whose fields before the
    message are `head` (from dispatch_head)."""
    out = bytearray(b"\0\0\0\0")
    out += head
    out.append(1)
    out.append(message.type)
    _encoders(version)[message.type](out, message)
    out += _INT.pack(redelivery_counter)
    out[0:4] = _INT.pack(len(out) - 4)
    return bytes(out)


def encode_object(value: Struct, version: int) -> bytes:
    """A present object field: flag, type code, fields."""
    out = bytearray((1, value.type))
    _encoders(version)[value.type](out, value)
    return bytes(out)


# Message dispatchers: (version, message type, field names) -> compiled function.
_DISPATCHERS: dict[tuple[int, int, tuple[str, ...]], Any] = {}
_ABSENT = {s.BOOL: b"\x00", s.BYTE: b"\x00", s.INT: b"\x00" * 4, s.LONG: b"\x00" * 8}


def message_dispatcher(version: int, code: int, names: tuple[str, ...]) -> Any:
    """A function `(head, *values)` giving the frame `encode_dispatch(head, message,
    message.redelivery_counter, version)` gives for a message of type `code` whose fields
    `names` hold `values` and whose other fields are absent, without building the message.
    The value of an object field may be a struct or its encoding (`encode_object`).

    A broker dispatches every message it delivers: the fields it never sets are encoded
    once, here, as constant bytes."""
    return _compiled_dispatcher(_DISPATCHERS, _dispatcher_lines, version, code, names)


def _compiled_dispatcher(cache: dict[tuple[int, int, tuple[str, ...]], Any], make_lines: Any, version: int,
                         code: int, names: tuple[str, ...]) -> Any:
    """The function `make_lines(code, names, fields, namespace)` writes for a message of
    type `code` whose fields `names` are given (`fields`: its fields in `version`),
    compiled once."""
    key = (version, code, names)
    run = cache.get(key)
    if run is not None:
        return run
    if "redelivery_counter" not in names or not set(names) <= {f.name for f in s.SCHEMA[code].fields}:
        raise ValueError(f"not fields of {s.SCHEMA[code].name}: {names}")
    fields = [f for f in s.SCHEMA[code].fields if f.since <= version]
    namespace: dict[str, Any] = {"T": _encoders(version), "STRINGS": _ENCODED_STRINGS,
                                 "encoded_string": _encoded_string, "INT": _INT.pack, "MAGIC": MAGIC}
    source = "\n".join(make_lines(code, names, fields, namespace))
    exec(source, namespace)  # noqa: S102 - source built from SCHEMA and `names` only
    run = cache[key] = namespace["run"]
    return run


def _dispatcher_lines(code: int, names: tuple[str, ...], fields: list[s.Field],
                      namespace: dict[str, Any]) -> list[str]:
    """message_dispatcher's function: field by field into a bytearray."""
    given = set(names)
    lines = [f"def run(head, {', '.join('v_' + n for n in names)}):",
             "    o = bytearray(b'\\0\\0\\0\\0')", "    o += head"]
    constant = bytearray([1, code])

    def flush() -> None:
        if constant:
            lines.append(f"    o += {bytes(constant)!r}")
            constant.clear()
    for i, run_fields in _runs(fields):
        f = run_fields[0]
        if not any(x.name in given for x in run_fields):
            if f.kind in _ABSENT:
                constant.extend(b"".join(_ABSENT[x.kind] for x in run_fields))
            elif f.kind == s.MAGIC:
                constant.extend(MAGIC)
            else:
                constant.append(0)   # an absent string, byte array, object, array or throwable
            continue
        flush()
        var = f"v_{f.name}"
        if f.kind in _FIXED:
            namespace[f"F{i}"] = struct.Struct(">" + "".join(
                "B" if x.kind == s.BYTE else _FIXED[x.kind][0] for x in run_fields))
            values = [("0" if x.name not in given
                       else f"1 if v_{x.name} else 0" if x.kind == s.BOOL
                       else f"(v_{x.name} or 0) & 0xFF" if x.kind == s.BYTE
                       else f"v_{x.name} or 0") for x in run_fields]
            lines.append(f"    o += F{i}.pack({', '.join(values)})")
        elif f.kind == s.STRING:
            lines += [f"    if {var} is None: o.append(0)",
                      f"    else: o += STRINGS.get({var}) or encoded_string({var})"]
        elif f.kind == s.BYTES:
            lines += [f"    if {var} is None: o.append(0)",
                      "    else:", "        o.append(1)", f"        o += INT(len({var}))", f"        o += {var}"]
        elif f.kind == s.OBJECT:
            # An object may come encoded already (its flag, type code and fields).
            lines += [f"    if {var} is None: o.append(0)",
                      f"    elif {var}.__class__ is bytes: o += {var}",
                      "    else:", "        o.append(1)", f"        o.append({var}.type)",
                      f"        T[{var}.type](o, {var})"]
        else:
            raise ValueError(f"{f.name}: only fixed-size fields, strings, byte arrays and objects")
    flush()
    return lines + ["    o += INT(v_redelivery_counter or 0)", "    o[0:4] = INT(len(o) - 4)",
                    "    return bytes(o)"]


# Dispatchers of messages whose given fields are all present: (version, type, field names) -> function.
_PRESENT_DISPATCHERS: dict[tuple[int, int, tuple[str, ...]], Any] = {}


def present_dispatcher(version: int, code: int, names: tuple[str, ...]) -> Any:
    """A function `(head, *values)` giving the frame `message_dispatcher(version, code,
    names)` gives for the same values when none of them is None and every object among
    them comes encoded (`encode_object`): what most messages are, which this writes
    with one join, every run of fixed-size fields (the absent ones' zeros among them)
    packed with one struct format, instead of field by field."""
    return _compiled_dispatcher(_PRESENT_DISPATCHERS, _present_lines, version, code, names)


def _present_lines(code: int, names: tuple[str, ...], fields: list[s.Field],
                   namespace: dict[str, Any]) -> list[str]:
    """present_dispatcher's function: one join of packed runs and the given bytes."""
    given = set(names)
    parts: list[str] = ["INT(size)", "head"]   # expressions joined, in order
    sizes: list[str] = ["len(head)"]           # of the frame after its size prefix
    lines: list[str] = []
    packed: list[tuple[str, str | None]] = [("B", "1"), ("B", str(code))]   # (format, value or None)

    def flush() -> None:
        if packed:
            fmt = struct.Struct(">" + "".join(f for f, _ in packed))
            name = f"P{len(namespace)}"
            namespace[name] = fmt.pack
            parts.append(f"{name}({', '.join(v for _, v in packed if v is not None)})")
            sizes.append(str(fmt.size))
            packed.clear()
    for f in fields:
        var = f"v_{f.name}"
        if f.name not in given:
            if f.kind == s.MAGIC:
                flush()
                parts.append("MAGIC")
                sizes.append(str(len(MAGIC)))
            else:   # zero bytes: an absent number, or the flag of an absent string or object
                packed.append((f"{_FIXED[f.kind][1] if f.kind in _FIXED else 1}x", None))
        elif f.kind == s.BOOL:
            packed.append(("?", var))
        elif f.kind == s.BYTE:
            packed.append(("B", f"{var} & 0xFF"))
        elif f.kind in _FIXED:
            packed.append((_FIXED[f.kind][0], var))
        elif f.kind == s.BYTES:
            packed += [("B", "1"), ("i", f"len({var})")]
            flush()
            parts.append(var)
            sizes.append(f"len({var})")
        elif f.kind == s.STRING:
            flush()
            lines.append(f"    {var} = STRINGS.get({var}) or encoded_string({var})")
            parts.append(var)
            sizes.append(f"len({var})")
        elif f.kind == s.OBJECT:
            flush()
            parts.append(var)
            sizes.append(f"len({var})")
        else:
            raise ValueError(f"{f.name}: only fixed-size fields, strings, byte arrays and objects")
    packed.append(("i", "v_redelivery_counter"))
    flush()
    return [f"def run(head, {', '.join('v_' + n for n in names)}):", *lines,
            f"    size = {' + '.join(sizes)}", f"    return b''.join(({', '.join(parts)}))"]


def decode(body: bytes, version: int = MAX_VERSION) -> Struct | None:
    """One frame without its size prefix; None for the null object (type 0): what a
    FrameParser gives for it."""
    parser = FrameParser(max(1, len(body)))
    parser.version = version
    return next(parser.feed(_INT.pack(len(body)) + body))


def _decode_at(data: bytes, start: int, end: int, version: int) -> Struct | None:
    """The frame at data[start:end] (not empty), read in place by its type's general
    function. A field that runs past `end` (into the next frame) leaves the reading past
    it, so it fails as a truncated frame all the same."""
    code = data[start]
    if code == 0:
        return None
    decoder = _decoders(version).get(code)
    if decoder is None:
        raise OpenWireError(f"unknown command type {code}")
    try:
        out, pos = decoder(data, start + 1, 0)
    except (UnicodeDecodeError, struct.error, IndexError) as exc:
        raise OpenWireError(str(exc) or "frame truncated") from None
    if pos > end:
        raise OpenWireError("frame truncated")
    if pos != end:
        raise OpenWireError(f"{end - pos} bytes left over after {out.type_name}")
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
        """Commands completed by `data`; raises OpenWireError on the first bad frame.

        Frames are read in place from the bytes received (after what was left over from
        the last read, if anything), not copied out one by one."""
        if self._buf:
            self._buf += data
            data = bytes(self._buf)
        elif type(data) is not bytes:
            data = bytes(data)
        pos = 0
        length = len(data)
        try:
            while length - pos >= 4:
                (size,) = _INT.unpack_from(data, pos)
                if size < 1 or size > self.max_frame:
                    raise OpenWireError(f"frame size {size} is out of range (max {self.max_frame})")
                if length - pos - 4 < size:
                    break
                start = pos + 4
                end = start + size
                version = self.version
                sent = (_SENT.get(version) or _sent_decoders(version)).get(data[start])
                if sent is not None:
                    # A message as producers send it, read with its empty fields together;
                    # any other (or a bad one) is read by the general function, which
                    # reports what is wrong.
                    try:
                        found = sent(data, start + 1)
                    except (UnicodeDecodeError, struct.error, IndexError, OpenWireError):
                        found = None
                    if found is not None and found[1] == end:
                        pos = end
                        yield found[0]
                        continue
                command = _decode_at(data, start, end, version)
                pos = end
                yield command
        finally:
            self._buf = bytearray(data[pos:])


def wire_format_info(properties: bytes, version: int = MAX_VERSION) -> bytes:
    """Our WireFormatInfo frame (sent before any version is agreed)."""
    return encode(Struct(s.WIRE_FORMAT_INFO, version=version, marshalled_properties=properties),
                  MAX_VERSION)
