"""ActiveMQ's REST message API (`/api/message/NAME`): POST sends a text message, GET takes one.

As ActiveMQ's MessageServlet: the destination is the path (`/` read as `.`) or the
`destination` parameter, a topic unless `type=queue` (or a `queue://` name); the body is
the `body` parameter or the request body; `JMSDeliveryMode`, `JMSPriority`,
`JMSTimeToLive`, `JMSCorrelationID`, `JMSType`, `JMSReplyTo` and `JMSExpiration` set the
message's headers and every other parameter becomes a string property. A GET waits up to
`readTimeout` ms (at most, and by default, 20 s) and answers 204 when nothing came.

The request acts as the user who logged in: the authorization map decides (write to
send, read to receive, admin to create a destination on first use), as on every door.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from twisted.internet import defer

from broker.auth.authorization import READ, WRITE, Target
from broker.auth.security import Security
from broker.engine.broker import Broker
from broker.engine.message import DEFAULT_PRIORITY, Message
from broker.protocols.activemq import access as amq_access
from broker.protocols.activemq import destinations as dest

MAX_READ_TIMEOUT_MS = 20_000    # MessageServlet's maximumReadTimeout
LEASE_MS = 30_000
# Parameters that are not message properties (MessageServlet's list, and the JMS headers).
_NOT_PROPERTIES = frozenset({"destination", "type", "body", "JMSDeliveryMode", "JMSPriority", "JMSTimeToLive",
                             "JMSCorrelationID", "JMSType", "JMSReplyTo", "JMSExpiration"})
_HEADER_PARAMS = {"JMSCorrelationID": "correlation-id", "JMSType": "type", "JMSReplyTo": "reply-to"}


class MessageApiError(Exception):
    """Answered with `status` and `text` (ActiveMQ answers servlet errors with 500)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


@dataclass(frozen=True)
class Delivered:
    """What a GET found: the body and the headers ActiveMQ puts on the response."""

    body: bytes
    headers: dict[str, str]
    content_type: str


def destination(path: list[str], params: dict[str, str]) -> dest.Destination:
    """The request's destination: ActiveMQ reads a topic unless told it is a queue."""
    name = params.get("destination") or ".".join(p for p in path if p)
    if not name:
        raise MessageApiError(400, "No destination supplied")
    is_topic = params.get("type", "topic").lower() == "topic"
    for prefix, topic in (("topic://", True), ("queue://", False), ("channel://", False)):
        if name.startswith(prefix):
            name, is_topic = name[len(prefix):], topic
    if not name or "," in name:
        raise MessageApiError(400, f"Invalid destination: {name}")
    return dest.Destination(dest.TOPIC if is_topic else dest.QUEUE, name)


def _int(params: dict[str, str], key: str, default: int) -> int:
    try:
        return int(params[key]) if key in params else default
    except ValueError:
        raise MessageApiError(400, f"{key} must be a number") from None


def build_message(params: dict[str, str], text: str, message_id: str, now: int) -> Message:
    """The text message a POST describes."""
    ttl = _int(params, "JMSTimeToLive", 0)
    expires = _int(params, "JMSExpiration", now + ttl if ttl > 0 else 0)
    mode = params.get("JMSDeliveryMode")
    return Message(message_id=message_id, body=text.encode("utf-8"),
                   properties={k: v for k, v in params.items() if k not in _NOT_PROPERTIES},
                   headers={h: params[p] for p, h in _HEADER_PARAMS.items() if p in params},
                   persistent=True if mode is None else mode.strip().lower() == "persistent",
                   priority=max(0, min(9, _int(params, "JMSPriority", DEFAULT_PRIORITY))),
                   timestamp=now, expires=max(0, expires))


def posted_text(params: dict[str, str], content_type: bytes | None, raw: bytes) -> str:
    """The `body` parameter, else the request body read line by line (as the servlet's
    reader does: every line ends with a newline)."""
    if "body" in params:
        return params["body"]
    if content_type is None:
        return ""
    return "".join(line + "\n" for line in raw.decode("utf-8", "replace").splitlines())


def delivered(message: Message, target: dest.Destination, params: dict[str, str]) -> Delivered:
    """ActiveMQ's GET answer: the body, the destination and id, the properties. A bytes
    message's body is sent too (ActiveMQ sends it empty); a JMS map or stream message, whose
    body is typed Java data, is sent without one."""
    kind = message.headers.get("amq-msg-type")
    text = kind is None
    body = message.body if kind in (None, "text", "bytes") else b""
    if text and body.startswith(b"<?"):
        body = body[body.find(b"?>") + 2:]
    if params.get("xml", "").lower() == "true":
        content_type = "application/xml"
    elif params.get("json", "").lower() == "true":
        content_type = "application/json"
    elif text and message.body.startswith(b"<"):
        content_type = "application/xml"
    else:
        content_type = "text/plain" if _is_utf8(body) else "application/octet-stream"
    headers = {"destination": f"{target.kind}://{target.name}", "id": message.message_id}
    for name, value in message.properties.items():
        headers.setdefault(name, value.hex() if isinstance(value, bytes) else value)
    return Delivered(body, headers, content_type)


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


class MessageApi:
    """Sends and receives for one broker, as the identity each request logged in with."""

    def __init__(self, broker: Broker, security: Security) -> None:
        self.broker = broker
        self.security = security
        self._prefix = f"ID:mqgate-rest-{uuid.uuid4().hex[:12]}:1:1:1"
        self._count = 0

    def _check(self, identity: Any, operation: Any, target: dest.Destination) -> None:
        present = amq_access.exists(self.broker, target)
        amq_access.authorize(self.security, identity, operation, [(Target(target.kind, target.name), present)])

    @defer.inlineCallbacks
    def send(self, identity: Any, target: dest.Destination, message: Message) -> Any:
        """Send once the destination has room (a full one holds the request, as producer
        flow control holds a JMS sender); fires with the message id once it is durable."""
        self._check(identity, WRITE, target)
        kind = "topic" if target.is_topic else "queue"
        while True:
            admission = self.broker.admit(kind, target.name, len(message.body), message.persistent)
            if admission.refused is not None:
                raise MessageApiError(503, f"{kind}://{target.name} is full: {admission.refused.resource} "
                                           f"limit {admission.refused.limit} reached")
            if admission.wait is None:
                break
            yield admission.wait
        self._count += 1
        message.message_id = f"{self._prefix}:{self._count}"
        if target.is_topic:
            self.broker.publish(target.name, message)
        else:
            queue = self.broker.queue(target.name)
            assert queue is not None
            queue.enqueue(message)
        if message.persistent:
            yield self.broker.committed()
        return message.message_id

    @defer.inlineCallbacks
    def receive(self, identity: Any, target: dest.Destination, params: dict[str, str]) -> Any:
        """One message from a queue, consumed (None when none came within the timeout)."""
        if target.is_topic:
            raise MessageApiError(400, "Reading from a topic is not supported here: use type=queue")
        self._check(identity, READ, target)
        timeout = _int(params, "readTimeout", -1)
        if timeout < 0 or timeout > MAX_READ_TIMEOUT_MS:
            timeout = MAX_READ_TIMEOUT_MS
        queue = self.broker.queue(target.name)
        assert queue is not None
        leases = yield queue.receive(1, LEASE_MS, timeout)
        if not leases:
            return None
        lease = leases[0]
        queue.ack(lease)
        return delivered(lease.message, target, params)
