"""Per-stage response cache: TTL, keys from cache-key parameters, bounded size.

Entries expire ``ttl`` seconds after they were stored (read from an injected
clock) and the least recently used go first once a stage's cache holds
``max_entries`` entries or ``max_bytes`` of bodies.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    expires: float


class StageCache:
    def __init__(self, clock: Callable[[], float], max_entries: int = 10_000,
                 max_bytes: int = 64 * 1024 * 1024) -> None:
        self._clock = clock
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()
        self._bytes = 0
        self._max_entries = max_entries
        self._max_bytes = max_bytes

    def get(self, key: str) -> CachedResponse | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: str, status: int, headers: dict[str, str], body: bytes, ttl: int) -> None:
        if ttl <= 0 or len(body) > self._max_bytes:
            return
        self._remove(key)
        self._entries[key] = CachedResponse(status, dict(headers), body, self._clock() + ttl)
        self._bytes += len(body)
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            oldest = next(iter(self._entries))
            self._remove(oldest)

    def invalidate(self, key: str) -> None:
        self._remove(key)

    def flush(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _remove(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.body)
