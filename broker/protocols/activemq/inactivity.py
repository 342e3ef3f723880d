"""The inactivity monitor of the ActiveMQ doors: STOMP heart-beats, OpenWire KeepAliveInfo.

One timer each way, re-armed from the time of the last byte read or written, so a beat is
never late because of an unlucky phase between two checks, and a peer silent for longer
than its limit is dropped (its unacked messages then go back to their queues).
"""
from __future__ import annotations

from typing import Any, Callable


class InactivityMonitor:
    def __init__(self, clock: Any, read_limit_s: float, write_interval_s: float,
                 keep_alive: Callable[[], None], timed_out: Callable[[], None],
                 held: Callable[[], bool] = lambda: False) -> None:
        """`keep_alive` writes a beat when nothing was written for `write_interval_s`;
        `timed_out` is called once nothing was read for `read_limit_s` (0 turns a side off).
        While `held()` is true the broker itself has stopped reading the peer (producer
        flow control), so the peer's silence is not held against it."""
        self.clock = clock
        self.read_limit = read_limit_s
        self.write_interval = write_interval_s
        self._keep_alive = keep_alive
        self._timed_out = timed_out
        self._held = held
        self._read_timer: Any = None
        self._write_timer: Any = None
        self.last_read = self.last_write = clock.seconds()

    def start(self) -> None:
        now = self.clock.seconds()
        if self.write_interval > 0:
            self.last_write = now
            self._write_timer = self.clock.callLater(self.write_interval, self._beat)
        if self.read_limit > 0:
            self.last_read = now
            self._read_timer = self.clock.callLater(self.read_limit, self._check_alive)

    @property
    def reading(self) -> bool:
        return self._read_timer is not None

    @property
    def writing(self) -> bool:
        return self._write_timer is not None

    def read(self) -> None:
        if self._read_timer is not None:
            self.last_read = self.clock.seconds()

    def wrote(self) -> None:
        if self._write_timer is not None:
            self.last_write = self.clock.seconds()

    def stop(self) -> None:
        for timer in (self._read_timer, self._write_timer):
            if timer is not None and timer.active():
                timer.cancel()
        self._read_timer = self._write_timer = None

    def _beat(self) -> None:
        self._write_timer = None
        now = self.clock.seconds()
        idle = now - self.last_write
        if idle >= self.write_interval * 0.9:
            self._keep_alive()
            self.last_write, idle = now, 0.0
        self._write_timer = self.clock.callLater(self.write_interval - idle, self._beat)

    def _check_alive(self) -> None:
        self._read_timer = None
        if self._held():
            self.last_read = self.clock.seconds()
        silent = self.clock.seconds() - self.last_read
        if silent < self.read_limit:
            self._read_timer = self.clock.callLater(self.read_limit - silent, self._check_alive)
            return
        self.stop()
        self._timed_out()
