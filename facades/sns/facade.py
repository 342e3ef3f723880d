"""The SNS facade: state loaded from the engine's records, the fan-out tap, the handlers."""
from __future__ import annotations

import datetime
from functools import partial
from typing import Any

from broker.auth.security import Security
from broker.config import Config
from broker.engine.broker import Broker
from facades.sns import topics
from facades.sns.access import guarded, visibility
from facades.sns.envelope import CERT_PATH
from facades.sns.fanout import Fanout
from facades.sns.publish import Publisher
from facades.sns.service import SnsService, sns_service
from facades.sns.signing import Signer
from facades.sns.state import SnsState
from facades.sns.subscriptions import Subscriptions

SIGNING_KIND = "sns-signing"

_TOPIC_ACTIONS = {
    "CreateTopic": topics.create_topic,
    "DeleteTopic": topics.delete_topic,
    "ListTopics": topics.list_topics,
    "GetTopicAttributes": topics.get_topic_attributes,
    "SetTopicAttributes": topics.set_topic_attributes,
    "AddPermission": topics.add_permission,
    "RemovePermission": topics.remove_permission,
    "TagResource": topics.tag_resource,
    "UntagResource": topics.untag_resource,
    "ListTagsForResource": topics.list_tags_for_resource,
}
_SUBSCRIPTION_ACTIONS = ("Subscribe", "ConfirmSubscription", "Unsubscribe", "ListSubscriptions",
                         "ListSubscriptionsByTopic", "GetSubscriptionAttributes", "SetSubscriptionAttributes")
_PUBLISH_ACTIONS = ("Publish", "PublishBatch")


def implemented_actions() -> list[str]:
    return [*_TOPIC_ACTIONS, *_SUBSCRIPTION_ACTIONS, *_PUBLISH_ACTIONS]


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _signer(broker: Broker) -> Signer:
    """The signing key of this broker: made on first start, then read from the store."""
    record = broker.records(SIGNING_KIND).get("key")
    if record is not None:
        return Signer.from_record(record)
    signer = Signer.generate(datetime.datetime.now(datetime.timezone.utc))
    broker.put_record(SIGNING_KIND, "key", signer.to_record())
    return signer


def build(broker: Broker, config: Config, reactor: Any, security: Security) -> tuple[SnsService, dict[str, tuple[str, bytes]]]:
    """The SNS service and the documents it serves by GET (its signing certificate)."""
    state = SnsState(broker, config.region, config.account, config.aws_public_url)
    state.visible = visibility(security)
    state.load()
    signer = _signer(broker)
    fanout = Fanout(state, signer, reactor)
    broker.add_topic_tap(fanout.tap)
    fanout.pusher.resume()
    subscriptions = Subscriptions(state, fanout)
    publisher = Publisher(state, fanout)
    handlers: dict[str, Any] = {name: partial(fn, state) for name, fn in _TOPIC_ACTIONS.items()}
    handlers.update({name: getattr(subscriptions, _snake(name)) for name in _SUBSCRIPTION_ACTIONS})
    handlers.update({name: getattr(publisher, _snake(name)) for name in _PUBLISH_ACTIONS})
    service = sns_service({name: guarded(security, state, name, fn) for name, fn in handlers.items()})
    return service, {CERT_PATH: ("application/x-x509-ca-cert", signer.certificate_pem)}
