"""One request travelling through the pipeline, and what the steps learn about it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from facades.apigateway.dataplane.routing import Match
from facades.aws.sigv4 import SignedRequest


@dataclass
class Invocation:
    api_id: str
    stage: str
    http_method: str
    path: str
    """The path after the stage, starting with ``/``."""
    query: list[tuple[str, str]]
    headers: dict[str, str]
    """Lower-case names; repeated headers joined with ``,``."""
    body: bytes
    source_ip: str
    request_id: str
    host: str
    started: float
    match: Match | None = None
    api_key: dict[str, Any] | None = None
    usage_plan: dict[str, Any] | None = None
    authorizer: dict[str, Any] = field(default_factory=dict)
    principal_id: str | None = None
    usage_identifier_key: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    integration_latency_ms: int = 0
    cache_key: str | None = None
    signed: SignedRequest | None = None
    """The request as the client sent (and may have signed) it, for AWS_IAM methods."""
    test_invoke: bool = False
    """A TestInvokeMethod call: no policy, authorizer, key, cache or throttling, as on AWS."""
    raw_headers: list[tuple[str, str]] = field(default_factory=list)
    """Every header line as the client sent it; ``headers`` is for lookups, this is for
    what the integration is shown. Empty: ``headers`` is all there is."""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "application/json").split(";")[0].strip().lower() or "application/json"

    def multi_headers(self) -> dict[str, list[str]]:
        """Each header under the name the client gave it, with every value it sent, as a
        REST API's events show them (a name sent twice in two spellings keeps the first)."""
        if not self.raw_headers:
            return {name: [value] for name, value in self.headers.items()}
        spelled: dict[str, str] = {}
        out: dict[str, list[str]] = {}
        for name, value in self.raw_headers:
            out.setdefault(spelled.setdefault(name.lower(), name), []).append(value)
        return out

    def sent_headers(self) -> dict[str, str]:
        """``headers`` of a REST API's events: the names as sent, the last value of each."""
        return {name: values[-1] for name, values in self.multi_headers().items()}

    def query_map(self) -> dict[str, str]:
        """Last value wins, as ``queryStringParameters`` has it."""
        return dict(self.query)

    def multi_query(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, value in self.query:
            out.setdefault(name, []).append(value)
        return out

    def method_params(self) -> dict[str, dict[str, str]]:
        """``$input.params()``: path, querystring and header parameters."""
        return {"path": dict(self.match.path_params) if self.match else {},
                "querystring": self.query_map(), "header": self.sent_headers()}

    def build_context(self, account: str, stage_variables: dict[str, str]) -> dict[str, Any]:
        match = self.match
        now = self.started
        resource_path = match.resource["path"] if match else self.path
        self.context = {
            "accountId": account,
            "apiId": self.api_id,
            "domainName": self.host.split(":")[0],
            "domainPrefix": self.host.split(".")[0],
            "extendedRequestId": self.request_id,
            "httpMethod": self.http_method,
            "path": f"/{self.stage}{self.path}",
            "protocol": "HTTP/1.1",
            "requestId": self.request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": match.resource["id"] if match else "",
            "resourcePath": resource_path,
            "stage": self.stage,
            "identity": {"sourceIp": self.source_ip, "userAgent": self.headers.get("user-agent", ""),
                         "apiKey": (self.api_key or {}).get("value", ""),
                         "apiKeyId": (self.api_key or {}).get("id", ""),
                         "accountId": "", "caller": "", "user": "", "userArn": "",
                         "cognitoIdentityId": "", "cognitoIdentityPoolId": ""},
            "authorizer": dict(self.authorizer),
            "requestOverride": {"header": {}, "querystring": {}, "path": {}},
            "responseOverride": {"header": {}, "status": None},
            "error": {"message": "", "messageString": '""', "responseType": ""},
            "status": 0,
            "integrationLatency": 0,
            "responseLatency": 0,
            "responseLength": 0,
            "stageVariables": stage_variables,
        }
        if self.principal_id is not None:
            self.context["authorizer"]["principalId"] = self.principal_id
        return self.context
