"""ActiveMQ's temporary-destination advisories, as engine messages on the advisory topics.

A JMS client refuses to send to a temporary destination it has not seen announced on
`ActiveMQ.Advisory.TempQueue` / `ActiveMQ.Advisory.TempTopic`, so every door that makes or
deletes one publishes the event, and a new advisory subscriber is told which exist.
"""
from __future__ import annotations

import itertools
from typing import Any
from weakref import WeakKeyDictionary

from broker.engine.message import Message

TEMP_QUEUE_TOPIC = "ActiveMQ.Advisory.TempQueue"
TEMP_TOPIC_TOPIC = "ActiveMQ.Advisory.TempTopic"
ADVISORY_PREFIX = "ActiveMQ.Advisory."
# Engine headers of an advisory message (the OpenWire door renders them as DestinationInfo).
TEMP_QUEUE_HEADER = "advisory-temp-queue"
TEMP_TOPIC_HEADER = "advisory-temp-topic"
OPERATION_HEADER = "advisory-operation"
ADD, REMOVE = "add", "remove"

_ids = itertools.count(1)


def temp_destination_message(name: str, is_topic: bool, added: bool, origin: str,
                             broker_name: str) -> Message:
    headers = {"amq-msg-type": "message", "type": "Advisory",
               TEMP_TOPIC_HEADER if is_topic else TEMP_QUEUE_HEADER: name,
               OPERATION_HEADER: ADD if added else REMOVE}
    return Message(message_id=f"ID:{broker_name}-advisory:-1:1:{next(_ids)}", body=b"",
                   properties={"originBrokerName": broker_name, "originConnectionId": origin},
                   headers=headers, persistent=False, priority=0)


def announce_temp_destination(broker: Any, name: str, is_topic: bool, added: bool, origin: str,
                              broker_name: str) -> None:
    """Publish the creation or deletion of a temporary destination."""
    topic = TEMP_TOPIC_TOPIC if is_topic else TEMP_QUEUE_TOPIC
    broker.publish(topic, temp_destination_message(name, is_topic, added, origin, broker_name))


def live_temp_queues(broker: Any) -> list[str]:
    """Temporary queues that exist now (in-memory queues made by a connection)."""
    return [name for name, queue in broker.queues.items() if not queue.durable]


# Temporary topics are only names to the engine: the doors keep, per broker, which exist.
_TEMP_TOPICS: "WeakKeyDictionary[Any, set[str]]" = WeakKeyDictionary()


def live_temp_topics(broker: Any) -> set[str]:
    found = _TEMP_TOPICS.get(broker)
    if found is None:
        found = _TEMP_TOPICS[broker] = set()
    return found


def temp_topic_added(broker: Any, name: str, origin: str, broker_name: str) -> None:
    topics = live_temp_topics(broker)
    if name not in topics:
        topics.add(name)
        announce_temp_destination(broker, name, True, True, origin, broker_name)


def temp_topic_removed(broker: Any, name: str, origin: str, broker_name: str) -> None:
    topics = live_temp_topics(broker)
    if name in topics:
        topics.discard(name)
        announce_temp_destination(broker, name, True, False, origin, broker_name)
