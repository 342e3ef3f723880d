"""What the AWS facades share about authorization: who may see a queue or topic, and AWS's
wording of a refusal.

Each facade decides which right an action needs (``broker.auth``'s one map) and raises its
own service's error code (SQS ``AccessDenied``, SNS ``AuthorizationError``) with this text.
"""
from __future__ import annotations

from typing import Any, Callable

from broker.auth.authorization import ADMIN, READ, WRITE, Target
from broker.auth.security import Security
from facades.aws.service import AwsRequestContext

#: Any one of these rights on a destination lets a caller see it and look at it.
_ANY = (READ, WRITE, ADMIN)


def may_use(security: Security, identity: Any, kind: str, name: str) -> bool:
    """Whether `identity` has some right on the `kind` (``queue``/``topic``) called `name`."""
    target = Target(kind, name)
    return any(security.may(identity, op, target) for op in _ANY)


def visibility(security: Security, kind: str) -> Callable[[AwsRequestContext, str], bool]:
    """Whether a request's caller may see a `kind` destination: one it has some right on.
    Listings leave the others out before paging, so pages stay full; without a caller or
    without a configured map everything is visible."""
    def visible(ctx: AwsRequestContext, name: str) -> bool:
        identity = ctx.identity
        return identity is None or not security.map.configured or may_use(security, identity, kind, name)
    return visible


def not_authorized(ctx: AwsRequestContext, service: str, resource_arn: str) -> str:
    """AWS's message for an identity-based refusal, e.g. ``User: arn:aws:iam::1:user/x is
    not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:…``."""
    name = ctx.identity.name if ctx.identity is not None else "anonymous"
    action = f"{service}:{ctx.action}"
    return (f"User: arn:aws:iam::{ctx.account_id}:user/{name} is not authorized to perform: "
            f"{action} on resource: {resource_arn} because no identity-based policy allows the "
            f"{action} action")
