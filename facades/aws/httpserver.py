"""HTTP/1.1 server for the AWS port: httptools' C parser under a small Twisted protocol.

twisted.web's request machinery (header objects, a ``Request`` with its own parsing,
rendering and logging) cost more per request than everything the broker does for a
SendMessage; this protocol does only what the AWS port needs, with the bytes parsed by
``httptools`` (llhttp, the parser behind Node.js and uvicorn):

- keep-alive and pipelining: responses leave in request order, even when an earlier
  request waits (a long poll); at most :data:`MAX_PIPELINED` requests wait per
  connection before the connection stops being read;
- bodies by ``Content-Length`` or chunked; ``Expect: 100-continue`` is answered when the
  request is next in line; only ``max_body + 1`` bytes of a body are kept, enough for the
  dispatcher to refuse an oversized one in the protocol's own words;
- HTTP/1.0 and ``Connection: close``; HEAD (headers of the answer, no body);
- a malformed request or a head over :data:`MAX_HEAD` bytes gets ``400 Bad Request`` and
  the connection is closed;
- timeouts as common servers have them (Apache's ``mod_reqtimeout``, nginx's
  ``client_header_timeout``/``client_body_timeout``/``keepalive_timeout``): a request
  head must be complete within ``head_timeout`` of its first byte, a body must not stall
  for ``body_timeout``, and a connection with nothing in flight is closed after
  ``idle_timeout`` (AWS load balancers' default idle timeout). A partial request that
  times out gets ``408 Request Timeout`` and the connection is closed;
- a client that goes away cancels its waiting requests (a long poll stops waiting).

The application is one callable from :class:`~facades.aws.dispatch.WireRequest` to a
Deferred :class:`~facades.aws.dispatch.WireResponse`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import httptools
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IProtocolNegotiationFactory, ISSLTransport
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from broker.auth.limits import ConnectionCounter
from broker.sockets import send_now
from facades.aws.dispatch import WireRequest, WireResponse

#: The request line and headers together, in bytes (twisted.web's limit, too).
MAX_HEAD = 16 * 1024
#: Requests read ahead of their answers on one connection before reading pauses.
MAX_PIPELINED = 16
HEAD_TIMEOUT = 20.0
BODY_TIMEOUT = 20.0
IDLE_TIMEOUT = 60.0

Application = Callable[[WireRequest], "Deferred[WireResponse]"]

_log = Logger()
_BAD_REQUEST = WireResponse(400, {}, b"")
_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n" for s in HTTPStatus}


class BadRequest(Exception):
    """The request cannot be served: answered with 400 and the connection closed."""


class _Exchange:
    """One request on a connection, from its parsing to its answer being written."""

    __slots__ = ("head", "keep_alive", "http10", "deferred", "response")

    def __init__(self, head: bool, keep_alive: bool, http10: bool) -> None:
        self.head = head
        self.keep_alive = keep_alive
        self.http10 = http10
        self.deferred: Deferred[WireResponse] | None = None
        self.response: WireResponse | None = None


class ResponseBody:
    """Where a streamed response body (API Gateway relaying a backend) is written.

    Chunked on HTTP/1.1; on HTTP/1.0 the body ends with the connection.
    ``notifyFinish`` fires when the body is complete or the client has gone."""

    def __init__(self, transport: Any, chunked: bool, head: bool) -> None:
        self._transport = transport
        self._chunked = chunked
        self._head = head
        self.finished = False
        self._waiting: list[Deferred[None]] = []

    def write(self, data: bytes) -> None:
        if self.finished or not data or self._head:
            return
        if self._chunked:
            self._transport.writeSequence([b"%x\r\n" % len(data), data, b"\r\n"])
        else:
            self._transport.write(data)

    def notifyFinish(self) -> Deferred[None]:  # noqa: N802 - the name relays already use
        done: Deferred[None] = Deferred()
        if self.finished:
            done.callback(None)
        else:
            self._waiting.append(done)
        return done

    def finish(self) -> None:
        if self.finished:
            return
        if self._chunked and not self._head:
            self._transport.write(b"0\r\n\r\n")
        self._end()

    def _end(self) -> None:
        self.finished = True
        waiting, self._waiting = self._waiting, []
        for done in waiting:
            done.callback(None)


class HttpServerProtocol(Protocol):
    """One client connection on the AWS port (httptools calls the ``on_*`` methods)."""

    factory: HttpServerFactory

    def __init__(self, address: str) -> None:
        self.address = address
        self._exchanges: deque[_Exchange] = deque()
        self._streaming: ResponseBody | None = None
        self._gone = False
        self._closing = False        # no further request is read
        self._paused = False
        self._in_message = False
        self._headers_done = False
        self._mark = 0.0             # start of the current wait, for the timeouts
        self._timer: Any = None
        self._url = b""
        self._head_size = 0
        self._headers: dict[str, str] = {}
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._body_size = 0
        self._continue_owed = False

    # -- connection ------------------------------------------------------------

    def connectionMade(self) -> None:  # noqa: N802 - Twisted's interface
        self._parser = httptools.HttpRequestParser(self)
        self._scheme = "https" if ISSLTransport.providedBy(self.transport) else "http"
        no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if no_delay is not None:
            no_delay(True)   # small request/response exchanges: no Nagle delay
        self._clock = self.factory.reactor
        self._mark = self._clock.seconds()
        self._timer = self._clock.callLater(self._next_check(), self._check_timeout)

    def connectionLost(self, reason: Failure = None) -> None:  # noqa: N802
        self._gone = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self.factory.release(self.address)
        if self._streaming is not None:
            self._streaming._end()
        # Cancelling lets a long-polling handler stop waiting for a client that will
        # never read the answer, and one that waits for a commit (its Deferred fired and
        # waits on another: cancel reaches that one) undo what the client will never hear
        # of (an SQS receive gives its messages back).
        exchanges, self._exchanges = self._exchanges, deque()
        for exchange in exchanges:
            if exchange.deferred is not None and exchange.response is None:
                exchange.deferred.cancel()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        if self._closing:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            # An ``Upgrade`` header the port does not act on: the request was complete,
            # the bytes after it are the next request.
            self._parser = httptools.HttpRequestParser(self)
            self.dataReceived(data[upgrade.args[0]:])
        except (httptools.HttpParserError, BadRequest):
            if not self._closing:
                self._bad_request()
        if self._in_message and self._headers_done:
            self._mark = self._clock.seconds()   # the body timeout is between reads

    # -- parser callbacks --------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._closing:
            raise BadRequest("a request after the connection was closed")
        self._in_message = True
        self._headers_done = False
        self._mark = self._clock.seconds()
        self._url = b""
        self._head_size = 0
        self._headers = {}
        self._raw_headers = []
        self._body = []
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_size += len(url)
        if self._head_size > MAX_HEAD:
            raise BadRequest("request head too large")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        if self._head_size > MAX_HEAD:
            raise BadRequest("request head too large")
        self._raw_headers.append((name, value))
        key = _HEADER_KEYS.get(name)
        if key is None:
            key = name.decode("latin-1").lower()
            if len(_HEADER_KEYS) < MAX_HEADER_KEYS:
                _HEADER_KEYS[name] = key
        headers = self._headers
        if key in headers:
            headers[key] = f"{headers[key]},{value.decode('latin-1')}"
        else:
            headers[key] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._headers_done = True
        if self._headers.get("expect", "").lower() == "100-continue" and self._parser.get_http_version() == "1.1":
            if not self._exchanges:
                self.transport.write(_CONTINUE)
            else:
                self._continue_owed = True

    def on_body(self, body: bytes) -> None:
        keep = self.factory.max_body + 1 - self._body_size
        if keep > 0:
            self._body.append(body if len(body) <= keep else body[:keep])
        self._body_size += len(body)

    def on_message_complete(self) -> None:
        self._in_message = False
        self._continue_owed = False
        parser = self._parser
        method = parser.get_method().decode("ascii", "replace")
        http10 = parser.get_http_version() == "1.0"
        request = self._request(method)
        exchange = _Exchange(method == "HEAD", parser.should_keep_alive(), http10)
        if not exchange.keep_alive:
            self._closing = True   # what follows a ``Connection: close`` request is not read
        self._exchanges.append(exchange)
        if len(self._exchanges) >= MAX_PIPELINED and not self._paused:
            self._paused = True
            self.transport.pauseProducing()
        try:
            deferred = self.factory.application(request)
        except Exception as error:  # a bug in a route, not bad input
            deferred = Deferred()
            deferred.errback(error)
        exchange.deferred = deferred
        deferred.addCallbacks(self._answered, self._failed, callbackArgs=(exchange,), errbackArgs=(exchange,))

    def _request(self, method: str) -> WireRequest:
        url = self._url
        path, _, query = url.partition(b"?")
        if not path.startswith(b"/") and path != b"*":
            try:
                parsed = httptools.parse_url(url)   # absolute form: http://host/path?query
            except httptools.HttpParserInvalidURLError:
                raise BadRequest("invalid request target") from None
            path, query = parsed.path or b"/", parsed.query or b""
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._body = []
        headers = self._headers
        return WireRequest(
            method=method,
            scheme=self._scheme,
            host=headers.get("host", ""),
            path=path.decode("latin-1"),
            query=parse_qsl(query.decode("latin-1"), keep_blank_values=True) if query else [],
            headers=headers,
            body=body,
            client_address=self.address,
            raw_headers=self._raw_headers,
        )

    # -- answers -------------------------------------------------------------------

    def _answered(self, response: WireResponse, exchange: _Exchange) -> None:
        exchange.response = response
        if not self._gone and self._exchanges and self._exchanges[0] is exchange and self._streaming is None:
            self._flush()

    def _failed(self, failure: Failure, exchange: _Exchange) -> None:
        _log.failure("Answering an AWS request failed", failure)
        self._answered(WireResponse(500, {}, b""), exchange)

    def _flush(self) -> None:
        """Write the answers that are next in line, in request order."""
        exchanges = self._exchanges
        while exchanges and exchanges[0].response is not None:
            exchange = exchanges.popleft()
            response = exchange.response
            assert response is not None
            if response.stream is not None:
                self._stream(exchange, response)
                return
            self._write(exchange, response)
            if not exchange.keep_alive:
                self._close()
                return
        self._next_in_line()

    def _next_in_line(self) -> None:
        if self._paused and len(self._exchanges) < MAX_PIPELINED:
            self._paused = False
            self.transport.resumeProducing()
        if not self._exchanges:
            if self._continue_owed:
                self._continue_owed = False
                self.transport.write(_CONTINUE)
            if not self._in_message:
                self._mark = self._clock.seconds()   # idle from now on

    def _head(self, exchange: _Exchange, response: WireResponse, length: int | None) -> bytes:
        lines = [_STATUS_LINES.get(response.status) or f"HTTP/1.1 {response.status} Unknown\r\n"]
        for name, value in response.headers.items():
            if "\n" in value or "\r" in value:
                value = " ".join(value.splitlines())
            lines.append(f"{name}: {value}\r\n")
        if length is not None:
            lines.append(f"Content-Length: {length}\r\n")
        elif not exchange.http10:
            lines.append("Transfer-Encoding: chunked\r\n")
        lines.append(f"Date: {_date()}\r\n")
        if not exchange.keep_alive:
            lines.append("Connection: close\r\n\r\n")
        elif exchange.http10:
            lines.append("Connection: keep-alive\r\n\r\n")
        else:
            lines.append("\r\n")
        return "".join(lines).encode("utf-8")

    def _write(self, exchange: _Exchange, response: WireResponse) -> None:
        head = self._head(exchange, response, len(response.body))
        send_now(self.transport, [head if exchange.head or not response.body else head + response.body])

    def _stream(self, exchange: _Exchange, response: WireResponse) -> None:
        if exchange.http10:
            exchange.keep_alive = False   # no length: the body ends with the connection
        self.transport.write(self._head(exchange, response, None))
        body = self._streaming = ResponseBody(self.transport, not exchange.http10, exchange.head)
        assert response.stream is not None
        response.stream(body).addBoth(self._streamed, exchange, body)

    def _streamed(self, result: object, exchange: _Exchange, body: ResponseBody) -> None:
        if isinstance(result, Failure):
            _log.failure("Relaying a response body failed", result)
            exchange.keep_alive = False   # the client cannot tell the body is incomplete otherwise
        if self._gone:
            return
        body.finish()
        self._streaming = None
        if not exchange.keep_alive:
            self._close()
            return
        self._flush()

    def _close(self) -> None:
        self._closing = True
        self.transport.loseConnection()

    def _bad_request(self) -> None:
        """Answer 400 after the answers still owed, then close."""
        self._in_message = False
        self._closing = True
        exchange = _Exchange(False, False, False)
        exchange.response = _BAD_REQUEST
        self._exchanges.append(exchange)
        if self._exchanges[0] is exchange and self._streaming is None:
            self._flush()

    # -- timeouts -------------------------------------------------------------------

    def _check_timeout(self) -> None:
        """One timer per connection, re-armed lazily: requests pay nothing for it."""
        self._timer = None
        if self._gone or self._closing:
            return
        factory = self.factory
        if self._exchanges or self._streaming is not None:
            limit = None   # a request is being answered: the handler bounds its own wait
        elif self._in_message:
            limit = factory.body_timeout if self._headers_done else factory.head_timeout
        else:
            limit = factory.idle_timeout
        now = self._clock.seconds()
        if limit is not None and now - self._mark >= limit:
            if self._in_message:
                self.transport.write(_TIMED_OUT)
            self._close()
            return
        wait = factory.idle_timeout if limit is None else self._mark + limit - now
        self._timer = self._clock.callLater(min(wait, self._next_check()), self._check_timeout)

    def _next_check(self) -> float:
        # Often enough that a request starting just after a check still times out on time.
        factory = self.factory
        return min(factory.idle_timeout, factory.head_timeout, factory.body_timeout)


@implementer(IProtocolNegotiationFactory)
class HttpServerFactory(Factory):
    """Builds a :class:`HttpServerProtocol` per connection admitted by the connection limits."""

    noisy = False

    def __init__(
        self, application: Application, reactor: Any, max_body: int,
        connections: ConnectionCounter | None = None,
        head_timeout: float = HEAD_TIMEOUT, body_timeout: float = BODY_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self.application = application
        self.reactor = reactor
        self.max_body = max_body
        self.connections = connections
        self.head_timeout = head_timeout
        self.body_timeout = body_timeout
        self.idle_timeout = idle_timeout

    def buildProtocol(self, addr: Any) -> HttpServerProtocol | None:  # noqa: N802 - Twisted's interface
        address = str(getattr(addr, "host", addr))
        if self.connections is not None and not self.connections.admit_address(address):
            return None   # the address has its maximum of connections open
        protocol = HttpServerProtocol(address)
        protocol.factory = self
        return protocol

    def acceptableProtocols(self) -> list[bytes]:  # noqa: N802 - Twisted's interface
        """ALPN over TLS: clients offering ``h2`` (curl, browsers) are told HTTP/1.1 (Twisted
        fails the handshake when a client offers ALPN and the server names nothing)."""
        return [b"http/1.1"]

    def release(self, address: str) -> None:
        if self.connections is not None:
            self.connections.release_address(address)


#: Header names as sent -> their lower-case text: clients send the same few in every request.
_HEADER_KEYS: dict[bytes, str] = {}
MAX_HEADER_KEYS = 512

_date_cache: list[Any] = [0, ""]


def _date() -> str:
    """The ``Date`` header, formatted once a second."""
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0] = now
        _date_cache[1] = formatdate(now, usegmt=True)
    return _date_cache[1]
