"""The data plane's front door on the AWS port.

Claims the requests addressed to a deployed stage —
``/restapis/{api}/{stage}/_user_request_/{path}``,
``/_aws/execute-api/{api}/{stage}/{path}`` and
``Host: {api}.execute-api.<anything>`` with ``/{stage}/{path}``, and custom
domain names by their base path mappings — before the
AWS API dispatcher sees them, and serves them through the pipeline. Stages
are compiled on first use and dropped whenever their API's definitions
change. ``GET /_apigateway/metrics`` answers the counters.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable
from urllib.parse import parse_qsl

from twisted.internet.defer import Deferred

from broker.auth.identity import Identity
from facades.apigateway import domains
from facades.apigateway.control import api_doc, method_doc, resource_doc
from facades.apigateway.dataplane import policy, validation
from facades.apigateway.dataplane.authorizers import Authorizers
from facades.apigateway.dataplane.cache import StageCache
from facades.apigateway.dataplane.http_client import HttpClient
from facades.apigateway.dataplane.integrations import Backends
from facades.apigateway.dataplane.invocation import Invocation
from facades.apigateway.dataplane.metrics import Metrics
from facades.apigateway.dataplane.pipeline import MAX_PAYLOAD, Deployed, Pipeline
from facades.apigateway.dataplane.routing import Router
from facades.apigateway.dataplane.throttle import Throttles
from facades.apigateway.dataplane.usage import UsagePlans
from facades.apigateway.state import ApiGatewayState
from facades.aws.dispatch import AwsDispatcher, WireRequest, WireResponse
from facades.aws.policy import Policy, parse as parse_policy
from facades.aws.sigv4 import SignedRequest, SigV4Verifier

USER_REQUEST = "_user_request_"
#: LocalStack's newer invoke form: ``/_aws/execute-api/{api}/{stage}/{path}``.
EXECUTE_API = "/_aws/execute-api/"
METRICS_PATH = "/_apigateway/metrics"


class Gateway:
    max_body_size = MAX_PAYLOAD

    def __init__(self, state: ApiGatewayState, reactor: Any, clock: Callable[[], float],
                 verifier: SigV4Verifier, lambda_endpoint: str = "",
                 jwks: dict[str, str] | None = None) -> None:
        self.state = state
        self._deployed: dict[tuple[str, str], Deployed | None] = {}
        self._caches: dict[tuple[str, str], StageCache] = {}
        self.backends = Backends(HttpClient(reactor), state.region, state.account, lambda_endpoint)
        self.authorizers = Authorizers(self.backends, clock, state.region, jwks or {})
        self.usage = UsagePlans(state, clock)
        self.metrics = Metrics()
        self.pipeline = Pipeline(state.account, state.region, clock, self.backends, self.authorizers, self.usage,
                                 Throttles(clock), self.metrics, self.cache,
                                 verifier)
        self._clock = clock
        state.on_change(self._changed)

    def connect(self, dispatcher: AwsDispatcher, acting_as: Callable[[str | None], Identity | None]) -> None:
        """The port's dispatcher, which answers AWS-service integrations in-process, as the
        identity `acting_as` gives for the integration's `credentials`."""
        self.backends.dispatcher = dispatcher
        self.backends.acting_as = acting_as

    # -- caches -------------------------------------------------------------

    def cache(self, api_id: str, stage: str) -> StageCache:
        cache = self._caches.get((api_id, stage))
        if cache is None:
            cache = self._caches[(api_id, stage)] = StageCache(self._clock)
        return cache

    def flush_cache(self, api_id: str, stage: str) -> None:
        self.cache(api_id, stage).flush()

    def flush_authorizers(self, api_id: str, stage: str) -> None:
        self.authorizers.flush(api_id, stage)

    def _changed(self, api_id: str) -> None:
        if api_id == "*":
            self.usage.invalidate()
            return
        for key in [k for k in self._deployed if k[0] == api_id]:
            del self._deployed[key]
        if self.state.api(api_id) is None:  # deleted: its caches go too
            for key in [k for k in self._caches if k[0] == api_id]:
                del self._caches[key]
            self.authorizers.flush_api(api_id)

    def deployed(self, api_id: str, stage_name: str) -> Deployed | None:
        key = (api_id, stage_name)
        if key in self._deployed:
            return self._deployed[key]
        doc = self.state.api(api_id)
        stage = None if doc is None else doc["stages"].get(stage_name)
        record = None if stage is None else self.state.deployment(api_id, stage["deploymentId"])
        compiled = None
        if record is not None and stage is not None:
            snapshot = record["snapshot"]
            compiled = Deployed(api_id=api_id, stage=stage, snapshot=snapshot,
                                router=Router(snapshot["resources"]),
                                models=validation.Models(api_id, snapshot["models"]),
                                policy=parse_policy(snapshot["api"].get("policy")))
        if len(self._deployed) > 10_000:
            self._deployed.clear()
        self._deployed[key] = compiled
        return compiled

    # -- the front route ----------------------------------------------------------

    def route(self, request: WireRequest) -> Deferred[WireResponse] | None:
        target = self._target(request)
        if target is None and not _aws_api_call(request):
            target = domains.resolve(self.state, request.host, request.path)
        if target is None:
            if request.path == METRICS_PATH and request.method == "GET":
                return Deferred.fromCoroutine(self._metrics())
            return None
        api_id, stage, path = target
        inv = Invocation(api_id=api_id, stage=stage, http_method=request.method, path=path or "/",
                         query=list(request.query), headers=request.headers, body=request.body,
                         source_ip=request.client_address, request_id=str(uuid.uuid4()), host=request.host,
                         started=self._clock(),
                         raw_headers=[(name.decode("latin-1"), value.decode("latin-1"))
                                      for name, value in request.raw_headers],
                         signed=SignedRequest(method=request.method, scheme=request.scheme, host=request.host,
                                              path=request.path, query=request.query, headers=request.headers,
                                              body=request.body))
        return Deferred.fromCoroutine(self.pipeline.serve(inv, self.deployed(api_id, stage)))

    async def test_invoke(self, params: dict[str, Any]) -> dict[str, Any]:
        """TestInvokeMethod: the method as currently defined (not deployed), called directly."""
        doc = api_doc(self.state, params["restApiId"])
        resource = resource_doc(doc, params["resourceId"])
        method_doc(doc, params["resourceId"], params["httpMethod"])
        snapshot = self.state.snapshot(doc)
        stage = {"stageName": "test-invoke-stage", "variables": dict(params.get("stageVariables", {}))}
        deployed = Deployed(api_id=params["restApiId"], stage=stage, snapshot=snapshot,
                            router=Router(snapshot["resources"]),
                            models=validation.Models(params["restApiId"], snapshot["models"]), policy=Policy())
        path, _, raw_query = (params.get("pathWithQueryString") or resource["path"]).partition("?")
        raw_headers = list(params.get("headers", {}).items())
        for name, values in params.get("multiValueHeaders", {}).items():
            raw_headers = [(k, v) for k, v in raw_headers if k.lower() != name.lower()]
            raw_headers.extend((name, value) for value in values)
        headers: dict[str, str] = {}
        for name, value in raw_headers:
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        inv = Invocation(api_id=params["restApiId"], stage="test-invoke-stage",
                         http_method=params["httpMethod"].upper(), path=path if path.startswith("/") else "/" + path,
                         query=parse_qsl(raw_query, keep_blank_values=True), headers=headers, raw_headers=raw_headers,
                         body=params.get("body", "").encode(), source_ip="test-invoke-source-ip",
                         request_id=str(uuid.uuid4()), host="test-invoke", started=self._clock(), test_invoke=True)
        response = await self.pipeline.serve(inv, deployed)
        latency = int((self._clock() - inv.started) * 1000)
        return {"status": response.status, "body": response.body.decode("utf-8", "replace"),
                "headers": dict(response.headers), "multiValueHeaders": {k: [v] for k, v in response.headers.items()},
                "latency": latency,
                "log": f"Execution log for request {inv.request_id}\n"
                       f"Method request path: {inv.match.path_params if inv.match else {}}\n"
                       f"Method request query string: {dict(inv.query)}\n"
                       f"Method completed with status: {response.status}\n"}

    async def _metrics(self) -> WireResponse:
        return WireResponse(200, {"Content-Type": "text/plain; version=0.0.4"}, self.metrics.render().encode())

    @staticmethod
    def _target(request: WireRequest) -> tuple[str, str, str] | None:
        path = request.path
        if path.startswith("/restapis/"):
            parts = path.split("/", 5)
            if len(parts) >= 5 and parts[4] == USER_REQUEST:
                return parts[2], parts[3], "/" + (parts[5] if len(parts) > 5 else "")
            return None
        if path.startswith(EXECUTE_API):
            parts = path[len(EXECUTE_API):].split("/", 2)
            if len(parts) >= 2 and parts[0] and parts[1]:
                return parts[0], parts[1], "/" + (parts[2] if len(parts) > 2 else "")
            return None
        host = request.host
        label, _, rest = host.partition(".")
        if rest.startswith("execute-api.") and label:
            stage, _, tail = path.lstrip("/").partition("/")
            return label, stage, "/" + tail
        return None


def _aws_api_call(request: WireRequest) -> bool:
    """A request to an AWS API (signed, or JSON/Query framed): never a custom domain's,
    even when a domain is named like the broker's own host."""
    headers = request.headers
    return ("x-amz-target" in headers or headers.get("authorization", "").startswith("AWS4-HMAC-SHA256")
            or any(name == "Action" for name, _ in request.query))
