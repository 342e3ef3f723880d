"""One transport call for everything an ActiveMQ door writes to a connection during a
stretch of the reactor thread (a read and what it lets out: replies, the deliveries
its acks free), rather than one per frame: a write is a system call, or a TLS record.

The door says when a stretch begins and ends. OpenWire gathers while it handles a read
(`open`/`close`) and writes at once otherwise; STOMP gathers every write until its
factory flushes at the end of the read or of the reactor turn (`first` arranges that).
Gathering stops short at `GATHER_BYTES`, so a burst reaches the transport in time for
it to push back (pauseProducing) before the broker has encoded a whole backlog.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

from broker.sockets import send_now

GATHER_BYTES = 64 * 1024


class Connection(Protocol):
    """What a door's protocol offers its writes: its transport, whether the transport is
    gone, and the inactivity monitor told of each write (None before negotiation)."""
    transport: Any
    lost: bool
    monitor: Any


class GatheredWrites:
    __slots__ = ("_connection", "_first", "_pieces", "_size")

    def __init__(self, connection: Connection, first: Callable[[], None] | None = None) -> None:
        """`first`: called when a write arrives while nothing gathers, which then starts
        gathering (the caller flushes later); without it such a write goes at once."""
        self._connection = connection
        self._first = first
        self._pieces: list[bytes] | None = None   # None: not gathering
        self._size = 0

    @property
    def gathering(self) -> bool:
        return self._pieces is not None

    def write(self, data: bytes) -> None:
        pieces = self._pieces
        if pieces is not None:
            # Once the connection is lost, what gathers is dropped at the flush.
            pieces.append(data)
            self._size += len(data)
            if self._size >= GATHER_BYTES:
                self.flush()
            return
        if self._connection.lost:
            return
        if self._first is None:
            self._send([data])
            return
        self._pieces = [data]
        self._size = len(data)
        self._first()

    def open(self) -> None:
        """Gather from now on until `close`."""
        if self._pieces is None:
            self._pieces = []
            self._size = 0

    def flush(self) -> None:
        """Hand what was gathered to the transport; gathering goes on."""
        pieces = self._pieces
        if pieces:
            self._pieces = []
            self._size = 0
            if not self._connection.lost:
                self._send(pieces)

    def close(self) -> None:
        """Hand what was gathered to the transport, and write at once from now on (or
        gather again at the next write, with `first`)."""
        pieces, self._pieces = self._pieces, None
        if pieces and not self._connection.lost:
            self._send(pieces)

    def _send(self, pieces: list[bytes]) -> None:
        connection = self._connection
        if connection.monitor is not None:
            connection.monitor.wrote()
        # Straight to the socket when it can take it; WebSocket transports make each piece
        # (a frame) a message of its own.
        send_now(connection.transport, pieces)
