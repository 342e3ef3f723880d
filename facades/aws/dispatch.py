"""From an HTTP request to an HTTP response, without sockets.

Everything between bytes-in and bytes-out of the AWS port lives here:
protocol and service detection, authentication, the operation allow-list,
shape-driven parsing, the handler call, serialization and error rendering.
``facades.aws.httpserver`` only parses HTTP into :class:`WireRequest`
and writes the :class:`WireResponse` back, so this whole path is unit-tested
with plain values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from twisted.internet.defer import CancelledError, Deferred, maybeDeferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from facades.aws import json_protocol, query_protocol, rest_json
from facades.aws.errors import AwsError, Protocol, common_error
from facades.aws.ids import random_uuid
from facades.aws.service import AwsRequestContext, AwsService, Handler, Params, unknown_operation
from facades.aws.sigv4 import Principal, SignedRequest, SigV4Verifier, credential_scope

#: SQS accepts up to 1 MiB of message data per request (a batch of ten
#: included), and the encodings inflate it up to threefold: form encoding
#: turns every non-ASCII UTF-8 byte into ``%XX``, botocore's JSON escapes
#: U+0080..U+07FF as 6-byte ``\uXXXX``. A legitimate request can thus
#: approach 3 MiB; anything past 4 MiB is not SQS traffic.
DEFAULT_MAX_BODY_SIZE = 4 * 1024 * 1024

_log = Logger()


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, ~3x
# the cost of a plain one, and one is built for every request.
@dataclass
class WireRequest:
    method: str
    scheme: str
    host: str
    path: str
    """Raw path as sent, without the query string."""
    query: Sequence[tuple[str, str]]
    """Decoded URL query parameters, in order."""
    headers: dict[str, str]
    """Lower-case names; repeated headers joined with ``,``."""
    body: bytes
    client_address: str = ""
    raw_headers: Sequence[tuple[bytes, bytes]] = ()
    """Every header line as sent: name case and repeats kept, for API Gateway's
    events, which show them as the client wrote them."""


# Not frozen, as WireRequest: one is built for every request.
@dataclass
class WireResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    stream: Callable[[Any], Deferred[None]] | None = field(default=None, compare=False)
    """Set instead of ``body`` for a body relayed as it arrives (API Gateway's HTTP
    proxying): called with the :class:`~facades.aws.httpserver.ResponseBody` to write
    into; fires when done."""


# Not frozen, as WireRequest: one is built for every request.
@dataclass
class _Call:
    """A request that made it past every check and is ready for its handler."""

    service: AwsService
    ctx: AwsRequestContext
    params: Params
    handler: Handler = field(repr=False)


class AwsDispatcher:
    """Routes requests on the shared AWS port to the registered services."""

    def __init__(
        self,
        services: Sequence[AwsService],
        verifier: SigV4Verifier,
        default_region: str,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        self._services = list(services)
        # X-Amz-Target prefix -> the first service answering to it, as `_route_json` looks for it.
        self._json_targets: dict[str, AwsService] = {}
        for service in self._services:
            if service.target_prefix is not None:
                self._json_targets.setdefault(service.target_prefix, service)
        self._verifier = verifier
        self._default_region = default_region
        self._max_body_size = max_body_size

    @property
    def max_body_size(self) -> int:
        return self._max_body_size

    def handle(self, request: WireRequest, principal: Principal | None = None) -> Deferred[WireResponse]:
        """The response to ``request``; cancelling it cancels the handler.

        ``principal`` is for trusted in-process callers (an API Gateway
        integration calling a service as its configured identity): the
        request is then not authenticated again.
        """
        request_id = random_uuid()
        rest: tuple[AwsService, str | None, dict[str, str]] | None = None
        if "x-amz-target" in request.headers:
            protocol: Protocol = "json"
        else:
            rest = self._route_rest(request)
            protocol = "query" if rest is None else "rest-json"
        uri_params: dict[str, str] = {}
        try:
            self._check_size(request)
            pairs = self._query_pairs(request) if protocol == "query" else []
            if rest is not None:
                service, found, uri_params = rest
                if found is None:
                    raise unknown_operation(request.path, protocol)
                action = found
            elif protocol == "json":
                service, action = self._route_json(request.headers["x-amz-target"])
            else:
                service, action = self._route_query(request, pairs, principal)
        except AwsError as error:
            return succeed(self._error(error, protocol, None, request_id))
        try:
            call = self._call(service, action, request, protocol, pairs, request_id, uri_params, principal)
        except AwsError as error:
            return self._verifier.slowed(request.client_address, self._error(error, protocol, service, request_id))
        except Exception as error:  # a bug in a service hook, not bad input
            _log.failure("AWS request preparation failed", Failure(error))
            return succeed(self._error(common_error("InternalFailure"), protocol, service, request_id))
        d = maybeDeferred(call.handler, call.ctx, call.params)
        d.addCallback(self._success, call)
        d.addErrback(self._failure, call)
        return d

    # -- preparation -----------------------------------------------------

    def _check_size(self, request: WireRequest) -> None:
        if len(request.body) > self._max_body_size:
            raise common_error(
                "RequestEntityTooLarge",
                f"Request body exceeds the limit of {self._max_body_size} bytes.",
            )

    def _call(
        self,
        service: AwsService,
        action: str,
        request: WireRequest,
        protocol: Protocol,
        pairs: list[tuple[str, str]],
        request_id: str,
        uri_params: dict[str, str],
        principal: Principal | None,
    ) -> _Call:
        if principal is None:
            principal = self._verifier.authenticate(_signed(request), request.client_address,
                                                    action in service.anonymous_actions)
            self._verifier.throttle(principal, service.errors)
        if not service.has_operation(action):
            raise unknown_operation(action, protocol)
        handler = service.handlers.get(action)
        if handler is None:
            raise service.unimplemented(action, protocol)
        operation = service.operation(protocol, action)
        if protocol == "json":
            params = json_protocol.parse_params(operation.input_shape, request.body)
        elif protocol == "rest-json":
            params = rest_json.parse_params(operation, uri_params, request.query, request.headers, request.body)
        else:
            params = query_protocol.parse_params(operation.input_shape, pairs)
        ctx = AwsRequestContext(
            service=service.name,
            action=action,
            protocol=protocol,
            region=principal.region or self._default_region,
            account_id=principal.account_id,
            access_key=principal.access_key,
            request_id=request_id,
            host=request.host,
            scheme=request.scheme,
            path=request.path,
            client_address=request.client_address,
            headers=request.headers,
            identity=principal.identity,
            escape_free=protocol == "json" and b"\\" not in request.body,
        )
        service.complete_params(ctx, params)
        if operation.input_shape is not None:
            for member in operation.input_shape.required_members:
                if params.get(member) in (None, ""):
                    raise service.missing_parameter(action, member)
        return _Call(service, ctx, params, handler)

    def _query_pairs(self, request: WireRequest) -> list[tuple[str, str]]:
        pairs = list(request.query)
        if request.method == "POST" and request.body:
            try:
                text = request.body.decode("utf-8")
                pairs += parse_qsl(text, keep_blank_values=True, errors="strict")
            except (UnicodeDecodeError, ValueError):
                raise common_error("InvalidQueryParameter", "The request body is not valid form-encoded UTF-8.") from None
        return pairs

    def _route_rest(self, request: WireRequest) -> tuple[AwsService, str | None, dict[str, str]] | None:
        """The REST-JSON service whose URI space the path is in, and the operation.

        Only the first path segment is looked at before matching, so Query
        requests (posted to ``/`` or a queue URL) pay next to nothing.
        """
        first = request.path[1:].split("/", 1)[0]
        for service in self._services:
            router = service.rest_router
            if router is not None and first in router.prefixes:
                found = router.match(request.method, request.path, request.query)
                return (service, None, {}) if found is None else (service, found[0], found[1])
        return None

    def _route_json(self, target: str) -> tuple[AwsService, str]:
        prefix, _, action = target.partition(".")
        service = self._json_targets.get(prefix)
        if service is not None and action:
            return service, action
        raise unknown_operation(target, "json")

    def _route_query(
        self, request: WireRequest, pairs: list[tuple[str, str]], principal: Principal | None = None
    ) -> tuple[AwsService, str]:
        action = next((value for name, value in pairs if name == "Action"), None)
        if not action:
            raise common_error("MissingAction", "Missing Action")
        candidates = [s for s in self._services if s.query_model is not None]
        # A trusted caller names the service it calls; others may through their credential scope.
        scope = (principal.region, principal.service) if principal and principal.service else \
            credential_scope(_signed(request))
        if scope is not None:
            for service in candidates:
                if scope[1] in service.signing_names:
                    return service, action
        for service in candidates:
            if service.has_operation(action):
                return service, action
        raise unknown_operation(action, "query")

    # -- completion ------------------------------------------------------

    def _success(self, result: Any, call: _Call) -> WireResponse:
        ctx = call.ctx
        operation = call.service.operation(ctx.protocol, ctx.action)
        if ctx.protocol == "rest-json":
            status, headers, body = rest_json.serialize_result(operation, result)
            headers["x-amzn-RequestId"] = ctx.request_id
            return WireResponse(status, headers, body)
        if ctx.protocol == "json":
            body = json_protocol.serialize_result(operation.output_shape, result)
            content_type = json_protocol.CONTENT_TYPE
        else:
            namespace = call.service.xml_namespace or ""
            body = query_protocol.serialize_result(
                ctx.action, operation.output_shape, result, ctx.request_id, namespace
            )
            content_type = query_protocol.CONTENT_TYPE
        return WireResponse(200, {"Content-Type": content_type, "x-amzn-RequestId": ctx.request_id}, body)

    def _failure(self, failure: Failure, call: _Call) -> WireResponse:
        ctx = call.ctx
        if failure.check(AwsError):
            error = failure.value
        else:
            if not failure.check(CancelledError):
                _log.failure(
                    "AWS handler {service}.{action} failed (request {request_id})",
                    failure,
                    service=ctx.service,
                    action=ctx.action,
                    request_id=ctx.request_id,
                )
            error = common_error("InternalFailure")
        return self._error(error, ctx.protocol, call.service, ctx.request_id)

    def _error(
        self, error: AwsError, protocol: Protocol, service: AwsService | None, request_id: str
    ) -> WireResponse:
        if protocol == "json":
            status, headers, body = json_protocol.render_error(error)
        elif protocol == "rest-json":
            status, headers, body = rest_json.render_error(error)
        else:
            namespace = service.xml_namespace if service is not None else None
            status, headers, body = query_protocol.render_error(error, request_id, namespace)
        headers["x-amzn-RequestId"] = request_id
        return WireResponse(status, headers, body)


def _signed(request: WireRequest) -> SignedRequest:
    return SignedRequest(
        method=request.method,
        scheme=request.scheme,
        host=request.host,
        path=request.path,
        query=request.query,
        headers=request.headers,
        body=request.body,
    )
