"""SNS actions on topics: create, delete, list, attributes, permissions, tags."""
from __future__ import annotations

import json
from typing import Any

from facades.aws.policy import grant, malformed, read
from facades.aws.service import AwsRequestContext, Params
from facades.sns import delivery_policy
from facades.sns.service import invalid, sns_error
from facades.sns.state import FIFO_TOPIC_NAME, TOPIC_NAME, SnsState, Topic, arn_name, page_start

PAGE_SIZE = 100
# The actions AddPermission may grant on a topic.
POLICY_ACTIONS = frozenset({"GetTopicAttributes", "SetTopicAttributes", "AddPermission", "RemovePermission",
                            "DeleteTopic", "Subscribe", "ListSubscriptionsByTopic", "Publish", "Receive"})
MAX_TAGS = 50
_FEEDBACK = {f"{p}{k}" for p in ("Application", "Firehose", "HTTP", "Lambda", "SQS")
             for k in ("SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate", "FailureFeedbackRoleArn")}
SETTABLE = {"DeliveryPolicy", "DisplayName", "Policy", "KmsMasterKeyId", "SignatureVersion", "TracingConfig",
            "ContentBasedDeduplication", "ArchivePolicy", "DataProtectionPolicy", "FifoThroughputScope",
            *_FEEDBACK}


def _validate_attribute(name: str, value: str, fifo: bool) -> str:
    """The value as SNS keeps it, or InvalidParameter. Booleans are read without regard
    to case (``str(True)`` from Python works on AWS) and kept in lower case, which is
    what GetTopicAttributes shows and what an existing topic is compared with."""
    if name not in SETTABLE:
        raise invalid("AttributeName")
    if name == "DeliveryPolicy" and value:
        try:
            delivery_policy.parse_topic_policy(value)
        except delivery_policy.DeliveryPolicyError as error:
            raise invalid(f"DeliveryPolicy: {error}") from None
    elif name == "SignatureVersion" and value not in ("1", "2"):
        raise invalid("SignatureVersion")
    elif name == "ContentBasedDeduplication":
        if not fifo:
            raise invalid("ContentBasedDeduplication Reason: Content based deduplication can only be set "
                          "for FIFO topics")
        if value.lower() not in ("true", "false"):
            raise invalid("ContentBasedDeduplication")
        return value.lower()
    elif name == "Policy" and value:
        try:
            document = json.loads(value)
        except ValueError:
            raise invalid("Policy Error: null") from None
        if any(malformed(s) for s in read(document).statements):
            raise invalid("Policy Error: null")
    elif name == "DisplayName" and len(value) > 100:
        raise invalid("DisplayName")
    return value


def _tags(params: Params) -> dict[str, str]:
    items = params.get("Tags") or []
    keys = [t["Key"] for t in items]
    if len(set(keys)) != len(keys):
        raise invalid("Duplicated keys are not allowed.")
    return {t["Key"]: t["Value"] for t in items}


def create_topic(state: SnsState, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
    name: str = params["Name"]
    attributes = dict(params.get("Attributes") or {})
    fifo = attributes.pop("FifoTopic", "false").lower() == "true"
    if not (FIFO_TOPIC_NAME if fifo else TOPIC_NAME).fullmatch(name):
        raise invalid("Topic Name")
    attributes = {key: _validate_attribute(key, value, fifo) for key, value in attributes.items()}
    tags = _tags(params)
    existing = state.find_topic(name)
    if existing is not None and existing.stored:
        if existing.fifo != fifo or any(existing.attributes.get(k) != v for k, v in attributes.items()):
            raise invalid("Attributes Reason: Topic already exists with different attributes")
        if any(existing.tags.get(k) != v for k, v in tags.items()):
            raise invalid("Tags Reason: Topic already exists with different tags")
        return {"TopicArn": existing.arn}
    if fifo:
        attributes["FifoTopic"] = "true"
        attributes.setdefault("ContentBasedDeduplication", "false")
    topic = Topic(name=name, arn=existing.arn if existing else state.topic_arn(ctx, name),
                  owner=ctx.account_id, attributes=attributes, tags=tags)
    state.save_topic(topic)
    return state.committed({"TopicArn": topic.arn})


def delete_topic(state: SnsState, ctx: AwsRequestContext, params: Params) -> Any:
    topic = state.lookup_topic(params["TopicArn"])
    if topic is None:
        return None          # deleting a missing topic succeeds, as on AWS
    state.drop_topic(topic)
    return state.committed(None)


def list_topics(state: SnsState, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
    topics = [t for t in state.all_topics() if state.visible(ctx, t.name)]    # in name order
    start = page_start([t.name for t in topics], params.get("NextToken"), arn_name)
    arns = [t.arn for t in topics[start:]]
    page = arns[:PAGE_SIZE]
    out: dict[str, Any] = {"Topics": [{"TopicArn": arn} for arn in page]}
    if len(arns) > PAGE_SIZE:
        out["NextToken"] = page[-1]
    return out


def default_policy(topic: Topic) -> str:
    return json.dumps({
        "Version": "2008-10-17", "Id": "__default_policy_ID",
        "Statement": [{"Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
                       "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                                  "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                                  "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
                       "Resource": topic.arn,
                       "Condition": {"StringEquals": {"AWS:SourceOwner": topic.owner}}}]},
        separators=(",", ":"))


def _policy_document(topic: Topic) -> dict[str, Any]:
    """The topic's policy as a document whose statements are a list."""
    document = json.loads(topic.attributes.get("Policy") or default_policy(topic))
    statements = document.get("Statement") or []
    document["Statement"] = statements if isinstance(statements, list) else [statements]
    return document



def add_permission(state: SnsState, ctx: AwsRequestContext, params: Params) -> Any:
    """A statement labelled `Label` letting the accounts call the actions on the topic."""
    topic = state.topic(params["TopicArn"])
    label = params["Label"]
    accounts, actions = params.get("AWSAccountId") or [], params.get("ActionName") or []
    if not accounts or not actions:
        raise invalid("AWSAccountId" if not accounts else "ActionName")
    policy = _policy_document(topic)
    if any(s.get("Sid") == label for s in policy["Statement"]):
        raise invalid("Statement already exists")
    if not set(actions) <= POLICY_ACTIONS:
        raise invalid("Policy statement action out of service scope!")
    policy["Statement"].append(grant(label, accounts, "SNS", actions, topic.arn))
    topic.attributes["Policy"] = json.dumps(policy, separators=(",", ":"))
    state.save_topic(topic)
    return state.committed(None)


def remove_permission(state: SnsState, ctx: AwsRequestContext, params: Params) -> Any:
    """Drop the statement labelled `Label` (none: nothing changes, as on SNS)."""
    topic = state.topic(params["TopicArn"])
    policy = _policy_document(topic)
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != params["Label"]]
    topic.attributes["Policy"] = json.dumps(policy, separators=(",", ":"))
    state.save_topic(topic)
    return state.committed(None)


def get_topic_attributes(state: SnsState, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
    topic = state.topic(params["TopicArn"])
    subs = state.by_topic.get(topic.name, [])
    confirmed = sum(1 for s in subs if s.confirmed)
    attributes = {"TopicArn": topic.arn, "Owner": topic.owner, "Policy": default_policy(topic),
                  "DisplayName": "", "SubscriptionsConfirmed": str(confirmed),
                  "SubscriptionsPending": str(len(subs) - confirmed), "SubscriptionsDeleted": str(topic.subscriptions_deleted),
                  "EffectiveDeliveryPolicy": json.dumps(delivery_policy.default_topic_policy(),
                                                        separators=(",", ":"))}
    if topic.fifo:
        attributes["FifoTopic"] = "true"
        attributes["ContentBasedDeduplication"] = "false"
    attributes.update({k: v for k, v in topic.attributes.items() if v != ""})
    if topic.attributes.get("DeliveryPolicy"):
        attributes["EffectiveDeliveryPolicy"] = topic.attributes["DeliveryPolicy"]
    return {"Attributes": attributes}


def set_topic_attributes(state: SnsState, ctx: AwsRequestContext, params: Params) -> Any:
    topic = state.topic(params["TopicArn"])
    name, value = params["AttributeName"], params.get("AttributeValue") or ""
    topic.attributes[name] = _validate_attribute(name, value, topic.fifo)
    state.save_topic(topic)
    return state.committed(None)


def _tagged_topic(state: SnsState, arn: str) -> Topic:
    topic = state.lookup_topic(arn, "ResourceArn")
    if topic is None:
        raise sns_error("ResourceNotFound", "Resource does not exist")
    return topic


def tag_resource(state: SnsState, ctx: AwsRequestContext, params: Params) -> Any:
    topic = _tagged_topic(state, params["ResourceArn"])
    tags = {**topic.tags, **_tags(params)}
    if len(tags) > MAX_TAGS:
        raise sns_error("TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded")
    topic.tags = tags
    state.save_topic(topic)
    return state.committed({})


def untag_resource(state: SnsState, ctx: AwsRequestContext, params: Params) -> Any:
    topic = _tagged_topic(state, params["ResourceArn"])
    remove = set(params.get("TagKeys") or [])
    topic.tags = {k: v for k, v in topic.tags.items() if k not in remove}
    state.save_topic(topic)
    return state.committed({})


def list_tags_for_resource(state: SnsState, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
    topic = _tagged_topic(state, params["ResourceArn"])
    return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(topic.tags.items())]}
