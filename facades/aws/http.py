"""The AWS port as a ``twisted.web`` resource.

Only translation lives here: a Twisted request becomes a
:class:`~facades.aws.dispatch.WireRequest`, the dispatcher's
:class:`~facades.aws.dispatch.WireResponse` is written back. The resource is
a leaf: AWS clients post to ``/`` or to a queue URL path, and every path
reaches the dispatcher, except the few fixed documents facades publish by GET,
unless one of the *front routes* (API Gateway's data plane, which owns URLs and
Host names of its own) claims the request first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from facades.aws.dispatch import AwsDispatcher, WireRequest, WireResponse

_log = Logger()

#: A front route answers the requests it recognises and returns ``None`` for the rest.
FrontRoute = Callable[[WireRequest], "Deferred[WireResponse] | None"]


class AwsResource(Resource):
    """Serves every registered AWS service on one HTTP port."""

    isLeaf = True

    def __init__(
        self, dispatcher: AwsDispatcher, documents: Mapping[str, tuple[str, bytes]] | None = None,
        front_routes: Sequence[FrontRoute] = (), max_front_body: int = 0,
    ) -> None:
        super().__init__()
        self._dispatcher = dispatcher
        self._documents = dict(documents or {})
        self._front_routes = tuple(front_routes)
        self._max_read = max(dispatcher.max_body_size, max_front_body)

    def render(self, request: Request) -> Any:
        """Every method: REST APIs (the AWS ones and those API Gateway serves) use them all.

        A GET of a fixed document a facade publishes besides its API (the SNS signing
        certificate) is answered here; every other GET is a Query request."""
        if request.method == b"GET":
            document = self._documents.get(request.path.decode("latin-1"))
            if document is not None:
                request.setHeader("Content-Type", document[0])
                return document[1]
        return self._render(request)

    def _render(self, request: Request) -> int:
        # Set up disconnect tracking before dispatching: a handler that
        # answers synchronously finishes the request inside handle().
        gone: list[bool] = []
        wire = self._wire_request(request)
        response = None
        for route in self._front_routes:
            response = route(wire)
            if response is not None:
                break
        if response is None:
            response = self._dispatcher.handle(wire)
        request.notifyFinish().addErrback(self._client_gone, gone, response)
        response.addCallback(self._write, request, gone)
        response.addErrback(self._write_failed, request, gone)
        return NOT_DONE_YET

    def _wire_request(self, request: Request) -> WireRequest:
        # Read one byte past the limit: enough for the dispatcher to refuse
        # an oversized body without holding all of it in memory.
        request.content.seek(0)
        body = request.content.read(self._max_read + 1)
        uri = request.uri.decode("latin-1")
        raw_path, _, raw_query = uri.partition("?")
        headers = {
            name.decode("latin-1").lower(): ",".join(v.decode("latin-1") for v in values)
            for name, values in request.requestHeaders.getAllRawHeaders()
        }
        address = request.getClientAddress()
        return WireRequest(
            method=request.method.decode("ascii", "replace"),
            scheme="https" if request.isSecure() else "http",
            host=headers.get("host", ""),
            path=raw_path,
            query=parse_qsl(raw_query, keep_blank_values=True),
            headers=headers,
            body=body,
            client_address=getattr(address, "host", str(address)),
        )

    @staticmethod
    def _client_gone(_: Failure, gone: list[bool], response: Deferred[WireResponse]) -> None:
        # Cancelling lets a long-polling handler stop waiting for a client
        # that will never read the answer.
        gone.append(True)
        response.cancel()

    @staticmethod
    def _write(response: WireResponse, request: Request, gone: list[bool]) -> None:
        if gone:
            return
        request.setResponseCode(response.status)
        for name, value in response.headers.items():
            request.setHeader(name, value)
        if response.stream is not None:  # no length: chunked, as it arrives
            response.stream(request).addBoth(AwsResource._end_stream, request, gone)
            return
        request.setHeader("Content-Length", str(len(response.body)))
        request.write(response.body)
        request.finish()

    @staticmethod
    def _end_stream(_: object, request: Request, gone: list[bool]) -> None:
        if not gone and not request.finished:
            request.finish()

    @staticmethod
    def _write_failed(failure: Failure, request: Request, gone: list[bool]) -> None:
        _log.failure("Writing an AWS response failed", failure)
        if not gone and not request.finished:
            request.setResponseCode(500)
            request.finish()
