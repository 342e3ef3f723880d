"""HTTP calls to backends and Lambda endpoints with Twisted's Agent (never blocking).

Connections are pooled per host; every call has the integration's timeout,
after which it is abandoned and the gateway answers 504. A caller may ask for
large or unsized response bodies to be relayed to its client as they arrive
instead of being collected (HTTP proxying); the rest of the timeout then
bounds the relay.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import CancelledError, Deferred, TimeoutError as DeferredTimeout
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.ssl import optionsForClientTLS
from twisted.internet.error import ConnectError, ConnectionLost, DNSLookupError, TimeoutError as ConnectTimeout
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool, PartialDownloadError, ResponseFailed, ResponseNeverReceived, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IAgentEndpointFactory, IBodyProducer
from zope.interface import implementer

from facades.apigateway.dataplane.backend import BackendResponse
from facades.apigateway.dataplane.errors import GatewayError

#: Hop-by-hop headers a proxy must not forward (RFC 9110 7.6.1), plus the ones the HTTP
#: client sets itself.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "transfer-encoding", "upgrade", "host", "content-length"})


@implementer(IBodyProducer)
class _Body:
    """A fully known body (Agent needs a producer to send a Content-Length)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.length = len(data)

    def startProducing(self, consumer: Any) -> Deferred[None]:  # noqa: N802 - Twisted's interface
        consumer.write(self._data)
        from twisted.internet.defer import succeed
        return succeed(None)

    def pauseProducing(self) -> None:  # noqa: N802
        pass

    def stopProducing(self) -> None:  # noqa: N802
        pass


#: Bodies larger than this, or of unknown length, are relayed rather than collected.
STREAM_THRESHOLD = 256 * 1024


class _Relay(Protocol):
    """Writes a backend body into the client's response body chunk by chunk."""

    def __init__(self, request: Any, done: Deferred[None], reactor: Any, seconds: float) -> None:
        self._request = request
        self._done = done
        self._timer = reactor.callLater(max(seconds, 0.001), self._stop)
        request.notifyFinish().addBoth(self._client_gone)

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's interface
        if not self._done.called and not self._request.finished:
            self._request.write(data)

    def connectionLost(self, reason: Failure = None) -> None:  # noqa: N802
        if self._timer.active():
            self._timer.cancel()
        if not self._done.called:
            self._done.callback(None)

    def _client_gone(self, _: object) -> None:
        if not self._done.called:
            self._stop()

    def _stop(self) -> None:
        if self.transport is not None:
            self.transport.stopProducing()


@implementer(IAgentEndpointFactory)
class _Endpoints:
    """One endpoint per backend (scheme, host, port), made once: building one per request
    (host name checks included) costs more than the rest of a pooled request."""

    def __init__(self, reactor: Any, limit: int = 1024) -> None:
        self._reactor = reactor
        self._made: dict[tuple[bytes, bytes, int], Any] = {}
        self._limit = limit

    def endpointForURI(self, uri: Any) -> Any:  # noqa: N802 - Twisted's interface
        key = (uri.scheme, uri.host, uri.port)
        endpoint = self._made.get(key)
        if endpoint is None:
            host = uri.host.decode("ascii")
            endpoint = HostnameEndpoint(self._reactor, host, uri.port, timeout=10)
            if uri.scheme == b"https":
                endpoint = wrapClientTLS(optionsForClientTLS(host), endpoint)
            if len(self._made) >= self._limit:
                self._made.clear()
            self._made[key] = endpoint
        return endpoint


class HttpClient:
    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._pool = HTTPConnectionPool(reactor, persistent=True)
        self._pool.maxPersistentPerHost = 32
        self._pool.retryAutomatically = False
        self._agent = Agent.usingEndpointFactory(reactor, _Endpoints(reactor), pool=self._pool)

    async def request(self, method: str, url: str, headers: dict[str, str], body: bytes,
                      timeout_ms: int, relay_large: bool = False) -> BackendResponse:
        wire_headers = Headers()
        for name, value in headers.items():
            if name.lower() not in HOP_BY_HOP:
                wire_headers.addRawHeader(name.encode("latin-1"), value.encode("latin-1", "replace"))
        producer = _Body(body) if body or method in ("POST", "PUT", "PATCH") else None
        expired: list[bool] = []
        pending: list[Deferred[Any]] = [
            self._agent.request(method.encode("ascii"), url.encode("utf-8"), wire_headers, producer)]
        timer = self._reactor.callLater(timeout_ms / 1000.0, self._expire, expired, pending)
        started = self._reactor.seconds()
        try:
            response = await pending[0]
            if relay_large and (response.length is UNKNOWN_LENGTH or response.length > STREAM_THRESHOLD):
                left = timeout_ms / 1000.0 - (self._reactor.seconds() - started)
                return BackendResponse(response.code, _headers(response), b"",
                                       stream=lambda request: self._relay(response, request, left))
            pending[0] = readBody(response)
            try:
                data = await pending[0]
            except PartialDownloadError as partial:  # no length, ended by closing: all there is
                data = partial.response or b""
        except Exception as error:
            if expired or isinstance(error, (DeferredTimeout, ConnectTimeout)):
                raise GatewayError("INTEGRATION_TIMEOUT", "Endpoint request timed out") from None
            if isinstance(error, (ConnectError, DNSLookupError, ConnectionLost, ResponseFailed,
                                  ResponseNeverReceived, CancelledError)):
                raise GatewayError("INTEGRATION_FAILURE", "Internal server error") from None
            raise
        finally:
            if timer.active():
                timer.cancel()
        return BackendResponse(response.code, _headers(response), data)

    def _relay(self, response: Any, request: Any, seconds: float) -> Deferred[None]:
        done: Deferred[None] = Deferred()
        response.deliverBody(_Relay(request, done, self._reactor, seconds))
        return done

    @staticmethod
    def _expire(expired: list[bool], pending: list[Deferred[Any]]) -> None:
        expired.append(True)
        pending[0].cancel()

    def close(self) -> Deferred[None]:
        return self._pool.closeCachedConnections()


def _headers(response: Any) -> dict[str, str]:
    return {name.decode("latin-1"): ",".join(v.decode("latin-1") for v in values)
            for name, values in response.headers.getAllRawHeaders()}
