"""HTTP calls to backends and Lambda endpoints with Twisted's Agent (never blocking).

Connections are pooled per host; every call has the integration's timeout,
after which it is abandoned and the gateway answers 504.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, TimeoutError as DeferredTimeout
from twisted.internet.error import ConnectError, ConnectionLost, DNSLookupError, TimeoutError as ConnectTimeout
from twisted.web.client import Agent, HTTPConnectionPool, PartialDownloadError, ResponseFailed, readBody
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
        d = self._agent.request(method.encode("ascii"), url.encode("utf-8"), wire_headers, producer)
        d.addTimeout(timeout_ms / 1000.0, self._reactor)
        try:
            response = await d
            reading = readBody(response)
            reading.addTimeout(timeout_ms / 1000.0, self._reactor)
            try:
                data = await reading
            except PartialDownloadError as partial:  # no length, ended by closing: all there is
                data = partial.response or b""
        except (DeferredTimeout, ConnectTimeout):
            raise GatewayError("INTEGRATION_TIMEOUT", "Endpoint request timed out") from None
        except (ConnectError, DNSLookupError, ConnectionLost, ResponseFailed):
            raise GatewayError("INTEGRATION_FAILURE", "Internal server error", status=502) from None
        out_headers = {
            name.decode("latin-1"): ",".join(v.decode("latin-1") for v in values)
            for name, values in response.headers.getAllRawHeaders()
        }
        return BackendResponse(response.code, out_headers, data)

    def close(self) -> Deferred[None]:
        return self._pool.closeCachedConnections()
