"""What the SNS handlers share: topics and subscriptions (kept as engine records), ARNs.

An SNS topic NAME is the broker topic NAME: a topic created by SNS exists for STOMP, and a
topic a STOMP client published or subscribed to is an SNS topic with default attributes
(its record is written the first time SNS changes something about it).
"""
from __future__ import annotations

import bisect
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from twisted.internet import defer

from broker.engine.broker import Broker
from facades.aws.durability import after_commit
from facades.aws.errors import AwsError
from facades.aws.service import AwsRequestContext
from facades.sns.service import invalid, sns_error

TOPIC_KIND = "sns-topic"
SUBSCRIPTION_KIND = "sns-subscription"

TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
FIFO_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,251}\.fifo")
_ARN = re.compile(r"arn:aws:sns:([a-z0-9-]*):(\d*):(.+)")


def page_start(keys: Sequence[str], token: str | None, key: Callable[[str], str]) -> int:
    """Where the page after NextToken `token` starts in the sorted `keys`.

    A token is the ARN of the last item of the previous page, `key` its sort key. That item
    may have been deleted since (a loop deleting what it lists does that): the listing goes
    on from where the item was, as it does on SNS, so the place is found by order, not by
    identity. A token that is not an SNS ARN is InvalidParameter."""
    if not token:
        return 0
    if _ARN.fullmatch(token) is None:
        raise invalid("NextToken")
    return bisect.bisect_right(keys, key(token))


def arn_name(arn: str) -> str:
    """The topic name an SNS topic ARN ends with."""
    return arn.rsplit(":", 1)[-1]


@dataclass
class Topic:
    name: str
    arn: str
    owner: str
    attributes: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    subscriptions_deleted: int = 0     # unsubscribed so far (GetTopicAttributes' SubscriptionsDeleted)
    stored: bool = True

    @property
    def fifo(self) -> bool:
        return self.attributes.get("FifoTopic") == "true"

    def to_record(self) -> dict[str, Any]:
        return {"arn": self.arn, "owner": self.owner, "attributes": self.attributes, "tags": self.tags,
                "subscriptions_deleted": self.subscriptions_deleted}


@dataclass
class Subscription:
    arn: str
    topic: str
    protocol: str
    endpoint: str
    owner: str
    base_url: str
    attributes: dict[str, str] = field(default_factory=dict)
    confirmed: bool = False
    token: str | None = None

    @property
    def raw(self) -> bool:
        return self.attributes.get("RawMessageDelivery") == "true"

    def to_record(self) -> dict[str, Any]:
        return {"topic": self.topic, "protocol": self.protocol, "endpoint": self.endpoint,
                "owner": self.owner, "base_url": self.base_url, "attributes": self.attributes,
                "confirmed": self.confirmed, "token": self.token}

    @classmethod
    def from_record(cls, arn: str, data: dict[str, Any]) -> "Subscription":
        return cls(arn=arn, **data)


@dataclass
class SnsState:
    broker: Broker
    region: str
    account: str
    public_url: str = ""
    topics: dict[str, Topic] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    by_topic: dict[str, list[Subscription]] = field(default_factory=dict)
    # Broker topics live on after DeleteTopic (the engine never forgets a topic); SNS
    # stops showing them until they are created again.
    deleted: set[str] = field(default_factory=set)
    #: Called with the ARN of every subscription that goes (Unsubscribe, DeleteTopic).
    on_drop: list[Callable[[str], None]] = field(default_factory=list)
    # Whether the request's caller may see a topic (the authorization map's say, set by
    # access.py): listings leave out the others before they are cut into pages.
    visible: Callable[[AwsRequestContext, str], bool] = lambda ctx, name: True

    def load(self) -> None:
        for name, data in self.broker.records(TOPIC_KIND).items():
            self.topics[name] = Topic(name=name, **data)
        for arn, data in self.broker.records(SUBSCRIPTION_KIND).items():
            self._index(Subscription.from_record(arn, data))

    def _index(self, sub: Subscription) -> None:
        self.subscriptions[sub.arn] = sub
        self.by_topic.setdefault(sub.topic, []).append(sub)

    def now_ms(self) -> int:
        return self.broker.now_ms()

    def base_url(self, ctx: AwsRequestContext | None) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return ctx.base_url if ctx is not None else ""

    def topic_arn(self, ctx: AwsRequestContext | None, name: str) -> str:
        region = (ctx.region if ctx is not None else "") or self.region
        account = ctx.account_id if ctx is not None else self.account
        return f"arn:aws:sns:{region}:{account}:{name}"

    # -- topics ------------------------------------------------------------------------------
    def save_topic(self, topic: Topic) -> None:
        topic.stored = True
        self.deleted.discard(topic.name)
        self.topics[topic.name] = topic
        self.broker.put_record(TOPIC_KIND, topic.name, topic.to_record())
        self.broker.topic(topic.name)

    def find_topic(self, name: str) -> Topic | None:
        """A topic by name: an SNS one, or a broker topic another door made."""
        topic = self.topics.get(name)
        if topic is None and name in self.broker.topics and name not in self.deleted and valid_topic_name(name):
            topic = Topic(name=name, arn=self.topic_arn(None, name), owner=self.account, stored=False,
                          attributes={"FifoTopic": "true"} if name.endswith(".fifo") else {})
        return topic

    def all_topics(self) -> Iterator[Topic]:
        names = set(self.topics) | {n for n in self.broker.topics if valid_topic_name(n)}
        for name in sorted(names):
            topic = self.find_topic(name)
            if topic is not None:
                yield topic

    def lookup_topic(self, arn: str, parameter: str = "TopicArn") -> Topic | None:
        """The topic an ARN names, or None; InvalidParameter for a malformed ARN."""
        match = _ARN.fullmatch(arn or "")
        if match is None:
            raise malformed_arn(arn or "", parameter)
        return self.find_topic(match.group(3))

    def topic(self, arn: str, parameter: str = "TopicArn") -> Topic:
        """The topic an ARN names; NotFound if there is none."""
        topic = self.lookup_topic(arn, parameter)
        if topic is None:
            raise sns_error("NotFound", "Topic does not exist")
        return topic

    def committed(self, result: Any) -> "defer.Deferred[Any]":
        """``result`` once everything the request changed is durable (ServiceUnavailable
        if the store was full for a message it published)."""
        return after_commit(self.broker, result)

    def drop_topic(self, topic: Topic) -> None:
        for sub in list(self.by_topic.get(topic.name, [])):
            self.drop_subscription(sub, counted=False)
        self.topics.pop(topic.name, None)
        self.deleted.add(topic.name)
        self.broker.drop_record(TOPIC_KIND, topic.name)

    # -- subscriptions -------------------------------------------------------------------------
    def new_subscription(self, topic: Topic, protocol: str, endpoint: str, owner: str,
                         base_url: str, attributes: dict[str, str]) -> Subscription:
        sub = Subscription(arn=f"{topic.arn}:{uuid.uuid4()}", topic=topic.name, protocol=protocol,
                           endpoint=endpoint, owner=owner, base_url=base_url, attributes=attributes)
        self._index(sub)
        return sub

    def save_subscription(self, sub: Subscription) -> None:
        self.broker.put_record(SUBSCRIPTION_KIND, sub.arn, sub.to_record())

    def subscription(self, arn: str) -> Subscription:
        sub = self.subscriptions.get(arn or "")
        if sub is None:
            if not (arn or "").startswith("arn:aws:sns:"):
                raise malformed_arn(arn or "", "SubscriptionArn")
            if arn.count(":") < 6:   # a topic's ARN: no subscription id after it
                raise invalid("SubscriptionId")
            raise sns_error("NotFound", "Subscription does not exist")
        return sub

    def drop_subscription(self, sub: Subscription, counted: bool = True) -> None:
        """``counted``: the topic stays and counts the subscription as deleted."""
        self.subscriptions.pop(sub.arn, None)
        subs = self.by_topic.get(sub.topic, [])
        if sub in subs:
            subs.remove(sub)
        if not subs:
            self.by_topic.pop(sub.topic, None)
        self.broker.drop_record(SUBSCRIPTION_KIND, sub.arn)
        topic = self.find_topic(sub.topic) if counted else None
        if topic is not None:
            topic.subscriptions_deleted += 1
            self.save_topic(topic)
        for listener in self.on_drop:
            listener(sub.arn)


def malformed_arn(arn: str, parameter: str) -> AwsError:
    """InvalidParameter for an ARN that is not an SNS one; AWS counts the elements of a short one."""
    elements = arn.count(":") + 1
    if elements < 6:
        return invalid(f"{parameter} Reason: An ARN must have at least 6 elements, not {elements}")
    return invalid(parameter)


def valid_topic_name(name: str) -> bool:
    return bool(TOPIC_NAME.fullmatch(name) or FIFO_TOPIC_NAME.fullmatch(name))
