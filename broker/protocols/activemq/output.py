"""Output that waits for the store: a delivery leaves only once its delivery count is
committed, so a broker that crashes right after sending it redelivers it flagged
(`redelivered:true`, JMSRedelivered), never as if it were new.

Everything written after such a delivery waits behind it, so the client sees frames in
the order the broker produced them. Deliveries that hold nothing (auto-ack STOMP
subscriptions, non-persistent messages) go out at once when nothing is waiting.

While a `Gathering` is open (a door handling one read), the deliveries an output holds
share one commit wait, asked when the read is done, rather than one each.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable


class Gathering:
    """A synchronous stretch of the reactor thread (a door handling one read) during which
    outputs gather their held deliveries under one commit wait, asked as it closes.

    Exact: that wait is asked after every delivery count the stretch stored, so nothing
    leaves before its count is committed; and as the store starts no transaction while
    the reactor thread runs a stretch (its flushes are reactor calls of their own), each
    wait the deliveries would have asked one by one joins the same transaction as the
    one asked at the end, which commits them all at the same moment."""

    def __init__(self) -> None:
        self.depth = 0
        self.outputs: list[CommitOrderedOutput] = []

    def open(self) -> None:
        self.depth += 1

    def close(self) -> None:
        self.depth -= 1
        if self.depth or not self.outputs:
            return
        outputs, self.outputs = self.outputs, []
        for output in outputs:
            output.wait_for_gathered()


class CommitOrderedOutput:
    def __init__(self, broker: Any, write: Callable[[bytes], None],
                 gathering: Gathering | None = None) -> None:
        self._broker = broker
        self._write = write
        self._held: deque[list[Any]] = deque()   # [ready, data]
        self._then: list[Callable[[], None]] = []
        self._gathering = gathering
        self._gathered: list[list[Any]] = []      # held entries whose wait is not asked yet

    def write(self, data: bytes, after_commit: bool = False) -> None:
        if not after_commit:
            if self._held:
                self._held.append([True, data])
            else:
                self._write(data)
            return
        entry = [False, data]
        self._held.append(entry)
        gathering = self._gathering
        if gathering is not None and gathering.depth:
            if not self._gathered:
                gathering.outputs.append(self)
            self._gathered.append(entry)
            return
        self._wait([entry])

    def wait_for_gathered(self) -> None:
        """One commit wait for the deliveries held while the gathering was open."""
        entries, self._gathered = self._gathered, []
        self._wait(entries)

    def _wait(self, entries: list[list[Any]]) -> None:
        def committed(_: Any) -> None:
            for entry in entries:
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
