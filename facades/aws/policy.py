"""Resource policies (an SQS queue's ``Policy``, an API Gateway API's ``policy``, a Lambda
authorizer's policy) as IAM evaluates them, for every facade that keeps one.

A statement applies when its principal names the caller (``NotPrincipal``: does not name
it), one of its actions the action, case-blind (``NotAction``: none of them), one of its
resources the resource (``NotResource``: none of them), and its conditions hold
(`facades.aws.conditions`). An explicit ``Deny`` that applies wins; otherwise a request
needs an ``Allow`` that applies. A statement IAM refuses (`malformed`: ``Action`` and
``NotAction`` both or neither, ``Resource`` and ``NotResource`` both, ``Principal`` and
``NotPrincipal`` both, ``NotPrincipal`` in an ``Allow``) makes its whole policy allow
nothing.

In a policy of ``Version`` 2012-10-17, ``Resource``/``NotResource`` and the values of
string and ARN conditions may hold policy variables (``${aws:SourceArn}``; their syntax in
`facades.aws.conditions`), read from the request's condition keys; in a resource, only
past the ARN's fifth colon. A resource whose variable has no value matches no request,
so its statement does not apply (``NotResource`` included). What is a facade's own (the
caller it knows, the short forms of resources its policies may use, what an absent
policy means, how a refusal reads) stays with the facade.
"""
from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from facades.aws.conditions import Context, arn_parts, conditions_hold, glob, pattern

#: The policy language version with policy variables (older ones read ``${...}`` as text).
VARIABLES_VERSION = "2012-10-17"


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


@dataclass(frozen=True)
class Policy:
    """A policy document's statements, and whether it reads policy variables."""
    statements: tuple[dict[str, Any], ...] = ()
    variables: bool = False

    def __bool__(self) -> bool:
        return bool(self.statements)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grant(label: str, accounts: list[str], service: str, actions: list[str], resource: str) -> dict[str, Any]:
    """The statement an AddPermission writes (SQS and SNS alike): the accounts' roots
    allowed the service's actions on the resource, a single account or action bare and
    several as a list, as AWS writes them."""
    principals = [f"arn:aws:iam::{a}:root" for a in accounts]
    granted = [f"{service}:{a}" for a in actions]
    return {"Sid": label, "Effect": "Allow",
            "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
            "Action": granted[0] if len(granted) == 1 else granted, "Resource": resource}


def parse(policy: str | None) -> Policy:
    """A policy document's text read; no statements for no policy or one that is not JSON."""
    if not policy:
        return Policy()
    try:
        document = json.loads(policy)
    except ValueError:
        return Policy()
    return read(document)


def read(document: Any) -> Policy:
    """A policy document already read from JSON (one a Lambda authorizer returned); no
    statements for anything else."""
    if not isinstance(document, dict):
        return Policy()
    found = [s for s in _as_list(document.get("Statement", [])) if isinstance(s, dict)]
    return Policy(tuple(found), document.get("Version") == VARIABLES_VERSION)


def malformed(statement: dict[str, Any]) -> str | None:
    """Why IAM refuses `statement` (elements that exclude each other), or None."""
    for positive, negative in (("Action", "NotAction"), ("Resource", "NotResource"),
                               ("Principal", "NotPrincipal")):
        if positive in statement and negative in statement:
            return f"{positive} and {negative} in one statement"
    if "Action" not in statement and "NotAction" not in statement:
        return "no Action or NotAction"
    if "NotPrincipal" in statement and statement.get("Effect") == "Allow":
        return "NotPrincipal with Allow"
    return None


def _names_principal(principal: Any, caller: tuple[str, str]) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    kind, name = caller
    return "*" in _as_list(principal.get("AWS", [])) or name in _as_list(principal.get(kind, []))


def _resource_matches(text: str, request: Request, variables: bool) -> bool | None:
    """Whether the policy's resource `text` names the request's; None when a policy
    variable in it has no value."""
    text = request.resource_pattern(text)
    if not variables:
        return glob(text, request.resource)
    parts = arn_parts(text)
    start = len(text) - len(parts[5]) if len(parts) == 6 else len(text)
    found = pattern(text, request.context, start)
    return None if found is None else found.fullmatch(request.resource) is not None


def _names_resource(names: Any, request: Request, variables: bool) -> bool | None:
    """Whether one of `names` names the request's resource; None when none does and a
    variable in one of them has no value."""
    unknown = False
    for name in _as_list(names):
        found = _resource_matches(str(name), request, variables)
        if found:
            return True
        unknown = unknown or found is None
    return None if unknown else False


def applies(statement: dict[str, Any], request: Request, variables: bool = False) -> bool:
    """Whether `statement` speaks of `request` (its Effect aside); `variables`: its
    policy reads policy variables."""
    if request.principal is not None:
        if "NotPrincipal" in statement:
            if _names_principal(statement["NotPrincipal"], request.principal):
                return False
        elif not _names_principal(statement.get("Principal"), request.principal):
            return False
    action = request.action.lower()
    excluded = "NotAction" in statement
    if any(glob(str(a).lower(), action) for a in _as_list(statement.get("NotAction" if excluded else "Action", []))) \
            == excluded:
        return False
    excluded = "NotResource" in statement
    named = _names_resource(statement.get("NotResource" if excluded else "Resource", []), request, variables)
    if named is None or named == excluded:
        return False
    return conditions_hold(statement.get("Condition"), request.context, variables)


def evaluate(policy: Policy, request: Request) -> Decision:
    """IAM's verdict of `policy` on `request`."""
    if any(malformed(s) for s in policy.statements):
        return Decision.NOT_ALLOWED
    allowed = False
    for statement in policy.statements:
        if not applies(statement, request, policy.variables):
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            return Decision.DENIED
        allowed = allowed or effect == "Allow"
    return Decision.ALLOWED if allowed else Decision.NOT_ALLOWED


def attached(policy: Policy, resource: str) -> Policy:
    """`policy` as attached to `resource`: a statement without ``Resource`` or
    ``NotResource`` names it."""
    found = tuple(s if "Resource" in s or "NotResource" in s else {**s, "Resource": resource}
                  for s in policy.statements)
    return Policy(found, policy.variables)


def allows_delivery(policy: Policy, service: str, action: str, resource: str, source_arn: str,
                    source_account: str) -> bool:
    """Whether the resource policy (`attached` to `resource`) lets `service`
    (``sns.amazonaws.com``) do `action` on `resource` on behalf of the source (e.g. a topic
    ARN), with ``aws:SourceArn`` and ``aws:SourceAccount`` as the request's condition keys."""
    request = Request(action, resource, {"aws:sourcearn": source_arn, "aws:sourceaccount": source_account},
                      principal=("Service", service))
    return evaluate(policy, request) is Decision.ALLOWED
