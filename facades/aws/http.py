"""What the AWS port answers, request by request.

Every path reaches the dispatcher (AWS clients post to ``/`` or to a queue URL
path), except the few fixed documents facades publish by GET and the requests a
*front route* (API Gateway's data plane, which owns URLs and Host names of its
own) claims first. The HTTP/1.1 connection handling is
:mod:`facades.aws.httpserver`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from twisted.internet.defer import Deferred, succeed

from facades.aws.dispatch import AwsDispatcher, WireRequest, WireResponse

#: A front route answers the requests it recognises and returns ``None`` for the rest.
FrontRoute = Callable[[WireRequest], "Deferred[WireResponse] | None"]


class AwsPort:
    """Serves every registered AWS service on one HTTP port."""

    def __init__(
        self, dispatcher: AwsDispatcher, documents: Mapping[str, tuple[str, bytes]] | None = None,
        front_routes: Sequence[FrontRoute] = (), max_front_body: int = 0,
    ) -> None:
        self._dispatcher = dispatcher
        self._documents = dict(documents or {})
        self._front_routes = tuple(front_routes)
        self.max_body = max(dispatcher.max_body_size, max_front_body)
        """Bytes of a body worth keeping: past it every route refuses the request."""

    def __call__(self, request: WireRequest) -> Deferred[WireResponse]:
        """Every method: REST APIs (the AWS ones and those API Gateway serves) use them all.

        A GET (or HEAD) of a fixed document a facade publishes besides its API (the SNS
        signing certificate) is answered here; every other GET is a Query request.
        Cancelling the answer cancels the handler (a client went away)."""
        if request.method in ("GET", "HEAD") and self._documents:
            document = self._documents.get(request.path)
            if document is not None:
                return succeed(WireResponse(200, {"Content-Type": document[0]}, document[1]))
        for route in self._front_routes:
            response = route(request)
            if response is not None:
                return response
        return self._dispatcher.handle(request)
