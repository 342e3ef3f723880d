"""SNS DeliveryPolicy: AWS's HTTP(S) retry defaults, the backoff functions, throttling.

A delivery is tried once, then retried ``numRetries`` times in four phases: retries with
no delay, retries at ``minDelayTarget``, the backoff phase (from min to max delay along
the backoff function) and retries at ``maxDelayTarget``. A subscription's policy wins
over its topic's unless the topic disables subscription overrides.
"""
from __future__ import annotations

import json
import math
from typing import Any, Mapping

DEFAULT_RETRY: dict[str, Any] = {"minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3,
                                 "numMaxDelayRetries": 0, "numNoDelayRetries": 0,
                                 "numMinDelayRetries": 0, "backoffFunction": "linear"}
BACKOFF_FUNCTIONS = ("linear", "arithmetic", "geometric", "exponential")
_INT_FIELDS = ("minDelayTarget", "maxDelayTarget", "numRetries", "numMaxDelayRetries",
               "numNoDelayRetries", "numMinDelayRetries")


class DeliveryPolicyError(ValueError):
    """The text is what follows ``Invalid parameter: DeliveryPolicy:``."""


def _retry_policy(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise DeliveryPolicyError("healthyRetryPolicy must be an object")
    policy = {**DEFAULT_RETRY, **raw}
    for name in _INT_FIELDS:
        value = policy[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise DeliveryPolicyError(f"{name} must be a non-negative integer")
    if policy["backoffFunction"] not in BACKOFF_FUNCTIONS:
        raise DeliveryPolicyError(f"backoffFunction must be one of {', '.join(BACKOFF_FUNCTIONS)}")
    if not 1 <= policy["minDelayTarget"] <= policy["maxDelayTarget"] <= 3600:
        raise DeliveryPolicyError("minDelayTarget must be between 1 and maxDelayTarget (at most 3600)")
    if policy["numRetries"] > 100:
        raise DeliveryPolicyError("numRetries must be at most 100")
    phases = policy["numNoDelayRetries"] + policy["numMinDelayRetries"] + policy["numMaxDelayRetries"]
    if phases > policy["numRetries"]:
        raise DeliveryPolicyError("numRetries is less than the retries of the other phases")
    return policy


def _throttle(raw: Any) -> dict[str, Any]:
    rate = raw.get("maxReceivesPerSecond") if isinstance(raw, dict) else None
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
        raise DeliveryPolicyError("maxReceivesPerSecond must be a positive integer")
    return {"maxReceivesPerSecond": rate}


def parse_topic_policy(text: str) -> dict[str, Any]:
    """A topic DeliveryPolicy (``{"http": {"defaultHealthyRetryPolicy": ...}}``), checked."""
    doc = _load(text)
    for protocol, section in doc.items():
        if not isinstance(section, dict):
            raise DeliveryPolicyError(f"{protocol} must be an object")
        if "defaultHealthyRetryPolicy" in section:
            _retry_policy(section["defaultHealthyRetryPolicy"])
        if "defaultThrottlePolicy" in section:
            _throttle(section["defaultThrottlePolicy"])
    return doc


def parse_subscription_policy(text: str) -> dict[str, Any]:
    """A subscription DeliveryPolicy (``{"healthyRetryPolicy": ...}``), checked."""
    doc = _load(text)
    if "healthyRetryPolicy" in doc:
        _retry_policy(doc["healthyRetryPolicy"])
    if "throttlePolicy" in doc:
        _throttle(doc["throttlePolicy"])
    return doc


def _load(text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError:
        raise DeliveryPolicyError("failed to parse JSON.") from None
    if not isinstance(doc, dict):
        raise DeliveryPolicyError("must be a JSON object")
    return doc


def effective(topic_policy: str | None, subscription_policy: str | None) -> dict[str, Any]:
    """The subscription-level policy in force: retry policy, throttle (or None)."""
    section = json.loads(topic_policy).get("http", {}) if topic_policy else {}
    retry = _retry_policy(section.get("defaultHealthyRetryPolicy", {}))
    throttle = section.get("defaultThrottlePolicy")
    if subscription_policy and not section.get("disableSubscriptionOverrides"):
        own = json.loads(subscription_policy)
        if "healthyRetryPolicy" in own:
            retry = _retry_policy(own["healthyRetryPolicy"])
        throttle = own.get("throttlePolicy", throttle)
    out: dict[str, Any] = {"healthyRetryPolicy": retry}
    if throttle:
        out["throttlePolicy"] = throttle
    return out


def default_topic_policy() -> dict[str, Any]:
    """EffectiveDeliveryPolicy of a topic without a DeliveryPolicy, as AWS shows it."""
    return {"http": {"defaultHealthyRetryPolicy": dict(DEFAULT_RETRY), "disableSubscriptionOverrides": False,
                     "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"}}}


def _fraction(function: str, i: int, n: int) -> float:
    """Share of the way from min to max delay at backoff retry ``i`` of ``n``."""
    if n <= 0:
        return 1.0
    if function == "linear":
        return i / n
    if function == "arithmetic":
        return (i * (i + 1)) / (n * (n + 1))
    if function == "geometric":
        return (2 ** i - 1) / (2 ** n - 1)
    return (math.exp(i) - 1) / (math.exp(n) - 1)


def retry_delay(policy: Mapping[str, Any], retry: int) -> float | None:
    """Seconds to wait before retry number ``retry`` (1-based); None once retries are over."""
    if retry > policy["numRetries"]:
        return None
    no_delay, at_min, at_max = (policy["numNoDelayRetries"], policy["numMinDelayRetries"],
                                policy["numMaxDelayRetries"])
    low, high = policy["minDelayTarget"], policy["maxDelayTarget"]
    backoff = policy["numRetries"] - no_delay - at_min - at_max
    if retry <= no_delay:
        return 0.0
    if retry <= no_delay + at_min:
        return float(low)
    if retry <= no_delay + at_min + backoff:
        i = retry - no_delay - at_min
        return low + (high - low) * _fraction(policy["backoffFunction"], i, backoff)
    return float(high)
