"""Coalescing of store operations into one group-committed transaction.

Everything the engine asks of the store while a transaction is being written waits in a
`Batch`; the next transaction writes the whole batch at once. Operations on the same
message fold together first: a message inserted and deleted within one batch (sent and
acked before its commit) never reaches the disk, and later state updates of a pending
insert are merged into the inserted row. Records fold the same way: the last change of a
(kind, name) wins, and a record created and dropped within one batch (an SNS delivery
answered before its commit) never reaches the disk.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

Row = dict[str, Any]
# Destination operations that only ever free space.
_FREEING = ("drop", "purge")


@dataclass
class Batch:
    inserts: dict[int, Row] = field(default_factory=dict)
    updates: dict[int, Row] = field(default_factory=dict)
    deletes: set[int] = field(default_factory=set)
    # Destination changes keep their order (a drop then a re-create of one name).
    destination_ops: list[tuple[str, Any]] = field(default_factory=list)
    # (kind, name) -> ("insert", data) for a record new to the store, ("replace", data) for
    # one that may be stored, ("delete", None).
    records: dict[tuple[str, str], tuple[str, str | None]] = field(default_factory=dict)
    dropped: set[int] = field(default_factory=set)
    # Shared bodies to write (id -> body) and ids whose copies were deleted.
    contents: dict[int, bytes] = field(default_factory=dict)
    released: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.inserts or self.updates or self.deletes or self.destination_ops
                    or self.records or self.contents or self.released)

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

    def delete_ranges(self) -> list[tuple[int, int]]:
        """The deleted seqs as runs of consecutive numbers, (first, last) each: a drained
        queue's acks come in long runs, and one range delete per run costs the writer far
        less than a statement per row (a seq names one row, so a run names exactly its rows)."""
        runs: list[list[int]] = []
        for seq in sorted(self.deletes):
            if runs and runs[-1][1] == seq - 1:
                runs[-1][1] = seq
            else:
                runs.append([seq, seq])
        return [(low, high) for low, high in runs]

    def update_groups(self, columns: tuple[str, ...]) -> dict[tuple[tuple[str, ...], tuple[Any, ...]], list[int]]:
        """The updated seqs by the values they take, (the columns of `columns` an update
        sets, their values in that order), seqs in order: one receive's leases all take the
        same receive count, times and deadline, so one statement per group writes them
        rather than one per row."""
        # The values of every column at C speed (itemgetter of one name gives no tuple).
        pick = itemgetter(*columns) if len(columns) > 1 else lambda values: (values[columns[0]],)
        groups: dict[tuple[tuple[str, ...], tuple[Any, ...]], list[int]] = {}
        for seq in sorted(self.updates):
            values = self.updates[seq]
            try:
                key = (columns, pick(values))   # the usual update sets them all
            except KeyError:
                cols = tuple(c for c in columns if c in values)
                key = (cols, tuple(values[c] for c in cols))
            found = groups.get(key)
            if found is None:
                groups[key] = [seq]
            else:
                found.append(seq)
        return groups

    def put_destination(self, row: Row) -> None:
        self.destination_ops.append(("put", row))

    def put_record(self, kind: str, name: str, data: str, new: bool = False) -> None:
        """`new`: the record is not in the store nor in any earlier batch still unwritten."""
        key = (kind, name)
        earlier = self.records.get(key)
        fresh = earlier[0] == "insert" if earlier is not None else new
        self.records[key] = ("insert" if fresh else "replace", data)

    def drop_record(self, kind: str, name: str) -> None:
        key = (kind, name)
        earlier = self.records.get(key)
        if earlier is not None and earlier[0] == "insert":
            del self.records[key]
        else:
            self.records[key] = ("delete", None)

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

    def split_growth(self) -> tuple["Batch", list[tuple[int, int]]]:
        """For a full database: this batch without its new messages and bodies (the rest
        frees space or takes little), and the (dest id, seq) of the messages left out."""
        refused = [(row["dest_id"], seq) for seq, row in self.inserts.items()]
        rest = Batch(updates=self.updates, deletes=self.deletes,
                     destination_ops=self.destination_ops, records=self.records,
                     dropped=self.dropped, released=self.released | set(self.contents))
        return rest, refused

    def split_frees(self) -> tuple["Batch", "Batch"]:
        """For a database too full even for state updates (a row that grows needs a page):
        what only frees space (deletes, purges, drops), and the rest, to try again later."""
        frees = [(op, arg) for op, arg in self.destination_ops if op in _FREEING]
        rest = [(op, arg) for op, arg in self.destination_ops if op not in _FREEING]
        drops = {key: change for key, change in self.records.items() if change[1] is None}
        writes = {key: change for key, change in self.records.items() if change[1] is not None}
        return (Batch(deletes=self.deletes, destination_ops=frees, records=drops,
                      dropped=self.dropped, released=self.released),
                Batch(updates=self.updates, destination_ops=rest, records=writes))

    def absorb(self, newer: "Batch") -> None:
        """Fold a later batch into this one (retrying a failed write with what came since)."""
        for op, arg in newer.destination_ops:
            if op == "drop":
                self.drop_destination(arg)
            elif op == "purge":
                self.purge(*arg)
            else:
                self.destination_ops.append((op, arg))
        for (kind, name), (op, data) in newer.records.items():
            if data is None:
                self.drop_record(kind, name)
            else:
                self.put_record(kind, name, data, new=op == "insert")
        for row in newer.inserts.values():
            self.insert(row)
        for seq, values in newer.updates.items():
            self.update(seq, values)
        for seq in newer.deletes:
            self.delete(seq)
        self.contents.update(newer.contents)
        self.released |= newer.released
