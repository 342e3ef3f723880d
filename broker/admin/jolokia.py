"""ActiveMQ's MBeans as Jolokia serves them under `/api/jolokia`, read-only.

Monitoring scripts written for ActiveMQ read attributes such as
`org.apache.activemq:type=Broker,brokerName=localhost,destinationType=Queue,destinationName=orders/QueueSize`.
This module turns a snapshot of the broker's counters (`Broker.stats()`) into those MBeans
and answers Jolokia's `read`, `search` and `version` requests with Jolokia's JSON shapes;
it knows nothing of HTTP (pure, unit-tested).
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Callable, Iterable

DOMAIN = "org.apache.activemq"
AGENT_VERSION = "1.7.1"       # the Jolokia agent ActiveMQ 5.17 ships
PROTOCOL_VERSION = "7.2"
NOT_FOUND = "javax.management.InstanceNotFoundException"
NO_ATTRIBUTE = "javax.management.AttributeNotFoundException"
MALFORMED = "javax.management.MalformedObjectNameException"
BAD_REQUEST = "java.lang.IllegalArgumentException"


class JolokiaError(Exception):
    """A request Jolokia answers with an error object: `status`, Java exception type, text."""

    def __init__(self, status: int, error_type: str, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.error_type = error_type
        self.text = text


@dataclass(frozen=True)
class ObjectName:
    """A JMX object name: a domain and key properties; `wild` is a trailing `,*`."""

    domain: str
    keys: tuple[tuple[str, str], ...]
    wild: bool = False

    @classmethod
    def parse(cls, text: str) -> "ObjectName":
        domain, sep, rest = text.partition(":")
        if not sep or not domain:
            raise JolokiaError(400, MALFORMED, f"{MALFORMED} : Key properties cannot be empty")
        keys: list[tuple[str, str]] = []
        wild = False
        for part in rest.split(","):
            if part == "*":
                wild = True
                continue
            key, eq, value = part.partition("=")
            if not eq or not key or not value:
                raise JolokiaError(400, MALFORMED, f"{MALFORMED} : Invalid key property: {part}")
            keys.append((key, value))
        if not keys and not wild:
            raise JolokiaError(400, MALFORMED, f"{MALFORMED} : Key properties cannot be empty")
        return cls(domain, tuple(keys), wild)

    @property
    def is_pattern(self) -> bool:
        return self.wild or any(c in v for _, v in self.keys for c in "*?") or any(c in self.domain for c in "*?")

    def canonical(self) -> str:
        """JMX's canonical name: keys in lexical order (what Jolokia echoes back)."""
        text = self.domain + ":" + ",".join(f"{k}={v}" for k, v in sorted(self.keys))
        return text + (",*" if self.wild else "")

    def __str__(self) -> str:
        return self.domain + ":" + ",".join(f"{k}={v}" for k, v in self.keys) + (",*" if self.wild else "")

    def matches(self, other: "ObjectName") -> bool:
        """Whether the concrete name `other` is one this (pattern) name selects."""
        if not fnmatch.fnmatchcase(other.domain, self.domain):
            return False
        theirs = dict(other.keys)
        for key, value in self.keys:
            if key not in theirs or not fnmatch.fnmatchcase(theirs[key], value):
                return False
        return self.wild or len(theirs) == len(self.keys)


def _percent(used: int, limit: int) -> int:
    return int(used * 100 // limit) if limit > 0 else 0


def broker_name(broker: str) -> ObjectName:
    return ObjectName(DOMAIN, (("type", "Broker"), ("brokerName", broker)))


def destination_name(broker: str, kind: str, name: str) -> ObjectName:
    return ObjectName(DOMAIN, (("type", "Broker"), ("brokerName", broker),
                               ("destinationType", kind), ("destinationName", name)))


def mbeans(stats: dict[str, Any], broker: str, version: str, uptime_ms: int,
           connections: int) -> dict[ObjectName, dict[str, Any]]:
    """The Broker MBean and one MBean per queue and topic, attribute name -> value."""
    queues = {n: q for n, q in stats["queues"].items() if q.get("kind", "queue") == "queue"}
    topics = stats.get("topics", {})
    memory_limit = stats["memory_limit"]
    out: dict[ObjectName, dict[str, Any]] = {}
    queue_names = [destination_name(broker, "Queue", n) for n in sorted(queues)]
    topic_names = [destination_name(broker, "Topic", n) for n in sorted(topics)]
    for name, q in queues.items():
        size = q["ready"] + q["delayed"] + q["inflight"]
        out[destination_name(broker, "Queue", name)] = {
            "Name": name, "QueueSize": size, "ConsumerCount": q["consumers"],
            "EnqueueCount": q["enqueued"], "DequeueCount": q["dequeued"],
            "InFlightCount": q["inflight"], "MemoryUsageByteCount": q["memory_bytes"],
            "MemoryLimit": memory_limit, "MemoryPercentUsage": _percent(q["memory_bytes"], memory_limit),
            "BlockedSends": q["producers_blocked"],
            "AverageMessageSize": q["bytes"] // size if size else 0,
        }
    for name, t in topics.items():
        out[destination_name(broker, "Topic", name)] = {
            "Name": name, "QueueSize": t["pending"], "ConsumerCount": t["consumers"],
            "EnqueueCount": t["enqueued"], "BlockedSends": t["producers_blocked"],
        }
    out[broker_name(broker)] = {
        "BrokerName": broker, "BrokerVersion": version, "Uptime": _uptime(uptime_ms),
        "UptimeMillis": uptime_ms,
        "TotalMessageCount": sum(q["ready"] + q["delayed"] + q["inflight"] for q in stats["queues"].values()),
        "TotalConsumerCount": sum(q["consumers"] for q in stats["queues"].values()),
        "TotalEnqueueCount": sum(q["enqueued"] for q in queues.values()) + sum(
            t["enqueued"] for t in topics.values()),
        "TotalDequeueCount": sum(q["dequeued"] for q in stats["queues"].values()),
        "CurrentConnectionsCount": connections,
        "MemoryLimit": memory_limit, "MemoryPercentUsage": _percent(stats["memory_used"], memory_limit),
        "StoreLimit": stats["store_limit"], "StorePercentUsage": _percent(stats["store_used"], stats["store_limit"]),
        "Queues": [{"objectName": n.canonical()} for n in queue_names],
        "Topics": [{"objectName": n.canonical()} for n in topic_names],
    }
    return out


def _uptime(ms: int) -> str:
    """ActiveMQ's Uptime text, e.g. `1 hour 2 minutes`."""
    seconds = ms // 1000
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n, seconds = divmod(seconds, size)
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    if not parts:
        return f"{ms / 1000:.3f} seconds"
    return " ".join(parts)


def unescape_path(path: str) -> list[str]:
    """A GET request's path split at `/`, with Jolokia's escapes (`!/`, `!!`) undone."""
    parts, current, i = [], [], 0
    while i < len(path):
        c = path[i]
        if c == "!" and i + 1 < len(path):
            current.append(path[i + 1])
            i += 2
            continue
        if c == "/":
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    return [p for p in parts if p != ""] if path else []


def request_from_path(path: str) -> dict[str, Any]:
    """A GET URL's path after the agent (`read/MBEAN/ATTR`, `search/PATTERN`, `version`)
    as Jolokia's request object."""
    parts = unescape_path(path)
    if not parts:
        return {"type": "version"}
    kind, args = parts[0].lower(), parts[1:]
    request: dict[str, Any] = {"type": kind}
    if kind in ("read", "search") and args:
        request["mbean"] = args[0]
    if kind == "read" and len(args) > 1:
        attribute = args[1]
        request["attribute"] = attribute.split(",") if "," in attribute else attribute
        if len(args) > 2:
            request["path"] = "/".join(args[2:])
    return request


class Agent:
    """Answers Jolokia requests against MBeans made fresh for each request."""

    def __init__(self, beans: Callable[[], dict[ObjectName, dict[str, Any]]], clock: Callable[[], float]) -> None:
        self.beans = beans
        self.clock = clock

    def handle(self, request: Any) -> dict[str, Any]:
        """One request object -> one response object (errors included, as Jolokia)."""
        echo: dict[str, Any] = dict(request) if isinstance(request, dict) else {}
        try:
            if not isinstance(request, dict):
                raise JolokiaError(400, BAD_REQUEST, f"{BAD_REQUEST} : a request must be a JSON object")
            kind = str(request.get("type", "")).lower()
            echo["type"] = kind
            if kind == "version":
                value: Any = {"agent": AGENT_VERSION, "protocol": PROTOCOL_VERSION, "info": {},
                              "config": {"canonicalNaming": "true", "agentType": "servlet"}}
            elif kind == "read":
                name = self._name(request)
                echo["mbean"] = name.canonical()
                value = self._read(name, request.get("attribute"), request.get("path"))
            elif kind == "search":
                name = self._name(request)
                echo["mbean"] = name.canonical()
                value = sorted(n.canonical() for n in self.beans() if name.matches(n))
            else:
                raise JolokiaError(400, BAD_REQUEST,
                                   f"{BAD_REQUEST} : Type {kind!r} is not supported here (read, search, version)")
        except JolokiaError as exc:
            return {"request": echo, "error_type": exc.error_type, "error": exc.text, "status": exc.status}
        return {"request": echo, "value": value, "timestamp": int(self.clock()), "status": 200}

    def handle_all(self, body: Any) -> Any:
        """A POST body: one request object, or a list of them (a bulk request)."""
        if isinstance(body, list):
            return [self.handle(r) for r in body]
        return self.handle(body)

    @staticmethod
    def _name(request: dict[str, Any]) -> ObjectName:
        mbean = request.get("mbean")
        if not isinstance(mbean, str):
            raise JolokiaError(400, BAD_REQUEST, f"{BAD_REQUEST} : No MBean name given")
        return ObjectName.parse(mbean)

    def _read(self, name: ObjectName, attribute: Any, path: Any) -> Any:
        beans = self.beans()
        if name.is_pattern:
            found = {n: attrs for n, attrs in beans.items() if name.matches(n)}
            if not found:
                raise JolokiaError(404, NOT_FOUND, f"{NOT_FOUND} : No MBean with pattern {name} found for reading attributes")
            return {n.canonical(): self._attributes(n, attrs, attribute, quiet=True) for n, attrs in found.items()}
        attrs = next((a for n, a in beans.items() if n.canonical() == name.canonical()), None)
        if attrs is None:
            raise JolokiaError(404, NOT_FOUND, f"{NOT_FOUND} : {name}")
        value = self._attributes(name, attrs, attribute, quiet=False)
        if isinstance(path, str) and path and isinstance(value, (dict, list)):
            for step in unescape_path(path):
                try:
                    value = value[int(step)] if isinstance(value, list) else value[step]
                except (KeyError, IndexError, ValueError):
                    raise JolokiaError(400, BAD_REQUEST, f"{BAD_REQUEST} : No value at path {path}") from None
        return value

    @staticmethod
    def _attributes(name: ObjectName, attrs: dict[str, Any], attribute: Any, quiet: bool) -> Any:
        if attribute is None or attribute == []:
            return dict(attrs)
        wanted: Iterable[str] = attribute if isinstance(attribute, list) else [attribute]
        missing = [a for a in wanted if a not in attrs]
        if missing and not quiet:
            raise JolokiaError(404, NO_ATTRIBUTE, f"{NO_ATTRIBUTE} : No such attribute: {missing[0]}")
        if isinstance(attribute, list) or quiet:
            return {a: attrs[a] for a in wanted if a in attrs}
        return attrs[attribute]
