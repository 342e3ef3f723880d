"""ActiveMQ's authorization map: destination patterns with read/write/admin groups.

Semantics follow ActiveMQ 5.17's DefaultAuthorizationMap and AuthorizationBroker:
- every entry whose pattern matches the destination contributes its groups (a union);
- with a map configured, a destination no entry matches is refused to everyone;
- `*` as a group name means every user;
- temporary destinations are not matched by name: they are open to all unless a
  `temp = true` entry says who may use them;
- advisory topics (`ActiveMQ.Advisory.>`) are ordinary topics to the map.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from broker.config import ConfigError
from broker.engine.topic import matches

QUEUE, TOPIC = "queue", "topic"
EVERYONE = "*"
_MAX_REMEMBERED = 10_000


@dataclass(frozen=True)
class Operation:
    acl: str    # which of the entry's lists decides: read, write or admin
    verb: str   # ActiveMQ's words in "User X is not authorized to <verb>: <destination>"


READ = Operation("read", "read from")
WRITE = Operation("write", "write to")
CREATE = Operation("admin", "create")
REMOVE = Operation("admin", "remove")
ADMIN = Operation("admin", "administer")   # managing an existing destination (AWS actions)


@dataclass(frozen=True)
class Target:
    """A destination as the map sees it; str() is ActiveMQ's qualified name."""

    kind: str           # QUEUE or TOPIC
    name: str
    temporary: bool = False

    def __str__(self) -> str:
        return f"{'temp-' if self.temporary else ''}{self.kind}://{self.name}"


class NotAuthorized(Exception):
    """Refused by the map; `message` is ActiveMQ's SecurityException text."""

    def __init__(self, message: str, target: Target, operation: Operation) -> None:
        super().__init__(message)
        self.message = message
        self.target = target
        self.operation = operation


@dataclass(frozen=True)
class Entry:
    kind: str | None        # None for the temp-destination entry
    pattern: str
    read: frozenset[str]
    write: frozenset[str]
    admin: frozenset[str]

    def groups(self, acl: str) -> frozenset[str]:
        return getattr(self, acl)


def _groups(raw: Any, where: str) -> frozenset[str]:
    if isinstance(raw, str):  # ActiveMQ writes "a,b"
        raw = [g.strip() for g in raw.split(",")]
    if not isinstance(raw, list) or not all(isinstance(g, str) for g in raw):
        raise ConfigError(f"{where} must be a list of group names")
    return frozenset(g for g in raw if g)


class AuthorizationMap:
    def __init__(self, entries: list[Entry], temp: Entry | None = None) -> None:
        self.entries = entries
        self.temp = temp
        # A map never changes (a reload builds a new one), so what it says about a
        # destination can be remembered: producers name the same few over and over.
        self._seen: dict[tuple[str, Target], frozenset[str]] = {}
        # Whether it restricts anything, asked on every send.
        self.configured = bool(entries) or temp is not None

    def groups_for(self, operation: Operation, target: Target) -> frozenset[str] | None:
        """Groups allowed to do `operation` on `target`; None when nothing restricts it."""
        if not self.configured:
            return None
        if target.temporary:
            return None if self.temp is None else self.temp.groups(operation.acl)
        key = (operation.acl, target)
        found = self._seen.get(key)
        if found is None:
            found = frozenset().union(*(e.groups(operation.acl) for e in self.entries
                                        if e.kind == target.kind and matches(e.pattern, target.name)))
            if len(self._seen) >= _MAX_REMEMBERED:
                self._seen.clear()
            self._seen[key] = found
        return found

    def allows(self, operation: Operation, target: Target, groups: frozenset[str]) -> bool:
        allowed = self.groups_for(operation, target)
        return allowed is None or EVERYONE in allowed or not allowed.isdisjoint(groups)


_ENTRY_KEYS = frozenset({"queue", "topic", "temp", "read", "write", "admin"})


def load_map(raw_entries: list[dict[str, Any]]) -> AuthorizationMap:
    entries: list[Entry] = []
    temp: Entry | None = None
    for i, raw in enumerate(raw_entries, 1):
        where = f"[[authorization]] entry {i}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = set(raw) - _ENTRY_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
        kinds = [k for k in ("queue", "topic") if k in raw] + (["temp"] if raw.get("temp") else [])
        if len(kinds) != 1:
            raise ConfigError(f"{where} needs exactly one of queue = \"...\", topic = \"...\" or temp = true")
        acls = {acl: _groups(raw.get(acl, []), f"{where}: {acl}") for acl in ("read", "write", "admin")}
        if kinds[0] == "temp":
            if temp is not None:
                raise ConfigError("only one [[authorization]] entry may have temp = true")
            temp = Entry(None, "", **acls)
            continue
        pattern = raw[kinds[0]]
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError(f"{where}: {kinds[0]} must be a destination name or pattern")
        # A composite pattern ("a,b") stands for an entry per part, as in ActiveMQ.
        for part in filter(None, (p.strip() for p in pattern.split(","))):
            entries.append(Entry(kinds[0], part, **acls))
    return AuthorizationMap(entries, temp)
