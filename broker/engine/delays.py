"""What of a queue waits for a time, and how much of it is in memory.

Delayed and scheduled messages (SQS DelaySeconds, AMQ_SCHEDULED_DELAY, redelivery
delays) and leases with a visibility deadline (SQS) each wait for a time: their row's
`visible_at`. A `Timeline` keeps the earliest of them in memory, ordered by (due, seq),
and leaves the rest in the store, found there by an index on (queue, visible_at, seq),
under one invariant:

    every timed message whose key (due, seq) is at most `horizon` is in memory.

`horizon` None means every timed message is in memory. So an arrival due after the
horizon goes to disk only, one due before it joins the timeline (and, past `capacity`,
pushes the latest ones out to disk, lowering the horizon), and paging in reads the rows
after the horizon in time order, ahead of their time, once a quarter of the timeline has
come due. Nothing due is released before everything due earlier, and the store's ready
pages only see rows whose time is before `cutoff` (the earliest time not yet released), so
a released message's row is ready as it is: it needs no write.

A page is read while the queue goes on: what is timed meanwhile stays in memory until the
page arrives (so the page's new horizon cannot pass over it), and what leaves meanwhile
is remembered (`tombstones`) so that a row read before it left does not come back.

On disk a timed row is a lease (an SQS message in flight, found by its receipt handle)
when it was delivered before (delivery count above 0), else a delayed message; a
redelivery delay paged out and back in is in flight until its time, as after a restart.
"""
from __future__ import annotations

import heapq
from typing import Any, Callable

from broker.engine.message import Message

# (due ms, seq): the order in which timed messages come due.
TimeKey = tuple[int, int]
Entry = tuple[int, int, Message]


def time_key(row: dict[str, Any]) -> TimeKey:
    return (row["visible_at"], row["seq"])


def is_lease(message: Message) -> bool:
    """How a timed row on disk reads back: in flight if it was delivered before."""
    return message.delivery_count > 0


class Timeline:
    def __init__(self, capacity: int | None, pinned: Callable[[Message], bool] = lambda m: False) -> None:
        # None: the queue has no store behind it, everything stays in memory.
        self.capacity = capacity
        # What never goes to disk before its time (a lease that blocks a FIFO group: the
        # group's order lives in memory).
        self.pinned = pinned
        # A heap of (due, seq, message); entries that are not their seq's entry in `due`
        # any more (it left, or was timed anew) are dropped lazily when they reach the top.
        self.items: list[Entry] = []
        self.due: dict[int, Entry] = {}
        self.horizon: TimeKey | None = None
        # Timed messages on disk only: delayed ones and leases.
        self.out_delayed = 0
        self.out_leases = 0
        self.reading = False
        self.epoch = 0
        self.tombstones: set[int] = set()
        # Delayed rows on disk cancelled since the last page (`cancel_out`).
        self.cancelled: set[int] = set()

    def __len__(self) -> int:
        return len(self.due)

    def __contains__(self, seq: int) -> bool:
        return seq in self.due

    @property
    def paged_out(self) -> int:
        return self.out_delayed + self.out_leases

    def messages(self) -> list[Message]:
        """The timed messages in memory, in no particular order."""
        return [e[2] for e in self.items if self.due.get(e[1]) is e]

    # -- timing messages -----------------------------------------------------------
    def add(self, message: Message, due: int, force: bool = False) -> list[Message]:
        """Time a message. Returns what now lives on disk only: this message, or the
        latest ones pushed out by it. `force` keeps it in memory whatever its time (a
        lease found by its receipt handle, about to be settled)."""
        seq = message.seq
        if (not force and not self.reading and self.horizon is not None
                and (due, seq) > self.horizon and not self.pinned(message)):
            self._out(message)
            return [message]
        entry = self.due[seq] = (due, seq, message)
        heapq.heappush(self.items, entry)
        return [] if force else self.trim()

    def remove(self, seq: int) -> None:
        """The message stops waiting (acked, released, timed anew, purged)."""
        if self.due.pop(seq, None) is not None and self.reading:
            self.tombstones.add(seq)

    def first_due(self) -> int | None:
        items, due = self.items, self.due
        while items and due.get(items[0][1]) is not items[0]:
            heapq.heappop(items)
        return items[0][0] if items else None

    def pop_due(self, now: int) -> list[Message]:
        """The messages whose time has come, in time order."""
        out: list[Message] = []
        while True:
            first = self.first_due()
            if first is None or first > now:
                return out
            _, seq, message = heapq.heappop(self.items)
            self.remove(seq)
            out.append(message)

    def cutoff(self, now: int) -> int:
        """Rows whose time is at most this are ready (or in memory): every timed message
        not yet released comes due after it."""
        bound = now
        first = self.first_due()
        if first is not None:
            bound = min(bound, first - 1)
        if self.horizon is not None:
            bound = min(bound, self.horizon[0] - 1)
        return bound

    def clear(self, keep_leases: bool) -> list[Message]:
        """Drop every timed message, but the leases when `keep_leases` (purge); returns
        the messages in memory dropped."""
        live = [e for e in self.items if self.due.get(e[1]) is e]
        kept = [e for e in live if keep_leases and e[2].lease is not None]
        self.items = kept
        heapq.heapify(self.items)
        self.due = {e[1]: e for e in kept}
        self.out_delayed = 0
        if not keep_leases:
            self.out_leases = 0
        if not self.out_leases:
            self.horizon = None
        self.epoch += 1      # a page being read now belongs to the old contents
        self.reading = False
        self.tombstones.clear()
        self.cancelled.clear()
        return [e[2] for e in live if not (keep_leases and e[2].lease is not None)]

    def cancel_out(self, seq: int) -> bool:
        """A delayed row on disk only (after the horizon) is deleted; False if it was
        already. A page being read must not bring it back; one read later will not see it."""
        if seq in self.cancelled or not self.out_delayed:
            return False
        self.cancelled.add(seq)
        self.out_delayed -= 1
        if self.reading:
            self.tombstones.add(seq)
        return True

    # -- paging out ---------------------------------------------------------------------
    def _out(self, message: Message) -> None:
        if is_lease(message):
            self.out_leases += 1
        else:
            self.out_delayed += 1

    def trim(self) -> list[Message]:
        """Push the latest out until `capacity` are in memory (those `pinned` stay)."""
        if self.capacity is None or self.reading or len(self.due) <= self.capacity:
            return []
        live = sorted(e for e in self.items if self.due.get(e[1]) is e)
        keep, out = live[:self.capacity], live[self.capacity:]
        keep += [e for e in out if self.pinned(e[2])]
        out = [e for e in out if not self.pinned(e[2])]
        if not out:
            return []
        keep.sort()
        self.items[:] = keep                          # sorted: a valid heap
        bound = out[0][:2]
        # The horizon: the last key kept before the first one pushed out.
        below = [e[:2] for e in keep if e[:2] < bound]
        self.horizon = below[-1] if below else (bound[0], bound[1] - 1)
        for entry in out:
            del self.due[entry[1]]
            self._out(entry[2])
        return [entry[2] for entry in out]

    # -- paging in ------------------------------------------------------------------------
    def wants_page(self) -> bool:
        """Whether to read the next page now: a quarter of the timeline came due (or left),
        so the page arrives before the next ones are due."""
        return (self.capacity is not None and not self.reading and self.horizon is not None
                and len(self.due) <= min(self.capacity - 1, self.capacity - self.capacity // 4))

    def request(self) -> tuple[TimeKey, int, int]:
        """Start reading a page: (after, limit, epoch)."""
        assert self.capacity is not None and self.horizon is not None
        self.reading = True
        return self.horizon, self.capacity - len(self.due), self.epoch

    def merge(self, rows: list[dict[str, Any]], limit: int, epoch: int,
              held: Callable[[int], bool]) -> list[dict[str, Any]]:
        """A page arrived: the rows that join the timeline (the caller makes messages of
        them and `place`s them)."""
        self.reading = False
        tombstones, self.tombstones = self.tombstones, set()
        self.cancelled.clear()
        if epoch != self.epoch:
            return []
        full = len(rows) >= limit
        fresh = [r for r in rows if r["seq"] not in tombstones and not held(r["seq"])]
        if full:
            self.horizon = time_key(rows[-1])
            leases = sum(1 for r in fresh if r["delivery_count"] > 0)
            self.out_leases = max(0, self.out_leases - leases)
            self.out_delayed = max(0, self.out_delayed - (len(fresh) - leases))
        else:
            self.horizon = None
            self.out_delayed = self.out_leases = 0
        return fresh

    def place(self, message: Message) -> None:
        """A message read from disk joins the timeline (its key is within the horizon)."""
        entry = self.due[message.seq] = (message.visible_at, message.seq, message)
        heapq.heappush(self.items, entry)

    def failed(self) -> None:
        """A page could not be read: what it would have brought stays on disk, counted."""
        self.reading = False
        self.tombstones.clear()

    def loaded(self, delayed: int, leases: int) -> None:
        """Start-up read the first timed rows: the rest of `delayed`/`leases` is on disk."""
        in_memory = self.messages()
        in_leases = sum(1 for m in in_memory if is_lease(m))
        self.out_leases = max(0, leases - in_leases)
        self.out_delayed = max(0, delayed - (len(in_memory) - in_leases))
        if self.paged_out:
            self.horizon = max(self.due[m.seq][:2] for m in in_memory) if in_memory else (0, 0)
