"""Calling the backend an integration names.

- ``MOCK``: no backend; the request template's ``statusCode`` picks the response.
- ``HTTP`` / ``HTTP_PROXY``: an HTTP request with Twisted's Agent.
- ``AWS`` to SQS/SNS: the service request the integration describes (an
  ``action/Name`` URI or a ``path/...`` URI with a form-encoded template),
  answered in-process by whichever service the AWS port registers, as the
  integration's identity.
- ``AWS`` / ``AWS_PROXY`` to Lambda: the Lambda Invoke API of the configured
  ``--lambda-endpoint`` (``sam local start-lambda`` speaks it).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Callable
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from facades.apigateway.dataplane.backend import BackendResponse
from facades.apigateway.dataplane.errors import GatewayError
from facades.apigateway.dataplane.http_client import HttpClient
from broker.auth.identity import Identity
from facades.aws.dispatch import AwsDispatcher, WireRequest
from facades.aws.sigv4 import Principal

log = logging.getLogger("mqgate.apigateway")

_AWS_URI = re.compile(r"arn:aws:apigateway:([^:]*):([^:]+):(path|action)/(.*)", re.DOTALL)
_LAMBDA_PATH = re.compile(r"2015-03-31/functions/(.+)/invocations")


def lambda_function(uri: str) -> str | None:
    """The function an integration or authorizer URI names (ARN or name)."""
    match = _AWS_URI.fullmatch(uri)
    if match is None or match.group(2) != "lambda":
        return None
    found = _LAMBDA_PATH.fullmatch(match.group(4))
    return None if found is None else found.group(1)


def function_name(function: str) -> str:
    """``arn:aws:lambda:r:a:function:Name[:alias]`` -> ``Name`` (what local endpoints know)."""
    if function.startswith("arn:"):
        parts = function.split(":")
        return parts[6] if len(parts) > 6 else function
    return function


class Backends:
    def __init__(self, http: HttpClient, region: str, account: str, lambda_endpoint: str) -> None:
        self.http = http
        self.region = region
        self.account = account
        self.lambda_endpoint = lambda_endpoint.rstrip("/")
        self.dispatcher: AwsDispatcher | None = None
        # The identity an integration's `credentials` (a role ARN) acts as; None: may not act.
        self.acting_as: Callable[[str | None], Identity | None] = lambda role: None
        self._warned = False

    # -- HTTP ---------------------------------------------------------------

    async def http_call(self, method: str, uri: str, path_params: dict[str, str],
                        query: dict[str, str] | list[tuple[str, str]], headers: dict[str, str], body: bytes,
                        timeout_ms: int, relay_large: bool = False) -> BackendResponse:
        url = substitute(uri, path_params)
        pairs = list(query.items()) if isinstance(query, dict) else list(query)
        if pairs:
            parts = urlsplit(url)
            joined = "&".join(filter(None, [parts.query, urlencode(pairs)]))
            url = urlunsplit((parts.scheme, parts.netloc, parts.path, joined, parts.fragment))
        return await self.http.request(method, url, headers, body, timeout_ms, relay_large)

    # -- AWS services -------------------------------------------------------

    async def aws_call(self, integration: dict[str, Any], query: dict[str, str], headers: dict[str, str],
                       body: bytes, source_ip: str) -> BackendResponse:
        match = _AWS_URI.fullmatch(integration.get("uri", ""))
        if match is None:
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        region, service, style, rest = match.groups()
        if service == "lambda":
            function = lambda_function(integration["uri"])
            if function is None:
                raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
            invocation_type = next((v for k, v in headers.items() if k.lower() == "x-amz-invocation-type"),
                                   "RequestResponse")
            return await self.invoke(function, body, integration.get("timeoutInMillis", 29000), invocation_type)
        if self.dispatcher is None:
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        region = region or self.region
        pairs = list(query.items())
        if style == "action":
            action, _, extra = rest.partition("&")
            pairs = [("Action", action), *(tuple(p.split("=", 1)) for p in extra.split("&") if "=" in p), *pairs]
            path = "/"
        else:
            path = "/" + rest.lstrip("/")
        wire_headers = {k.lower(): v for k, v in headers.items()}
        wire_headers.setdefault("content-type", "application/x-www-form-urlencoded")
        request = WireRequest(method=integration.get("httpMethod", "POST"), scheme="http",
                              host=f"{service}.{region}.amazonaws.com", path=path, query=pairs,
                              headers=wire_headers, body=body, client_address=source_ip)
        identity = self.acting_as(integration.get("credentials"))
        if identity is None:   # AWS: "API Gateway does not have permission to assume the provided role"
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        # Not verified again: the principal is the integration's identity and names the
        # service the port routes to, so the authorization map judges what it may do.
        principal = Principal(access_key=None, account_id=self.account, region=region, service=service,
                              identity=identity)
        response = await self.dispatcher.handle(request, principal)
        return BackendResponse(response.status, dict(response.headers), response.body)

    # -- Lambda -------------------------------------------------------------

    async def invoke(self, function: str, payload: bytes, timeout_ms: int,
                     invocation_type: str = "RequestResponse") -> BackendResponse:
        """The function's answer (``Event``: Lambda's 202 and an empty body, mapped as such)."""
        if not self.lambda_endpoint:
            if not self._warned:
                log.error("event=lambda_not_configured detail=%r",
                          "a Lambda integration or authorizer was called but no Lambda endpoint is set: "
                          "start mqgate with --lambda-endpoint URL (e.g. sam local start-lambda's)")
                self._warned = True
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        name = function_name(function)
        url = f"{self.lambda_endpoint}/2015-03-31/functions/{quote(name, safe='')}/invocations"
        response = await self.http.request("POST", url, {"Content-Type": "application/json",
                                                         "X-Amz-Invocation-Type": invocation_type},
                                           payload, timeout_ms)
        if response.status >= 300:
            log.warning("event=lambda_invoke_failed function=%s status=%d", name, response.status)
            raise GatewayError("DEFAULT_5XX", "Internal server error", status=502)
        if response.header("X-Amz-Function-Error"):
            try:
                message = json.loads(response.body).get("errorMessage", "")
            except (ValueError, AttributeError):
                message = response.body.decode("utf-8", "replace")
            response.error_message = str(message)
        return response


def substitute(uri: str, params: dict[str, str]) -> str:
    """``{name}`` / ``{name+}`` placeholders of an integration URI filled in
    (a greedy path keeps its slashes, as API Gateway forwards it)."""
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        value = params.get(name, params.get(name.rstrip("+"), match.group(0)))
        return quote(value, safe="/")
    return re.sub(r"\{([^}]+)\}", fill, uri)


