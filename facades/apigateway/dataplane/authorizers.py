"""Authorizers: Lambda (TOKEN / REQUEST) through the Lambda endpoint, and Cognito JWTs.

Lambda authorizers: the identity sources must be present (and a TOKEN must
match ``identityValidationExpression``) or the caller gets 401 without the
function being called; the function's policy is cached for
``authorizerResultTtlInSeconds`` per identity and evaluated against each
method ARN (explicit Deny wins, no Allow is a 403); its ``context`` reaches
``$context.authorizer.*`` and the proxy event. Cognito user pool authorizers
verify the JWT (signature against the pool's JWKS, expiry, issuer, token use,
scopes) with PyJWT; the JWKS of each pool comes from ``--jwks POOL=FILE_OR_URL``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt

from facades.apigateway.dataplane import lambda_proxy
from facades.apigateway.dataplane.errors import GatewayError
from facades.apigateway.dataplane.integrations import Backends, lambda_function
from facades.apigateway.dataplane.invocation import Invocation
from facades.apigateway.dataplane.mapping import request_value
from facades.apigateway.dataplane.policy import INVOKE
from facades.aws import policy as iam_policy

log = logging.getLogger("mqgate.apigateway")

_MAX_CACHED = 10_000
_JWKS_TTL = 600.0


def unauthorized() -> GatewayError:
    return GatewayError("UNAUTHORIZED", "Unauthorized")


def evaluate(policy: Any, arn: str, source_ip: str | None = None) -> None:
    """Enforce an authorizer's policy document for ``arn`` with the shared IAM evaluator;
    API Gateway takes its ``Effect`` in any case (``allow``)."""
    found = iam_policy.read(policy)
    found = iam_policy.Policy(tuple({**s, "Effect": str(s.get("Effect", "")).capitalize()} for s in found.statements),
                              found.variables)
    context = {} if source_ip is None else {"aws:sourceip": source_ip}
    decision = iam_policy.evaluate(found, iam_policy.Request(INVOKE, arn, context))
    if decision is iam_policy.Decision.DENIED:
        raise GatewayError("ACCESS_DENIED", "User is not authorized to access this resource with an explicit deny")
    if decision is iam_policy.Decision.NOT_ALLOWED:
        raise GatewayError("ACCESS_DENIED", "User is not authorized to access this resource")


def parse_jwks_setting(setting: str) -> dict[str, str]:
    """``POOL=FILE_OR_URL[,POOL=...]`` -> pool id -> source."""
    out = {}
    for item in filter(None, (s.strip() for s in setting.split(","))):
        pool, _, source = item.partition("=")
        if pool and source:
            out[pool.strip()] = source.strip()
    return out


class Authorizers:
    def __init__(self, backends: Backends, clock: Callable[[], float], region: str, jwks: dict[str, str]) -> None:
        self._backends = backends
        self._clock = clock
        self._region = region
        self._jwks_sources = jwks
        self._jwks: dict[str, tuple[float, jwt.PyJWKSet]] = {}
        self._results: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self.invocations = 0

    def flush(self, api_id: str, stage: str) -> None:
        for key in [k for k in self._results if k[0] == api_id and k[1] == stage]:
            del self._results[key]

    def flush_api(self, api_id: str) -> None:
        for key in [k for k in self._results if k[0] == api_id]:
            del self._results[key]

    async def authorize(self, inv: Invocation, snapshot: dict[str, Any], method: dict[str, Any], arn: str,
                        variables: dict[str, str]) -> None:
        kind = method.get("authorizationType", "NONE")
        if kind not in ("CUSTOM", "COGNITO_USER_POOLS"):
            return
        authorizer = snapshot["authorizers"].get(method.get("authorizerId", ""))
        if authorizer is None:
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", "Internal server error")
        if authorizer["type"] == "COGNITO_USER_POOLS":
            claims = await self._cognito(inv, authorizer, method)
            inv.authorizer = {"claims": claims}
        else:
            result = await self._lambda(inv, authorizer, arn, variables)
            evaluate(result.get("policyDocument"), arn, inv.source_ip)
            context = result.get("context") if isinstance(result.get("context"), dict) else {}
            inv.principal_id = str(result.get("principalId", ""))
            inv.authorizer = {**{k: v for k, v in context.items()}, "principalId": inv.principal_id}
            if result.get("usageIdentifierKey"):
                inv.usage_identifier_key = str(result["usageIdentifierKey"])
        inv.context["authorizer"] = dict(inv.authorizer)

    # -- Lambda -------------------------------------------------------------------

    async def _lambda(self, inv: Invocation, authorizer: dict[str, Any], arn: str,
                      variables: dict[str, str]) -> dict[str, Any]:
        sources = [s.strip() for s in authorizer.get("identitySource", "").split(",") if s.strip()]
        identity = [request_value(s, inv, variables) for s in sources]
        ttl = int(authorizer.get("authorizerResultTtlInSeconds", 300))
        if authorizer["type"] == "TOKEN":
            token = identity[0] if identity else None
            if not token:
                raise unauthorized()
            expression = authorizer.get("identityValidationExpression")
            try:
                if expression and re.fullmatch(expression, token) is None:
                    raise unauthorized()
            except re.error:
                raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", "Internal server error") from None
        elif any(v in (None, "") for v in identity) and (ttl > 0 or not sources):
            raise unauthorized()
        key = (inv.api_id, inv.stage, authorizer["id"], *[v or "" for v in identity])
        if ttl > 0:
            cached = self._results.get(key)
            if cached is not None and cached[0] > self._clock():
                return cached[1]
        function = lambda_function(authorizer.get("authorizerUri", ""))
        if function is None:
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", "Internal server error")
        if authorizer["type"] == "TOKEN":
            event: dict[str, Any] = {"type": "TOKEN", "authorizationToken": identity[0], "methodArn": arn}
        else:
            proxy = lambda_proxy.event(inv, variables, [])
            event = {"type": "REQUEST", "methodArn": arn,
                     **{k: proxy[k] for k in ("resource", "path", "httpMethod", "headers", "multiValueHeaders",
                                              "queryStringParameters", "multiValueQueryStringParameters",
                                              "pathParameters", "stageVariables", "requestContext")}}
        self.invocations += 1
        try:
            response = await self._backends.invoke(function, json.dumps(event).encode(), 29000)
        except GatewayError as error:
            if error.response_type == "API_CONFIGURATION_ERROR":
                raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", "Internal server error") from None
            raise GatewayError("AUTHORIZER_FAILURE", "Internal server error") from None
        if response.error_message is not None:
            if response.error_message == "Unauthorized":
                raise unauthorized()
            raise GatewayError("AUTHORIZER_FAILURE", "Internal server error")
        try:
            result = json.loads(response.body)
        except ValueError:
            result = None
        if not isinstance(result, dict) or "policyDocument" not in result:
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", "Internal server error")
        if ttl > 0:
            if len(self._results) >= _MAX_CACHED:
                self._results.clear()
            self._results[key] = (self._clock() + ttl, result)
        return result

    # -- Cognito ------------------------------------------------------------------

    async def _keys(self, pool_id: str) -> jwt.PyJWKSet:
        cached = self._jwks.get(pool_id)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        source = self._jwks_sources.get(pool_id)
        if source is None:
            log.error("event=jwks_not_configured pool=%s detail=%r", pool_id,
                      f"start mqgate with --jwks {pool_id}=FILE_OR_URL")
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", "Internal server error")
        try:
            if source.startswith(("http://", "https://")):
                response = await self._backends.http.request("GET", source, {}, b"", 10000)
                data = response.body
            else:
                data = Path(source.removeprefix("file://")).read_bytes()
            keys = jwt.PyJWKSet.from_dict(json.loads(data))
        except (OSError, ValueError, jwt.PyJWKSetError, GatewayError) as error:
            log.error("event=jwks_unreadable pool=%s source=%s error=%s", pool_id, source, error)
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", "Internal server error") from None
        self._jwks[pool_id] = (self._clock() + _JWKS_TTL, keys)
        return keys

    async def _cognito(self, inv: Invocation, authorizer: dict[str, Any], method: dict[str, Any]) -> dict[str, Any]:
        source = authorizer.get("identitySource", "method.request.header.Authorization")
        token = request_value(source, inv, {}) or ""
        if token.lower().startswith("bearer "):
            token = token[7:]
        if not token:
            raise unauthorized()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise unauthorized() from None
        issuer = str(unverified.get("iss", ""))
        pools = {arn.rsplit("/", 1)[-1]: arn for arn in authorizer.get("providerARNs", [])}
        pool_id = issuer.rsplit("/", 1)[-1]
        if pool_id not in pools:
            raise unauthorized()
        region = pools[pool_id].split(":")[3] or self._region
        keys = await self._keys(pool_id)
        try:
            key = keys[header.get("kid", "")]
        except KeyError:
            raise unauthorized() from None
        try:
            claims = jwt.decode(token, key=key.key, algorithms=["RS256"],
                                issuer=f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
                                options={"verify_aud": False, "require": ["exp", "iss"]})
        except jwt.PyJWTError:
            raise unauthorized() from None
        scopes = method.get("authorizationScopes") or []
        if scopes:
            granted = set(str(claims.get("scope", "")).split())
            if claims.get("token_use") != "access" or not granted & set(scopes):
                raise unauthorized()
        elif claims.get("token_use") not in (None, "id"):
            raise unauthorized()
        return claims
