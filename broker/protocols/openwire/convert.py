"""OpenWire messages to engine messages and back, with ActiveMQ's JMS ↔ STOMP mapping.

The engine message keeps what every door understands: the body as plain bytes (a
TextMessage's text as standard UTF-8, so STOMP and SQS clients read it as text, and 4-byte
characters and U+0000 survive, which ActiveMQ mangles), JMS headers under the names the
STOMP door uses (`correlation-id`, `type`, `reply-to`), the message kind in `amq-msg-type`
(absent for text, as for a STOMP SEND without content-length; `null-text` for a
TextMessage whose text is null, which other doors see as an empty text) and typed
properties.
"""
from __future__ import annotations

import struct
import zlib
from typing import Any

from broker.engine.message import GROUP_SEQUENCE, Message
from broker.protocols.activemq import advisories
from broker.protocols.activemq import destinations as dest
from broker.protocols.activemq.dead_letters import dead_letter_headers
from broker.protocols.openwire.advisory_info import data_structure
from broker.protocols.openwire import primitives as p
from broker.protocols.openwire import properties as props
from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import (Struct, encode_dispatch, encode_object, message_dispatcher,
                                             present_dispatcher)

KIND_HEADER = "amq-msg-type"
_KINDS = {s.BYTES_MESSAGE: "bytes", s.MAP_MESSAGE: "map", s.STREAM_MESSAGE: "stream",
          s.MESSAGE: "message"}
_CODES = {kind: code for code, kind in _KINDS.items()}
# A TextMessage without text: ActiveMQ gives its consumers null back, not "".
NULL_TEXT = "null-text"
_INT = struct.Struct(">i")
# Engine headers ActiveMQ gives JMS consumers as properties (dead letters, scheduled and
# redelivered messages), with their Java types.
_HEADER_PROPERTIES = {"dlqDeliveryFailureCause": None, "originalExpiration": "long", "originalDeliveryMode": None,
                      "scheduledJobId": None, "redeliveryDelay": "long"}
# A compressed body may not inflate past this (a zip bomb would otherwise fill memory).
MAX_INFLATED = 100 * 1024 * 1024


class JmsError(ValueError):
    """A message the broker refuses; `exception` is the Java class the client will see."""

    def __init__(self, message: str, exception: str = "javax.jms.JMSException") -> None:
        super().__init__(message)
        self.exception = exception


# -- identifiers --------------------------------------------------------------------------------
def id_text(ident: Struct | None) -> str:
    """A producer or consumer id as ActiveMQ prints it: connection:session:value."""
    if ident is None:
        return "null"
    return f"{ident.connection_id}:{ident.session_id}:{ident.value}"


def message_id_text(mid: Struct | None) -> str:
    if mid is None:
        raise JmsError("Message without a message id")
    # Fields read as items (cheaper than a Struct's attributes): this runs for every send.
    text = mid["text_view"]
    if text:
        return text
    producer = mid["producer_id"]
    if producer is None:
        raise JmsError("Message id without a producer id")
    last = _LAST_PRODUCER
    if producer is not last[0]:
        # The codec gives the same ProducerId struct back for the same bytes (and never
        # changes it), so a producer's run of messages renders its id once.
        last[0], last[1] = producer, id_text(producer) + ":"
    return last[1] + str(mid["producer_sequence_id"])


# The last ProducerId a message id named, and its text with the separator.
_LAST_PRODUCER: list = [None, ""]


def message_id_struct(text: str, broker_seq: int) -> Struct:
    """A MessageId for an engine message id; ids another door made (an SQS UUID) travel in
    `textView`, each with a producer id of its own so the client's duplicate check passes."""
    prefix, _, seq = text.rpartition(":")
    producer = _producer_of(prefix)
    if producer is not False:
        try:
            return Struct(s.MESSAGE_ID, text_view=None, producer_id=producer,
                          producer_sequence_id=int(seq), broker_sequence_id=broker_seq)
        except ValueError:
            pass
    return Struct(s.MESSAGE_ID, text_view=text,
                  producer_id=Struct(s.PRODUCER_ID, connection_id=text, value=0, session_id=0),
                  producer_sequence_id=0, broker_sequence_id=broker_seq)


# The messages of one producer share its ProducerId (the prefix of their ids), read once;
# False for a prefix that names none. Dispatches only encode it, never change it.
_PRODUCER_IDS: dict[str, Struct | bool] = {}


def _producer_of(prefix: str) -> Struct | bool:
    producer = _PRODUCER_IDS.get(prefix)
    if producer is None:
        producer = _producer_id(prefix)
        if len(_PRODUCER_IDS) >= 1024:
            _PRODUCER_IDS.clear()
        _PRODUCER_IDS[prefix] = producer
    return producer


def _encoded_ids(text: str, broker_seq: int, version: int) -> tuple[Struct | bytes, Struct | bytes]:
    """The ProducerId and MessageId of `message_id_struct(text, broker_seq)`, encoded as
    object fields (`codec.encode_object`): a producer's are encoded once, and only the
    sequence numbers, the MessageId's last fields, are written for each message."""
    prefix, _, seq = text.rpartition(":")
    last = _LAST_IDS
    if prefix == last[0] and version == last[1]:
        # A queue holds runs of one producer's messages: its ids were found for the last one.
        found = last[2]
    else:
        found = _found_ids(prefix, version)
        last[:] = prefix, version, found
    if found is not False:
        try:
            number = int(seq)
        except ValueError:
            pass
        else:
            return found[0], found[1] + _SEQUENCES.pack(number, broker_seq)
    mid = message_id_struct(text, broker_seq)
    return mid.producer_id, mid


def _found_ids(prefix: str, version: int) -> tuple[bytes, bytes] | bool:
    """The encoded ids of a message id prefix in `version` (see _ENCODED_IDS)."""
    encoded = _ENCODED_IDS.get(version)
    if encoded is None:
        encoded = _ENCODED_IDS[version] = {}
    found = encoded.get(prefix)
    if found is None:
        producer = _producer_of(prefix)
        found = False
        if producer is not False:
            mid = Struct(s.MESSAGE_ID, text_view=None, producer_id=producer, producer_sequence_id=0,
                         broker_sequence_id=0)
            found = (encode_object(producer, version), encode_object(mid, version)[:-_SEQUENCES.size])
        if len(encoded) >= 1024:
            encoded.clear()
        encoded[prefix] = found
    return found


# version -> message id prefix -> the encoded ProducerId, and the MessageId up to its
# producer and broker sequence numbers (two longs, its last fields); False for a prefix
# that names no producer.
_ENCODED_IDS: dict[int, dict[str, tuple[bytes, bytes] | bool]] = {}
# The prefix and version _encoded_ids saw last, and what _found_ids gave for them.
_LAST_IDS: list[Any] = [None, 0, False]
_SEQUENCES = struct.Struct(">qq")


def _producer_id(prefix: str) -> Struct | bool:
    parts = prefix.rsplit(":", 2)
    if len(parts) == 3:
        try:
            return Struct(s.PRODUCER_ID, connection_id=parts[0], value=int(parts[2]),
                          session_id=int(parts[1]))
        except ValueError:
            pass
    return False


# -- destinations ----------------------------------------------------------------------------------
_DEST_KINDS = {s.QUEUE: dest.QUEUE, s.TOPIC: dest.TOPIC, s.TEMP_QUEUE: dest.REMOTE_TEMP_QUEUE,
               s.TEMP_TOPIC: dest.REMOTE_TEMP_TOPIC}
_DEST_CODES = {dest.QUEUE: s.QUEUE, dest.TOPIC: s.TOPIC, dest.REMOTE_TEMP_QUEUE: s.TEMP_QUEUE,
               dest.REMOTE_TEMP_TOPIC: s.TEMP_TOPIC, dest.TEMP_QUEUE: s.TEMP_QUEUE,
               dest.TEMP_TOPIC: s.TEMP_TOPIC}


def destinations(d: Struct | None) -> list[dest.Destination]:
    """An OpenWire destination as engine destinations (a composite name gives several).

    Temporary destinations are named by the connection that made them, so their names
    are global, as a STOMP client's `/remote-temp-queue/` names."""
    if d is None or not d.physical_name:
        raise JmsError("Destination must not be empty", "javax.jms.InvalidDestinationException")
    kind = _DEST_KINDS[d.type]
    out = []
    for part in d.physical_name.split(","):
        part = part.strip()
        if not part:
            raise JmsError(f"Invalid destination: {d.physical_name}",
                               "javax.jms.InvalidDestinationException")
        if part.startswith(("queue://", "topic://", "temp-queue://", "temp-topic://")):
            out.append(dest.parse_one(part))
        else:
            out.append(dest.Destination(kind, part))
    return out


def destination_struct(d: dest.Destination) -> Struct:
    return Struct(_DEST_CODES[d.kind], physical_name=d.name)


def reply_to_header(d: Struct) -> str:
    """A JMSReplyTo as the STOMP door names it (`/queue/x`, `/remote-temp-queue/ID:...`)."""
    return ",".join(x.stomp() for x in destinations(d))


def reply_to_struct(text: str) -> Struct | None:
    try:
        parsed = dest.parse(text)
    except dest.BadDestination:
        return None
    return Struct(_DEST_CODES[parsed[0].kind], physical_name=",".join(x.name for x in parsed))


# -- bodies --------------------------------------------------------------------------------------
def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_INFLATED)
    except zlib.error as exc:
        raise JmsError(f"Invalid compressed message body: {exc}") from None
    if inflater.unconsumed_tail:
        raise JmsError("Compressed message body is too large")
    return out


def text_of(content: bytes) -> str:
    if len(content) < 4:
        raise JmsError("TextMessage body too short")
    (length,) = _INT.unpack_from(content)
    if length < 0 or length != len(content) - 4:
        raise JmsError("TextMessage body length does not match")
    try:
        return p.decode_utf(content[4:])
    except UnicodeDecodeError as exc:
        raise JmsError(f"TextMessage body is not valid modified UTF-8: {exc}") from None


def text_content(text: str) -> bytes:
    raw = p.encode_utf(text)
    return _INT.pack(len(raw)) + raw


# -- in ------------------------------------------------------------------------------------------
def to_engine(cmd: Struct, now: int, origin: object = None) -> Message:
    """A producer's message as an engine message (routing is the caller's)."""
    code = cmd.type
    if code in _REFUSED:
        raise JmsError(_REFUSED[code])
    content = cmd["content"]
    if content is not None and cmd["compressed"]:
        if code == s.BYTES_MESSAGE:
            # Its uncompressed length comes first, and only that much of the stream counts.
            if len(content) < 4:
                raise JmsError("Compressed message body too short")
            content = _inflate(content[4:])[:max(0, _INT.unpack_from(content)[0])]
        else:
            content = _inflate(content)
    headers = _KIND_HEADERS[code]
    if code == s.TEXT_MESSAGE:
        if content is None:
            body, headers = b"", _NULL_TEXT_HEADERS
        else:
            body = text_of(content).encode("utf-8")
    else:
        body = content or b""
        if body and code in _TYPED_BODIES:
            _check_typed_body(code, body)
    # Messages share the dicts of what they have alike (a message's are never changed in
    # place): most have no properties and no header but their kind.
    properties: dict[str, str | bytes] = _NO_PROPERTIES
    types = None
    marshalled = cmd["marshalled_properties"]
    if marshalled:
        properties, types = _properties(marshalled)
    correlation = cmd["correlation_id"]
    jms_type = cmd["type"]   # JMSType (`cmd.type` is the command's type code)
    reply_to = cmd["reply_to"]
    group_sequence = cmd["group_sequence"]
    if correlation is not None or jms_type is not None or reply_to is not None or group_sequence:
        headers = dict(headers)
        if correlation is not None:
            headers["correlation-id"] = correlation
        if jms_type is not None:
            headers["type"] = jms_type
        if reply_to is not None:
            headers["reply-to"] = reply_to_header(reply_to)
        if group_sequence:
            headers[GROUP_SEQUENCE] = str(group_sequence)
    # Fields read as items and the Message built positionally, in field order (as
    # Message.copy): this runs once per message sent.
    priority = cmd["priority"] or 0
    expires = cmd["expiration"] or 0
    return Message(message_id_text(cmd["message_id"]), body, properties, types, headers,
                   bool(cmd["persistent"]), 0 if priority < 0 else 9 if priority > 9 else priority,
                   cmd["timestamp"] or now, expires if expires > 0 else 0, cmd["group_id"], None, origin)


# Message kinds a producer may not send, and why.
_REFUSED = {s.OBJECT_MESSAGE: "ObjectMessage is not supported: mqgate never deserializes Java objects; "
                              "send a TextMessage, BytesMessage or MapMessage instead",
            s.BLOB_MESSAGE: "BlobMessage is not supported"}
# Bodies of typed values, checked as they come in.
_TYPED_BODIES = frozenset({s.MAP_MESSAGE, s.STREAM_MESSAGE})
# What the messages without properties, and those without other headers than their kind,
# share (never changed: see to_engine).
_NO_PROPERTIES: dict[str, str | bytes] = {}
_KIND_HEADERS: dict[int, dict[str, str]] = {code: {KIND_HEADER: kind} for code, kind in _KINDS.items()}
_KIND_HEADERS[s.TEXT_MESSAGE] = {}
_NULL_TEXT_HEADERS = {KIND_HEADER: NULL_TEXT}


# Producers often send the same property set again and again (the engine never changes a
# message's properties in place, so messages can share the decoded dicts).
_PROPERTY_CACHE: dict[bytes, tuple[dict[str, str | bytes], dict[str, str] | None]] = {}


def _properties(raw: bytes) -> tuple[dict[str, str | bytes], dict[str, str] | None]:
    found = _PROPERTY_CACHE.get(raw)
    if found is None:
        try:
            found = props.to_engine(p.decode_map(raw))
        except p.PrimitiveError as exc:
            raise JmsError(f"Invalid message properties: {exc}") from None
        if len(raw) <= 512:
            if len(_PROPERTY_CACHE) >= 256:
                _PROPERTY_CACHE.clear()
            _PROPERTY_CACHE[raw] = found
    return found


def _check_typed_body(code: int, body: bytes) -> None:
    try:
        p.decode_map(body) if code == s.MAP_MESSAGE else p.decode_stream(body)
    except p.PrimitiveError as exc:
        raise JmsError(f"Invalid message body: {exc}") from None


# -- out -----------------------------------------------------------------------------------------
# The fields of a dispatched message that the broker sets, in the order `_dispatch_values`
# gives them; every other field of the message is absent (command id 0, no response asked).
DISPATCH_FIELDS = ("producer_id", "destination", "message_id", "group_id", "group_sequence",
                   "correlation_id", "persistent", "expiration", "priority", "reply_to", "timestamp",
                   "type", "content", "marshalled_properties", "original_destination",
                   "redelivery_counter", "arrival", "broker_in_time", "broker_out_time")


def _dispatch_values(message: Message, destination: Struct | bytes, broker_seq: int, now: int,
                     version: int | None = None) -> tuple[int, tuple[Any, ...]]:
    """The message type code and the DISPATCH_FIELDS values of an engine message; with a
    `version`, its ids come encoded for it (and the destination may)."""
    h = message.headers
    kind = h.get(KIND_HEADER, "")
    code = _CODES.get(kind, s.TEXT_MESSAGE)
    if code == s.TEXT_MESSAGE:
        content: bytes | None = (None if kind == NULL_TEXT
                                 else text_content(message.body.decode("utf-8", "replace")))
    elif code == s.MESSAGE:
        content = None
    else:
        content = message.body
    if version is None:
        mid = message_id_struct(message.message_id, broker_seq)
        producer_id: Struct | bytes = mid.producer_id
    else:
        producer_id, mid = _encoded_ids(message.message_id, broker_seq, version)
    typed = props.to_jms(message.properties, message.types) if message.properties else None
    if message.dead_letter is not None:
        h = {**dead_letter_headers(message.dead_letter), **h}
    if not h.keys().isdisjoint(_HEADER_PROPERTIES):
        typed = typed if typed is not None else {}
        for name in _HEADER_PROPERTIES.keys() & h.keys():
            typed[name] = props.typed(h[name], _HEADER_PROPERTIES[name])
    original = h.get("original-destination")
    reply_to = h.get("reply-to")
    group_seq = h.get(GROUP_SEQUENCE)
    count = message.delivery_count
    return code, (producer_id, destination, mid, message.group_id,
                  int(group_seq) if group_seq and group_seq.lstrip("-").isdigit() else 0,
                  h.get("correlation-id"), message.persistent, message.expires, message.priority,
                  reply_to_struct(reply_to) if reply_to else None, message.timestamp, h.get("type"),
                  content, p.encode_map(typed) if typed else None,
                  reply_to_struct(original) if original else None,
                  count - 1 if count > 1 else 0, message.timestamp, message.timestamp, now)


def to_openwire(message: Message, destination: Struct, broker_seq: int, now: int) -> Struct:
    """An engine message as the nested message of a MessageDispatch."""
    code, values = _dispatch_values(message, destination, broker_seq, now)
    out = Struct(code, command_id=0, response_required=False, **dict(zip(DISPATCH_FIELDS, values)))
    if code == s.MESSAGE and message.headers.get(advisories.OPERATION_HEADER):
        out["data_structure"] = data_structure(message.headers)
    return out


def dispatch_frame(message: Message, destination: Struct, head: bytes, broker_seq: int, now: int,
                   version: int, encoded_destination: bytes | None = None) -> bytes:
    """The MessageDispatch frame of an engine message: what `encode_dispatch(head,
    to_openwire(...))` gives, without building the nested message's struct.
    `encoded_destination`: `destination` as `codec.encode_object` encodes it, if known."""
    h = message.headers
    if (len(h) == (KIND_HEADER in h) and not message.properties and message.dead_letter is None
            and message.group_id is None):
        # Most messages: a JMS producer's without properties, nor headers but its kind
        # (one with content, which `_plain_frame` needs).
        kind = h.get(KIND_HEADER, "")
        code = _CODES.get(kind, s.TEXT_MESSAGE)
        if code != s.MESSAGE and kind != NULL_TEXT:
            return _plain_frame(message, code, encoded_destination or encode_object(destination, version),
                                head, broker_seq, now, version)
    code, values = _dispatch_values(message, encoded_destination or destination, broker_seq, now, version)
    if code == s.MESSAGE:   # an advisory's data structure, or a message without a body: rare
        nested = to_openwire(message, destination, broker_seq, now)
        return encode_dispatch(head, nested, nested.redelivery_counter, version)
    run = _DISPATCHERS.get((version, code))
    if run is None:
        run = _DISPATCHERS[version, code] = message_dispatcher(version, code, DISPATCH_FIELDS)
    return run(head, *values)


_DISPATCHERS: dict[tuple[int, int], Any] = {}
# The fields of a message without properties, nor headers but its kind, that the broker
# sets, in the order `_plain_frame` gives them (see `_dispatch_values`: its other fields
# are absent, or zero).
PLAIN_FIELDS = ("producer_id", "destination", "message_id", "persistent", "expiration", "priority",
                "timestamp", "content", "redelivery_counter", "arrival", "broker_in_time", "broker_out_time")
_PLAIN_DISPATCHERS: dict[tuple[int, int], Any] = {}


def _plain_frame(message: Message, code: int, destination: bytes, head: bytes, broker_seq: int, now: int,
                 version: int) -> bytes:
    """`dispatch_frame` of a message of type `code` (not s.MESSAGE) without properties,
    nor headers but its kind, nor group, nor dead-letter facts."""
    content = text_content(message.body.decode("utf-8", "replace")) if code == s.TEXT_MESSAGE else message.body
    producer_id, mid = _encoded_ids(message.message_id, broker_seq, version)
    if mid.__class__ is not bytes:   # an id another door made (see message_id_struct)
        producer_id, mid = encode_object(producer_id, version), encode_object(mid, version)
    run = _PLAIN_DISPATCHERS.get((version, code))
    if run is None:
        run = _PLAIN_DISPATCHERS[version, code] = present_dispatcher(version, code, PLAIN_FIELDS)
    count = message.delivery_count
    timestamp = message.timestamp
    return run(head, producer_id, destination, mid, message.persistent, message.expires, message.priority,
               timestamp, content, count - 1 if count > 1 else 0, timestamp, timestamp, now)
