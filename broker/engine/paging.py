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

import heapq
from typing import Any, Callable, Iterable

from broker.engine.message import Message

Key = tuple[int, int]
# A window entry: (-priority, seq, message); tuples compare in C, and seq never repeats.
Entry = tuple[int, int, Message]
# While nothing is on disk, a window may hold this many times its capacity in messages that
# have no row (non-persistent ones): writing them out costs an insert each and reading them
# back a page, which is what keeping them saves. ActiveMQ likewise keeps non-persistent
# messages in memory until its memory limit and only then spills them to its temp store;
# the broker's memory limit (`room`) still bounds them.
NON_PERSISTENT_STRETCH = 64


def order_key(message: Message) -> Key:
    """Delivery order: higher priority first, then arrival."""
    return (-message.priority, message.seq)


def row_key(row: dict[str, Any]) -> Key:
    return (-row["priority"], row["seq"])


class Window:
    def __init__(self, capacity: int | None) -> None:
        # None: the queue has no store behind it, everything stays in memory.
        self.capacity = capacity
        # A heap: taking the head is O(log n). Pushing the tail out is O(n), and happens
        # only when an arrival ranks inside a full window or memory is short.
        self.items: list[Entry] = []
        self.horizon: Key | None = None
        self.paged_out = 0
        self.reading = False
        self.epoch = 0
        self.pending: dict[int, Message] = {}
        self.tombstones: set[int] = set()

    def __len__(self) -> int:
        return len(self.items)

    def messages(self) -> list[Message]:
        """The window's messages, in no particular order."""
        return [e[2] for e in self.items]

    def last_key(self) -> Key:
        return max(self.items)[:2]

    # -- placing messages ------------------------------------------------------------
    def place(self, message: Message, room: bool = True) -> list[Message]:
        """Put a ready message where the invariant wants it. Returns what now lives on
        disk only: this message, or the window's last ones pushed out by it. Without
        `room` the window may not grow (memory is short): one of them goes to disk."""
        entry = (-message.priority, message.seq, message)
        if self.horizon is not None and entry[:2] > self.horizon:
            self._out(message)
            return [message]
        heapq.heappush(self.items, entry)
        if self.capacity is None:
            return []
        if (room and self.horizon is None and not message.stored
                and len(self.items) <= self.capacity * NON_PERSISTENT_STRETCH):
            return []
        return self.trim(len(self.items) - 1 if not room else None)

    def push(self, message: Message) -> None:
        """Add to a window without a store behind it (nothing is ever on disk)."""
        heapq.heappush(self.items, (-message.priority, message.seq, message))

    def _out(self, message: Message) -> None:
        self.paged_out += 1
        if self.reading:
            self.pending[message.seq] = message

    def pop(self) -> Message:
        return heapq.heappop(self.items)[2]

    def first(self) -> Message:
        return self.items[0][2]

    def put_back(self, messages: Iterable[Message]) -> None:
        """Messages taken from the head and not delivered go back (they rank before the horizon)."""
        for m in messages:
            heapq.heappush(self.items, (-m.priority, m.seq, m))

    def discard(self, seqs: set[int]) -> None:
        """Take these messages out of the window wherever they are (rare: O(window))."""
        self.items[:] = [e for e in self.items if e[1] not in seqs]
        heapq.heapify(self.items)

    def gone(self, seq: int) -> None:
        """A message left the queue: a page being read may still hold its row."""
        if self.reading:
            self.tombstones.add(seq)

    def clear(self) -> list[Message]:
        """Empty the window and forget the disk part (the queue was purged)."""
        items = self.messages()
        self.items.clear()
        self.horizon, self.paged_out = None, 0
        self.pending.clear()
        self.epoch += 1      # a page being read now belongs to the old contents
        return items

    def landed(self, first: Key, count: int) -> list[Message]:
        """`count` rows were moved onto the disk part by the store (dead letters), the
        first of them at `first`: the horizon goes below it (the next pages read them) and
        what ranks after it leaves memory, which is returned."""
        self.paged_out += count
        out = [e for e in self.items if e[:2] > first]
        if out:
            self.items[:] = [e for e in self.items if e[:2] <= first]
            heapq.heapify(self.items)
            for entry in out:
                self._out(entry[2])
        bound = (first[0], first[1] - 1)
        if self.horizon is None or bound < self.horizon:
            self.horizon = bound
        self.epoch += 1      # a page being read now may not have seen them
        return [entry[2] for entry in out]

    # -- paging in ---------------------------------------------------------------------
    def wants_page(self, parked: int = 0) -> bool:
        """Whether to read the next page now: a quarter of the window was consumed, so the
        page arrives while the rest is delivered and consumers do not wait for the disk.
        Messages parked behind a busy group are held apart from the window; past a bound
        they stop paging (the group's next ack releases them), so memory stays bounded."""
        # The horizon, not the count, says whether anything may be on disk: a read that
        # finds nothing ends it, so an approximate count can never strand a message.
        return (self.capacity is not None and not self.reading and self.horizon is not None
                and len(self.items) <= min(self.capacity - 1, self.capacity - self.capacity // 4)
                and parked < 4 * self.capacity)

    def request(self, at_most: int | None = None) -> tuple[Key | None, int, int]:
        """Start reading a page: (after, limit, epoch)."""
        assert self.capacity is not None
        self.reading = True
        limit = self.capacity - len(self.items)
        return self.horizon, min(limit, at_most) if at_most else limit, self.epoch

    def merge(self, found: list[Message], limit: int, epoch: int,
              held: Callable[[int], bool]) -> list[Message]:
        """A page arrived (its messages, as read): the messages that join the window, in
        order (pushing the window's tail back out if they overfill it, which `place`
        reports as usual)."""
        self.reading = False
        pending, self.pending = self.pending, {}
        tombstones, self.tombstones = self.tombstones, set()
        if epoch != self.epoch:
            return []
        last = order_key(found[-1]) if len(found) >= limit else None
        fresh: list[Message] = []
        for message in found:
            seq = message.seq
            kept = pending.pop(seq, None)
            if kept is not None:
                fresh.append(kept)
            elif seq not in tombstones and not held(seq):
                fresh.append(message)
        fresh += [m for m in pending.values() if last is None or order_key(m) <= last]
        self.horizon = last
        self.paged_out = max(0, self.paged_out - len(fresh)) if last is not None else 0
        self.items.extend((-m.priority, m.seq, m) for m in fresh)
        heapq.heapify(self.items)
        return fresh

    def failed(self) -> None:
        """A page could not be read: what it would have brought stays on disk, counted."""
        self.reading = False
        self.pending.clear()
        self.tombstones.clear()

    def trim(self, size: int | None = None) -> list[Message]:
        """Push the tail out until the window holds at most `size` (its capacity)."""
        if self.capacity is None:
            return []
        size = self.capacity if size is None else size
        if len(self.items) <= size:
            return []
        ordered = sorted(self.items)
        keep, out = ordered[:size], ordered[size:]
        self.items[:] = keep                          # sorted: a valid heap
        self.horizon = keep[-1][:2] if keep else out[0][:2]
        for entry in out:
            self._out(entry[2])
        return [entry[2] for entry in out]
