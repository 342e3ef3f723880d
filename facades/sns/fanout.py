"""From one publication to every SNS subscription of its topic.

Runs as the engine's topic tap, so a STOMP SEND to ``/topic/NAME`` reaches the SNS
subscriptions of NAME exactly as an SNS Publish does, and everything it enqueues (SQS
copies, pending HTTP deliveries) commits in the same transaction as the publication.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from functools import partial
from typing import Any, Callable

from twisted.logger import Logger

from broker.engine.broker import Broker
from broker.engine.message import Message
from facades.aws.message_attributes import attributes_of, to_properties
from facades.sns import delivery_policy, filter_policy
from facades.aws.policy import Policy
from facades.sns.access import fits, queue_accepts, queue_policy, queue_policy_text
from facades.sns.envelope import Publication, signed_later
from facades.sns.push import Delivery, Pusher
from facades.sns.sign_worker import SigningWorker
from facades.sns.signing import Signer
from facades.sns.state import SnsState, Subscription

_log = Logger()


class Fanout:
    def __init__(self, state: SnsState, signer: Signer, reactor: Any) -> None:
        self.state = state
        self.broker: Broker = state.broker
        self.signer = signer
        self.signing = SigningWorker(signer, reactor)
        self.pusher = Pusher(self.broker, reactor, self.policy_of, self.dead_letter,
                             partial(signed_later, worker=self.signing))
        self._current: tuple[Message, Publication] | None = None
        self._filters: dict[str, tuple[str, str, filter_policy.FilterPolicy]] = {}
        # subscription -> (its queue's Policy text, that text read): read once, not per delivery.
        self._queue_policies: dict[str, tuple[str, Policy]] = {}
        state.on_drop.append(self.forget)

    # -- publishing --------------------------------------------------------------------------
    def publish(self, topic: str, publication: Publication) -> None:
        """Publish to the broker topic (STOMP subscribers get the message) and, through
        the tap, to every SNS subscription."""
        props, types = to_properties(publication.attributes)
        message = Message(message_id=publication.message_id, body=publication.message.encode("utf-8"),
                          properties=props, types=types, persistent=True,
                          timestamp=publication.timestamp_ms, group_id=publication.group_id)
        self._current = (message, publication)
        try:
            self.broker.publish(topic, message)
        finally:
            self._current = None

    def tap(self, topic: str, message: Message) -> None:
        subs = self.state.by_topic.get(topic)
        if not subs:
            return
        if self._current is not None and self._current[0] is message:
            publication = self._current[1]
        else:
            publication = self._from_other_door(topic, message)
        targets = [sub for sub in list(subs) if sub.confirmed and self._guarded(sub, self._wanted, publication)]
        # Raw copies for SQS queues are the same message: with two or more, the store
        # keeps its body once. (Envelopes differ per subscription: each is stored whole.)
        raw = None
        if sum(1 for sub in targets if sub.raw and sub.protocol == "sqs") > 1:
            raw = self._queue_message(publication.text_for("sqs"), publication, True)
            self.broker.share_content(raw)
        for sub in targets:
            self._guarded(sub, self._deliver, publication, raw)

    @staticmethod
    def _guarded(sub: Subscription, step: Callable[..., Any], *args: Any) -> Any:
        """``step(sub, *args)``; a fault in one subscription must not fail the publishing
        door (a STOMP SEND) nor the other subscriptions."""
        try:
            return step(sub, *args)
        except Exception:
            _log.failure("SNS fan-out to {subscription} failed", subscription=sub.arn)
            return None

    def _from_other_door(self, topic: str, message: Message) -> Publication:
        found = self.state.find_topic(topic)
        arn = found.arn if found is not None else self.state.topic_arn(None, topic)
        fifo = found is not None and found.fifo
        text = message.body.decode("utf-8", errors="replace")
        dedup = None
        if fifo:
            dedup = message.dedup_id or hashlib.sha256(message.body).hexdigest()
        return Publication(message_id=message.message_id, topic_arn=arn, message=text,
                           timestamp_ms=message.timestamp or self.broker.now_ms(),
                           attributes=attributes_of(message),
                           group_id=message.group_id or ("default" if fifo else None), dedup_id=dedup,
                           sequence_number=f"{self.broker.next_seq():020d}" if fifo else None,
                           signature_version=found.attributes.get("SignatureVersion", "1") if found else "1")

    def _wanted(self, sub: Subscription, publication: Publication) -> bool:
        text = sub.attributes.get("FilterPolicy")
        if not text:
            return True
        scope = sub.attributes.get("FilterPolicyScope", "MessageAttributes")
        cached = self._filters.get(sub.arn)
        if cached is None or cached[:2] != (text, scope):
            cached = (text, scope, filter_policy.parse(text, scope))
            self._filters[sub.arn] = cached
        return cached[2].matches(publication.text_for(sub.protocol), publication.attributes)

    def _queue_policy(self, sub: Subscription, text: str | None) -> Policy | None:
        """The Policy of the subscription's queue, read again only when its text changed
        (a SetQueueAttributes counts from the next delivery on)."""
        if text is None:
            return None
        cached = self._queue_policies.get(sub.arn)
        if cached is None or cached[0] != text:
            cached = (text, queue_policy(text, sub.endpoint))
            self._queue_policies[sub.arn] = cached
        return cached[1]

    # -- delivering ------------------------------------------------------------------------
    def _deliver(self, sub: Subscription, publication: Publication, raw: Message | None) -> None:
        """``raw``: the raw SQS message whose stored body the queue copies share, if any."""
        base = self.state.base_url(None) or sub.base_url
        if sub.raw:
            body = publication.text_for(sub.protocol)
        else:
            # HTTP envelopes are signed by the signing process just before they are sent.
            body = publication.envelope(sub.protocol, self.signer, base, sub.arn, signed=sub.protocol == "sqs")
        if sub.protocol == "sqs":
            queue = self.broker.queue(sub.endpoint.rsplit(":", 1)[-1], create=False)
            if sub.raw and raw is not None:
                message = raw.copy()
                message.message_id = str(uuid.uuid4())
            else:
                message = self._queue_message(body, publication, sub.raw)
            if (queue is None
                    or not queue_accepts(self._queue_policy(sub, queue_policy_text(queue)), sub.endpoint,
                                         publication.topic_arn)
                    or not fits(queue, message, publication.attributes if sub.raw else None)):
                # A client-side failure (no queue, its policy refuses SNS, the message is
                # larger than it takes): AWS does not retry it, and sends it to the
                # subscription's dead-letter queue if any.
                self._to_dead_letter(sub, body, publication.attributes)
                return
            queue.enqueue(message)
            return
        self.pusher.submit(sub.arn, sub.endpoint, "Notification", publication.message_id,
                           publication.topic_arn, body, raw=sub.raw,
                           unsigned=not sub.raw and not publication.is_signed(sub.protocol))

    @staticmethod
    def _queue_message(body: str, publication: Publication, raw: bool) -> Message:
        props, types = to_properties(publication.attributes) if raw else ({}, None)
        return Message(message_id=str(uuid.uuid4()), body=body.encode("utf-8"), properties=props,
                       types=types, persistent=True, timestamp=publication.timestamp_ms,
                       group_id=publication.group_id, dedup_id=publication.dedup_id)

    def _to_dead_letter(self, sub: Subscription, body: str, attributes: dict[str, Any]) -> None:
        raw = sub.attributes.get("RedrivePolicy")
        if not raw:
            return
        target = str(json.loads(raw).get("deadLetterTargetArn", "")).rsplit(":", 1)[-1]
        queue = self.broker.queue(target, create=False)
        if queue is not None:
            props, types = to_properties(attributes)
            queue.enqueue(Message(message_id=str(uuid.uuid4()), body=body.encode("utf-8"), properties=props,
                                  types=types, persistent=True, timestamp=self.broker.now_ms()))

    def forget(self, subscription: str) -> None:
        """The subscription is gone: drop its pending deliveries, compiled filter and queue policy."""
        self.pusher.forget(subscription)
        self._filters.pop(subscription, None)
        self._queue_policies.pop(subscription, None)

    def dead_letter(self, delivery: Delivery) -> None:
        sub = self.state.subscriptions.get(delivery.subscription)
        if sub is not None:
            self._to_dead_letter(sub, delivery.body, {})

    def policy_of(self, subscription: str) -> dict[str, Any] | None:
        """The retry/throttle policy in force for a subscription (None once it is gone)."""
        sub = self.state.subscriptions.get(subscription)
        if sub is None:
            return None
        topic = self.state.find_topic(sub.topic)
        topic_policy = topic.attributes.get("DeliveryPolicy") if topic is not None else None
        return delivery_policy.effective(topic_policy or None, sub.attributes.get("DeliveryPolicy") or None)
