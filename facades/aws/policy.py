"""Resource policies (an SQS queue's ``Policy``, an API Gateway API's ``policy``) as IAM
evaluates them, for every facade that keeps one.

A statement applies when its principal names the caller, one of its actions the action
(case-blind), one of its resources the resource, and its conditions hold
(`facades.aws.conditions`). An explicit ``Deny`` that applies wins; otherwise a request
needs an ``Allow`` that applies. What is a facade's own (the caller it knows, the short
forms of resources its policies may use, what an absent policy means, how a refusal
reads) stays with the facade.
"""
from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from facades.aws.conditions import Context, conditions_hold, glob


class Decision(enum.Enum):
    ALLOWED = "allowed"
    DENIED = "denied"              # an explicit Deny applies
    NOT_ALLOWED = "not allowed"    # no Allow applies (an implicit deny)


def _same(pattern: str) -> str:
    return pattern


@dataclass(frozen=True)
class Request:
    """What a statement is matched against. `principal` is the caller as a principal type
    and value (``("Service", "sns.amazonaws.com")``), or None where the facade does not
    judge principals; `resource_pattern` turns a facade's short form of a resource (API
    Gateway's ``execute-api:/stage/GET/path``) into the ARN pattern it stands for."""
    action: str
    resource: str
    context: Context = field(default_factory=dict)
    principal: tuple[str, str] | None = None
    resource_pattern: Callable[[str], str] = _same


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(policy: str | None) -> list[dict[str, Any]]:
    """The statements of a policy document; none for no policy or one that is not JSON."""
    if not policy:
        return []
    try:
        document = json.loads(policy)
    except ValueError:
        return []
    return document_statements(document)


def document_statements(document: Any) -> list[dict[str, Any]]:
    """The statements of a policy document already read from JSON (one a Lambda
    authorizer returned); none for anything else."""
    found = document.get("Statement", []) if isinstance(document, dict) else []
    return [s for s in _as_list(found) if isinstance(s, dict)]


def _names_principal(principal: Any, caller: tuple[str, str]) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    kind, name = caller
    return "*" in _as_list(principal.get("AWS", [])) or name in _as_list(principal.get(kind, []))


def applies(statement: dict[str, Any], request: Request) -> bool:
    """Whether `statement` speaks of `request` (its Effect aside)."""
    if request.principal is not None and not _names_principal(statement.get("Principal"), request.principal):
        return False
    action = request.action.lower()
    if not any(glob(str(a).lower(), action) for a in _as_list(statement.get("Action", []))):
        return False
    if not any(glob(request.resource_pattern(str(r)), request.resource)
               for r in _as_list(statement.get("Resource", []))):
        return False
    return conditions_hold(statement.get("Condition"), request.context)


def evaluate(policy: Iterable[dict[str, Any]], request: Request) -> Decision:
    """IAM's verdict of the statements `policy` on `request`."""
    allowed = False
    for statement in policy:
        if not applies(statement, request):
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            return Decision.DENIED
        allowed = allowed or effect == "Allow"
    return Decision.ALLOWED if allowed else Decision.NOT_ALLOWED


def allows_delivery(policy: str, service: str, action: str, resource: str, source_arn: str,
                    source_account: str) -> bool:
    """Whether the resource policy text lets `service` (``sns.amazonaws.com``) do `action`
    on `resource` on behalf of the source (e.g. a topic ARN), with ``aws:SourceArn`` and
    ``aws:SourceAccount`` as the request's condition keys. A statement without
    ``Resource`` names the resource its policy is attached to."""
    found = [s if "Resource" in s else {**s, "Resource": resource} for s in statements(policy)]
    request = Request(action, resource, {"aws:sourcearn": source_arn, "aws:sourceaccount": source_account},
                      principal=("Service", service))
    return evaluate(found, request) is Decision.ALLOWED
