"""STOMP frames to engine messages and back, with ActiveMQ's header rules
(docs/stomp.md: which SEND headers are dropped, which come back, text vs bytes)."""
from __future__ import annotations

import base64

from broker.engine.message import DEFAULT_PRIORITY, GROUP_SEQUENCE, Message
from broker.protocols.activemq.dead_letters import dead_letter_headers
from broker.protocols.activemq.scheduling import BadHeader, int_value

# SEND headers named as JMS fields set the field, as ActiveMQ's `setObjectProperty` does,
# instead of becoming properties (JMSXGroupID is the group; JMSTimestamp, JMSRedelivered and
# JMSXDeliveryCount are the broker's to set).
_JMS_FIELDS = frozenset({"JMSType", "JMSCorrelationID", GROUP_SEQUENCE, "JMSPriority", "JMSExpiration",
                         "JMSDeliveryMode", "JMSTimestamp", "JMSRedelivered", "JMSXDeliveryCount"})
# JMSDeliveryMode as ActiveMQ reads it: the JMS constant, its name, or a boolean.
_DELIVERY_MODES = {"2": True, "PERSISTENT": True, "TRUE": True,
                   "1": False, "NON_PERSISTENT": False, "FALSE": False}
# Headers the broker consumes or owns; never stored as user properties. JMSXUserID is the
# broker's to vouch for: ActiveMQ drops a SEND's own, so no client can claim another user.
_DROPPED = frozenset({"destination", "message-id", "redelivered", "subscription", "transaction",
                      "receipt", "content-length", "persistent", "priority", "expires",
                      "amq-msg-type", "JMSXGroupID", "ack", "timestamp", "JMSXUserID"}) | _JMS_FIELDS
_BODILESS = frozenset({"map", "stream", "message"})
# Headers that are JMS message fields rather than properties.
SYSTEM_HEADERS = ("correlation-id", "type", "reply-to")
_SYSTEM = frozenset(SYSTEM_HEADERS)
# Header whose value lists the declared type of typed properties, so an SQS Number or
# Binary attribute survives a trip through a STOMP client and back.
TYPES_HEADER = "mqgate-attribute-types"
_SKIPPED = _DROPPED | {TYPES_HEADER}
_NOTHING_DECLARED: dict[str, str] = {}


def message_from_send(headers: dict[str, str], body: bytes, message_id: str, now: int,
                      origin: object = None) -> Message:
    """A SEND frame's content as an engine message (destination handled by the caller)."""
    explicit = headers.get("amq-msg-type")
    kind = explicit if explicit in ("text", "bytes") else None
    if kind is None:
        kind = "bytes" if "content-length" in headers else "text"
    system = {"amq-msg-type": kind} if kind == "bytes" else {}
    props: dict[str, str | bytes] = {}
    if explicit is not None:
        # ActiveMQ keeps both as String properties when the type was chosen explicitly,
        # so they come back on the MESSAGE (and to a JMS consumer as properties).
        props["amq-msg-type"] = explicit
        if "content-length" in headers:
            props["content-length"] = headers["content-length"]
    types: dict[str, str] | None = None
    raw_types = headers.get(TYPES_HEADER)
    declared = _parse_types(raw_types) if raw_types else _NOTHING_DECLARED
    for name, value in headers.items():
        if name in _SKIPPED:
            continue
        if name in _SYSTEM:
            system[name] = value
            continue
        kind_of = declared.get(name) if declared else None
        if kind_of is not None:
            types = types or {}
            types[name] = kind_of
            if kind_of.startswith("Binary"):
                try:
                    props[name] = base64.b64decode(value, validate=True)
                    continue
                except ValueError:
                    del types[name]
        props[name] = value
    # Most SENDs name neither: their defaults are known without a look at the header.
    priority = (max(0, min(9, int_value(headers, "priority", DEFAULT_PRIORITY))) if "priority" in headers
                else DEFAULT_PRIORITY)
    # 0 or less never expires, as in ActiveMQ
    expires = max(0, int_value(headers, "expires", 0)) if "expires" in headers else 0
    persistent = headers.get("persistent")
    durable = persistent is not None and persistent.lower() == "true"
    # The producer's own time, as ActiveMQ takes it (a JMS client stamps its messages too);
    # without one, or 0 or less, the broker's.
    timestamp = int_value(headers, "timestamp", now) if "timestamp" in headers else now
    if timestamp <= 0:
        timestamp = now
    if not _JMS_FIELDS.isdisjoint(headers):
        priority, expires, durable = _jms_fields(headers, system, priority, expires, durable)
    # Positional, in field order (as `Message.copy`): one per SEND.
    return Message(message_id, body, props, types, system, durable,
                   priority, timestamp, expires, headers.get("JMSXGroupID"), None, origin)


def _jms_fields(headers: dict[str, str], system: dict[str, str], priority: int, expires: int,
                durable: bool) -> tuple[int, int, bool]:
    """Apply the SEND headers named as JMS fields (after the STOMP headers, so they win, as
    in ActiveMQ). A value the field cannot take refuses the SEND (BadHeader), as ActiveMQ
    does; numbers are read by `int_value`, so none the store cannot hold gets through."""
    for name in _JMS_FIELDS.intersection(headers):
        value = headers[name]
        if name == "JMSType":
            system["type"] = value
        elif name == "JMSCorrelationID":
            system["correlation-id"] = value
        elif name == GROUP_SEQUENCE:
            system[GROUP_SEQUENCE] = str(int_value(headers, name, 0))
        elif name == "JMSPriority":
            priority = max(0, min(9, int_value(headers, name, priority)))
        elif name == "JMSExpiration":
            expires = max(0, int_value(headers, name, expires))
        elif name == "JMSDeliveryMode":
            mode = value.strip().upper()
            if mode not in _DELIVERY_MODES:
                raise BadHeader(f"Invalid {name} header: {value[:100]}")
            durable = _DELIVERY_MODES[mode]
    return priority, expires, durable


def _parse_types(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    out = {}
    for item in raw.split(","):
        name, _, kind = item.partition("=")
        if name and kind:
            out[name] = kind
    return out


def message_headers(message: Message, destination: str, subscription: str | None,
                    redelivered: bool) -> dict[str, str]:
    """The MESSAGE frame headers an ActiveMQ client expects, in ActiveMQ's order."""
    h: dict[str, str] = {}
    if subscription is not None:
        h["subscription"] = subscription
    h["destination"] = destination
    h["message-id"] = message.message_id
    if message.persistent:
        h["persistent"] = "true"
    if redelivered:
        h["redelivered"] = "true"
    h["expires"] = str(message.expires)
    h["priority"] = str(message.priority)
    h["timestamp"] = str(message.timestamp)
    headers = message.headers
    if headers:
        for name, value in headers.items():
            # The group sequence is a JMS field ActiveMQ never shows a STOMP consumer.
            if name != "amq-msg-type" and name != GROUP_SEQUENCE:
                h.setdefault(name, value)
    dead = message.dead_letter
    if dead is not None:
        for name, value in dead_letter_headers(dead).items():
            h.setdefault(name, value)
    if message.types:
        typed = []
        for name, value in message.properties.items():
            kind = message.types.get(name)
            if kind is not None:
                typed.append(f"{name}={kind}")
            h.setdefault(name, base64.b64encode(value).decode() if isinstance(value, bytes) else value)
        if typed:
            h[TYPES_HEADER] = ",".join(typed)
    else:
        for name, value in message.properties.items():
            h.setdefault(name, base64.b64encode(value).decode() if isinstance(value, bytes) else value)
    kind = headers.get("amq-msg-type")
    if kind == "bytes" or (kind is None and b"\0" in message.body):
        # A text body holding U+0000 needs a length to reach the client whole.
        h["content-length"] = str(len(message.body))
    return h


def message_body(message: Message) -> bytes:
    """The MESSAGE body: ActiveMQ sends JMS Map and Stream messages to STOMP clients
    without a body (their content is typed Java data)."""
    return b"" if message.headers.get("amq-msg-type") in _BODILESS else message.body
