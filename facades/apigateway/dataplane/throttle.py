"""Token-bucket throttling (rate + burst) read from an injected clock.

A bucket holds at most ``burst`` tokens and refills ``rate`` per second; a
request takes one token or is throttled (``429 Too Many Requests``).
Buckets are kept per stage method (from the stage's method settings,
``*/*`` as the fallback, AWS's account default otherwise) and per usage
plan key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: AWS's default account-level limits per region.
DEFAULT_RATE = 10000.0
DEFAULT_BURST = 5000


@dataclass
class Bucket:
    rate: float
    burst: int
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        if self.burst <= 0 and self.rate <= 0:
            return False
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Throttles:
    """Buckets by name; a bucket is rebuilt when its limits change."""

    def __init__(self, clock: Callable[[], float], max_buckets: int = 100_000) -> None:
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}
        self._max = max_buckets

    def allow(self, name: str, rate: float, burst: int) -> bool:
        now = self._clock()
        bucket = self._buckets.get(name)
        if bucket is None or bucket.rate != rate or bucket.burst != burst:
            if len(self._buckets) >= self._max:
                self._buckets.clear()  # bounded: forgetting buckets only lets callers in early
            bucket = self._buckets[name] = Bucket(rate, burst, float(burst), now)
        return bucket.take(now)
