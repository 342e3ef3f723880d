"""ActiveMQ's broker redelivery policy (its `redeliveryPlugin`), for both doors.

When a client gives a message up (a STOMP NACK, a JMS poison ack) ActiveMQ sends it to the
dead-letter queue at once, unless a redelivery policy matches its destination: then it
comes back after a delay (`redeliveryDelay` and `scheduledJobId` headers), growing with an
exponential back-off if asked, until `maximum_redeliveries`, and only then goes to the DLQ.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from broker.engine.consumer import Lease
from broker.engine.topic import matches


@dataclass(frozen=True)
class RedeliveryPolicy:
    # ActiveMQ's RedeliveryPolicy defaults.
    maximum_redeliveries: int = 6
    initial_redelivery_delay: int = 1000
    redelivery_delay: int = 1000
    use_exponential_back_off: bool = False
    back_off_multiplier: float = 5.0

    def delay(self, redelivery: int) -> int:
        """The wait before redelivery number `redelivery` (1 for the first), in ms."""
        if redelivery <= 1:
            return self.initial_redelivery_delay
        if not self.use_exponential_back_off:
            return self.redelivery_delay
        base = self.initial_redelivery_delay or self.redelivery_delay
        return int(base * self.back_off_multiplier ** (redelivery - 1))


class RedeliveryPolicies:
    """Policies by destination pattern: an exact name wins over a wildcard, `>` is the default."""

    def __init__(self, table: dict[str, dict[str, Any]]) -> None:
        self._exact: dict[str, RedeliveryPolicy] = {}
        self._wildcards: list[tuple[str, RedeliveryPolicy]] = []
        for pattern, settings in table.items():
            policy = RedeliveryPolicy(**settings)
            if any(token in ("*", ">") for token in pattern.split(".")):
                self._wildcards.append((pattern, policy))
            else:
                self._exact[pattern] = policy
        # The most specific wildcard first: `orders.>` before `>`.
        self._wildcards.sort(key=lambda item: -len(item[0]))

    def __bool__(self) -> bool:
        return bool(self._exact or self._wildcards)

    def for_queue(self, name: str) -> RedeliveryPolicy | None:
        found = self._exact.get(name)
        if found is not None:
            return found
        for pattern, policy in self._wildcards:
            if matches(pattern, name):
                return policy
        return None

    def give_up(self, lease: Lease, cause: str) -> None:
        """A client gave the leased message up: redeliver it later, or dead-letter it."""
        queue = lease.queue
        message = lease.message
        policy = self.for_queue(queue.name) if self else None
        redelivery = message.delivery_count      # deliveries so far = the next redelivery's number
        if policy is None or redelivery > policy.maximum_redeliveries:
            queue.dead_letter(lease, cause)
            return
        delay = policy.delay(redelivery)
        message.headers = {**message.headers, "redeliveryDelay": str(delay),
                           "scheduledJobId": f"{message.message_id}:redelivery:{redelivery}"}
        queue.release(lease, delay_ms=delay)
