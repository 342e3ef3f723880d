"""ActiveMQ destination names (`/queue/x`, `queue://x`, temp and remote-temp names,
composites) as engine destinations, for every ActiveMQ door."""
from __future__ import annotations

from dataclasses import dataclass

from broker.engine.topic import is_wildcard

QUEUE, TOPIC, TEMP_QUEUE, TEMP_TOPIC, REMOTE_TEMP_QUEUE, REMOTE_TEMP_TOPIC = (
    "queue", "topic", "temp-queue", "temp-topic", "remote-temp-queue", "remote-temp-topic")

_PREFIXES = (
    ("/queue/", QUEUE), ("/topic/", TOPIC), ("queue://", QUEUE), ("topic://", TOPIC),
    ("/temp-queue/", TEMP_QUEUE), ("/temp-topic/", TEMP_TOPIC),
    ("/remote-temp-queue/", REMOTE_TEMP_QUEUE), ("/remote-temp-topic/", REMOTE_TEMP_TOPIC),
    ("temp-queue://", REMOTE_TEMP_QUEUE), ("temp-topic://", REMOTE_TEMP_TOPIC),
)


class BadDestination(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Destination:
    kind: str
    name: str

    @property
    def is_topic(self) -> bool:
        return self.kind in (TOPIC, TEMP_TOPIC, REMOTE_TEMP_TOPIC)

    def stomp(self) -> str:
        return f"/{self.kind}/{self.name}"


def is_wildcard_queue(d: Destination) -> bool:
    """A queue name with ActiveMQ wildcards: its consumers read every matching queue."""
    return d.kind == QUEUE and is_wildcard(d.name)


def parse_one(text: str) -> Destination:
    text = text.strip()
    for prefix, kind in _PREFIXES:
        if text.startswith(prefix):
            name = text[len(prefix):]
            if not name:
                raise BadDestination(f"Invalid destination: {text}")
            return Destination(kind, name)
    if text.startswith("/") or "://" in text or not text:
        raise BadDestination(f"Unknown destination type: {text}")
    # ActiveMQ treats a bare name as a queue.
    return Destination(QUEUE, text)


def parse(text: str) -> list[Destination]:
    """A destination header; a comma makes it composite (queues and topics may mix)."""
    parts = [p for p in text.split(",")]
    if len(parts) > 1:
        # In a composite, a bare name takes the kind of the first destination.
        first = parse_one(parts[0])
        out = [first]
        for part in parts[1:]:
            part = part.strip()
            if not part:
                raise BadDestination(f"Invalid destination: {text}")
            has_prefix = part.startswith("/") or "://" in part
            out.append(parse_one(part) if has_prefix else Destination(first.kind, part))
        return out
    return [parse_one(text)]


# A temporary destination is named `/temp-queue/x` by the connection that made it and
# `/remote-temp-queue/<connection id>:x` by everyone else (a JMS client's temporary queue
# `ID:...:1` is such a global name already).
_LOCAL_REMOTE = (("/temp-queue/", "/remote-temp-queue/"), ("/temp-topic/", "/remote-temp-topic/"))


def temp_name(connection_id: str, name: str) -> str:
    """The global name of a connection's temporary destination."""
    return f"{connection_id}:{name}"


def globalize(reply_to: str, connection_id: str) -> str:
    """A connection's own temp destination name as everyone else names it."""
    for local, remote in _LOCAL_REMOTE:
        if reply_to.startswith(local):
            return remote + temp_name(connection_id, reply_to[len(local):])
    return reply_to


def localize(reply_to: str, connection_id: str) -> str:
    """A global temp destination name as its owning connection names it."""
    for local, remote in _LOCAL_REMOTE:
        own = remote + connection_id + ":"
        if reply_to.startswith(own):
            return local + reply_to[len(own):]
    return reply_to
