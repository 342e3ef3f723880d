"""The data structure an advisory message carries for a JMS client, built from the
engine's advisory facts: what ActiveMQ's AdvisorySupport, DestinationSource and
ConsumerEventSource read with `getDataStructure()`."""
from __future__ import annotations

from broker.protocols.activemq import advisories as a
from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import Struct

_KINDS = {"queue": s.QUEUE, "topic": s.TOPIC, "temp-queue": s.TEMP_QUEUE, "temp-topic": s.TEMP_TOPIC}


def _destination(qualified: str) -> Struct:
    kind, _, name = qualified.partition("://")
    return Struct(_KINDS.get(kind, s.QUEUE), physical_name=name)


def _client_id(code: int, text: str) -> Struct:
    """A consumer or producer id "<connection id>:<session>:<value>" (the connection id has
    colons of its own)."""
    parts = text.rsplit(":", 2)
    if len(parts) == 3 and all(part.lstrip("-").isdigit() for part in parts[1:]):
        return Struct(code, connection_id=parts[0], session_id=int(parts[1]), value=int(parts[2]))
    return Struct(code, connection_id=text, session_id=0, value=0)


def data_structure(h: dict[str, str]) -> Struct:
    """The DestinationInfo, ConsumerInfo, ProducerInfo, ConnectionInfo, RemoveInfo or
    message an advisory message is about."""
    about = h.get(a.MESSAGE_HEADER)
    if about is not None:
        # An Expired / MessageDLQd advisory: the message itself, as it was sent.
        from broker.protocols.openwire.convert import to_openwire   # convert imports this module
        message = a.message_of(about)
        out = to_openwire(message, _destination(h[a.DESTINATION_HEADER]), 0, message.timestamp)
        out["content"] = None        # its body cleared, as ActiveMQ's (getText() is null)
        return out
    added = h[a.OPERATION_HEADER] == a.ADD
    base = {"command_id": 0, "response_required": False}
    consumer, producer, connection = h.get(a.CONSUMER_HEADER), h.get(a.PRODUCER_HEADER), h.get(a.CONNECTION_HEADER)
    if consumer is not None:
        cid = _client_id(s.CONSUMER_ID, consumer)
        if not added:
            return Struct(s.REMOVE_INFO, **base, object_id=cid, last_delivered_sequence_id=0)
        return Struct(s.CONSUMER_INFO, **base, consumer_id=cid, browser=False,
                      destination=_destination(h[a.DESTINATION_HEADER]),
                      prefetch_size=int(h.get(a.PREFETCH_HEADER, "0")), maximum_pending_message_limit=0,
                      dispatch_async=True, selector=h.get(a.SELECTOR_HEADER), priority=0)
    if producer is not None:
        pid = _client_id(s.PRODUCER_ID, producer)
        if not added:
            return Struct(s.REMOVE_INFO, **base, object_id=pid, last_delivered_sequence_id=0)
        return Struct(s.PRODUCER_INFO, **base, producer_id=pid, destination=_destination(h[a.DESTINATION_HEADER]))
    if connection is not None:
        conn = Struct(s.CONNECTION_ID, value=connection)
        if not added:
            return Struct(s.REMOVE_INFO, **base, object_id=conn, last_delivered_sequence_id=0)
        return Struct(s.CONNECTION_INFO, **base, connection_id=conn, client_id=h.get(a.CLIENT_ID_HEADER),
                      user_name=h.get(a.USER_HEADER))
    named = h.get(a.DESTINATION_HEADER)
    if named is not None:
        destination = _destination(named)
    else:
        topic = h.get(a.TEMP_TOPIC_HEADER)
        destination = Struct(s.TEMP_TOPIC if topic is not None else s.TEMP_QUEUE,
                             physical_name=topic if topic is not None else h.get(a.TEMP_QUEUE_HEADER, ""))
    return Struct(s.DESTINATION_INFO, **base, connection_id=None, destination=destination,
                  operation_type=0 if added else 1, timeout=0, broker_path=None)
