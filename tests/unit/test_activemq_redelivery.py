"""Redelivery policies: which one applies to a queue, and the delays they give."""
from __future__ import annotations

from broker.protocols.activemq.redelivery import RedeliveryPolicies, RedeliveryPolicy


def test_exact_name_beats_wildcards_and_the_longest_wildcard_wins() -> None:
    policies = RedeliveryPolicies({">": {"maximum_redeliveries": 1}, "orders.>": {"maximum_redeliveries": 2},
                                   "orders.eu": {"maximum_redeliveries": 3}})
    assert policies.for_queue("orders.eu").maximum_redeliveries == 3
    assert policies.for_queue("orders.us").maximum_redeliveries == 2
    assert policies.for_queue("billing").maximum_redeliveries == 1
    assert RedeliveryPolicies({}).for_queue("x") is None and not RedeliveryPolicies({})


def test_delays_with_and_without_back_off() -> None:
    flat = RedeliveryPolicy(initial_redelivery_delay=100, redelivery_delay=500)
    assert [flat.delay(n) for n in (1, 2, 3)] == [100, 500, 500]
    growing = RedeliveryPolicy(initial_redelivery_delay=100, use_exponential_back_off=True, back_off_multiplier=3)
    assert [growing.delay(n) for n in (1, 2, 3)] == [100, 300, 900]
