"""SQS actions through the broker's one authorization map.

Every action names a queue (by URL, name or ARN) and needs one right on it, the same
rights STOMP and the other doors need on the same queue; ListQueues and GetQueueUrl only
show queues the caller has some right on. Refusals are AWS's AccessDenied (403).
"""
from __future__ import annotations

from typing import Any, Callable

from broker.auth.authorization import ADMIN, CREATE, READ, REMOVE, WRITE, Operation, Target
from broker.auth.security import Security
from facades.aws.access import may_use, not_authorized, visibility as _visibility
from facades.aws.service import AwsRequestContext, Params
from facades.sqs.errors import sqs_error
from facades.sqs.state import SqsState, name_from_url

#: action -> the right it needs on the queue it names.
RIGHTS: dict[str, Operation] = {
    "SendMessage": WRITE, "SendMessageBatch": WRITE,
    "ReceiveMessage": READ, "DeleteMessage": READ, "DeleteMessageBatch": READ,
    "ChangeMessageVisibility": READ, "ChangeMessageVisibilityBatch": READ,
    "CreateQueue": CREATE, "DeleteQueue": REMOVE,
    "PurgeQueue": ADMIN, "SetQueueAttributes": ADMIN, "TagQueue": ADMIN, "UntagQueue": ADMIN,
    "AddPermission": ADMIN, "RemovePermission": ADMIN,
    "StartMessageMoveTask": ADMIN, "CancelMessageMoveTask": ADMIN, "ListMessageMoveTasks": ADMIN,
}
#: Actions that only look at a queue: any right on it will do.
LOOK = frozenset({"GetQueueAttributes", "ListQueueTags", "ListDeadLetterSourceQueues", "GetQueueUrl"})

Handler = Callable[[AwsRequestContext, Params], Any]


def _queue_name(state: SqsState, action: str, params: Params) -> str | None:
    if "QueueUrl" in params:
        return name_from_url(params["QueueUrl"])
    if "QueueName" in params:
        return str(params["QueueName"])
    if "SourceArn" in params:
        return str(params["SourceArn"]).rsplit(":", 1)[-1]
    if action == "CancelMessageMoveTask":
        task = state.move_tasks.get(params.get("TaskHandle", ""))
        return task.source if task is not None else None
    return None


def _denied(ctx: AwsRequestContext, state: SqsState, name: str) -> Exception:
    return sqs_error("AccessDeniedException", not_authorized(ctx, "sqs", state.arn(ctx, name)))


def visibility(security: Security) -> Callable[[AwsRequestContext, str], bool]:
    """Whether a request's caller may see a queue: one it has some right on (ListQueues,
    ListDeadLetterSourceQueues leave the others out before paging, so pages stay full)."""
    return _visibility(security, "queue")


def guarded(security: Security, state: SqsState, action: str, handler: Handler) -> Handler:
    """`handler` behind the authorization map."""
    def call(ctx: AwsRequestContext, params: Params) -> Any:
        identity = ctx.identity
        if identity is None or not security.map.configured:
            return handler(ctx, params)
        name = _queue_name(state, action, params)
        if name is not None:
            if action in LOOK:
                if not may_use(security, identity, "queue", name):
                    # A queue the caller may not use is one it cannot see.
                    raise (sqs_error("QueueDoesNotExist") if action == "GetQueueUrl" else _denied(ctx, state, name))
            elif not security.may(identity, RIGHTS[action], Target("queue", name)):
                raise _denied(ctx, state, name)
        return handler(ctx, params)
    return call


