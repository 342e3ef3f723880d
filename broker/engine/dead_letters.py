"""Where a destination's dead letters go: ActiveMQ's deadLetterStrategy, per policy.

A shared strategy sends every dead letter to one queue (`ActiveMQ.DLQ` unless named); an
individual one to a queue (or topic) named after the destination the message died on,
with a prefix and suffix for queues and for topics. Both drop non-persistent messages
unless `process_non_persistent`, and expired ones when `process_expired` is off; a dead
letter may be given an expiry of its own (`expiration`, ms) so a DLQ does not grow for ever.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

DLQ_NAME = "ActiveMQ.DLQ"
STRATEGIES = ("shared", "individual")


class DeadLetterError(ValueError):
    """A dead-letter setting that cannot be read."""


@dataclass(frozen=True)
class DeadLetterStrategy:
    individual: bool = False
    dead_letter_queue: str = DLQ_NAME           # shared
    queue_prefix: str = "ActiveMQ.DLQ.Queue."   # individual
    topic_prefix: str = "ActiveMQ.DLQ.Topic."
    queue_suffix: str = ""
    topic_suffix: str = ""
    use_queue_for_queue_messages: bool = True
    use_queue_for_topic_messages: bool = True
    process_expired: bool = True
    process_non_persistent: bool = False
    expiration: int = 0                         # ms a dead letter lives (0: for ever)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DeadLetterStrategy":
        """`strategy = "individual"` or `"shared"` (the default) and the settings above."""
        known = {k.replace("-", "_"): v for k, v in data.items()}
        strategy = known.pop("strategy", "shared")
        if strategy not in STRATEGIES:
            raise DeadLetterError(f"dead_letter strategy must be one of {', '.join(STRATEGIES)}")
        names = {f.name for f in fields(cls)} - {"individual"}
        unknown = set(known) - names
        if unknown:
            raise DeadLetterError(f"unknown dead_letter settings: {sorted(unknown)}")
        for key, value in known.items():
            wanted = type(getattr(cls(), key))
            if not isinstance(value, wanted) or (wanted is int and (isinstance(value, bool) or value < 0)):
                raise DeadLetterError(f"dead_letter.{key} must be a {'non-negative ' * (wanted is int)}"
                                      f"{wanted.__name__}")
        return cls(individual=strategy == "individual", **known)

    def takes(self, persistent: bool, expired: bool) -> bool:
        """Whether a message that died this way goes to a DLQ at all (else it is dropped)."""
        return (persistent or self.process_non_persistent) and (self.process_expired or not expired)

    def target(self, kind: str, name: str) -> tuple[str, str]:
        """The DLQ (kind, name) for a message that died on the queue or topic `name`."""
        if not self.individual:
            return "queue", self.dead_letter_queue
        if kind == "queue":
            return ("queue" if self.use_queue_for_queue_messages else "topic",
                    self.queue_prefix + name + self.queue_suffix)
        return ("queue" if self.use_queue_for_topic_messages else "topic",
                self.topic_prefix + name + self.topic_suffix)


SHARED = DeadLetterStrategy()


def individual_by_prefix(prefix: str) -> DeadLetterStrategy:
    """The broker-wide `individual_dead_letter_prefix` setting: <prefix><name>, a queue for
    queues and topics alike ("" keeps the shared ActiveMQ.DLQ)."""
    if not prefix:
        return SHARED
    return DeadLetterStrategy(individual=True, queue_prefix=prefix, topic_prefix=prefix)


@dataclass(frozen=True)
class ExpiryMove:
    """How the store moves the expired rows of a queue without reading them: to the queue
    `target` (None: they are deleted); `own` when that is the queue's own DLQ (an SQS
    redrive policy, which keeps the delivery count and names the source); `transient`
    when non-persistent rows go too (else they are deleted)."""

    target: str | None
    own: bool
    transient: bool
