"""HTTP/HTTPS push: durable deliveries with the subscription's retry policy.

Each pending delivery is an engine record written in the same transaction as the
publication it came from and dropped once the endpoint answered 2xx or the message went
to the subscription's dead-letter queue, so a crash during retries loses none: at start
every pending delivery is tried again. Requests go out over kept-alive connections
(:mod:`facades.sns.http_client`; nothing blocks the reactor), at most ``PER_ENDPOINT`` at a
time per endpoint, so a slow endpoint only delays its own deliveries.
"""
from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from broker.engine.broker import Broker
from facades.sns import delivery_policy
from facades.sns.http_client import HttpClient, Target

DELIVERY_KIND = "sns-delivery"
PER_ENDPOINT = 16
REQUEST_TIMEOUT_S = 15.0
USER_AGENT = b"Amazon Simple Notification Service Agent"

_log = Logger()


@dataclass
class Delivery:
    id: str
    subscription: str
    endpoint: str
    kind: str                 # Notification, SubscriptionConfirmation, UnsubscribeConfirmation
    message_id: str
    topic_arn: str
    body: str
    attempt: int = 0          # attempts made so far
    raw: bool = False         # RawMessageDelivery: the body is the bare message
    unsigned: bool = False    # an envelope whose signature is made just before the first send
    durable: bool = True
    timer: Any = field(default=None, repr=False)

    def to_record(self) -> dict[str, Any]:
        return {"subscription": self.subscription, "endpoint": self.endpoint, "kind": self.kind,
                "message_id": self.message_id, "topic_arn": self.topic_arn, "body": self.body,
                "attempt": self.attempt, "raw": self.raw, "unsigned": self.unsigned}


@dataclass
class _Endpoint:
    target: Target | None       # None: a URL no request can be made to
    active: int = 0
    waiting: deque[Delivery] = field(default_factory=deque)


class Pusher:
    """Sends deliveries; asks ``policy_of(subscription)`` for the retry policy in force,
    and hands a delivery out of retries to ``dead_letter(delivery)``."""

    def __init__(self, broker: Broker, reactor: Any,
                 policy_of: Callable[[str], dict[str, Any] | None],
                 dead_letter: Callable[[Delivery], None],
                 sign: Callable[[str], defer.Deferred[str]]) -> None:
        self.broker = broker
        self.reactor = reactor
        self._policy_of = policy_of
        self._dead_letter = dead_letter
        self._sign = sign
        self._client = HttpClient(reactor, keep=PER_ENDPOINT)     # every connection an endpoint may use
        self._endpoints: dict[str, _Endpoint] = {}
        self._pending: dict[str, Delivery] = {}
        self._next_slot: dict[str, float] = {}     # subscription -> earliest next send (throttle)

    def resume(self) -> None:
        """Try again every delivery a previous run left pending."""
        for delivery_id, data in list(self.broker.records(DELIVERY_KIND).items()):
            if self._policy_of(data["subscription"]) is None:     # unsubscribed meanwhile
                self.broker.drop_record(DELIVERY_KIND, delivery_id)
                continue
            self._schedule(Delivery(id=delivery_id, **data), 0.0)

    def submit(self, subscription: str, endpoint: str, kind: str, message_id: str, topic_arn: str,
               body: str, durable: bool = True, raw: bool = False, unsigned: bool = False) -> None:
        delivery = Delivery(id=str(uuid.uuid4()), subscription=subscription, endpoint=endpoint, kind=kind,
                            message_id=message_id, topic_arn=topic_arn, body=body, durable=durable, raw=raw,
                            unsigned=unsigned)
        if durable:
            self.broker.put_record(DELIVERY_KIND, delivery.id, delivery.to_record())
        self._schedule(delivery, 0.0)

    def forget(self, subscription: str) -> None:
        """The subscription is gone: its pending deliveries go too."""
        for delivery in [d for d in self._pending.values() if d.subscription == subscription]:
            self._finish(delivery)

    def _schedule(self, delivery: Delivery, delay: float) -> None:
        self._pending[delivery.id] = delivery
        policy = self._policy_of(delivery.subscription)
        throttle = (policy or {}).get("throttlePolicy")
        if throttle:
            now = self.reactor.seconds()
            slot = max(now + delay, self._next_slot.get(delivery.subscription, 0.0))
            self._next_slot[delivery.subscription] = slot + 1.0 / throttle["maxReceivesPerSecond"]
            delay = slot - now
        delivery.timer = self.reactor.callLater(delay, self._queue, delivery)

    def _queue(self, delivery: Delivery) -> None:
        delivery.timer = None
        if delivery.id not in self._pending:
            return
        if delivery.unsigned:
            self._sign(delivery.body).addCallbacks(partial(self._signed, delivery),
                                                   partial(self._unreachable, delivery))
            return
        endpoint = self._endpoints.get(delivery.endpoint)
        if endpoint is None:
            endpoint = self._endpoints[delivery.endpoint] = _Endpoint(_target(delivery.endpoint))
        if endpoint.active >= PER_ENDPOINT:
            endpoint.waiting.append(delivery)
            return
        self._send(delivery, endpoint)

    def _send(self, delivery: Delivery, endpoint: _Endpoint) -> None:
        endpoint.active += 1
        if endpoint.target is None:
            d: defer.Deferred[int] = defer.fail(ValueError(f"not an http(s) URL: {delivery.endpoint!r}"))
        else:
            d = self._client.post(endpoint.target, _head(delivery), delivery.body.encode("utf-8"),
                                  REQUEST_TIMEOUT_S)
        d.addCallbacks(partial(self._answered, delivery), partial(self._unreachable, delivery))
        d.addBoth(lambda _: self._next(delivery.endpoint, endpoint))

    def _signed(self, delivery: Delivery, body: str) -> None:
        delivery.body, delivery.unsigned = body, False
        self._queue(delivery)

    def _next(self, url: str, endpoint: _Endpoint) -> None:
        endpoint.active -= 1
        while endpoint.waiting and endpoint.active < PER_ENDPOINT:
            delivery = endpoint.waiting.popleft()
            if delivery.id in self._pending:
                self._send(delivery, endpoint)
        if not endpoint.active and not endpoint.waiting:
            self._endpoints.pop(url, None)

    def _unreachable(self, delivery: Delivery, failure: Failure) -> None:
        _log.info("SNS delivery {id} to {endpoint} failed: {error}", id=delivery.message_id,
                  endpoint=delivery.endpoint, error=failure.getErrorMessage())
        self._answered(delivery, None)

    def _answered(self, delivery: Delivery, code: int | None) -> None:
        if delivery.id not in self._pending:
            return
        if code is not None and 200 <= code < 300:
            self._finish(delivery)
            return
        delivery.attempt += 1
        policy = self._policy_of(delivery.subscription)
        delay = None if policy is None else delivery_policy.retry_delay(policy["healthyRetryPolicy"],
                                                                        delivery.attempt)
        if delay is None:
            _log.info("SNS delivery {id} to {endpoint} failed after {n} attempts",
                      id=delivery.message_id, endpoint=delivery.endpoint, n=delivery.attempt)
            if policy is not None and delivery.kind == "Notification":
                self._dead_letter(delivery)
            self._finish(delivery)
            return
        if delivery.durable:
            self.broker.put_record(DELIVERY_KIND, delivery.id, delivery.to_record())
        self._schedule(delivery, delay)

    def _finish(self, delivery: Delivery) -> None:
        self._pending.pop(delivery.id, None)
        if delivery.timer is not None and delivery.timer.active():
            delivery.timer.cancel()
        if delivery.durable:
            self.broker.drop_record(DELIVERY_KIND, delivery.id)


def _target(url: str) -> Target | None:
    try:
        return Target.parse(url)
    except ValueError:
        return None


def _head(delivery: Delivery) -> bytes:
    """The header lines of a delivery's POST (values are mqgate's own ARNs and ids)."""
    lines = [b"Content-Type: text/plain; charset=UTF-8\r\nUser-Agent: ", USER_AGENT,
             b"\r\nx-amz-sns-message-type: ", delivery.kind.encode(),
             b"\r\nx-amz-sns-message-id: ", delivery.message_id.encode(),
             b"\r\nx-amz-sns-topic-arn: ", delivery.topic_arn.encode(), b"\r\n"]
    if delivery.kind != "SubscriptionConfirmation":
        lines += [b"x-amz-sns-subscription-arn: ", delivery.subscription.encode(), b"\r\n"]
    if delivery.raw:
        lines.append(b"x-amz-sns-rawdelivery: true\r\n")
    return b"".join(lines)
