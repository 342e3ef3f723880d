"""Output held for the store: frames after a held delivery keep their order, and closing
waits for what is held."""
from __future__ import annotations

from twisted.internet import defer

from broker.protocols.activemq.output import CommitOrderedOutput


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
