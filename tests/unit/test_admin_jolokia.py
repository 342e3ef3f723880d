"""Jolokia's request and response shapes over ActiveMQ's MBeans, without HTTP."""
from __future__ import annotations

import pytest

from broker.admin.jolokia import Agent, JolokiaError, ObjectName, mbeans, request_from_path, unescape_path

QUEUE = "org.apache.activemq:type=Broker,brokerName=localhost,destinationType=Queue,destinationName=orders"
CANONICAL = "org.apache.activemq:brokerName=localhost,destinationName=orders,destinationType=Queue,type=Broker"
BROKER = "org.apache.activemq:type=Broker,brokerName=localhost"


def queue_stats(**over):
    base = {"ready": 3, "delayed": 1, "inflight": 2, "in_memory": 6, "paged_out": 0, "memory_bytes": 60,
            "bytes": 600, "consumers": 1, "enqueued": 10, "dequeued": 4, "kind": "queue", "producers_blocked": 0}
    return {**base, **over}


STATS = {"memory_used": 64, "memory_limit": 256, "store_used": 0, "store_limit": 0,
         "queues": {"orders": queue_stats(), "c1:sub": queue_stats(kind="subscription", enqueued=2, dequeued=1)},
         "topics": {"events": {"enqueued": 7, "consumers": 1, "pending": 6, "producers_blocked": 0}}}


def agent() -> Agent:
    return Agent(lambda: mbeans(STATS, "localhost", "5.17.2", 61_000, 3), lambda: 1700000000.5)


def test_object_names_parse_and_print_canonically():
    name = ObjectName.parse(QUEUE)
    assert name.canonical() == CANONICAL and str(name) == QUEUE and not name.is_pattern
    assert ObjectName.parse("org.apache.activemq:type=Broker,*").is_pattern
    with pytest.raises(JolokiaError) as err:
        ObjectName.parse("no-colon")
    assert err.value.error_type == "javax.management.MalformedObjectNameException"


def test_patterns_select_by_key_values_and_trailing_star():
    pattern = ObjectName.parse("org.apache.activemq:type=Broker,brokerName=localhost,destinationType=Queue,destinationName=*")
    assert pattern.matches(ObjectName.parse(QUEUE))
    assert not pattern.matches(ObjectName.parse(BROKER))
    assert ObjectName.parse("org.apache.activemq:type=Broker,*").matches(ObjectName.parse(QUEUE))


def test_get_paths_use_jolokias_escapes():
    assert unescape_path("read/a:b=c!/d/Attr") == ["read", "a:b=c/d", "Attr"]
    assert unescape_path("read/x:y=z!!/A") == ["read", "x:y=z!", "A"]
    assert request_from_path(f"/read/{QUEUE}/QueueSize") == {"type": "read", "mbean": QUEUE, "attribute": "QueueSize"}
    assert request_from_path("") == {"type": "version"}


def test_reading_one_attribute_echoes_the_request_in_canonical_form():
    answer = agent().handle({"type": "read", "mbean": QUEUE, "attribute": "QueueSize"})
    assert answer == {"request": {"type": "read", "mbean": CANONICAL, "attribute": "QueueSize"},
                      "value": 6, "timestamp": 1700000000, "status": 200}


def test_queue_attributes_are_activemqs():
    value = agent().handle({"type": "read", "mbean": QUEUE})["value"]
    assert value["QueueSize"] == 6 and value["ConsumerCount"] == 1 and value["InFlightCount"] == 2
    assert value["EnqueueCount"] == 10 and value["DequeueCount"] == 4 and value["MemoryPercentUsage"] == 23
    assert value["Name"] == "orders" and value["AverageMessageSize"] == 100


def test_broker_mbean_totals_every_queue_and_lists_destinations():
    value = agent().handle({"type": "read", "mbean": BROKER})["value"]
    assert value["TotalMessageCount"] == 12 and value["TotalConsumerCount"] == 2
    assert value["TotalEnqueueCount"] == 17 and value["TotalDequeueCount"] == 5
    assert value["MemoryPercentUsage"] == 25 and value["CurrentConnectionsCount"] == 3
    assert value["Queues"] == [{"objectName": CANONICAL}] and value["Uptime"] == "1 minute"
    assert value["Topics"] == [{"objectName": CANONICAL.replace("orders", "events").replace("Queue", "Topic")}]


def test_unknown_mbean_and_attribute_answer_jolokias_404():
    missing = agent().handle({"type": "read", "mbean": QUEUE.replace("orders", "nope"), "attribute": "QueueSize"})
    assert missing["status"] == 404 and "value" not in missing
    assert missing["error_type"] == "javax.management.InstanceNotFoundException"
    assert missing["error"] == "javax.management.InstanceNotFoundException : " + QUEUE.replace("orders", "nope")
    attr = agent().handle({"type": "read", "mbean": QUEUE, "attribute": "Nope"})
    assert attr["status"] == 404 and attr["error_type"] == "javax.management.AttributeNotFoundException"


def test_pattern_reads_answer_by_mbean_name():
    pattern = "org.apache.activemq:type=Broker,brokerName=localhost,destinationType=*,destinationName=*"
    value = agent().handle({"type": "read", "mbean": pattern, "attribute": "EnqueueCount"})["value"]
    assert value == {CANONICAL: {"EnqueueCount": 10},
                     CANONICAL.replace("orders", "events").replace("Queue", "Topic"): {"EnqueueCount": 7}}


def test_bulk_search_version_and_unsupported_types():
    answers = agent().handle_all([{"type": "version"}, {"type": "search", "mbean": "org.apache.activemq:*"},
                                  {"type": "exec", "mbean": BROKER, "operation": "stop"}])
    assert answers[0]["value"]["agent"] and answers[0]["status"] == 200
    assert BROKER.replace("type=Broker,brokerName=localhost", "brokerName=localhost,type=Broker") in answers[1]["value"]
    assert answers[2]["status"] == 400 and "value" not in answers[2]
