"""Coalescing of store operations into one group-committed transaction.

Everything the engine asks of the store while a transaction is being written waits in a
`Batch`; the next transaction writes the whole batch at once. Operations on the same
message fold together first: a message inserted and deleted within one batch (sent and
acked before its commit) never reaches the disk, and later state updates of a pending
insert are merged into the inserted row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


@dataclass
class Batch:
    inserts: dict[int, Row] = field(default_factory=dict)
    updates: dict[int, Row] = field(default_factory=dict)
    deletes: set[int] = field(default_factory=set)
    # Destination and record changes keep their order (a drop then a re-create of one name).
    destination_ops: list[tuple[str, Any]] = field(default_factory=list)
    dropped: set[int] = field(default_factory=set)
    # Shared bodies to write (id -> body) and ids whose copies were deleted.
    contents: dict[int, bytes] = field(default_factory=dict)
    released: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.inserts or self.updates or self.deletes or self.destination_ops
                    or self.contents or self.released)

    def insert(self, row: Row) -> None:
        self.inserts[row["seq"]] = row

    def update(self, seq: int, values: Row) -> None:
        pending = self.inserts.get(seq)
        if pending is not None:
            pending.update(values)
        else:
            self.updates.setdefault(seq, {}).update(values)

    def delete(self, seq: int) -> None:
        if self.inserts.pop(seq, None) is not None:
            self.updates.pop(seq, None)
            return
        self.updates.pop(seq, None)
        self.deletes.add(seq)

    def put_destination(self, row: Row) -> None:
        self.destination_ops.append(("put", row))

    def put_record(self, kind: str, name: str, data: str) -> None:
        self.destination_ops.append(("put_record", (kind, name, data)))

    def drop_record(self, kind: str, name: str) -> None:
        self.destination_ops.append(("drop_record", (kind, name)))

    def drop_destination(self, dest_id: int) -> None:
        """Drop a destination and every message it holds, pending ones included."""
        self.destination_ops.append(("drop", dest_id))
        self.dropped.add(dest_id)
        for seq in [s for s, r in self.inserts.items() if r["dest_id"] == dest_id]:
            del self.inserts[seq]
            self.updates.pop(seq, None)

    def purge(self, dest_id: int, keep: list[int], leases_after: int | None = None) -> None:
        """Empty a destination but for `keep` (and the leases whose deadline is after
        `leases_after`, when given); what is sent after it in this batch stays."""
        self.destination_ops.append(("purge", (dest_id, keep, leases_after)))
        kept = set(keep)
        if leases_after is not None:
            kept |= {s for s, r in self.inserts.items()
                     if r["delivery_count"] > 0 and r["visible_at"] > leases_after}
        for seq in [s for s, r in self.inserts.items() if r["dest_id"] == dest_id and s not in kept]:
            del self.inserts[seq]
            self.updates.pop(seq, None)

    def absorb(self, newer: "Batch") -> None:
        """Fold a later batch into this one (retrying a failed write with what came since)."""
        for op, arg in newer.destination_ops:
            if op == "drop":
                self.drop_destination(arg)
            elif op == "purge":
                self.purge(*arg)
            else:
                self.destination_ops.append((op, arg))
        for row in newer.inserts.values():
            self.insert(row)
        for seq, values in newer.updates.items():
            self.update(seq, values)
        for seq in newer.deletes:
            self.delete(seq)
        self.contents.update(newer.contents)
        self.released |= newer.released
