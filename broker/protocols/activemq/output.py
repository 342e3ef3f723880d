"""Output that waits for the store: a delivery leaves only once its delivery count is
committed, so a broker that crashes right after sending it redelivers it flagged
(`redelivered:true`, JMSRedelivered), never as if it were new.

Everything written after such a delivery waits behind it, so the client sees frames in
the order the broker produced them. Deliveries that hold nothing (auto-ack STOMP
subscriptions, non-persistent messages) go out at once when nothing is waiting.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable


class CommitOrderedOutput:
    def __init__(self, broker: Any, write: Callable[[bytes], None]) -> None:
        self._broker = broker
        self._write = write
        self._held: deque[list[Any]] = deque()   # [ready, data]
        self._then: list[Callable[[], None]] = []

    def write(self, data: bytes, after_commit: bool = False) -> None:
        if not after_commit:
            if self._held:
                self._held.append([True, data])
            else:
                self._write(data)
            return
        entry = [False, data]
        self._held.append(entry)

        def committed(_: Any) -> None:
            entry[0] = True
            self._flush()
        # committed() Deferreds fire in the order they were asked for: entries get ready in order.
        self._broker.committed().addBoth(committed)

    def _flush(self) -> None:
        held = self._held
        while held and held[0][0]:
            self._write(held.popleft()[1])
        if not held:
            then, self._then = self._then, []
            for action in then:
                action()

    def when_flushed(self, action: Callable[[], None]) -> None:
        """Run `action` (closing the connection) once everything held is written."""
        if self._held:
            self._then.append(action)
        else:
            action()
