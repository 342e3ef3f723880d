"""SNS actions on subscriptions: subscribe, confirm, unsubscribe, list, attributes.

sqs subscriptions are confirmed at once (the queue is on this broker); http and https
subscriptions wait for ConfirmSubscription with the token their endpoint was sent, or for
a GET of the SubscribeURL, as on AWS.
"""
from __future__ import annotations

import json
import re
import secrets
import uuid
from typing import Any

from facades.aws.service import AwsRequestContext, Params
from facades.sns import delivery_policy, filter_policy
from facades.sns.envelope import confirmation
from facades.sns.fanout import Fanout
from facades.sns.service import invalid, sns_error
from facades.sns.state import SnsState, Subscription, Topic, page_start

PAGE_SIZE = 100
SUPPORTED = ("http", "https", "sqs")
KNOWN = ("email", "email-json", "sms", "lambda", "application", "firehose")
ATTRIBUTES = ("DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy",
              "SubscriptionRoleArn", "ReplayPolicy")
_TOKEN = re.compile(r"[0-9a-f]+")   # secrets.token_hex, as SNS's own tokens are hex
_SQS_ARN = re.compile(r"arn:aws:sqs:[a-z0-9-]*:\d*:[A-Za-z0-9_-]{1,80}(\.fifo)?")


def validate_attribute(name: str, value: str, protocol: str, scope: str, reason: str = "") -> None:
    """One subscription attribute. `reason` prefixes the fault: Subscribe's is
    ``Attributes Reason: ``, SetSubscriptionAttributes' is empty."""
    if name not in ATTRIBUTES:
        raise invalid("AttributeName")
    if name == "FilterPolicy" and value:
        validate_filter_policy(value, scope, reason)
    elif name == "FilterPolicyScope" and value not in ("MessageAttributes", "MessageBody"):
        raise invalid(f"{reason}FilterPolicyScope: Invalid value [{value}]. Please use either MessageBody or "
                      "MessageAttributes")
    elif name == "RawMessageDelivery" and value.lower() not in ("true", "false"):
        raise invalid(f"{reason}RawMessageDelivery: Invalid value [{value}]. Must be true or false.")
    elif name == "RedrivePolicy" and value:
        try:
            target = json.loads(value).get("deadLetterTargetArn", "")
        except (ValueError, AttributeError):
            raise invalid(f"{reason}RedrivePolicy: failed to parse JSON.") from None
        if not _SQS_ARN.fullmatch(str(target)):
            raise invalid(f"{reason}RedrivePolicy: deadLetterTargetArn is an invalid arn")
    elif name == "DeliveryPolicy" and value:
        if protocol not in ("http", "https"):
            raise invalid(f"{reason}DeliveryPolicy: Delivery protocol [{protocol}] does not support delivery "
                          "policies")
        try:
            delivery_policy.parse_subscription_policy(value)
        except delivery_policy.DeliveryPolicyError as error:
            raise invalid(f"{reason}DeliveryPolicy: {error}") from None


def validate_filter_policy(value: str, scope: str, reason: str = "") -> None:
    """A filter policy under `scope`; its faults follow ``FilterPolicy: ``, except that a nested
    policy under the attributes scope is refused on its own, as AWS words it."""
    try:
        filter_policy.parse(value, scope)
    except filter_policy.NestedPolicyError as error:
        raise invalid(f"{reason}{error}") from None
    except filter_policy.FilterPolicyError as error:
        raise invalid(f"{reason}FilterPolicy: {error}") from None


def _validate_all(attributes: dict[str, str], protocol: str, current_scope: str) -> dict[str, str]:
    scope = attributes.get("FilterPolicyScope", current_scope)
    for name, value in attributes.items():
        validate_attribute(name, value, protocol, scope, "Attributes Reason: ")
    if "RawMessageDelivery" in attributes:
        attributes["RawMessageDelivery"] = attributes["RawMessageDelivery"].lower()
    return attributes


class Subscriptions:
    def __init__(self, state: SnsState, fanout: Fanout) -> None:
        self.state = state
        self.fanout = fanout

    def subscribe(self, ctx: AwsRequestContext, params: Params) -> Any:
        topic = self.state.topic(params["TopicArn"])
        protocol, endpoint = params["Protocol"], params.get("Endpoint") or ""
        if protocol not in SUPPORTED:
            if protocol in KNOWN:
                raise invalid(f"Protocol Reason: {protocol} endpoints are not reachable from this endpoint; "
                              f"supported protocols are {', '.join(SUPPORTED)}")
            raise invalid(f"Amazon SNS does not support this protocol string: {protocol}")
        self._check_endpoint(topic, protocol, endpoint)
        attributes = _validate_all(dict(params.get("Attributes") or {}), protocol, "MessageAttributes")
        for sub in self.state.by_topic.get(topic.name, []):
            if sub.protocol == protocol and sub.endpoint == endpoint:
                if any(sub.attributes.get(k, "") != v for k, v in attributes.items()):
                    raise invalid("Attributes Reason: Subscription already exists with different attributes")
                return {"SubscriptionArn": self._shown_arn(sub, params)}
        sub = self.state.new_subscription(topic, protocol, endpoint, ctx.account_id,
                                          self.state.base_url(ctx), attributes)
        if protocol == "sqs":
            sub.confirmed = True
        else:
            sub.token = secrets.token_hex(64)
            self._send_confirmation(sub, topic, "SubscriptionConfirmation", durable=True)
        self.state.save_subscription(sub)
        return self.state.committed({"SubscriptionArn": self._shown_arn(sub, params)})

    @staticmethod
    def _shown_arn(sub: Subscription, params: Params) -> str:
        return sub.arn if sub.confirmed or params.get("ReturnSubscriptionArn") else "pending confirmation"

    @staticmethod
    def _check_endpoint(topic: Topic, protocol: str, endpoint: str) -> None:
        if protocol == "sqs":
            if not _SQS_ARN.fullmatch(endpoint):
                raise invalid("SQS endpoint ARN")
            if endpoint.endswith(".fifo") and not topic.fifo:
                raise invalid("Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to "
                              "standard SNS topics")
        elif not endpoint.lower().startswith(protocol + "://") or len(endpoint) <= len(protocol) + 3:
            raise invalid("Endpoint must match the specified protocol")

    def _send_confirmation(self, sub: Subscription, topic: Topic, kind: str, durable: bool) -> None:
        base = self.state.base_url(None) or sub.base_url
        message_id = str(uuid.uuid4())
        body = confirmation(kind, message_id, topic.arn, sub.token or "", self.state.now_ms(), base,
                            self.fanout.signer, topic.attributes.get("SignatureVersion", "1"))
        self.fanout.pusher.submit(sub.arn, sub.endpoint, kind, message_id, topic.arn, body, durable=durable)

    def confirm_subscription(self, ctx: AwsRequestContext, params: Params) -> Any:
        """A token that is not one SNS makes is "Invalid token"; one that no subscription of the
        topic has, or a topic that does not exist, is the Token parameter's fault (not NotFound)."""
        topic = self.state.lookup_topic(params["TopicArn"])
        token = params["Token"]
        if not _TOKEN.fullmatch(token):
            raise sns_error("InvalidParameter", "Invalid token")
        for sub in self.state.by_topic.get(topic.name, []) if topic is not None else []:
            if sub.token is not None and secrets.compare_digest(sub.token, token):
                if not sub.confirmed:
                    sub.confirmed = True
                    self.state.save_subscription(sub)
                return self.state.committed({"SubscriptionArn": sub.arn})
        raise invalid("Token")

    def unsubscribe(self, ctx: AwsRequestContext, params: Params) -> Any:
        sub = self.state.subscription(params["SubscriptionArn"])
        self.state.drop_subscription(sub)
        topic = self.state.find_topic(sub.topic)
        if sub.protocol != "sqs" and topic is not None and sub.confirmed:
            self._send_confirmation(sub, topic, "UnsubscribeConfirmation", durable=False)
        return self.state.committed(None)

    # -- listing -------------------------------------------------------------------------------
    def list_subscriptions(self, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
        subs = sorted((s for s in self.state.subscriptions.values() if self.state.visible(ctx, s.topic)),
                      key=lambda s: s.arn)
        return self._page(subs, params.get("NextToken"))

    def list_subscriptions_by_topic(self, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
        topic = self.state.topic(params["TopicArn"])
        subs = sorted(self.state.by_topic.get(topic.name, []), key=lambda s: s.arn)
        return self._page(subs, params.get("NextToken"))

    def _page(self, subs: list[Subscription], token: str | None) -> dict[str, Any]:
        subs = subs[page_start([s.arn for s in subs], token, str):]
        page = subs[:PAGE_SIZE]
        out: dict[str, Any] = {"Subscriptions": [self._summary(s) for s in page]}
        if len(subs) > PAGE_SIZE:
            out["NextToken"] = page[-1].arn
        return out

    def _summary(self, sub: Subscription) -> dict[str, str]:
        topic = self.state.find_topic(sub.topic)
        return {"SubscriptionArn": sub.arn if sub.confirmed else "PendingConfirmation", "Owner": sub.owner,
                "Protocol": sub.protocol, "Endpoint": sub.endpoint,
                "TopicArn": topic.arn if topic is not None else self.state.topic_arn(None, sub.topic)}

    # -- attributes ------------------------------------------------------------------------------
    def get_subscription_attributes(self, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
        sub = self.state.subscription(params["SubscriptionArn"])
        summary = self._summary(sub)
        attributes = {"SubscriptionArn": sub.arn, "TopicArn": summary["TopicArn"], "Owner": sub.owner,
                      "Protocol": sub.protocol, "Endpoint": sub.endpoint,
                      "ConfirmationWasAuthenticated": "true" if sub.confirmed else "false",
                      "PendingConfirmation": "false" if sub.confirmed else "true",
                      "RawMessageDelivery": "false", "SubscriptionPrincipal": f"arn:aws:iam::{sub.owner}:root"}
        if sub.protocol in ("http", "https"):
            policy = self.fanout.policy_of(sub.arn) or {}
            attributes["EffectiveDeliveryPolicy"] = json.dumps(policy, separators=(",", ":"))
        if sub.attributes.get("FilterPolicy"):
            attributes["FilterPolicyScope"] = "MessageAttributes"
        attributes.update({k: v for k, v in sub.attributes.items() if v != ""})
        return {"Attributes": attributes}

    def set_subscription_attributes(self, ctx: AwsRequestContext, params: Params) -> Any:
        sub = self.state.subscription(params["SubscriptionArn"])
        name, value = params["AttributeName"], params.get("AttributeValue") or ""
        validate_attribute(name, value, sub.protocol, sub.attributes.get("FilterPolicyScope", "MessageAttributes"))
        if name == "FilterPolicyScope" and sub.attributes.get("FilterPolicy"):
            validate_filter_policy(sub.attributes["FilterPolicy"], value)
        sub.attributes[name] = value.lower() if name == "RawMessageDelivery" else value
        self.state.save_subscription(sub)
        return self.state.committed(None)
