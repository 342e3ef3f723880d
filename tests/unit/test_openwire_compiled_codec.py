"""The compiled OpenWire codec (straight-line code per type and version, fixed-size fields
packed together, nested objects inline, a dispatch's head encoded once) against a plain
field-by-field reading and writing of the schema: the same commands, bytes and errors for
every input."""
from __future__ import annotations

import struct
from typing import Any

from hypothesis import given, settings, strategies as st

from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import (MAGIC, MAX_DEPTH, SENT_FIELDS, FrameParser, OpenWireError, Struct,
                                             _decoders, _sent_decoders, decode,
                                             dispatch_head, encode, encode_dispatch)
from broker.protocols.openwire.convert import message_id_struct
from broker.protocols.openwire.primitives import decode_utf, encode_utf
from tests.unit.test_openwire_codec import OBSERVED

_FORMATS = {s.INT: struct.Struct(">i"), s.LONG: struct.Struct(">q")}


class _Plain:
    """The schema read one field at a time, the way the wire format is documented."""

    def __init__(self, data: bytes, version: int) -> None:
        self.data, self.pos, self.version = data, 0, version

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise OpenWireError("truncated")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def flag(self, strict: bool = True) -> bool:
        value = self.take(1)[0]
        if strict and value > 1:
            raise OpenWireError("invalid boolean")
        return value != 0

    def string(self, strict: bool) -> str | None:
        if not self.flag(strict):
            return None
        (n,) = struct.unpack(">H", self.take(2))
        return decode_utf(self.take(n))

    def obj(self, allowed: frozenset[int], depth: int) -> Struct | None:
        if not self.flag():
            return None
        code = self.take(1)[0]
        if code not in allowed:
            raise OpenWireError("not allowed")
        return self.struct(code, depth + 1)

    def struct(self, code: int, depth: int) -> Struct:
        if depth > MAX_DEPTH:
            raise OpenWireError("too deep")
        out = Struct(code)
        for f in s.SCHEMA[code].fields:
            if f.since <= self.version:
                value = self.field(f, depth)
                if f.kind != s.MAGIC:
                    out[f.name] = value
        return out

    def field(self, f: s.Field, depth: int) -> Any:
        if f.kind == s.BOOL:
            return self.flag()
        if f.kind == s.BYTE:
            return struct.unpack(">b", self.take(1))[0]
        if f.kind in _FORMATS:
            return _FORMATS[f.kind].unpack(self.take(_FORMATS[f.kind].size))[0]
        if f.kind == s.STRING:
            return self.string(strict=False)
        if f.kind == s.BYTES:
            if not self.flag(strict=False):
                return None
            (n,) = struct.unpack(">i", self.take(4))
            return self.take(n)
        if f.kind == s.OBJECT:
            return self.obj(f.allowed, depth)
        if f.kind == s.ARRAY:
            if not self.flag():
                return None
            (count,) = struct.unpack(">h", self.take(2))
            if count < 0:
                raise OpenWireError("negative")
            return [self.obj(f.allowed, depth) for _ in range(count)]
        if f.kind == s.THROWABLE:
            return (self.string(strict=True), self.string(strict=True)) if self.flag() else None
        if self.take(8) != MAGIC:
            raise OpenWireError("magic")
        return None


def plain_decode(body: bytes, version: int) -> Struct | None:
    reader = _Plain(body, version)
    try:
        code = reader.take(1)[0]
        if code == 0:
            return None
        if code not in s.SCHEMA:
            raise OpenWireError("unknown")
        out = reader.struct(code, 0)
    except (UnicodeDecodeError, struct.error) as exc:
        raise OpenWireError(str(exc)) from None
    if reader.pos != len(body):
        raise OpenWireError("left over")
    return out


def plain_encode(command: Struct, version: int) -> bytes:
    out = bytearray([command.type])
    _put(out, command, version)
    return struct.pack(">i", len(out)) + bytes(out)


def _put_string(out: bytearray, value: str | None) -> None:
    if value is None:
        out.append(0)
    else:
        raw = encode_utf(value)
        out += b"\x01" + struct.pack(">H", len(raw)) + raw


def _put(out: bytearray, value: Struct, version: int) -> None:
    for f in s.SCHEMA[value.type].fields:
        if f.since > version:
            continue
        v = value.get(f.name)
        if f.kind == s.BOOL:
            out.append(1 if v else 0)
        elif f.kind == s.BYTE:
            out.append((v or 0) & 0xFF)
        elif f.kind in _FORMATS:
            out += _FORMATS[f.kind].pack(v or 0)
        elif f.kind == s.STRING:
            _put_string(out, v)
        elif f.kind == s.BYTES:
            out += b"\x00" if v is None else b"\x01" + struct.pack(">i", len(v)) + v
        elif f.kind in (s.OBJECT, s.ARRAY):
            items = [v] if f.kind == s.OBJECT else v
            if f.kind == s.ARRAY and v is not None:
                out += b"\x01" + struct.pack(">h", len(v))
            elif v is None:
                out.append(0)
                continue
            for item in items:
                if item is None:
                    out.append(0)
                else:
                    out += bytes([1, item.type])
                    _put(out, item, version)
        elif f.kind == s.THROWABLE:
            if v is None:
                out.append(0)
            else:
                out.append(1)
                _put_string(out, v[0])
                _put_string(out, v[1])
        else:
            out += MAGIC


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", fn(*args))
    except OpenWireError:
        return ("error", None)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(OBSERVED), st.integers(1, 12), st.data())
def test_compiled_decoders_agree_with_the_plain_reading(frame: bytes, version: int,
                                                        data: st.DataObject) -> None:
    body = bytearray(frame[4:])
    for _ in range(data.draw(st.integers(0, 6))):
        body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    body = body[:data.draw(st.integers(1, len(body)))]
    assert _outcome(decode, bytes(body), version) == _outcome(plain_decode, bytes(body), version)


def _structs(code: int, depth: int = 0) -> st.SearchStrategy[Struct]:
    fields = {}
    for f in s.SCHEMA[code].fields:
        if f.kind == s.BOOL:
            fields[f.name] = st.booleans()
        elif f.kind == s.BYTE:
            fields[f.name] = st.integers(-128, 127)
        elif f.kind == s.INT:
            fields[f.name] = st.integers(-2**31, 2**31 - 1)
        elif f.kind == s.LONG:
            fields[f.name] = st.integers(-2**63, 2**63 - 1)
        elif f.kind == s.STRING:
            fields[f.name] = st.none() | st.text(max_size=12).filter(
                lambda t: not any("\ud800" <= c <= "\udfff" for c in t))
        elif f.kind == s.BYTES:
            fields[f.name] = st.none() | st.binary(max_size=40)
        elif f.kind == s.OBJECT and f.allowed and depth < 2:
            fields[f.name] = st.none() | st.sampled_from(sorted(f.allowed)).flatmap(
                lambda c: _structs(c, depth + 1))
        elif f.kind == s.THROWABLE:
            fields[f.name] = st.none() | st.tuples(st.none() | st.text(max_size=8),
                                                   st.none() | st.text(max_size=8))
    return st.fixed_dictionaries({}, optional=fields).map(lambda values: Struct(code, **values))


_COMMANDS = st.sampled_from(sorted(c for c in s.SCHEMA if c != s.WIRE_FORMAT_INFO)).flatmap(_structs)


@settings(max_examples=300, deadline=None)
@given(_COMMANDS, st.integers(1, 12))
def test_compiled_encoders_agree_with_the_plain_writing(command: Struct, version: int) -> None:
    if command.get("exception") and any(t and any("\ud800" <= c <= "\udfff" for c in t)
                                        for t in command["exception"]):
        return
    frame = encode(command, version)
    assert frame == plain_encode(command, version)
    assert _outcome(decode, frame[4:], version) == _outcome(plain_decode, frame[4:], version)


@settings(max_examples=200, deadline=None)
@given(_structs(s.CONSUMER_ID), st.none() | _structs(s.QUEUE), _structs(s.BYTES_MESSAGE),
       st.integers(0, 2**31 - 1), st.integers(1, 12))
def test_a_dispatch_from_its_encoded_head_is_the_whole_encoding(
        consumer_id: Struct, destination: Struct | None, message: Struct, redelivered: int,
        version: int) -> None:
    whole = encode(Struct(s.MESSAGE_DISPATCH, command_id=0, response_required=False,
                          consumer_id=consumer_id, destination=destination, message=message,
                          redelivery_counter=redelivered), version)
    head = dispatch_head(consumer_id, destination, version)
    assert encode_dispatch(head, message, redelivered, version) == whole


@given(st.lists(st.sampled_from(["ID:h-1-2", "1", "-3", "+4", " 5", "x", "", "7_0", "ID"]),
                max_size=5).map(":".join))
def test_message_ids_of_dispatches(text: str) -> None:
    parts = text.rsplit(":", 3)
    mid = message_id_struct(text, 9)
    try:
        session, producer, seq = (int(x) for x in parts[1:]) if len(parts) == 4 else int("?")
        expected = {"text_view": None, "producer_sequence_id": seq,
                    "producer_id": {"connection_id": parts[0], "value": producer, "session_id": session}}
    except ValueError:
        expected = {"text_view": text, "producer_sequence_id": 0,
                    "producer_id": {"connection_id": text, "value": 0, "session_id": 0}}
    assert mid.broker_sequence_id == 9
    assert {k: mid[k] for k in expected} == expected
    assert mid.producer_id.type == s.PRODUCER_ID


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(OBSERVED), min_size=1, max_size=5), st.data())
def test_frames_read_in_place_decode_as_each_frame_alone(frames: list[bytes],
                                                         data: st.DataObject) -> None:
    """Mutated bodies (sizes kept): the frames of one read give what decoding each alone
    gives, up to the first bad one, which fails in both."""
    bodies = []
    for frame in frames:
        body = bytearray(frame[4:])
        for _ in range(data.draw(st.integers(0, 3))):
            body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
        bodies.append(bytes(body))
    expected = []
    for body in bodies:
        outcome = _outcome(decode, body, 12)
        expected.append(outcome)
        if outcome[0] == "error":
            break
    got: list[Any] = []
    parser = FrameParser()
    stream = b"".join(struct.pack(">i", len(b)) + b for b in bodies)
    split = data.draw(st.integers(0, len(stream)))
    try:
        for chunk in (stream[:split], stream[split:]):
            got.extend(("ok", command) for command in parser.feed(chunk))
    except OpenWireError:
        got.append(("error", None))
    assert got == expected


def _sent_messages() -> st.SearchStrategy[Struct]:
    """Message commands with only the fields a producer sets (SENT_FIELDS), or any field."""
    def shaped(message: Struct, only_sent: bool) -> Struct:
        if only_sent:
            for name in [k for k in message if k not in SENT_FIELDS]:
                del message[name]
        return message
    return st.builds(shaped, st.sampled_from(sorted(s.MESSAGE_TYPES)).flatmap(_structs), st.booleans())


@settings(max_examples=400, deadline=None)
@given(_sent_messages(), st.integers(1, 12), st.data())
def test_messages_as_producers_send_them_decode_as_the_general_reading(
        message: Struct, version: int, data: st.DataObject) -> None:
    """The functions for a producer's message give what the plain reading gives (or an
    error where it fails) for the messages they take, mutated, cut short or not; a
    message they do not take is read by the general function."""
    body = bytearray(encode(message, version)[4:])
    if all(k in SENT_FIELDS for k in message) and data.draw(st.booleans()):
        sent = _sent_decoders(version)[message.type](bytes(body), 1)
        assert sent is not None and sent[1] == len(body)
        assert sent[0] == plain_decode(bytes(body), version)
    for _ in range(data.draw(st.integers(0, 4))):
        body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    body = body[:data.draw(st.integers(1, len(body)))]
    assert _outcome(decode, bytes(body), version) == _outcome(plain_decode, bytes(body), version)
    try:
        sent = _sent_decoders(version)[body[0]](bytes(body), 1) if body[0] in s.MESSAGE_TYPES else None
    except (OpenWireError, IndexError, struct.error, UnicodeDecodeError):
        sent = None
    if sent is not None:
        general = _decoders(version)[body[0]](bytes(body), 1, 0)
        assert sent == general and sent[0].type == general[0].type


@settings(max_examples=300, deadline=None)
@given(_sent_messages(), st.integers(1, 12),
       st.lists(st.tuples(st.integers(-2**63, 2**63 - 1), st.integers(-2**63, 2**63 - 1),
                          st.none() | st.binary(max_size=8)), min_size=1, max_size=4),
       st.data())
def test_a_producers_run_of_messages_decodes_as_the_general_reading(
        message: Struct, version: int, runs: list[tuple[int, int, bytes | None]],
        data: st.DataObject) -> None:
    """Messages that differ from the one read before only from their MessageId's sequence
    numbers on take the ids kept from it: what the plain reading gives (or the same error,
    mutated or cut short past the kept bytes)."""
    if message.get("message_id") is None:
        message["message_id"] = Struct(s.MESSAGE_ID, text_view=None, producer_id=None,
                                       producer_sequence_id=0, broker_sequence_id=0)
    for producer_seq, broker_seq, content in runs:
        message["message_id"] = Struct(s.MESSAGE_ID, **{**message["message_id"], "producer_sequence_id": producer_seq,
                                                       "broker_sequence_id": broker_seq})
        message["content"] = content
        body = encode(message, version)[4:]
        expected = plain_decode(body, version)
        assert decode(body, version) == expected
        mutated = bytearray(body)
        for _ in range(data.draw(st.integers(0, 2))):
            mutated[data.draw(st.integers(len(body) // 2, len(body) - 1))] = data.draw(st.integers(0, 255))
        mutated = mutated[:data.draw(st.integers(1, len(mutated)))]
        assert _outcome(decode, bytes(mutated), version) == _outcome(plain_decode, bytes(mutated), version)


# Values a producer's messages may change from one message to the next, for the fields a
# producer's message function reads again only when their bytes change.
_CHANGING = {"correlation_id": st.none() | st.sampled_from(["a", "b\u00e9"]), "group_sequence": st.sampled_from([0, 1, -1]),
             "type": st.none() | st.just("t"), "compressed": st.booleans(),
             "redelivery_counter": st.sampled_from([0, 2]), "arrival": st.sampled_from([0, 5]),
             "droppable": st.booleans(), "broker_in_time": st.sampled_from([0, 7]),
             "jmsx_group_first_for_consumer": st.booleans(), "deleted_by_broker": st.booleans()}


@settings(max_examples=300, deadline=None)
@given(_sent_messages(), st.integers(1, 12),
       st.lists(st.fixed_dictionaries({}, optional=_CHANGING), min_size=1, max_size=6), st.data())
def test_messages_that_change_some_fields_decode_as_the_general_reading(
        message: Struct, version: int, changes: list[dict[str, Any]], data: st.DataObject) -> None:
    """A run of messages of one producer whose fields between the varying ones (times,
    content, properties) change now and then: the fields read again only when their bytes
    change read as the plain reading reads them, mutated or cut short or not."""
    for change in changes:
        message.update({k: v for k, v in change.items() if k in message or k in SENT_FIELDS})
        body = encode(message, version)[4:]
        assert decode(body, version) == plain_decode(body, version)
        mutated = bytearray(body)
        for _ in range(data.draw(st.integers(0, 2))):
            mutated[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
        mutated = mutated[:data.draw(st.integers(1, len(mutated)))]
        assert _outcome(decode, bytes(mutated), version) == _outcome(plain_decode, bytes(mutated), version)


@settings(max_examples=300, deadline=None)
@given(_structs(s.MESSAGE_ACK), st.integers(1, 12),
       st.lists(st.tuples(st.integers(-2**63, 2**63 - 1), st.integers(-2**63, 2**63 - 1), st.booleans()),
                min_size=1, max_size=4),
       st.data())
def test_a_consumers_run_of_acks_decodes_as_the_general_reading(
        ack: Struct, version: int, runs: list[tuple[int, int, bool]], data: st.DataObject) -> None:
    """Acks that differ from the one read before only from their first MessageId's
    sequence numbers on (the last one the same, or not) read as the plain reading reads
    them, mutated or cut short past the kept bytes."""
    if ack.get("first_message_id") is None:
        ack["first_message_id"] = Struct(s.MESSAGE_ID, text_view=None, producer_id=None,
                                         producer_sequence_id=0, broker_sequence_id=0)
    for producer_seq, broker_seq, same in runs:
        ack["first_message_id"] = Struct(s.MESSAGE_ID, **{**ack["first_message_id"],
                                                          "producer_sequence_id": producer_seq,
                                                          "broker_sequence_id": broker_seq})
        if same:
            ack["last_message_id"] = ack["first_message_id"]
        body = encode(ack, version)[4:]
        assert decode(body, version) == plain_decode(body, version)
        mutated = bytearray(body)
        for _ in range(data.draw(st.integers(0, 2))):
            mutated[data.draw(st.integers(len(body) // 2, len(body) - 1))] = data.draw(st.integers(0, 255))
        mutated = mutated[:data.draw(st.integers(1, len(mutated)))]
        assert _outcome(decode, bytes(mutated), version) == _outcome(plain_decode, bytes(mutated), version)
