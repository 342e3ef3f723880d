"""HTTP calls to backends and Lambda endpoints with Twisted's Agent (never blocking).

Connections are pooled per host; every call has the integration's timeout,
after which it is abandoned and the gateway answers 504.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import CancelledError, Deferred, TimeoutError as DeferredTimeout
from twisted.internet.error import ConnectError, ConnectionLost, DNSLookupError, TimeoutError as ConnectTimeout
from twisted.web.client import Agent, HTTPConnectionPool, PartialDownloadError, ResponseFailed, ResponseNeverReceived, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer
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


class HttpClient:
    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._pool = HTTPConnectionPool(reactor, persistent=True)
        self._pool.maxPersistentPerHost = 32
        self._pool.retryAutomatically = False
        self._agent = Agent(reactor, pool=self._pool, connectTimeout=10)

    async def request(self, method: str, url: str, headers: dict[str, str], body: bytes,
                      timeout_ms: int) -> BackendResponse:
        wire_headers = Headers()
        for name, value in headers.items():
            if name.lower() not in HOP_BY_HOP:
                wire_headers.addRawHeader(name.encode("latin-1"), value.encode("latin-1", "replace"))
        producer = _Body(body) if body or method in ("POST", "PUT", "PATCH") else None
        expired: list[bool] = []
        pending: list[Deferred[Any]] = [
            self._agent.request(method.encode("ascii"), url.encode("utf-8"), wire_headers, producer)]
        timer = self._reactor.callLater(timeout_ms / 1000.0, self._expire, expired, pending)
        try:
            response = await pending[0]
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
                raise GatewayError("INTEGRATION_FAILURE", "Internal server error", status=502) from None
            raise
        finally:
            if timer.active():
                timer.cancel()
        out_headers = {
            name.decode("latin-1"): ",".join(v.decode("latin-1") for v in values)
            for name, values in response.headers.getAllRawHeaders()
        }
        return BackendResponse(response.code, out_headers, data)

    @staticmethod
    def _expire(expired: list[bool], pending: list[Deferred[Any]]) -> None:
        expired.append(True)
        pending[0].cancel()

    def close(self) -> Deferred[None]:
        return self._pool.closeCachedConnections()
