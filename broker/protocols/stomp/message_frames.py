"""MESSAGE frames encoded once per message, not once per delivery.

A topic fan-out hands every subscriber its own copy of one message, and all the
copies share their content objects (properties, headers, body). Everything in a
MESSAGE frame but `subscription` and `ack` depends only on that content, the
STOMP version, the destination as the client names it and the redelivered flag,
so that middle part is encoded once and reused; each delivery only adds its own
two headers around it. The cache holds strong references to the content it was
built from and compares them by identity, so a reused entry is always the same
message's, and it is bounded (cleared when full) so it never grows with traffic.
"""
from __future__ import annotations

from typing import Any, Callable

from broker.engine.message import GROUP_SEQUENCE, Message
from broker.protocols.stomp.codec import ESCAPES, escape_value, header_lines
from broker.protocols.stomp.convert import TYPES_HEADER, message_body, message_headers

_MAX_ENTRIES = 4096
# key -> (properties, headers, dead_letter, body, encoded head lines or None, frame body,
#         what follows `subscription` without `ack`): see `_shared_part`
_SHARED: dict[tuple[Any, ...], tuple[Any, ...]] = {}
# Headers a delivery sets itself: a message carrying one as a property is rare and is
# encoded in full, so the per-delivery value keeps the place ActiveMQ gives it.
_PER_DELIVERY = ("subscription", "ack")
# (message, version, destination, redelivered, entry) of the last cached encoding: the
# deliveries of one fan-out follow each other, so most find it here without a key.
_last: tuple[Any, ...] = (None, None, None, None, None)


def message_frame(message: Message, version: str, destination: str, subscription: str | None,
                  redelivered: bool, ack: str | None, localize: Callable[[str], str],
                  shared: bool = True) -> bytes:
    """The MESSAGE frame of one delivery, byte for byte what encoding its headers would give.

    `shared`: other deliveries of the same content are likely (a topic's copies); a
    message a queue hands to one consumer is encoded directly, skipping the cache."""
    if not shared:
        frame = _direct_frame(message, version, destination, subscription, redelivered, ack)
    else:
        head = b"MESSAGE\n" if subscription is None else subscription_line(subscription, version)
        frame = shared_frame(message, version, destination, head, redelivered, ack, localize)
    if frame is None:
        return full_frame(message, version, destination, subscription, redelivered, ack, localize)
    return frame


def shared_frame(message: Message, version: str, destination: str, head: bytes,
                 redelivered: bool, ack: str | None, localize: Callable[[str], str]) -> bytes | None:
    """`message_frame` of a delivery whose other deliveries share its encoding, given the
    `MESSAGE` and `subscription` lines (`subscription_line`, kept by a subscriber so the
    deliveries of a fan-out do not look it up each); None when the message needs the
    general encoding (`full_frame`)."""
    global _last
    last = _last
    if (last[0] is message and last[1] == version and last[2] == destination
            and last[3] == redelivered and "reply-to" not in message.headers):
        # The same message object again (the one copy a fan-out shares), without a
        # reply-to to localize per connection: the entry found for it last time.
        entry = last[4]
    else:
        reply_to = message.headers.get("reply-to")
        if reply_to is None and "reply-to" in message.properties:
            return None
        local_reply_to = None if reply_to is None else localize(reply_to)
        key = (message.message_id, version, destination, redelivered, local_reply_to,
               message.persistent, message.priority, message.expires, message.timestamp)
        # The copies' own cache when the engine gave them one (it lives as long as they
        # do, so a subscriber's backlog deeper than the bounded cache still finds it).
        cache = message.encodings
        if cache is None:
            cache = _SHARED
        entry = cache.get(key)
        if (entry is None or entry[0] is not message.properties or entry[1] is not message.headers
                or entry[2] is not message.dead_letter or entry[3] is not message.body):
            entry = _shared_part(message, version, destination, redelivered, localize)
            if len(cache) >= _MAX_ENTRIES:
                cache.clear()
            cache[key] = entry
        if reply_to is None:
            _last = (message, version, destination, redelivered, entry)
    if ack is None:
        tail = entry[6]
        return None if tail is None else head + tail
    lines = entry[4]
    if lines is None:
        return None
    return b"".join((head, lines, b"ack:", escape_value(ack, version).encode(), b"\n\n", entry[5],
                     b"\0\n"))


_SUBSCRIPTION_LINES: dict[tuple[str, str], bytes] = {}


def subscription_line(subscription: str, version: str) -> bytes:
    """`MESSAGE` and the `subscription` header line: the same for every delivery to it."""
    key = (subscription, version)
    line = _SUBSCRIPTION_LINES.get(key)
    if line is None:
        if len(_SUBSCRIPTION_LINES) >= _MAX_ENTRIES:
            _SUBSCRIPTION_LINES.clear()
        line = _SUBSCRIPTION_LINES[key] = (
            "MESSAGE\nsubscription:" + escape_value(subscription, version) + "\n").encode()
    return line


def _headers(message: Message, destination: str, subscription: str | None, redelivered: bool,
             localize: Callable[[str], str]) -> dict[str, str]:
    headers = message_headers(message, destination, subscription, redelivered)
    if "reply-to" in headers:
        headers["reply-to"] = localize(headers["reply-to"])
    return headers


def _shared_part(message: Message, version: str, destination: str, redelivered: bool,
                 localize: Callable[[str], str]) -> tuple[Any, ...]:
    """A cache entry: the content it was built from, the header lines the deliveries share
    (None when a delivery's own header could not keep its place), the frame body, and what
    follows `subscription` in a delivery without `ack` (those lines, the blank line, body, NUL).

    The common message takes the direct encoding (one string, no header dict): its frame
    without `subscription` is `MESSAGE`, then exactly that tail."""
    body = message_body(message)
    frame = _direct_frame(message, version, destination, None, redelivered, None)
    if frame is not None:
        tail = frame[8:]    # after b"MESSAGE\n"
        lines = tail[:len(tail) - len(body) - 3]
    else:
        headers = _headers(message, destination, None, redelivered, localize)
        if any(name in headers for name in _PER_DELIVERY):
            return (message.properties, message.headers, message.dead_letter, message.body, None,
                    body, None)
        lines = (header_lines(headers, version) + "\n").encode()
        tail = b"".join((lines, b"\n", body, b"\0\n"))
    return (message.properties, message.headers, message.dead_letter, message.body, lines, body,
            tail)


def full_frame(message: Message, version: str, destination: str, subscription: str | None,
               redelivered: bool, ack: str | None, localize: Callable[[str], str]) -> bytes:
    """The general encoding of a delivery: its header dict, encoded."""
    headers = _headers(message, destination, subscription, redelivered, localize)
    if ack is not None:
        headers["ack"] = ack
    return b"".join((b"MESSAGE\n", header_lines(headers, version).encode(), b"\n\n",
                     message_body(message), b"\0\n"))


# Header names the general encoding places or drops itself; a message that carries one as
# a header or property is encoded by it (its first occurrence wins there).
_PLACED = frozenset(("subscription", "destination", "message-id", "persistent", "redelivered",
                     "expires", "priority", "timestamp", "content-length", "ack", "reply-to",
                     TYPES_HEADER, GROUP_SEQUENCE))


def _direct_frame(message: Message, version: str, destination: str, subscription: str | None,
                  redelivered: bool, ack: str | None) -> bytes | None:
    """A delivery's MESSAGE frame built in one string, without the header dict (a queue's
    delivery, or a fan-out's shared part when `subscription` is None): the same bytes as
    `full_frame` for the common message (text properties, no typed attributes, dead-letter
    facts, reply-to or header named as one the encoding places), None for any other.

    Only what varies per message is looked at: the `subscription` and `destination`
    lines come escaped from a cache, numbers need no escaping, and the user headers are
    joined as they are written and escaped only when they hold a character to escape
    (most hold none); the message id is escaped on its own."""
    headers = message.headers
    properties = message.properties
    if (message.types or message.dead_letter is not None or not _PLACED.isdisjoint(headers)
            or not _PLACED.isdisjoint(properties) or not headers.keys().isdisjoint(properties)):
        return None
    escape = ESCAPES.get(version)
    if escape is None and version != "1.0":
        return None
    key = (subscription, destination, version)
    head = _HEADS.get(key)
    if head is None:
        head = _head(key)
    kind = headers.get("amq-msg-type")
    for value in properties.values():
        if value.__class__ is not str:
            return None
    # The system headers (but the message type), then the properties: most messages have
    # no system header but their type.
    items: Any = properties.items()
    if len(headers) > (kind is not None):
        items = [item for item in headers.items() if item[0] != "amq-msg-type"]
        items += properties.items()
    message_id = message.message_id
    count = len(items)
    if count:
        user = "\n".join(map(":".join, items))
        # Escaped already when no name or value holds a `:`, LF, backslash or CR.
        if escape is not None and (user.count(":") != count or user.count("\n") != count - 1
                                   or "\\" in user or "\r" in user):
            user = "\n".join(escape(name) + ":" + escape(value) for name, value in items)
        user += "\n"
    else:
        user = ""
    if escape is not None:
        # A message id is its producer's prefix (the same for all its messages) and a
        # number after the last colon: the prefix is escaped once.
        prefix, colon, rest = message_id.rpartition(":")
        if not colon or "\\" in rest or "\n" in rest or "\r" in rest:
            message_id = escape(message_id)
        else:
            prefixes = _ID_PREFIXES[version]
            escaped = prefixes.get(prefix)
            if escaped is None:
                if len(prefixes) >= _MAX_ENTRIES:
                    prefixes.clear()
                escaped = prefixes[prefix] = escape(prefix + colon)
            message_id = escaped + rest
    body = message.body
    length = ""
    if kind == "bytes" or (kind is None and body.find(b"\0") >= 0):
        # A text body holding U+0000 needs a length to reach the client whole.
        length = f"content-length:{len(body)}\n"
    if ack is not None:
        length += "ack:" + (ack if escape is None else escape(ack)) + "\n"
    expires, priority, timestamp = message.expires, message.priority, message.timestamp
    global _stamp
    stamp = _stamp
    if stamp[0] != timestamp:
        # The messages of one burst mostly share their millisecond.
        stamp = _stamp = (timestamp, f"timestamp:{timestamp}\n")
    times = (_DEFAULT_TIMES if expires == 0 and priority == 4
             else f"expires:{expires}\npriority:{priority}\n")
    text = (f"{head}message-id:{message_id}\n{_FLAGS[message.persistent][redelivered]}{times}"
            f"{stamp[1]}{user}{length}\n")
    if kind is not None and kind != "bytes":
        body = message_body(message)
    return b"".join((text.encode(), body, b"\0\n"))


# The `expires` and `priority` lines of most messages (no expiry, the default priority).
_DEFAULT_TIMES = "expires:0\npriority:4\n"
# The last timestamp encoded and its line.
_stamp: tuple[int, str] = (0, "timestamp:0\n")
# version -> message id prefix (before its last colon) -> the prefix and colon escaped.
_ID_PREFIXES: dict[str, dict[str, str]] = {"1.1": {}, "1.2": {}}
# The `persistent` and `redelivered` lines, by their flags.
_FLAGS = (("", "redelivered:true\n"), ("persistent:true\n", "persistent:true\nredelivered:true\n"))
# (subscription, destination, version) -> `MESSAGE` and those two header lines, escaped.
_HEADS: dict[tuple[str | None, str, str], str] = {}


def _head(key: tuple[str | None, str, str]) -> str:
    subscription, destination, version = key
    head = "MESSAGE\n"
    if subscription is not None:
        head += "subscription:" + escape_value(subscription, version) + "\n"
    head += "destination:" + escape_value(destination, version) + "\n"
    if len(_HEADS) >= _MAX_ENTRIES:
        _HEADS.clear()
    _HEADS[key] = head
    return head
