"""What the AWS facades share about authorization: AWS's wording of a refusal.

Each facade decides which right an action needs (``broker.auth``'s one map) and raises its
own service's error code (SQS ``AccessDenied``, SNS ``AuthorizationError``) with this text.
"""
from __future__ import annotations

from facades.aws.service import AwsRequestContext


def not_authorized(ctx: AwsRequestContext, service: str, resource_arn: str) -> str:
    """AWS's message for an identity-based refusal, e.g. ``User: arn:aws:iam::1:user/x is
    not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:…``."""
    name = ctx.identity.name if ctx.identity is not None else "anonymous"
    action = f"{service}:{ctx.action}"
    return (f"User: arn:aws:iam::{ctx.account_id}:user/{name} is not authorized to perform: "
            f"{action} on resource: {resource_arn} because no identity-based policy allows the "
            f"{action} action")
