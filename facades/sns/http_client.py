"""The HTTP/1.1 client SNS pushes notifications with: POST, kept-alive connections.

Twisted's ``Agent`` costs more CPU per request than the rest of a notification (a chain of
Deferreds, a header object and a body producer per request, a response object and a body
reader per answer). Push needs much less: one POST of a known body, then the status of the
answer, whose body is read and thrown away. So each connection writes its request in one
go and parses the answer's head and body framing (``Content-Length``, ``chunked``, or to the
close) itself, then goes back to its endpoint's idle list for the next POST.

A request on a kept-alive connection that the endpoint had closed fails like any other;
the delivery policy decides whether and when to try again (as SNS does, POSTs are not
repeated behind its back).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.error import TimeoutError
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import BrowserLikePolicyForHTTPS

CONNECT_TIMEOUT_S = 5.0
MAX_HEAD = 64 * 1024


class BadResponse(Exception):
    """The endpoint's answer is not HTTP/1.x."""


@dataclass(frozen=True)
class Target:
    """Where a URL's requests go, and the head lines that name it."""
    scheme: str
    host: str
    port: int
    request_line: bytes      # b"POST /path?query HTTP/1.1\r\nHost: host:port\r\n"

    @classmethod
    def parse(cls, url: str) -> "Target":
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rpartition("@")[2]
        line = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n".encode("ascii")
        return cls(parts.scheme, parts.hostname, port, line)


class _Connection(Protocol):
    """One connection, one request at a time; fires ``answer`` with the status code."""

    def __init__(self, client: "HttpClient", target: Target) -> None:
        self.client = client
        self.target = target
        self.answer: defer.Deferred[int] | None = None
        self._timer: Any = None
        self._reset()

    def _reset(self) -> None:
        self._buffer = bytearray()
        self._state = "head"           # head, length, chunk-size, chunk, trailer, close, done
        self._status = 0
        self._left = 0
        self._keep = True

    def post(self, data: bytes, timeout: float) -> defer.Deferred[int]:
        self._reset()
        self.answer = defer.Deferred()
        self._timer = self.client.reactor.callLater(timeout, self._timed_out)
        self.transport.write(data)
        return self.answer

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted's interface)
        if self.answer is None:      # nothing asked: an endpoint talking out of turn
            self.transport.loseConnection()
            return
        self._buffer += data
        try:
            self._parse()
        except (BadResponse, ValueError) as error:
            self._fail(Failure(BadResponse(str(error))))
            self.transport.loseConnection()

    def _parse(self) -> None:
        buffer = self._buffer
        while True:
            if self._state == "done":
                return
            if self._state == "head":
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEAD:
                        raise BadResponse("response head too long")
                    return
                head = bytes(buffer[:end]).decode("latin-1")
                del buffer[:end + 4]
                self._head(head)
            elif self._state == "length":
                if self._skip():
                    self._done()
                return
            elif self._state == "chunk-size":
                end = buffer.find(b"\r\n")
                if end < 0:
                    return
                size = int(bytes(buffer[:end]).split(b";", 1)[0].strip() or b"x", 16)
                del buffer[:end + 2]
                self._state, self._left = ("trailer", 0) if size == 0 else ("chunk", size + 2)
            elif self._state == "chunk":
                if not self._skip():
                    return
                self._state = "chunk-size"
            elif self._state == "trailer":
                end = buffer.find(b"\r\n")
                if end < 0:
                    return
                line_empty = end == 0
                del buffer[:end + 2]
                if line_empty:
                    self._done()
                    return
            else:                         # "close": the body ends with the connection
                buffer.clear()
                return

    def _skip(self) -> bool:
        """Drop what arrived of the ``_left`` body bytes still expected; True once all came."""
        take = min(self._left, len(self._buffer))
        del self._buffer[:take]
        self._left -= take
        return not self._left

    def _head(self, head: str) -> None:
        lines = head.split("\r\n")
        version, _, rest = lines[0].partition(" ")
        if not version.startswith("HTTP/1."):
            raise BadResponse(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        status = int(rest[:3])
        if 100 <= status < 200:           # 100 Continue and the like: the answer follows
            return
        self._status = status
        length, chunked, connection = None, False, ""
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                chunked = "chunked" in value.lower()
            elif name == "connection":
                connection = value.strip().lower()
        self._keep = ("close" not in connection) and (version != "HTTP/1.0" or "keep-alive" in connection)
        if status in (204, 304):
            length = 0
        if chunked:
            self._state = "chunk-size"
        elif length is not None:
            self._state, self._left = "length", length
        else:
            self._state, self._keep = "close", False

    def _done(self) -> None:
        answer, self.answer = self.answer, None
        self._cancel_timer()
        keep = self._keep and not self._buffer
        self._state = "done"
        if keep:
            self.client.idle(self)
        else:
            self.transport.loseConnection()
        if answer is not None:
            answer.callback(self._status)

    def _fail(self, failure: Failure) -> None:
        answer, self.answer = self.answer, None
        self._cancel_timer()
        if answer is not None:
            answer.errback(failure)

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        self._fail(Failure(TimeoutError("no answer in time")))
        self.transport.abortConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802 (Twisted's interface)
        self.client.gone(self)
        if self.answer is not None and self._state == "close":
            self._done()                 # a body delimited by the close is complete
        else:
            self._fail(reason)


@dataclass
class _Idle:
    connections: list[_Connection] = field(default_factory=list)


class HttpClient:
    """POSTs over kept-alive connections, at most ``keep`` idle ones per host and port."""

    def __init__(self, reactor: Any, keep: int) -> None:
        self.reactor = reactor
        self._keep = keep
        self._tls = BrowserLikePolicyForHTTPS()
        self._idle: dict[tuple[str, str, int], _Idle] = {}
        self._endpoints: dict[tuple[str, str, int], Any] = {}

    def post(self, target: Target, head: bytes, body: bytes, timeout: float) -> defer.Deferred[int]:
        """The status code of the answer to ``target``'s request line + ``head`` (header
        lines, each ending in CRLF) + ``body``."""
        data = b"".join((target.request_line, head, b"Content-Length: %d\r\n\r\n" % len(body), body))
        idle = self._idle.get((target.scheme, target.host, target.port))
        if idle is not None and idle.connections:
            return idle.connections.pop().post(data, timeout)
        connection = _Connection(self, target)
        d = self._endpoint(target).connect(_Once(connection))
        d.addCallback(lambda _: connection.post(data, timeout))
        return d

    def idle(self, connection: _Connection) -> None:
        target = connection.target
        idle = self._idle.setdefault((target.scheme, target.host, target.port), _Idle())
        if len(idle.connections) < self._keep:
            idle.connections.append(connection)
        else:
            connection.transport.loseConnection()

    def gone(self, connection: _Connection) -> None:
        target = connection.target
        key = (target.scheme, target.host, target.port)
        idle = self._idle.get(key)
        if idle is not None and connection in idle.connections:
            idle.connections.remove(connection)
            if not idle.connections:
                del self._idle[key]

    def _endpoint(self, target: Target) -> Any:
        """Twisted's standard endpoints, made once per scheme, host and port: building one
        (hostname checks included) costs as much as the rest of a request."""
        key = (target.scheme, target.host, target.port)
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            if len(self._endpoints) >= 1024:
                self._endpoints.clear()
            endpoint = HostnameEndpoint(self.reactor, target.host, target.port, timeout=CONNECT_TIMEOUT_S)
            if target.scheme == "https":
                endpoint = wrapClientTLS(self._tls.creatorForNetloc(target.host.encode("idna"), target.port),
                                         endpoint)
            self._endpoints[key] = endpoint
        return endpoint


class _Once(Factory):
    """Hands the endpoint the one protocol instance a request made."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    def buildProtocol(self, addr: Any) -> _Connection:  # noqa: N802 (Twisted's interface)
        return self._connection
