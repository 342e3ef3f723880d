"""Slowing repeated login failures, counting connections, and rate-limiting access keys.

All three read the injected clock, so unit tests drive them with `task.Clock`.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

# Failures an address may have before its next attempts are delayed.
FREE_FAILURES = 3
MAX_DELAY = 8.0
FAILURE_MEMORY = 300.0   # seconds after which an address's failures are forgotten
_MAX_TRACKED = 10_000


class FailureTracker:
    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self._failures: dict[str, tuple[int, float]] = {}
        self.total = 0
        # Refused logins since start, per (door, reason): what an operator graphs or alerts on.
        self.counts: Counter[tuple[str, str]] = Counter()

    def _count(self, address: str) -> int:
        count, last = self._failures.get(address, (0, 0.0))
        if count and self.clock.seconds() - last > FAILURE_MEMORY:
            del self._failures[address]
            return 0
        return count

    def delay(self, address: str) -> float:
        """How long the next attempt from `address` waits before it is checked."""
        extra = self._count(address) - FREE_FAILURES
        return 0.0 if extra < 0 else min(0.25 * 2 ** extra, MAX_DELAY)

    def failed(self, address: str, door: str = "", reason: str = "") -> int:
        self.total += 1
        self.counts[(door, reason)] += 1
        if len(self._failures) >= _MAX_TRACKED:
            self._failures.clear()
        count = self._count(address) + 1
        self._failures[address] = (count, self.clock.seconds())
        return count

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


class ConnectionCounter:
    """Open connections per user and per address, against the configured maxima."""

    def __init__(self, per_user: int, per_address: int) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.users: Counter[str] = Counter()
        self.addresses: Counter[str] = Counter()

    def admit_address(self, address: str) -> bool:
        if self.per_address and self.addresses[address] >= self.per_address:
            return False
        self.addresses[address] += 1
        return True

    def release_address(self, address: str) -> None:
        self.addresses[address] -= 1
        if self.addresses[address] <= 0:
            del self.addresses[address]

    def admit_user(self, name: str) -> bool:
        if self.per_user and self.users[name] >= self.per_user:
            return False
        self.users[name] += 1
        return True

    def release_user(self, name: str) -> None:
        self.users[name] -= 1
        if self.users[name] <= 0:
            del self.users[name]


class RateLimiter:
    """A token bucket per key: `rate` requests a second, bursts of up to `rate` (at least 1)."""

    def __init__(self, rate: float, clock: Any) -> None:
        self.rate = rate
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> bool:
        if self.rate <= 0:
            return True
        now = self.clock.seconds()
        burst = max(self.rate, 1.0)
        tokens, last = self._buckets.get(key, (burst, now))
        tokens = min(burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        if len(self._buckets) >= _MAX_TRACKED and key not in self._buckets:
            self._buckets.clear()
        self._buckets[key] = (tokens - 1.0, now)
        return True
