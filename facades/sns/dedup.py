"""A FIFO topic's deduplication window: a Publish repeated within 5 minutes (same
MessageDeduplicationId, or same message with ContentBasedDeduplication) is answered with
the first one's MessageId and SequenceNumber and delivered nowhere.

Each entry is an engine record written in the same commit as the publication it stands
for, and dropped once it expires, so a restart does not open the window again.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

from broker.engine.broker import Broker

DEDUP_KIND = "sns-dedup"
DEDUP_WINDOW_MS = 5 * 60 * 1000


class Seen(NamedTuple):
    until: int          # epoch ms when the entry expires
    message_id: str
    sequence_number: str


class DedupWindow:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        # (topic, dedup id) -> Seen, oldest first
        self._seen: OrderedDict[tuple[str, str], Seen] = OrderedDict()

    def load(self) -> None:
        entries = []
        for name, data in self._broker.records(DEDUP_KIND).items():
            topic, _, dedup_id = name.partition(":")
            entries.append(((topic, dedup_id), Seen(data["until"], data["message_id"], data["sequence_number"])))
        for key, seen in sorted(entries, key=lambda entry: entry[1].until):
            self._seen[key] = seen

    def seen(self, topic: str, dedup_id: str, now: int) -> Seen | None:
        """The publication this one repeats, if it is still within its window."""
        self._expire(now)
        seen = self._seen.get((topic, dedup_id))
        return seen if seen is not None and seen.until > now else None

    def remember(self, topic: str, dedup_id: str, now: int, message_id: str, sequence_number: str) -> None:
        seen = Seen(now + DEDUP_WINDOW_MS, message_id, sequence_number)
        self._seen.pop((topic, dedup_id), None)
        self._seen[(topic, dedup_id)] = seen
        # Topic names never hold ':', so the first one separates the two parts.
        self._broker.put_record(DEDUP_KIND, f"{topic}:{dedup_id}", seen._asdict())

    def _expire(self, now: int) -> None:
        while self._seen:
            (topic, dedup_id), seen = next(iter(self._seen.items()))
            if seen.until > now:
                return
            del self._seen[(topic, dedup_id)]
            self._broker.drop_record(DEDUP_KIND, f"{topic}:{dedup_id}")
