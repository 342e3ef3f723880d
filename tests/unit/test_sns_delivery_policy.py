"""DeliveryPolicy: AWS's defaults, the four retry phases, backoff functions, overrides."""
from __future__ import annotations

import json

import pytest

from facades.sns.delivery_policy import (DEFAULT_RETRY, DeliveryPolicyError, effective, parse_subscription_policy,
                                         parse_topic_policy, retry_delay)


def test_aws_default_for_http_is_three_retries_20_s_apart():
    policy = effective(None, None)["healthyRetryPolicy"]
    assert policy == DEFAULT_RETRY
    assert [retry_delay(policy, n) for n in (1, 2, 3, 4)] == [20.0, 20.0, 20.0, None]


def test_phases_in_order():
    policy = {**DEFAULT_RETRY, "numRetries": 8, "numNoDelayRetries": 2, "numMinDelayRetries": 2,
              "numMaxDelayRetries": 2, "minDelayTarget": 1, "maxDelayTarget": 9}
    assert [retry_delay(policy, n) for n in range(1, 10)] == [0.0, 0.0, 1.0, 1.0, 5.0, 9.0, 9.0, 9.0, None]


@pytest.mark.parametrize("function", ["linear", "arithmetic", "geometric", "exponential"])
def test_backoff_functions_rise_from_min_to_max(function):
    policy = {**DEFAULT_RETRY, "numRetries": 5, "minDelayTarget": 2, "maxDelayTarget": 60, "backoffFunction": function}
    delays = [retry_delay(policy, n) for n in range(1, 6)]
    assert delays == sorted(delays) and delays[-1] == 60.0 and all(d > 2 for d in delays)


def test_subscription_overrides_topic_unless_disabled():
    topic = json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 7},
                                 "defaultThrottlePolicy": {"maxReceivesPerSecond": 5}}})
    sub = json.dumps({"healthyRetryPolicy": {"numRetries": 1, "minDelayTarget": 1, "maxDelayTarget": 1}})
    assert effective(topic, None)["healthyRetryPolicy"]["numRetries"] == 7
    assert effective(topic, None)["throttlePolicy"] == {"maxReceivesPerSecond": 5}
    assert effective(topic, sub)["healthyRetryPolicy"]["numRetries"] == 1
    locked = json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 7}, "disableSubscriptionOverrides": True}})
    assert effective(locked, sub)["healthyRetryPolicy"]["numRetries"] == 7


@pytest.mark.parametrize("text", [
    "{", "[]", '{"healthyRetryPolicy": {"backoffFunction": "cubic"}}',
    '{"healthyRetryPolicy": {"minDelayTarget": 0}}', '{"healthyRetryPolicy": {"numRetries": 101}}',
    '{"healthyRetryPolicy": {"numRetries": 1, "numNoDelayRetries": 2}}',
    '{"throttlePolicy": {"maxReceivesPerSecond": 0}}',
])
def test_invalid_subscription_policies(text):
    with pytest.raises(DeliveryPolicyError):
        parse_subscription_policy(text)


def test_invalid_topic_policy():
    with pytest.raises(DeliveryPolicyError):
        parse_topic_policy('{"http": {"defaultHealthyRetryPolicy": {"maxDelayTarget": 4000}}}')
