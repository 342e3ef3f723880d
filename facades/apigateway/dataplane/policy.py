"""Resource policies: who may invoke the API, by source IP, as IAM evaluates them.

An explicit ``Deny`` that applies wins; otherwise a policy needs an ``Allow``
that applies. Statements match ``execute-api:Invoke`` on method ARNs
(``arn:aws:execute-api:region:account:api/stage/METHOD/path``, ``*``
wildcards, or the ``execute-api:/stage/METHOD/path`` short form) with
``IpAddress`` / ``NotIpAddress`` conditions on ``aws:SourceIp``.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from typing import Any

from facades.apigateway.dataplane.errors import GatewayError


def method_arn(region: str, account: str, api_id: str, stage: str, http_method: str, path: str) -> str:
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{http_method}{path}"


def parse(policy: str | None) -> list[dict[str, Any]]:
    if not policy:
        return []
    try:
        document = json.loads(policy)
    except ValueError:
        return []
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    return [s for s in (statements if isinstance(statements, list) else [statements]) if isinstance(s, dict)]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource_matches(pattern: str, arn: str, api_id: str) -> bool:
    if pattern.startswith("execute-api:"):
        tail = pattern[len("execute-api:"):]
        prefix, _, _ = arn.partition(f"{api_id}/")
        pattern = f"{prefix}{api_id}{tail if tail.startswith('/') else '/' + tail}"
    return fnmatch.fnmatchcase(arn, pattern)


def _action_matches(actions: Any) -> bool:
    return any(fnmatch.fnmatchcase("execute-api:Invoke", str(a)) or a == "*" for a in _as_list(actions))


def _ip_in(source_ip: str, ranges: Any) -> bool:
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return False
    for cidr in _as_list(ranges):
        try:
            if address in ipaddress.ip_network(str(cidr), strict=False):
                return True
        except ValueError:
            continue
    return False


def _conditions_hold(conditions: Any, source_ip: str) -> bool:
    if not isinstance(conditions, dict):
        return True
    for operator, tests in conditions.items():
        if not isinstance(tests, dict):
            continue
        ranges = tests.get("aws:SourceIp")
        if ranges is None:
            continue
        inside = _ip_in(source_ip, ranges)
        if operator == "IpAddress" and not inside:
            return False
        if operator == "NotIpAddress" and inside:
            return False
    return True


def _applies(statement: dict[str, Any], arn: str, api_id: str, source_ip: str) -> bool:
    if not _action_matches(statement.get("Action", [])):
        return False
    if not any(_resource_matches(str(r), arn, api_id) for r in _as_list(statement.get("Resource", []))):
        return False
    return _conditions_hold(statement.get("Condition"), source_ip)


def check(statements: list[dict[str, Any]], arn: str, api_id: str, source_ip: str) -> None:
    """Raise AWS's 403 when the policy does not let an anonymous caller invoke ``arn``."""
    if not statements:
        return
    allowed = False
    for statement in statements:
        if _applies(statement, arn, api_id, source_ip):
            if statement.get("Effect") == "Deny":
                raise GatewayError("ACCESS_DENIED", f"User: anonymous is not authorized to perform: "
                                   f"execute-api:Invoke on resource: {arn} with an explicit deny")
            if statement.get("Effect") == "Allow":
                allowed = True
    if not allowed:
        raise GatewayError("ACCESS_DENIED", f"User: anonymous is not authorized to perform: "
                           f"execute-api:Invoke on resource: {arn}")
