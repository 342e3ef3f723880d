"""Resource policies: who may invoke the API, judged by the shared IAM evaluator
(`facades.aws.policy`) for an anonymous caller.

What is API Gateway's own: a method's ARN
(``arn:aws:execute-api:region:account:api/stage/METHOD/path``), the
``execute-api:/stage/METHOD/path`` short form a policy may name it by, the request's
``aws:SourceIp`` as the one condition key, an API without a policy being open to
everyone, and the 403 a refusal gets.
"""

from __future__ import annotations

from collections.abc import Callable

from facades.apigateway.dataplane.errors import GatewayError
from facades.aws.policy import Decision, Policy, Request, evaluate

INVOKE = "execute-api:Invoke"


def method_arn(region: str, account: str, api_id: str, stage: str, http_method: str, path: str) -> str:
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{http_method}{path}"


def _short_form(arn: str, api_id: str) -> Callable[[str], str]:
    """``execute-api:/stage/METHOD/path`` as the ARN pattern it stands for on this API."""
    prefix = arn.partition(f"{api_id}/")[0] + api_id

    def pattern(resource: str) -> str:
        if not resource.startswith("execute-api:"):
            return resource
        tail = resource[len("execute-api:"):]
        return f"{prefix}{tail if tail.startswith('/') else '/' + tail}"
    return pattern


def check(policy: Policy, arn: str, api_id: str, source_ip: str) -> None:
    """Raise AWS's 403 when the policy does not let an anonymous caller invoke ``arn``."""
    if not policy:
        return
    decision = evaluate(policy, Request(INVOKE, arn, {"aws:sourceip": source_ip},
                                        resource_pattern=_short_form(arn, api_id)))
    if decision is Decision.DENIED:
        raise GatewayError("ACCESS_DENIED", f"User: anonymous is not authorized to perform: "
                           f"{INVOKE} on resource: {arn} with an explicit deny")
    if decision is Decision.NOT_ALLOWED:
        raise GatewayError("ACCESS_DENIED", f"User: anonymous is not authorized to perform: {INVOKE} on resource: {arn}")
