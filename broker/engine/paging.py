"""How much of a queue is in memory: a bounded window at the head of its delivery order.

A queue's ready messages are ordered by (-priority, seq). The `Window` keeps the first of
them in memory and leaves the rest in the store, under one invariant:

    every ready message whose key is at most `horizon` is in memory (or in flight, or
    parked by its group); every one whose key is above it is on disk only.

`horizon` None means nothing is on disk only. So an arrival that ranks after the horizon
goes to disk only, an arrival that ranks before it joins the window (and, if the window is
full, pushes the window's last message out to disk, lowering the horizon), and paging in
reads the rows after the horizon, in order, then raises the horizon to the last row read.
Nothing is reordered by paging.

A page is read while the queue goes on: what goes to disk meanwhile is kept aside
(`pending`) and merged by key when the page arrives, and what is consumed meanwhile is
remembered (`tombstones`) so that a row read before its delete committed is not delivered
again.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from sortedcontainers import SortedKeyList

from broker.engine.message import Message

Key = tuple[int, int]


def order_key(message: Message) -> Key:
    """Delivery order: higher priority first, then arrival."""
    return (-message.priority, message.seq)


def row_key(row: dict[str, Any]) -> Key:
    return (-row["priority"], row["seq"])


class Window:
    def __init__(self, capacity: int | None) -> None:
        # None: the queue has no store behind it, everything stays in memory.
        self.capacity = capacity
        self.items: SortedKeyList = SortedKeyList(key=order_key)
        self.horizon: Key | None = None
        self.paged_out = 0
        self.reading = False
        self.epoch = 0
        self.pending: dict[int, Message] = {}
        self.tombstones: set[int] = set()

    def __len__(self) -> int:
        return len(self.items)

    # -- placing messages ------------------------------------------------------------
    def place(self, message: Message, room: bool = True) -> list[Message]:
        """Put a ready message where the invariant wants it. Returns what now lives on
        disk only: this message, or the window's last ones pushed out by it. Without
        `room` the window may not grow (memory is short): one of them goes to disk."""
        if self.horizon is not None and order_key(message) > self.horizon:
            self._out(message)
            return [message]
        self.items.add(message)
        if not room and self.capacity is not None:
            return self.trim(len(self.items) - 1)
        return self.trim()

    def _out(self, message: Message) -> None:
        self.paged_out += 1
        if self.reading:
            self.pending[message.seq] = message

    def pop(self) -> Message:
        return self.items.pop(0)

    def first(self) -> Message:
        return self.items[0]

    def put_back(self, messages: Iterable[Message]) -> None:
        """Messages taken from the head and not delivered go back (they rank before the horizon)."""
        self.items.update(messages)

    def gone(self, seq: int) -> None:
        """A message left the queue: a page being read may still hold its row."""
        if self.reading:
            self.tombstones.add(seq)

    def clear(self) -> list[Message]:
        """Empty the window and forget the disk part (the queue was purged)."""
        items = list(self.items)
        self.items.clear()
        self.horizon, self.paged_out = None, 0
        self.pending.clear()
        self.epoch += 1      # a page being read now belongs to the old contents
        return items

    # -- paging in ---------------------------------------------------------------------
    def wants_page(self, parked: int = 0) -> bool:
        """Whether to read the next page now: the window is half empty. Messages parked
        behind a busy group are held apart from the window; past a bound they stop paging
        (the group's next ack releases them), so memory stays bounded."""
        return (self.capacity is not None and not self.reading and self.paged_out > 0
                and len(self.items) <= self.capacity // 2 and parked < 4 * self.capacity)

    def request(self, at_most: int | None = None) -> tuple[Key | None, int, int]:
        """Start reading a page: (after, limit, epoch)."""
        assert self.capacity is not None
        self.reading = True
        limit = self.capacity - len(self.items)
        return self.horizon, min(limit, at_most) if at_most else limit, self.epoch

    def merge(self, rows: list[dict[str, Any]], limit: int, epoch: int,
              held: Callable[[int], bool], make: Callable[[dict[str, Any]], Message]) -> list[Message]:
        """A page arrived: the messages that join the window, in order (pushing the window's
        tail back out if they overfill it, which `place` reports as usual)."""
        self.reading = False
        pending, self.pending = self.pending, {}
        tombstones, self.tombstones = self.tombstones, set()
        if epoch != self.epoch:
            return []
        full = len(rows) >= limit
        last = row_key(rows[-1]) if full else None
        fresh: list[Message] = []
        for row in rows:
            seq = row["seq"]
            found = pending.pop(seq, None)
            if found is not None:
                fresh.append(found)
            elif seq not in tombstones and not held(seq):
                fresh.append(make(row))
        fresh += [m for m in pending.values() if last is None or order_key(m) <= last]
        self.horizon = last
        self.paged_out = max(0, self.paged_out - len(fresh)) if last is not None else 0
        self.items.update(fresh)
        return fresh

    def failed(self) -> None:
        """A page could not be read: what it would have brought stays on disk, counted."""
        self.reading = False
        self.pending.clear()
        self.tombstones.clear()

    def trim(self, size: int | None = None) -> list[Message]:
        """Push the tail out until the window holds at most `size` (its capacity)."""
        out: list[Message] = []
        if self.capacity is None:
            return out
        size = self.capacity if size is None else size
        while len(self.items) > size:
            tail = self.items.pop(-1)
            self.horizon = order_key(self.items[-1]) if self.items else order_key(tail)
            self._out(tail)
            out.append(tail)
        return out
