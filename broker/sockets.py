"""Writing to a connection without waiting for the reactor's next pass, shared by every door.

Twisted queues each write until the reactor sees the socket writable, which costs two
epoll updates, a wake-up and a pass through `doWrite` per write on top of the send itself.
When a plain TCP connection has nothing queued, data that fits the socket's buffer is
sent at once instead; whatever does not fit is queued as before, so the transport still
pushes back on its producer (`pauseProducing`) when a client cannot keep up.
"""
from __future__ import annotations

from typing import Any

from twisted.internet import tcp


def send_now(transport: Any, chunks: list[bytes]) -> None:
    """Write `chunks`, straight to the socket when a plain TCP connection has nothing
    queued; otherwise through `writeSequence`, which keeps each chunk whole for transports
    that frame them (a WebSocket sends one message per STOMP frame)."""
    if (transport.__class__ is tcp.Server and transport.connected and not transport.disconnecting
            and not transport._writeDisconnected and not getattr(transport, "TLS", False)
            and not transport.dataBuffer
            and not transport._tempDataBuffer):
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        sent = transport.writeSomeData(data)
        if sent.__class__ is int:
            if sent == len(data):
                return
            data = data[sent:]
        transport.write(data)
        return
    transport.writeSequence(chunks)
