"""Sends nobody waits for (a STOMP SEND or COMMIT without a receipt, a JMS async send) are
still told when the store refuses what they wrote (it was full), as ActiveMQ reports a
failed send that wanted no response: a STOMP ERROR, a JMS ConnectionError."""
from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

from twisted.python.failure import Failure

T = TypeVar("T")


class CommitWatch(Generic[T]):
    """One watch on the store per transaction, not one per send: the sends made while it
    waits are watched again once it fires, since they may have gone into the next
    transaction. `refused(failure, last)` gets the latest send watched."""

    def __init__(self, refused: Callable[[Failure, T], None], alive: Callable[[], bool]) -> None:
        self._refused = refused
        self._alive = alive
        self._last: T | None = None
        self._more = False

    def watch(self, broker: Any, what: T) -> None:
        if self._last is not None:
            self._last, self._more = what, True
            return
        self._last, self._more = what, False

        def settled(result: Any) -> None:
            last, more = self._last, self._more
            self._last = None
            if not self._alive():
                return
            assert last is not None
            if isinstance(result, Failure):
                self._refused(result, last)
            if more:
                self.watch(broker, last)
        broker.committed().addBoth(settled)
