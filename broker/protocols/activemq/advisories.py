"""ActiveMQ's advisories, as engine messages on the advisory topics.

A JMS client refuses to send to a temporary destination it has not seen announced on
`ActiveMQ.Advisory.TempQueue` / `ActiveMQ.Advisory.TempTopic`, so every door that makes or
deletes one publishes the event. Named destinations are announced on
`ActiveMQ.Advisory.Queue` / `.Topic` (what a JMS `DestinationSource` lists), consumers on
`ActiveMQ.Advisory.Consumer.Queue.<name>` / `.Topic.<name>` with a `consumerCount`,
producers on `ActiveMQ.Advisory.Producer.*` with a `producerCount`, connections on
`ActiveMQ.Advisory.Connection`, a message that expired on `ActiveMQ.Advisory.Expired.Queue.<name>`
/ `.Topic.<name>` and one moved to a dead-letter destination on
`ActiveMQ.Advisory.MessageDLQd.Queue.<name>` / `.Topic.<name>` (as ActiveMQ's AdvisoryBroker
sends them by default: the message, without its body, as the data structure). A new advisory subscriber is first told what exists, as
ActiveMQ's AdvisoryBroker does. The facts travel as engine headers; each door renders them
(OpenWire: the DestinationInfo, ConsumerInfo, ProducerInfo, ConnectionInfo or RemoveInfo
the message carries). Nothing is built for an advisory topic nobody listens to.
"""
from __future__ import annotations

import itertools
import json
from typing import Any
from weakref import WeakKeyDictionary

from broker.engine.message import DeadLetter, Message
from broker.engine.queue import EXPIRED_CAUSE
from broker.protocols.activemq import destinations as dest
from broker.protocols.activemq.per_broker import PerBroker

TEMP_QUEUE_TOPIC = "ActiveMQ.Advisory.TempQueue"
TEMP_TOPIC_TOPIC = "ActiveMQ.Advisory.TempTopic"
QUEUE_TOPIC = "ActiveMQ.Advisory.Queue"
TOPIC_TOPIC = "ActiveMQ.Advisory.Topic"
CONNECTION_TOPIC = "ActiveMQ.Advisory.Connection"
CONSUMER_PREFIX = "ActiveMQ.Advisory.Consumer."
PRODUCER_PREFIX = "ActiveMQ.Advisory.Producer."
EXPIRED_PREFIX = "ActiveMQ.Advisory.Expired."
DLQ_PREFIX = "ActiveMQ.Advisory.MessageDLQd."
ADVISORY_PREFIX = "ActiveMQ.Advisory."
# Engine headers of an advisory message: what it is about and whether it came or went.
TEMP_QUEUE_HEADER = "advisory-temp-queue"
TEMP_TOPIC_HEADER = "advisory-temp-topic"
DESTINATION_HEADER = "advisory-destination"      # "queue://x" / "topic://x"
CONSUMER_HEADER = "advisory-consumer"            # "<connection id>:<session>:<value>"
PRODUCER_HEADER = "advisory-producer"
CONNECTION_HEADER = "advisory-connection"        # the connection id
CLIENT_ID_HEADER = "advisory-client-id"
USER_HEADER = "advisory-user"
SELECTOR_HEADER = "advisory-selector"
PREFETCH_HEADER = "advisory-prefetch"
OPERATION_HEADER = "advisory-operation"
# The message an Expired / MessageDLQd advisory is about: its store row without the body,
# as JSON (`message_of` reads it back).
MESSAGE_HEADER = "advisory-message"
ORIGINAL_MESSAGE_ID = "orignalMessageId"      # sic: ActiveMQ's property name
ADD, REMOVE = "add", "remove"

_ids = itertools.count(1)


def _advisory(facts: dict[str, str], added: bool, origin: str, broker_name: str,
              counts: dict[str, int] | None = None) -> Message:
    headers = {"amq-msg-type": "message", "type": "Advisory", **facts,
               OPERATION_HEADER: ADD if added else REMOVE}
    properties: dict[str, str | bytes] = {"originBrokerName": broker_name, "originConnectionId": origin}
    types = None
    if counts:
        properties.update((k, str(v)) for k, v in counts.items())
        types = {k: "int" for k in counts}
    return Message(message_id=f"ID:{broker_name}-advisory:-1:1:{next(_ids)}", body=b"",
                   properties=properties, types=types, headers=headers, persistent=False, priority=0)


def temp_destination_message(name: str, is_topic: bool, added: bool, origin: str,
                             broker_name: str) -> Message:
    return _advisory({TEMP_TOPIC_HEADER if is_topic else TEMP_QUEUE_HEADER: name}, added, origin, broker_name)




# -- named destinations ----------------------------------------------------------------------
_INSTALLED: "WeakKeyDictionary[Any, str]" = WeakKeyDictionary()


def install(broker: Any, broker_name: str) -> None:
    """Announce the broker's named queues and topics as they come and go (once per
    broker, whichever ActiveMQ door starts first)."""
    if broker in _INSTALLED:
        return
    _INSTALLED[broker] = broker_name

    def changed(kind: str, name: str, added: bool) -> None:
        topic = QUEUE_TOPIC if kind == "queue" else TOPIC_TOPIC
        if name.startswith(ADVISORY_PREFIX) or name in live_temp_topics(broker):
            return
        if not broker.has_subscribers(topic):
            return
        broker.publish(topic, _advisory({DESTINATION_HEADER: f"{kind}://{name}"}, added, "", broker_name))
    broker.destination_listeners.append(changed)

    def dead(facts: DeadLetter, message: Message, moved: bool) -> None:
        if facts.name.startswith(ADVISORY_PREFIX):
            return
        kind = "Topic" if facts.kind == "topic" else "Queue"
        if facts.cause == EXPIRED_CAUSE:
            _message_advisory(broker, f"{EXPIRED_PREFIX}{kind}.{facts.name}", facts, message, broker_name,
                              {ORIGINAL_MESSAGE_ID: message.message_id})
        if moved:
            _message_advisory(broker, f"{DLQ_PREFIX}{kind}.{facts.name}", facts, message, broker_name)
    broker.dead_letter_listeners.append(dead)


def _message_advisory(broker: Any, topic: str, facts: DeadLetter, message: Message, broker_name: str,
                      properties: dict[str, str] | None = None) -> None:
    """An advisory about one message (expired, dead-lettered), for those who listen."""
    if not broker.has_subscribers(topic):
        return
    row = message.to_row(0)
    del row["body"], row["dest_id"], row["seq"]
    advisory = _advisory({DESTINATION_HEADER: f"{facts.kind}://{facts.name}",
                          MESSAGE_HEADER: json.dumps(row, separators=(",", ":"))}, True, "", broker_name)
    if properties:
        advisory.properties.update(properties)
    broker.publish(topic, advisory)


def message_of(header: str) -> Message:
    """The message an advisory's MESSAGE_HEADER describes (with an empty body)."""
    return Message.from_row({**json.loads(header), "body": b"", "seq": 0})


# -- consumers, producers, connections ------------------------------------------------------
class _Registry:
    """The advisory facts of the live consumers, producers and connections, per broker."""

    def __init__(self) -> None:
        self.by_topic: dict[str, dict[str, dict[str, str]]] = {}   # advisory topic -> key -> facts

    def add(self, topic: str, key: str, facts: dict[str, str]) -> int:
        members = self.by_topic.setdefault(topic, {})
        members[key] = facts
        return len(members)

    def remove(self, topic: str, key: str) -> int | None:
        members = self.by_topic.get(topic)
        if members is None or members.pop(key, None) is None:
            return None
        if not members:
            del self.by_topic[topic]
        return len(members)

    def members(self, topic: str) -> list[dict[str, str]]:
        return list(self.by_topic.get(topic, {}).values())


_registry: PerBroker[_Registry] = PerBroker(_Registry)


# How ActiveMQ names each kind of destination in an advisory topic.
_TYPE_NAMES = {"queue": "Queue", "topic": "Topic", "temp-queue": "TempQueue", "temp-topic": "TempTopic"}


def kind_of(d: dest.Destination) -> str:
    """"queue", "topic", "temp-queue" or "temp-topic": the kind advisories give `d`."""
    base = "topic" if d.is_topic else "queue"
    temp = d.kind in (dest.TEMP_QUEUE, dest.TEMP_TOPIC, dest.REMOTE_TEMP_QUEUE, dest.REMOTE_TEMP_TOPIC)
    return "temp-" + base if temp else base


def _client_topic(prefix: str, kind: str, name: str) -> str | None:
    """The advisory topic of a destination's consumers or producers (None for an advisory
    topic itself: ActiveMQ does not advise on advisory consumers)."""
    if name.startswith(ADVISORY_PREFIX):
        return None
    return f"{prefix}{_TYPE_NAMES[kind]}.{name}"


def _count_name(topic: str) -> str:
    return "consumerCount" if topic.startswith(CONSUMER_PREFIX) else "producerCount"


def _changed(broker: Any, topic: str | None, key: str, facts: dict[str, str] | None, origin: str,
             broker_name: str) -> None:
    if topic is None:
        return
    registry = _registry(broker)
    count = registry.add(topic, key, facts) if facts is not None else registry.remove(topic, key)
    if count is None or not broker.has_subscribers(topic):
        return
    header = CONSUMER_HEADER if topic.startswith(CONSUMER_PREFIX) else PRODUCER_HEADER
    counts = {_count_name(topic): count} if topic != CONNECTION_TOPIC else None
    broker.publish(topic, _advisory(facts or {header: key}, facts is not None, origin, broker_name, counts))


def consumer_changed(broker: Any, kind: str, name: str, consumer_id: str, added: bool, origin: str,
                     broker_name: str, selector: str | None = None, prefetch: int = 0) -> None:
    """A consumer of `name` (of a `kind_of` kind) came (added) or went."""
    facts = None
    if added:
        facts = {CONSUMER_HEADER: consumer_id, DESTINATION_HEADER: f"{kind}://{name}",
                 PREFETCH_HEADER: str(prefetch)}
        if selector:
            facts[SELECTOR_HEADER] = selector
    _changed(broker, _client_topic(CONSUMER_PREFIX, kind, name), consumer_id, facts, origin, broker_name)


def producer_changed(broker: Any, kind: str, name: str, producer_id: str, added: bool, origin: str,
                     broker_name: str) -> None:
    """A producer for `name` (of a `kind_of` kind) came (added) or went."""
    facts = {PRODUCER_HEADER: producer_id, DESTINATION_HEADER: f"{kind}://{name}"} if added else None
    _changed(broker, _client_topic(PRODUCER_PREFIX, kind, name), producer_id, facts, origin, broker_name)


def connection_changed(broker: Any, connection_id: str, added: bool, broker_name: str,
                       client_id: str | None = None, user: str | None = None) -> None:
    """A client connection was accepted (added) or ended."""
    facts = None
    if added:
        facts = {CONNECTION_HEADER: connection_id, CLIENT_ID_HEADER: client_id or connection_id}
        if user:
            facts[USER_HEADER] = user
    registry = _registry(broker)
    if facts is not None:
        registry.add(CONNECTION_TOPIC, connection_id, facts)
    elif registry.remove(CONNECTION_TOPIC, connection_id) is None:
        return
    if broker.has_subscribers(CONNECTION_TOPIC):
        broker.publish(CONNECTION_TOPIC, _advisory(facts or {CONNECTION_HEADER: connection_id},
                                                   added, connection_id, broker_name))


def replay(broker: Any, topic: str, queue: Any, broker_name: str) -> None:
    """Tell a new subscriber of the advisory topic `topic` what exists now."""
    if topic in (TEMP_QUEUE_TOPIC, TEMP_TOPIC_TOPIC):
        is_topic = topic == TEMP_TOPIC_TOPIC
        names = list(live_temp_topics(broker)) if is_topic else live_temp_queues(broker)
        for name in names:
            queue.enqueue(temp_destination_message(name, is_topic, True, "", broker_name))
    elif topic == QUEUE_TOPIC:
        for name, q in list(broker.queues.items()):
            if q.durable and not name.startswith(ADVISORY_PREFIX):
                queue.enqueue(_advisory({DESTINATION_HEADER: f"queue://{name}"}, True, "", broker_name))
    elif topic == TOPIC_TOPIC:
        temps = live_temp_topics(broker)
        for name in list(broker.topics):
            if not name.startswith(ADVISORY_PREFIX) and name not in temps:
                queue.enqueue(_advisory({DESTINATION_HEADER: f"topic://{name}"}, True, "", broker_name))
    elif topic == CONNECTION_TOPIC or topic.startswith((CONSUMER_PREFIX, PRODUCER_PREFIX)):
        members = _registry(broker).members(topic)
        counts = None if topic == CONNECTION_TOPIC else {_count_name(topic): len(members)}
        for facts in members:
            queue.enqueue(_advisory(facts, True, "", broker_name, counts))


def announce_temp_destination(broker: Any, name: str, is_topic: bool, added: bool, origin: str,
                              broker_name: str) -> None:
    """Publish the creation or deletion of a temporary destination."""
    topic = TEMP_TOPIC_TOPIC if is_topic else TEMP_QUEUE_TOPIC
    broker.publish(topic, temp_destination_message(name, is_topic, added, origin, broker_name))


def live_temp_queues(broker: Any) -> list[str]:
    """Temporary queues that exist now (in-memory queues made by a connection)."""
    return [name for name, queue in broker.queues.items() if not queue.durable]


# Temporary topics are only names to the engine: the doors keep, per broker, which exist.
live_temp_topics: PerBroker[set[str]] = PerBroker(set)


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
