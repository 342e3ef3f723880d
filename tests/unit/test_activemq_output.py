"""Output held for the store: frames after a held delivery keep their order, and closing
waits for what is held."""
from __future__ import annotations

from typing import Any

from hypothesis import given, strategies as st
from twisted.internet import defer

from broker.protocols.activemq.output import CommitOrderedOutput, Gathering


class Commits:
    """committed() Deferreds the test fires by hand, in order."""

    def __init__(self) -> None:
        self.pending: list[defer.Deferred[None]] = []

    def committed(self) -> defer.Deferred[None]:
        d: defer.Deferred[None] = defer.Deferred()
        self.pending.append(d)
        return d

    def fire(self) -> None:
        self.pending.pop(0).callback(None)


def test_held_frames_keep_order_and_close_waits() -> None:
    commits, written, closed = Commits(), [], []
    out = CommitOrderedOutput(commits, written.append)
    out.write(b"receipt")                   # nothing held: at once
    out.write(b"m1", after_commit=True)
    out.write(b"error")                     # behind m1
    out.write(b"m2", after_commit=True)
    out.when_flushed(lambda: closed.append(True))
    assert written == [b"receipt"] and not closed
    commits.fire()
    assert written == [b"receipt", b"m1", b"error"] and not closed
    commits.fire()
    assert written == [b"receipt", b"m1", b"error", b"m2"] and closed == [True]
    out.write(b"later")
    assert written[-1] == b"later"


class Transactions:
    """The store's commit waits as the reactor sees them: waits asked since the last
    transaction started join the next one; a transaction starts only between synchronous
    stretches (`start`), and they commit in order (`commit`), firing their waits in order."""

    def __init__(self) -> None:
        self.joining: list[defer.Deferred[None]] = []
        self.writing: list[list[defer.Deferred[None]]] = []

    def committed(self) -> defer.Deferred[None]:
        d: defer.Deferred[None] = defer.Deferred()
        self.joining.append(d)
        return d

    def start(self) -> None:
        if self.joining:
            self.writing.append(self.joining)
            self.joining = []

    def commit(self) -> None:
        if self.writing:
            for d in self.writing.pop(0):
                d.callback(None)


_WRITE = st.tuples(st.sampled_from(["plain", "held"]), st.integers(0, 99))
_STEP = st.one_of(_WRITE, st.tuples(st.just("stretch"), st.lists(_WRITE, max_size=6)),
                  st.just(("start", 0)), st.just(("commit", 0)), st.just(("close", 0)))


@given(st.lists(_STEP, max_size=40))
def test_gathered_waits_write_what_one_wait_each_writes(steps: list[Any]) -> None:
    """Deliveries held during a stretch under one wait leave exactly when, and in the
    order, they leave with a wait each."""
    store, gathering = Transactions(), Gathering()
    one_each: list[bytes] = []
    gathered: list[bytes] = []
    closed: list[str] = []
    outputs = [CommitOrderedOutput(store, one_each.append),
               CommitOrderedOutput(store, gathered.append, gathering)]

    def write(kind: str, n: int) -> None:
        for out in outputs:
            out.write(b"%d" % n, after_commit=kind == "held")

    for kind, arg in steps:
        if kind == "stretch":
            gathering.open()
            for write_kind, n in arg:
                write(write_kind, n)
            gathering.close()
        elif kind == "start":
            store.start()
        elif kind == "commit":
            store.commit()
        elif kind == "close":
            for name, out in zip(("one_each", "gathered"), outputs):
                out.when_flushed(lambda name=name: closed.append(name))
        else:
            write(kind, arg)
        assert gathered == one_each
        assert closed.count("gathered") == closed.count("one_each")
    while store.joining or store.writing:
        store.start()
        store.commit()
        assert gathered == one_each
