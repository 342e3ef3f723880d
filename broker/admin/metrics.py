"""Prometheus metrics read from the broker at scrape time.

Nothing here counts anything: a scrape asks `Broker.stats()`, `Security.login_failures()`
and the doors' connection counts and renders what they say, so a number has one owner
and cannot drift from the one the broker acts on.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

# (stats key, metric name, help): per stored or in-memory queue, labelled queue and kind.
QUEUE_GAUGES = (
    ("depth", "mqgate_queue_messages", "Messages in the queue: ready, delayed and in flight"),
    ("ready", "mqgate_queue_ready_messages", "Messages ready for delivery"),
    ("delayed", "mqgate_queue_delayed_messages", "Messages not deliverable yet (delay, schedule, visibility)"),
    ("inflight", "mqgate_queue_inflight_messages", "Messages delivered and not yet acknowledged"),
    ("bytes", "mqgate_queue_bytes", "Bytes of message bodies in the queue"),
    ("in_memory", "mqgate_queue_memory_messages", "Messages of the queue held in memory (its window)"),
    ("memory_bytes", "mqgate_queue_memory_bytes", "Bytes of message bodies held in memory"),
    ("paged_out", "mqgate_queue_paged_out_messages", "Ready messages kept on disk only, read a page at a time"),
    ("consumers", "mqgate_queue_consumers", "Consumers attached"),
    ("producers_blocked", "mqgate_queue_producers_blocked", "Senders waiting for room (producer flow control)"),
)
QUEUE_COUNTERS = (
    ("enqueued", "mqgate_queue_enqueued", "Messages accepted since start"),
    ("dequeued", "mqgate_queue_dequeued", "Messages consumed (acknowledged) since start"),
)


class BrokerCollector(Collector):
    """A custom collector: `collect()` builds every family from one stats snapshot."""

    def __init__(self, stats: Callable[[], dict[str, Any]], login_failures: Callable[[], dict[tuple[str, str], int]],
                 connections: Callable[[], dict[str, int]]) -> None:
        self.stats = stats
        self.login_failures = login_failures
        self.connections = connections

    def collect(self) -> Iterator[Metric]:
        stats = self.stats()
        yield from queue_families(stats["queues"])
        yield from topic_families(stats.get("topics", {}))
        for key, name, text in (("memory_used", "mqgate_memory_used_bytes", "Message content in memory, all queues"),
                                ("memory_limit", "mqgate_memory_limit_bytes", "The memory limit (0: none)"),
                                ("store_used", "mqgate_store_used_bytes", "Bytes the store holds (measured with a store limit)"),
                                ("store_limit", "mqgate_store_limit_bytes", "The store limit (0: none)")):
            yield GaugeMetricFamily(name, text, value=stats[key])
        failures = CounterMetricFamily("mqgate_login_failures", "Refused logins since start",
                                       labels=["door", "reason"])
        for (door, reason), count in sorted(self.login_failures().items()):
            failures.add_metric([door, reason], count)
        yield failures
        connections = GaugeMetricFamily("mqgate_connections", "Open client connections", labels=["door"])
        for door, count in sorted(self.connections().items()):
            connections.add_metric([door], count)
        yield connections


def queue_families(queues: dict[str, dict[str, Any]]) -> Iterator[Metric]:
    labels = ["queue", "kind"]
    gauges = [GaugeMetricFamily(name, text, labels=labels) for _, name, text in QUEUE_GAUGES]
    counters = [CounterMetricFamily(name, text, labels=labels) for _, name, text in QUEUE_COUNTERS]
    for name, q in sorted(queues.items()):
        values = {**q, "depth": q["ready"] + q["delayed"] + q["inflight"]}
        key = [name, q.get("kind", "queue")]
        for (stat, _, _), family in zip(QUEUE_GAUGES, gauges):
            family.add_metric(key, values[stat])
        for (stat, _, _), counter in zip(QUEUE_COUNTERS, counters):
            counter.add_metric(key, values[stat])
    yield from gauges
    yield from counters


def topic_families(topics: dict[str, dict[str, Any]]) -> Iterator[Metric]:
    subscriptions = GaugeMetricFamily("mqgate_topic_subscriptions", "Subscriptions of the topic", labels=["topic"])
    pending = GaugeMetricFamily("mqgate_topic_pending_messages",
                                "Messages its subscriptions hold, not yet consumed", labels=["topic"])
    blocked = GaugeMetricFamily("mqgate_topic_producers_blocked",
                                "Senders waiting for room (producer flow control)", labels=["topic"])
    published = CounterMetricFamily("mqgate_topic_enqueued", "Messages published since start", labels=["topic"])
    for name, t in sorted(topics.items()):
        subscriptions.add_metric([name], t["consumers"])
        pending.add_metric([name], t["pending"])
        blocked.add_metric([name], t["producers_blocked"])
        published.add_metric([name], t["enqueued"])
    yield from (subscriptions, pending, blocked, published)


def registry(collector: BrokerCollector) -> CollectorRegistry:
    """A registry of its own (not the process-wide default), holding only the broker's metrics."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector)
    return reg
