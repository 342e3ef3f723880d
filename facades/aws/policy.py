"""Resource policies (an SQS queue's ``Policy``) as AWS evaluates them for a service
that delivers into the resource, e.g. SNS sending a topic's messages to a queue.

Only what such a delivery is judged by: statements whose principal is the service
(``{"Service": "sns.amazonaws.com"}``) or everyone (``"*"`` / ``{"AWS": "*"}``), the
action, the resource, and conditions on ``aws:SourceArn`` / ``aws:SourceAccount``
(``ArnEquals``, ``ArnLike``, ``StringEquals``, ``StringLike`` and their ``Not`` forms).
An explicit Deny wins over any Allow; nothing that allows means denied.
"""
from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

_OPERATORS = {
    "ArnEquals": (False, False), "ArnLike": (True, False), "StringEquals": (False, False),
    "StringLike": (True, False), "ArnNotEquals": (False, True), "ArnNotLike": (True, True),
    "StringNotEquals": (False, True), "StringNotLike": (True, True),
}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str) -> bool:
    # IAM's wildcards are * and ?; fnmatch's [...] classes are not IAM's, so escape them.
    return fnmatchcase(value, pattern.replace("[", "[[]"))


def _names_principal(statement: dict[str, Any], service: str) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return "*" in _list(principal.get("AWS", [])) or service in _list(principal.get("Service", []))


def _conditions_hold(conditions: Any, context: dict[str, str]) -> bool:
    if conditions is None:
        return True
    if not isinstance(conditions, dict):
        return False
    for operator, tests in conditions.items():
        if operator not in _OPERATORS or not isinstance(tests, dict):
            return False   # a condition this evaluator cannot judge never holds
        like, negated = _OPERATORS[operator]
        for key, wanted in tests.items():
            value = context.get(key.lower())
            if value is None:
                return False
            hit = any(_glob(str(w), value) if like else str(w) == value for w in _list(wanted))
            if hit == negated:
                return False
    return True


def allows_delivery(policy: str, service: str, action: str, resource: str, source_arn: str,
                    source_account: str) -> bool:
    """Whether the resource policy text lets `service` do `action` on `resource` on behalf
    of the source (e.g. a topic ARN)."""
    try:
        document = json.loads(policy)
    except ValueError:
        return False
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    context = {"aws:sourcearn": source_arn, "aws:sourceaccount": source_account}
    allowed = False
    for statement in _list(statements):
        if not isinstance(statement, dict) or not _names_principal(statement, service):
            continue
        prefix = action.split(":", 1)[0] + ":*"
        if not any(a in ("*", prefix) or _glob(str(a).lower(), action.lower()) for a in _list(statement.get("Action", []))):
            continue
        if not any(_glob(str(r), resource) for r in _list(statement.get("Resource", "*"))):
            continue
        if not _conditions_hold(statement.get("Condition"), context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed
