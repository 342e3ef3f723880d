"""The Prometheus text the admin door serves, parsed back with prometheus_client's parser."""
from __future__ import annotations

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from broker.admin.metrics import BrokerCollector, registry
from tests.unit.test_admin_jolokia import STATS


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(stats=STATS, failures=None, connections=None) -> dict[tuple[str, tuple], float]:
    collector = BrokerCollector(lambda: stats, lambda: failures or {}, lambda: connections or {})
    return samples(generate_latest(registry(collector)).decode())


def test_per_queue_depth_bytes_window_and_totals():
    got = scrape()
    orders = (("kind", "queue"), ("queue", "orders"))
    assert got[("mqgate_queue_messages", orders)] == 6
    assert got[("mqgate_queue_bytes", orders)] == 600
    assert got[("mqgate_queue_memory_messages", orders)] == 6
    assert got[("mqgate_queue_paged_out_messages", orders)] == 0
    assert got[("mqgate_queue_producers_blocked", orders)] == 0
    assert got[("mqgate_queue_enqueued_total", orders)] == 10
    assert got[("mqgate_queue_dequeued_total", orders)] == 4
    assert got[("mqgate_queue_messages", (("kind", "subscription"), ("queue", "c1:sub")))] == 6
    assert got[("mqgate_topic_enqueued_total", (("topic", "events"),))] == 7
    assert got[("mqgate_memory_limit_bytes", ())] == 256


def test_login_failures_by_door_and_reason_and_connections_by_door():
    got = scrape(failures={("admin", "bad_password"): 2, ("stomp", "no_credentials"): 1},
                 connections={"stomp": 3, "openwire": 0})
    assert got[("mqgate_login_failures_total", (("door", "admin"), ("reason", "bad_password")))] == 2
    assert got[("mqgate_login_failures_total", (("door", "stomp"), ("reason", "no_credentials")))] == 1
    assert got[("mqgate_connections", (("door", "stomp"),))] == 3


def test_each_scrape_reads_the_broker_afresh():
    stats = {**STATS, "queues": {}}
    collector = BrokerCollector(lambda: stats, dict, dict)
    reg = registry(collector)
    assert b"orders" not in generate_latest(reg)
    stats["queues"] = STATS["queues"]
    assert b'queue="orders"' in generate_latest(reg)
