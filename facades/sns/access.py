"""SNS actions through the broker's one authorization map, and SNS→SQS deliveries through
the queue's SQS ``Policy`` and size limit.

A topic is the map's `topic` of the same name (the STOMP/OpenWire topic it publishes to).
Publish needs write on it; creating, deleting, subscribing, unsubscribing, attributes and
tags need admin; looking at a topic (its attributes, tags, subscriptions) needs any right;
ListTopics and ListSubscriptions only show topics the caller has some right on.
Refusals are AWS's ``AuthorizationError`` (403).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from broker.auth.authorization import ADMIN, CREATE, REMOVE, WRITE, Operation, Target
from broker.auth.security import Security
from broker.engine.message import Message
from broker.engine.queue import Queue
from facades.aws.access import may_use, not_authorized, visibility as _visibility
from facades.aws.message_attributes import attributes_size
from facades.aws.policy import Policy, allows_delivery, attached, parse
from facades.aws.service import AwsRequestContext, Params
from facades.sns.service import sns_error
from facades.sns.state import SnsState

#: action -> the right it needs on the topic it names.
RIGHTS: dict[str, Operation] = {
    "Publish": WRITE, "PublishBatch": WRITE,
    "CreateTopic": CREATE, "DeleteTopic": REMOVE,
    "SetTopicAttributes": ADMIN, "AddPermission": ADMIN, "RemovePermission": ADMIN,
    "TagResource": ADMIN, "UntagResource": ADMIN,
    "Subscribe": ADMIN, "Unsubscribe": ADMIN, "SetSubscriptionAttributes": ADMIN,
}
#: Actions that only look at a topic: any right on it will do.
LOOK = frozenset({"GetTopicAttributes", "ListTagsForResource", "ListSubscriptionsByTopic",
                  "GetSubscriptionAttributes"})

Handler = Callable[[AwsRequestContext, Params], Any]


def _topic_of(arn: str) -> str:
    """The topic name in a topic ARN or a subscription ARN (topic ARN + ":id")."""
    parts = arn.split(":")
    return parts[5] if len(parts) > 5 else arn


def _topic_name(action: str, params: Params) -> str | None:
    if action == "CreateTopic":
        return str(params.get("Name", ""))
    for key in ("TopicArn", "TargetArn", "ResourceArn", "SubscriptionArn"):
        if params.get(key):
            return _topic_of(str(params[key]))
    return None


def visibility(security: Security) -> Callable[[AwsRequestContext, str], bool]:
    """Whether a request's caller may see a topic: one it has some right on (ListTopics and
    ListSubscriptions leave the others out before paging, so pages stay full)."""
    return _visibility(security, "topic")


def guarded(security: Security, state: SnsState, action: str, handler: Handler) -> Handler:
    """`handler` behind the authorization map."""
    def call(ctx: AwsRequestContext, params: Params) -> Any:
        identity = ctx.identity
        if identity is None or not security.map.configured:
            return handler(ctx, params)
        name = _topic_name(action, params)
        if name is not None and (action in RIGHTS or action in LOOK):
            allowed = (may_use(security, identity, "topic", name) if action in LOOK
                       else security.may(identity, RIGHTS[action], Target("topic", name)))
            if not allowed:
                raise sns_error("AuthorizationError", not_authorized(ctx, "SNS", state.topic_arn(ctx, name)))
        return handler(ctx, params)
    return call


def queue_policy_text(queue: Queue) -> str | None:
    """The queue's SQS ``Policy`` attribute, if it has one."""
    return queue.attrs.get("sqs", {}).get("Policy") or None


def queue_policy(text: str, queue_arn: str) -> Policy:
    """A queue's ``Policy`` text read as attached to the queue (what `queue_accepts` judges by)."""
    return attached(parse(text), queue_arn)


def queue_accepts(policy: Policy | None, queue_arn: str, topic_arn: str) -> bool:
    """Whether SNS may deliver the topic's messages into the queue: the queue's SQS
    ``Policy`` (`queue_policy`) must allow it, as on AWS; a queue without a policy
    (None) accepts (its topic and queue are the broker's own, in one account)."""
    if policy is None:
        return True
    account = topic_arn.split(":")[4] if topic_arn.count(":") >= 5 else ""
    return allows_delivery(policy, "sns.amazonaws.com", "sqs:SendMessage", queue_arn, topic_arn, account)


def fits(queue: Queue, message: Message, attributes: Mapping[str, Mapping[str, Any]] | None) -> bool:
    """Whether the message (body plus the SQS ``attributes`` it carries) is within the
    queue's SQS ``MaximumMessageSize``; a queue that never set one takes any SNS message."""
    limit = queue.attrs.get("sqs", {}).get("MaximumMessageSize")
    return limit is None or len(message.body) + attributes_size(attributes) <= int(limit)
