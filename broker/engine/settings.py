"""Per-queue behaviour that the engine enforces, whichever door configured it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class QueueSettings:
    # SQS FIFO semantics: a message group is blocked while one of its messages is in flight.
    fifo: bool = False
    default_delay_ms: int = 0
    # Messages older than this are deleted (SQS MessageRetentionPeriod); 0 keeps them forever.
    retention_ms: int = 0
    # After this many deliveries the next delivery attempt moves the message to
    # `dead_letter` instead (SQS RedrivePolicy maxReceiveCount); 0 = never.
    max_deliveries: int = 0
    dead_letter: str = ""
    # FIFO deduplication window (ms); 0 disables deduplication.
    dedup_window_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "QueueSettings":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})
