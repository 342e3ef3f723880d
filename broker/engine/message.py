"""The one message model behind every door (docs/architecture.md).

A `Message` is one copy of a message in one queue: the content is shared between copies
(fan-out copies share the body bytes), the delivery state (seq, delivery count, visibility)
is per queue. Properties keep their declared type next to the text value, so an attribute
one door cannot express (an SQS Number, a JMS long) travels through and comes back out.

A message's `properties`, `types` and `headers` dicts are never changed in place (a new
dict replaces one): copies share them, and so may messages a door builds alike.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

DEFAULT_PRIORITY = 4
# The header holding a grouped message's sequence in its group (JMS's JMSXGroupSeq): 1 opens
# the group anew, a negative number closes it (see Queue._pick).
GROUP_SEQUENCE = "JMSXGroupSeq"

# json.dumps(obj, separators=...) builds a new encoder on every call; this one is reused.
_encode_json = json.JSONEncoder(separators=(",", ":")).encode
_PLAIN_ATTRS: dict[tuple[tuple[str, str], ...], str] = {}
_READ_ATTRS: dict[str, dict[str, Any]] = {}


class State(IntEnum):
    READY = 0      # in the ready index, deliverable now
    DELAYED = 1    # waiting for visible_at (delay, scheduled delivery, visibility after restart)
    INFLIGHT = 2   # leased to a consumer
    PARKED = 3     # held back by its message group
    GONE = 4       # acked, expired, moved or purged


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Why and from where a message was moved to a dead-letter queue; each door renders
    these facts its own way (STOMP: ActiveMQ's original-destination headers)."""

    kind: str            # "queue" or "topic": what the message was sent to
    name: str
    cause: str
    expires: int         # the expiry it had (ms since epoch; 0 = never)
    was_persistent: bool = True   # False: kept by a strategy that processes non-persistent messages

    def to_json(self) -> list[Any]:
        facts: list[Any] = [self.kind, self.name, self.cause, self.expires]
        return facts if self.was_persistent else [*facts, False]


@dataclass(slots=True, eq=False)
class Message:
    message_id: str
    body: bytes
    # User properties: STOMP user headers, JMS properties, SQS MessageAttributes. Values are
    # text (bytes for binary); `types` holds the declared type of those that are not plain
    # strings ("Number", "Binary", "String.custom", JMS "long", ...).
    properties: dict[str, str | bytes] = field(default_factory=dict)
    types: dict[str, str] | None = None
    # System headers some door set and another may render: correlation-id, type, reply-to,
    # amq-msg-type, AWSTraceHeader, SenderId, ...
    headers: dict[str, str] = field(default_factory=dict)
    persistent: bool = False
    priority: int = DEFAULT_PRIORITY
    timestamp: int = 0           # ms since epoch, when the broker accepted it
    expires: int = 0             # ms since epoch; 0 = never
    group_id: str | None = None
    dedup_id: str | None = None
    origin: Any = None           # the producing connection, for noLocal subscriptions
    topic: str | None = None     # the topic a fan-out copy was published on
    # -- per-queue delivery state
    seq: int = 0
    visible_at: int = 0          # ms; not deliverable before (delay, visibility deadline)
    delivery_count: int = 0      # deliveries so far (ApproximateReceiveCount)
    first_delivery: int = 0      # ms of the first delivery
    state: State = State.READY
    lease: Any = None
    # A non-persistent message written to disk because its queue's backlog outgrew memory
    # (ActiveMQ's temp store): its row goes with it, and is dropped at the next start.
    spilled: bool = False
    dead_letter: DeadLetter | None = None   # set on the copy a dead-letter queue holds
    # The copies of one fan-out to several stored queues share one stored body.
    content_id: int = 0
    # A digest of the body a door reports with every delivery (SQS's MD5OfBody), kept once
    # computed, and stored with the row when the door computed it as it took the message
    # in: a message paged back in or restored is not hashed again.
    body_digest: str | None = None
    # Doors' encodings of this content (keyed and checked by each door), shared by the
    # copies as the content is: a fan-out encodes a message once for all its copies, however
    # far apart their deliveries are. Set before copying (`Topic.publish` does).
    encodings: dict[Any, Any] | None = None
    # ms of the latest delivery: where the lease it started counts from, in memory or read
    # back from the store (SQS's 12-hour visibility limit counts from the receive).
    last_delivery: int = 0
    # The scheduled job this message is one delivery of (its repeats and the copies of a
    # composite send share it): a column of its own with an index, so a job is found on
    # disk without reading every waiting row.
    job_id: str | None = None
    # Properties a door took out of the delivered message but keeps for whoever manages
    # its job (a schedule): name -> [text, declared type or None]. Never rendered.
    withheld: dict[str, list[Any]] | None = None

    @property
    def stored(self) -> bool:
        """Whether the message has a row in the store (if its queue has a store)."""
        return self.persistent or self.spilled

    @property
    def redelivered(self) -> bool:
        return self.delivery_count > 1

    def copy(self) -> "Message":
        """A fresh copy for another queue: same content, new delivery state."""
        # Spelled out rather than dataclasses.replace(), which costs ~10x more (fan-out makes
        # one copy per subscription per message). Keep in step with the fields above.
        return Message(self.message_id, self.body, self.properties, self.types, self.headers,
                       self.persistent, self.priority, self.timestamp, self.expires,
                       self.group_id, self.dedup_id, self.origin, self.topic, 0,
                       self.visible_at, 0, 0, State.READY, None, False, self.dead_letter,
                       self.content_id, self.body_digest, self.encodings, 0, self.job_id, self.withheld)

    # -- store rows -------------------------------------------------------
    def to_row(self, dest_id: int) -> dict[str, Any]:
        return {"seq": self.seq, "dest_id": dest_id, "message_id": self.message_id,
                "body": self.body, "priority": self.priority, "timestamp": self.timestamp,
                "expires": self.expires, "visible_at": self.visible_at,
                "delivery_count": self.delivery_count, "first_delivery": self.first_delivery,
                "last_delivery": self.last_delivery, "group_id": self.group_id, "dedup_id": self.dedup_id,
                "attrs": self._attrs_json(), "transient": 0 if self.persistent else 1,
                "content_id": self.content_id or None, "job_id": self.job_id, "body_md5": self.body_digest}

    def _attrs_json(self) -> str:
        # Messages without properties (most STOMP traffic) share a few header sets: their
        # JSON is cached, since encoding it was a good part of the cost of a persistent send.
        plain = (not self.properties and not self.types and not self.topic and self.dead_letter is None
                 and not self.withheld)
        if plain:
            key = tuple(self.headers.items())
            found = _PLAIN_ATTRS.get(key)
            if found is not None:
                return found
        props = {k: ({"b": base64.b64encode(v).decode()} if isinstance(v, bytes) else v)
                 for k, v in self.properties.items()}
        attrs: dict[str, Any] = {"p": props}
        if self.types:
            attrs["t"] = self.types
        if self.headers:
            attrs["h"] = self.headers
        if self.topic:
            attrs["topic"] = self.topic   # the topic a durable subscription's copy came from
        if self.dead_letter is not None:
            attrs["dl"] = self.dead_letter.to_json()
        if self.withheld:
            attrs["w"] = self.withheld
        text = _encode_json(attrs)
        if plain:
            if len(_PLAIN_ATTRS) >= 256:
                _PLAIN_ATTRS.clear()
            _PLAIN_ATTRS[key] = text
        return text

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Message":
        text = row["attrs"]
        attrs = _READ_ATTRS.get(text)
        if attrs is None:
            attrs = json.loads(text)
            if not attrs.get("p") and len(text) < 512:
                # Messages without properties share a few header sets (the cache of
                # _attrs_json, read back): paging a deep queue in decodes each set once.
                if len(_READ_ATTRS) >= 256:
                    _READ_ATTRS.clear()
                _READ_ATTRS[text] = attrs
        found = attrs.get("p")
        props = {k: (base64.b64decode(v["b"]) if isinstance(v, dict) else v)
                 for k, v in found.items()} if found else {}
        transient = bool(row.get("transient"))
        body = row["body"]
        # Positional, in field order (as `copy`): a deep queue builds one per message paged in.
        return cls(row["message_id"], body if type(body) is bytes else bytes(body), props,
                   attrs.get("t"), dict(attrs.get("h", ())), not transient, row["priority"],
                   row["timestamp"], row["expires"], row["group_id"], row["dedup_id"], None,
                   attrs.get("topic"), row["seq"], row["visible_at"], row["delivery_count"],
                   row["first_delivery"], State.READY, None, transient,
                   DeadLetter(*attrs["dl"]) if "dl" in attrs else None, row.get("content_id") or 0,
                   row.get("body_md5"), None, row.get("last_delivery") or 0, row.get("job_id"), attrs.get("w"))

    def state_row(self) -> dict[str, Any]:
        return {"delivery_count": self.delivery_count, "visible_at": self.visible_at,
                "first_delivery": self.first_delivery, "last_delivery": self.last_delivery}
