"""STOMP over WebSocket (ActiveMQ's `ws` transport): each WebSocket message carries STOMP
frames, and the STOMP protocol behind it is the same one the TCP listener runs.

Subprotocols `v12.stomp`, `v11.stomp` and `v10.stomp` are negotiated (the client's
first supported choice wins); a client offering none of them still gets STOMP, as on
ActiveMQ. Frames go out as text messages, or binary ones when a body is not UTF-8.
"""
from __future__ import annotations

from typing import Any

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionRequest
from twisted.internet.interfaces import IPushProducer

from broker.protocols.stomp.factory import StompFactory
from broker.protocols.stomp.protocol import StompProtocol

SUBPROTOCOLS = ("v12.stomp", "v11.stomp", "v10.stomp")


class _StompTransport:
    """What StompProtocol needs of a transport, in terms of WebSocket messages."""

    def __init__(self, ws: "StompWebSocketProtocol") -> None:
        self.ws = ws

    def write(self, data: bytes) -> None:
        try:
            data.decode("utf-8")
            self.ws.sendMessage(data, isBinary=False)
        except UnicodeDecodeError:
            self.ws.sendMessage(data, isBinary=True)

    def writeSequence(self, data: list[bytes]) -> None:
        # One WebSocket message per STOMP frame, as browser clients expect.
        for frame in data:
            self.write(frame)

    def loseConnection(self) -> None:
        self.ws.sendClose()

    def abortConnection(self) -> None:
        self.ws.dropConnection(abort=True)

    def getPeer(self) -> Any:
        return self.ws.transport.getPeer()

    def getHost(self) -> Any:
        return self.ws.transport.getHost()

    def registerProducer(self, producer: IPushProducer, streaming: bool) -> None:
        self.ws.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self.ws.transport.unregisterProducer()

    def getPeerCertificate(self) -> Any:
        """The client certificate of a `wss` connection (certificate logins work here too)."""
        get = getattr(self.ws.transport, "getPeerCertificate", None)
        return get() if get is not None else None

    def setTcpNoDelay(self, enabled: bool) -> None:
        if hasattr(self.ws.transport, "setTcpNoDelay"):
            self.ws.transport.setTcpNoDelay(enabled)


class StompWebSocketProtocol(WebSocketServerProtocol):
    stomp: StompProtocol | None = None

    def onConnect(self, request: ConnectionRequest) -> str | None:
        for offered in request.protocols:
            if offered in SUBPROTOCOLS:
                return offered
        return None

    def onOpen(self) -> None:
        stomp = self.factory.stomp.buildProtocol(self.transport.getPeer())
        if stomp is None:  # a connection limit refused it
            self.sendClose(1008, "connection limit reached")
            return
        self.stomp = stomp
        stomp.makeConnection(_StompTransport(self))

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self.stomp is not None:
            self.stomp.dataReceived(payload)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        stomp, self.stomp = self.stomp, None
        if stomp is not None:
            stomp.connectionLost(reason)


class StompWebSocketFactory(WebSocketServerFactory):
    protocol = StompWebSocketProtocol

    def __init__(self, stomp: StompFactory, reactor: Any) -> None:
        super().__init__(reactor=reactor, protocols=list(SUBPROTOCOLS))
        self.stomp = stomp
        self.setProtocolOptions(failByDrop=False)
