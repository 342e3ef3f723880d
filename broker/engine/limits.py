"""Memory and store limits, and what a sender meets at one: wait or be refused.

Limits are per destination (a policy matched by name, as ActiveMQ's policyEntry) and
broker-wide (message content in memory, bytes in the store). A door asks `Broker.admit`
before it sends; the answer says go on, wait for a Deferred (the door stops reading from
that client, as ActiveMQ's producer flow control does), or refuse with a neutral reason
that each door renders in its own wire format.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.internet import defer

from broker.engine.dead_letters import DeadLetterError, DeadLetterStrategy
from broker.engine.topic import matches

MIB = 1024 * 1024
DEFAULT_MEMORY_LIMIT = 256 * MIB


class LimitError(ValueError):
    """A limits setting that cannot be read."""


def parse_size(text: str | int) -> int:
    """`256MiB`, `1 GB`, `512k`, `1048576`: bytes (0 = no limit)."""
    if isinstance(text, int):
        return text
    raw = text.strip().lower().replace(" ", "").rstrip("b").rstrip("i")
    units = {"k": 1024, "m": MIB, "g": 1024 * MIB, "t": 1024 ** 4}
    try:
        if raw and raw[-1] in units:
            return int(float(raw[:-1]) * units[raw[-1]])
        return int(raw or 0)
    except ValueError as exc:
        raise LimitError(f"not a size: {text!r}") from exc


@dataclass(frozen=True)
class Policy:
    """Limits for the destinations whose names match `queue` or `topic` (ActiveMQ
    wildcards: `*` one level, `>` the rest)."""

    queue: str = ""
    topic: str = ""
    max_messages: int = 0          # 0: no limit
    max_bytes: int = 0
    # At a limit: the sender waits (True) or, when False, the message is accepted anyway
    # (it goes to disk); send_fail_if_no_space refuses instead of waiting.
    producer_flow_control: bool = True
    send_fail_if_no_space: bool = False
    # ActiveMQ's deadLetterStrategy for these destinations (None: the broker's default).
    dead_letter: DeadLetterStrategy | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Policy":
        known = {k.replace("-", "_"): v for k, v in data.items()}
        unknown = set(known) - set(cls.__dataclass_fields__)
        if unknown:
            raise LimitError(f"unknown policy settings: {sorted(unknown)}")
        if "max_bytes" in known:
            known["max_bytes"] = parse_size(known["max_bytes"])
        if "dead_letter" in known:
            table = known["dead_letter"]
            if not isinstance(table, dict):
                raise LimitError("a policy's dead_letter is a table")
            try:
                known["dead_letter"] = DeadLetterStrategy.from_dict(table)
            except DeadLetterError as exc:
                raise LimitError(str(exc)) from None
        if not (known.get("queue") or known.get("topic")):
            raise LimitError("a policy names a queue or topic pattern")
        return cls(**known)

    def covers(self, kind: str, name: str) -> bool:
        pattern = self.topic if kind == "topic" else self.queue
        return bool(pattern) and matches(pattern, name)


DEFAULT_POLICY = Policy(queue=">", topic=">")


@dataclass(frozen=True)
class Refusal:
    """Why a send was refused: `resource` is "memory" (a destination or the broker's
    memory limit) or "store" (the store limit, or a full disk); `limit` in bytes or messages."""

    resource: str
    limit: int


class Refused(Exception):
    """A send the engine took was refused when its transaction found the store full; the
    door answers it as it answers a send refused up front (`refusal`)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"the {refusal.resource} is full")
        self.refusal = refusal


@dataclass
class Admission:
    """The answer to a door that wants to send: both None means go on."""

    wait: defer.Deferred[None] | None = None
    refused: Refusal | None = None

    @property
    def ok(self) -> bool:
        return self.wait is None and self.refused is None


ADMITTED = Admission()
