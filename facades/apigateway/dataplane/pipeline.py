"""The request pipeline of a deployed stage.

route -> resource policy -> authorizer -> API key -> request validation ->
cache lookup -> throttling (stage/method, usage plan, quota) -> integration
request -> integration -> integration response -> method response -> access
log and metrics. Each step lives in a module of its own; a step that stops a
request raises :class:`GatewayError`, answered as that gateway response.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from facades.apigateway import responses
from facades.apigateway.dataplane import accesslog, iam, lambda_proxy, mapping, policy, validation
from facades.apigateway.dataplane.authorizers import Authorizers
from facades.apigateway.dataplane.backend import BackendResponse
from facades.apigateway.dataplane.cache import StageCache
from facades.apigateway.dataplane.errors import GatewayError, missing_token
from facades.apigateway.dataplane.http_client import HOP_BY_HOP
from facades.apigateway.dataplane.integrations import Backends, lambda_function
from facades.apigateway.dataplane.invocation import Invocation
from facades.apigateway.dataplane.metrics import Metrics
from facades.apigateway.dataplane.routing import Router
from facades.apigateway.dataplane.templates import Input, TemplateError, render
from facades.apigateway.dataplane.throttle import DEFAULT_BURST, DEFAULT_RATE, Throttles
from facades.apigateway.dataplane.usage import UsagePlans
from facades.aws.dispatch import WireResponse
from facades.aws.policy import Policy
from facades.aws.sigv4 import SigV4Verifier

log = logging.getLogger("mqgate.apigateway")

#: API Gateway's payload limit.
MAX_PAYLOAD = 10 * 1024 * 1024

#: ``x-amzn-ErrorType`` API Gateway sends with its own failures.
_ERROR_TYPES = {"MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
                "ACCESS_DENIED": "AccessDeniedException", "INVALID_API_KEY": "ForbiddenException",
                "UNAUTHORIZED": "UnauthorizedException", "THROTTLED": "TooManyRequestsException",
                "QUOTA_EXCEEDED": "LimitExceededException", "BAD_REQUEST_BODY": "BadRequestException",
                "BAD_REQUEST_PARAMETERS": "BadRequestException", "REQUEST_TOO_LARGE": "RequestTooLargeException",
                "UNSUPPORTED_MEDIA_TYPE": "UnsupportedMediaTypeException",
                "INTEGRATION_TIMEOUT": "InternalServerErrorException",
                "INVALID_SIGNATURE": "InvalidSignatureException"}


@dataclass
class Deployed:
    """What a stage serves: its deployment's definitions, compiled once."""

    api_id: str
    stage: dict[str, Any]
    snapshot: dict[str, Any]
    router: Router
    models: validation.Models
    policy: Policy

    @property
    def variables(self) -> dict[str, str]:
        return self.stage.get("variables") or {}

    def method_settings(self, resource_path: str, http_method: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(``*/*`` settings, this method's own settings)."""
        settings = self.stage.get("methodSettings") or {}
        return settings.get("*/*", {}), settings.get(f"{resource_path.lstrip('/')}/{http_method}", {})


class Pipeline:
    def __init__(self, account: str, region: str, clock: Callable[[], float], backends: Backends,
                 authorizers: Authorizers, usage: UsagePlans, throttles: Throttles, metrics: Metrics,
                 cache_for: Callable[[str, str], StageCache], verifier: SigV4Verifier) -> None:
        self.account = account
        self.region = region
        self.clock = clock
        self.backends = backends
        self.authorizers = authorizers
        self.usage = usage
        self.throttles = throttles
        self.metrics = metrics
        self.cache_for = cache_for
        self.verifier = verifier

    async def serve(self, inv: Invocation, deployed: Deployed | None) -> WireResponse:
        cache_hit: bool | None = None
        try:
            if deployed is None or (deployed.snapshot["api"].get("disableExecuteApiEndpoint") and not inv.test_invoke):
                raise GatewayError("ACCESS_DENIED", "Forbidden")
            if len(inv.body) > MAX_PAYLOAD:
                raise GatewayError("REQUEST_TOO_LARGE", "Request Too Long")
            inv.match = deployed.router.match(inv.http_method, inv.path)
            if inv.match is None:
                raise missing_token()
            inv.build_context(self.account, deployed.variables)
            method = inv.match.method
            arn = policy.method_arn(self.region, self.account, inv.api_id, inv.stage, inv.http_method, inv.path)
            if inv.test_invoke:
                validator = deployed.snapshot["validators"].get(method.get("requestValidatorId", ""))
                validation.check(inv, method, validator, deployed.models, deployed.variables)
                return self._finish(inv, None, await self._integrate(inv, deployed, method), None)
            policy.check(deployed.policy, arn, inv.api_id, inv.source_ip)
            if method.get("authorizationType") == "AWS_IAM":
                iam.authorize(self.verifier, inv)
            await self.authorizers.authorize(inv, deployed.snapshot, method, arn, deployed.variables)
            if method.get("apiKeyRequired"):
                source = deployed.snapshot["api"].get("apiKeySource", "HEADER")
                value = inv.usage_identifier_key if source == "AUTHORIZER" else inv.headers.get("x-api-key")
                inv.api_key, inv.usage_plan = self.usage.check_key(value, inv.api_id, inv.stage)
                inv.context["identity"]["apiKey"] = inv.api_key["value"]
                inv.context["identity"]["apiKeyId"] = inv.api_key["id"]
            validator = deployed.snapshot["validators"].get(method.get("requestValidatorId", ""))
            validation.check(inv, method, validator, deployed.models, deployed.variables)
            cached, cache_hit, ttl = self._cache_lookup(inv, deployed, method)
            if cached is not None:
                return self._finish(inv, deployed, cached, cache_hit)
            self._throttle(inv, deployed)
            response = await self._integrate(inv, deployed, method)
            if ttl and 200 <= response.status < 300 and inv.cache_key is not None:
                self.cache_for(inv.api_id, inv.stage).put(inv.cache_key, response.status, response.headers,
                                                          response.body, ttl)
            return self._finish(inv, deployed, response, cache_hit)
        except GatewayError as error:
            return self._finish(inv, deployed, self.gateway_response(error, inv, deployed), cache_hit)
        except TemplateError as error:
            log.warning("event=mapping_template_failed api=%s stage=%s error=%s", inv.api_id, inv.stage, error)
            failure = GatewayError("DEFAULT_5XX", "Internal server error", status=500)
            return self._finish(inv, deployed, self.gateway_response(failure, inv, deployed), cache_hit)
        except Exception:
            log.exception("event=gateway_request_failed api=%s stage=%s", inv.api_id, inv.stage)
            failure = GatewayError("DEFAULT_5XX", "Internal server error", status=500)
            return self._finish(inv, deployed, self.gateway_response(failure, inv, deployed), cache_hit)

    # -- cache and throttling --------------------------------------------------

    def _cache_lookup(self, inv: Invocation, deployed: Deployed,
                      method: dict[str, Any]) -> tuple[WireResponse | None, bool | None, int]:
        if not deployed.stage.get("cacheClusterEnabled"):
            return None, None, 0
        assert inv.match is not None
        general, own = deployed.method_settings(inv.match.resource["path"], method["httpMethod"])
        if "cachingEnabled" in own:
            enabled = own["cachingEnabled"]
        else:
            enabled = bool(general.get("cachingEnabled", True)) and inv.http_method == "GET"
        ttl = int(own.get("cacheTtlInSeconds", general.get("cacheTtlInSeconds", 300)))
        if not enabled or ttl <= 0:
            return None, None, 0
        integration = method.get("methodIntegration") or {}
        parts = [integration.get("cacheNamespace", inv.match.resource["id"]), inv.http_method, inv.path]
        for name in integration.get("cacheKeyParameters") or []:
            parts.append(f"{name}={mapping.request_value(name, inv, deployed.variables)}")
        inv.cache_key = "\x1f".join(parts)
        cache = self.cache_for(inv.api_id, inv.stage)
        if "max-age=0" in inv.headers.get("cache-control", "").replace(" ", ""):
            require = own.get("requireAuthorizationForCacheControl",
                              general.get("requireAuthorizationForCacheControl", True))
            strategy = own.get("unauthorizedCacheControlHeaderStrategy",
                               general.get("unauthorizedCacheControlHeaderStrategy", "SUCCEED_WITH_RESPONSE_HEADER"))
            if not require:
                cache.invalidate(inv.cache_key)
                return None, False, ttl
            if strategy == "FAIL_WITH_403":
                raise GatewayError("ACCESS_DENIED", "User: anonymous is not authorized to perform: "
                                   "execute-api:InvalidateCache")
        entry = cache.get(inv.cache_key)
        if entry is None:
            return None, False, ttl
        return WireResponse(entry.status, dict(entry.headers), entry.body), True, ttl

    def _throttle(self, inv: Invocation, deployed: Deployed) -> None:
        assert inv.match is not None
        method = inv.match.method
        general, own = deployed.method_settings(inv.match.resource["path"], method["httpMethod"])
        settings = {**general, **own}
        rate = float(settings.get("throttlingRateLimit", DEFAULT_RATE))
        burst = int(settings.get("throttlingBurstLimit", DEFAULT_BURST))
        # ``*/*`` settings are each method's defaults: every method has a bucket of its own.
        scope = f"{inv.api_id}/{inv.stage}/{inv.match.resource['id']}/{method['httpMethod']}"
        if not self.throttles.allow(scope, rate, burst):
            raise GatewayError("THROTTLED", "Too Many Requests")
        if inv.usage_plan is not None and inv.api_key is not None:
            limits = self.usage.limits(inv.usage_plan, inv.api_id, inv.stage, inv.match.resource["path"],
                                       method["httpMethod"])
            if limits is not None and not self.throttles.allow(
                    f"plan/{inv.usage_plan['id']}/{inv.api_key['id']}/{limits[0]}", limits[1], limits[2]):
                raise GatewayError("THROTTLED", "Too Many Requests")
            self.usage.count(inv.usage_plan, inv.api_key["id"])

    # -- integration -----------------------------------------------------------

    async def _integrate(self, inv: Invocation, deployed: Deployed, method: dict[str, Any]) -> WireResponse:
        integration = method.get("methodIntegration")
        if integration is None:
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        assert inv.match is not None
        kind = integration["type"]
        variables = deployed.variables
        timeout = int(integration.get("timeoutInMillis", 29000))
        started = self.clock()
        params = mapping.integration_params(integration, inv, variables)
        http_method = integration.get("httpMethod", "POST")
        if http_method == "ANY":
            http_method = inv.http_method
        if kind == "HTTP_PROXY":
            headers = {**{k: v for k, v in inv.headers.items() if k not in HOP_BY_HOP}, **params["header"]}
            forwarded = inv.headers.get("x-forwarded-for")
            headers["x-forwarded-for"] = f"{forwarded}, {inv.source_ip}" if forwarded else inv.source_ip
            query = [*inv.query, *params["querystring"].items()]
            path_params = {**inv.match.path_params, **params["path"]}
            backend = await self.backends.http_call(http_method, integration["uri"], path_params, query, headers,
                                                    inv.body, timeout,
                                                    relay_large=inv.cache_key is None and not inv.test_invoke)
            inv.integration_latency_ms = int((self.clock() - started) * 1000)
            return _passthrough(backend)
        if kind == "AWS_PROXY":
            function = lambda_function(integration.get("uri", ""))
            if function is None:
                raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
            binary = deployed.snapshot["api"].get("binaryMediaTypes") or []
            event = lambda_proxy.event(inv, variables, binary)
            backend = await self.backends.invoke(function, json.dumps(event).encode(), timeout)
            inv.integration_latency_ms = int((self.clock() - started) * 1000)
            return _passthrough(lambda_proxy.result(backend))
        binary = lambda_proxy.is_binary(inv, deployed.snapshot["api"].get("binaryMediaTypes") or [])
        request_body = _convert(inv.body, integration.get("contentHandling"), binary)
        template = mapping.select_request_template(integration, inv.content_type)
        input_ = Input(request_body.decode("utf-8", "replace"), inv.method_params())
        body = request_body if template is None else render(template, input_, inv.context, variables).encode()
        override = inv.context["requestOverride"]
        for where in ("header", "querystring", "path"):
            params[where].update({k: str(v) for k, v in (override.get(where) or {}).items()})
        if kind == "MOCK":
            backend = BackendResponse(_mock_status(body))
        elif kind == "HTTP":
            headers = dict(params["header"])
            headers.setdefault("Content-Type", inv.headers.get("content-type", "application/json"))
            path_params = {**inv.match.path_params, **params["path"]}
            backend = await self.backends.http_call(http_method, integration["uri"], path_params,
                                                    params["querystring"], headers, body, timeout)
        else:
            backend = await self.backends.aws_call(integration, params["querystring"], params["header"], body,
                                                   inv.source_ip)
        inv.integration_latency_ms = int((self.clock() - started) * 1000)
        return self._integration_response(inv, deployed, integration, backend)

    def _integration_response(self, inv: Invocation, deployed: Deployed, integration: dict[str, Any],
                              backend: BackendResponse) -> WireResponse:
        selected = mapping.select_integration_response(integration, backend)
        status = int(selected["statusCode"])
        headers: dict[str, str] = {}
        for target, source in (selected.get("responseParameters") or {}).items():
            if target.startswith("method.response.header."):
                value = mapping.response_value(source, backend, inv, deployed.variables)
                if value is not None:
                    headers[target[len("method.response.header."):]] = value
        template = mapping.select_response_template(selected.get("responseTemplates") or {},
                                                    inv.headers.get("accept"))
        if template is None:
            body = backend.body
        else:
            input_ = Input(backend.body.decode("utf-8", "replace"), inv.method_params())
            body = render(template, input_, inv.context, deployed.variables).encode()
        handling = selected.get("contentHandling")
        if handling:
            body = _convert(body, handling, handling == "CONVERT_TO_TEXT")
        override = inv.context["responseOverride"]
        if override.get("status"):
            status = int(override["status"])
        headers.update({k: str(v) for k, v in (override.get("header") or {}).items()})
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        return WireResponse(status, headers, body)

    # -- gateway responses and bookkeeping -------------------------------------------

    def gateway_response(self, error: GatewayError, inv: Invocation, deployed: Deployed | None) -> WireResponse:
        overrides = deployed.snapshot["gatewayResponses"] if deployed else {}
        spec = responses.effective(error.response_type, overrides, error.status)
        status = int(spec.get("statusCode") or error.status)
        if not inv.context:
            inv.build_context(self.account, deployed.variables if deployed else {})
        inv.context["error"] = {"message": error.message, "messageString": json.dumps(error.message),
                                "responseType": error.response_type}
        templates = spec.get("responseTemplates") or {}
        template = mapping.select_response_template(templates, inv.headers.get("accept"))
        if template is None or template == responses.DEFAULT_TEMPLATE:
            body = json.dumps({"message": error.message}, separators=(",", ":")).encode()
        else:
            try:
                body = render(template, Input("", inv.method_params()), inv.context,
                              deployed.variables if deployed else {}).encode()
            except TemplateError:
                body = json.dumps({"message": error.message}).encode()
        headers = {"Content-Type": "application/json", **error.headers}
        for target, source in (spec.get("responseParameters") or {}).items():
            if target.startswith("gatewayresponse.header."):
                value = mapping.request_value(source, inv, deployed.variables if deployed else {})
                if value is not None:
                    headers[target[len("gatewayresponse.header."):]] = value
        if error.response_type in _ERROR_TYPES:
            headers["x-amzn-ErrorType"] = _ERROR_TYPES[error.response_type]
        return WireResponse(status, headers, body)

    def _finish(self, inv: Invocation, deployed: Deployed | None, response: WireResponse,
                cache_hit: bool | None) -> WireResponse:
        latency_ms = (self.clock() - inv.started) * 1000
        headers = {**response.headers, "x-amzn-RequestId": inv.request_id, "x-amz-apigw-id": inv.request_id[:16]}
        if inv.context:
            inv.context.update(status=response.status, responseLength=len(response.body),
                               responseLatency=int(latency_ms), integrationLatency=inv.integration_latency_ms)
        resource = inv.match.resource["path"] if inv.match else ""
        method = inv.match.method["httpMethod"] if inv.match else inv.http_method
        if not inv.test_invoke:
            self.metrics.record((inv.api_id, inv.stage, method, resource), response.status, latency_ms,
                                inv.integration_latency_ms, cache_hit)
        if deployed is not None and inv.context:
            accesslog.write(deployed.stage.get("accessLogSettings"), inv.context)
        return WireResponse(response.status, headers, response.body, stream=response.stream)


def _convert(body: bytes, handling: str | None, binary: bool) -> bytes:
    """``contentHandling``: CONVERT_TO_TEXT base64-encodes a binary payload,
    CONVERT_TO_BINARY decodes a base64 text one; otherwise bodies pass as they are."""
    if handling == "CONVERT_TO_TEXT" and binary:
        return base64.b64encode(body)
    if handling == "CONVERT_TO_BINARY" and not binary:
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:
            raise GatewayError("DEFAULT_5XX", "Internal server error", status=500) from None
    return body


def _mock_status(body: bytes) -> int:
    try:
        document = json.loads(body) if body.strip() else {}
    except ValueError:
        return 200
    status = document.get("statusCode", 200) if isinstance(document, dict) else 200
    try:
        return int(status)
    except (TypeError, ValueError):
        return 200


def _passthrough(backend: BackendResponse) -> WireResponse:
    headers = {k: v for k, v in backend.headers.items() if k.lower() not in HOP_BY_HOP}
    return WireResponse(backend.status, headers, backend.body, stream=backend.stream)
