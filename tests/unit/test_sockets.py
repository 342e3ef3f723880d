"""Writes that skip the reactor's next pass when a TCP connection has nothing queued."""
from __future__ import annotations

import socket
from typing import Any

from twisted.internet import tcp
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from broker.sockets import send_now


class _Selector:
    """The reactor's reader/writer bookkeeping, all a TCP transport asks of it here."""

    def __init__(self) -> None:
        self.readers: set[Any] = set()
        self.writers: set[Any] = set()

    def addReader(self, r: Any) -> None:  # noqa: N802
        self.readers.add(r)

    def removeReader(self, r: Any) -> None:  # noqa: N802
        self.readers.discard(r)

    def addWriter(self, w: Any) -> None:  # noqa: N802
        self.writers.add(w)

    def removeWriter(self, w: Any) -> None:  # noqa: N802
        self.writers.discard(w)


def test_output_is_sent_at_once_and_what_does_not_fit_is_queued_in_order():
    ours, peer = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ours.setblocking(False)
    selector = _Selector()
    transport = tcp.Server(ours, Protocol(), ("127.0.0.1", 1), None, 0, selector)
    send_now(transport, [b"small"])
    assert peer.recv(100) == b"small" and not selector.writers     # nothing left for the reactor
    big = bytes(range(256)) * 4096
    send_now(transport, [big[:1000], big[1000:]])
    send_now(transport, [b"after"])          # something is queued: this one waits its turn
    assert transport in selector.writers
    received = b""
    peer.settimeout(5)
    while len(received) < len(big) + 5:
        if transport in selector.writers:
            transport.doWrite()
        received += peer.recv(1 << 20)
    assert received == big + b"after"
    transport.connectionLost(Failure(ConnectionError()))
    peer.close()


class _FramingTransport:
    """A transport that frames each chunk it is given (as the WebSocket one does)."""

    def __init__(self) -> None:
        self.sequences: list[list[bytes]] = []

    def writeSequence(self, chunks: list[bytes]) -> None:  # noqa: N802
        self.sequences.append(list(chunks))


def test_other_transports_get_the_chunks_whole():
    transport = _FramingTransport()
    send_now(transport, [b"MESSAGE 1", b"MESSAGE 2"])
    assert transport.sequences == [[b"MESSAGE 1", b"MESSAGE 2"]]
