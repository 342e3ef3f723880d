"""A dispatch encoded straight from the engine message (`convert.dispatch_frame`, no nested
struct built) gives the same frame as the general path: the message converted
(`to_openwire`) and encoded (`encode_dispatch`), for every kind of message, header and
property, every protocol version and any delivery state."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from broker.engine.message import DeadLetter, Message
from broker.protocols.activemq import advisories
from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import (MAX_VERSION, FrameParser, Struct, dispatch_head, encode_dispatch,
                                             encode_object)
from broker.protocols.openwire.convert import KIND_HEADER, dispatch_frame, to_openwire

TEXT = st.text(max_size=12)
MESSAGE_IDS = st.one_of(
    st.builds(lambda c, sess, v, seq: f"ID:{c}:{sess}:{v}:{seq}", st.sampled_from(["host-1-2-1:1", "x"]),
              st.integers(0, 5), st.integers(0, 5), st.integers(0, 2 ** 40)),
    st.sampled_from(["ID:a:1:1: 5", "ID:a:1:1:+5", "ID:a:1:1:\u0663", "ID:a:1:1:1_0", "ID:a:x:1:5",
                     "ID:a:1:1:", ":5", "a:b:c"]),
    TEXT, st.uuids().map(str))
HEADERS = st.dictionaries(
    st.sampled_from(["correlation-id", "type", "reply-to", "JMSXGroupSeq", "original-destination",
                     "scheduledJobId", "redeliveryDelay", "originalExpiration", KIND_HEADER,
                     "dlqDeliveryFailureCause", "AWSTraceHeader"]),
    st.one_of(TEXT, st.sampled_from(["/queue/a", "/topic/b,/queue/c", "/remote-temp-queue/ID:x:1:1",
                                     "bytes", "map", "stream", "message", "text", "12", "-3"])),
    max_size=5)
PROPERTIES = st.dictionaries(st.text(min_size=1, max_size=6), st.one_of(TEXT, st.binary(max_size=8)),
                             max_size=3)
TYPES = st.one_of(st.none(), st.dictionaries(st.text(min_size=1, max_size=6),
                                             st.sampled_from(["long", "int", "boolean", "double", "Number",
                                                              "String.custom", "map"]), max_size=3))
DEAD = st.one_of(st.none(), st.builds(DeadLetter, st.sampled_from(["queue", "topic"]), TEXT,
                                      st.sampled_from(["Expired", "gave up", ""]), st.integers(0, 2 ** 41),
                                      st.booleans()))
MESSAGES = st.builds(
    lambda mid, body, props, types, headers, persistent, priority, ts, expires, group, count, dead: Message(
        mid, body, props, types, headers, persistent, priority, ts, expires, group, delivery_count=count,
        dead_letter=dead),
    MESSAGE_IDS, st.binary(max_size=64), PROPERTIES, TYPES, HEADERS, st.booleans(), st.integers(0, 9),
    st.integers(0, 2 ** 42), st.integers(0, 2 ** 42), st.one_of(st.none(), TEXT), st.integers(0, 7), DEAD)
DESTINATIONS = st.builds(lambda code, name: Struct(code, physical_name=name),
                         st.sampled_from(sorted(s.DESTINATIONS)), st.text(min_size=1, max_size=10))


@settings(max_examples=400, deadline=None)
@given(MESSAGES, DESTINATIONS, st.integers(1, MAX_VERSION), st.integers(0, 2 ** 40), st.integers(0, 2 ** 42))
def test_the_direct_dispatch_is_the_general_one(message: Message, destination: Struct, version: int,
                                                seq: int, now: int) -> None:
    _dispatched_as_the_general_way(message, destination, version, seq, now)


def _dispatched_as_the_general_way(message: Message, destination: Struct, version: int, seq: int,
                                   now: int) -> None:
    consumer_id = Struct(s.CONSUMER_ID, connection_id="ID:c-1:1", session_id=1, value=3)
    head = dispatch_head(consumer_id, destination, version)
    nested = to_openwire(message, destination, seq, now)
    expected = encode_dispatch(head, nested, nested.redelivery_counter, version)
    assert dispatch_frame(message, destination, head, seq, now, version) == expected
    # A consumer's own destination comes encoded once (OpenWireConsumer.send).
    encoded = encode_object(destination, version)
    assert dispatch_frame(message, destination, head, seq, now, version, encoded) == expected


# Most messages: a JMS producer's without properties, nor headers but its kind (a text
# message's is absent), dispatched the short way (`convert._plain_frame`).
PLAIN_MESSAGES = st.builds(
    lambda mid, body, kind, persistent, priority, ts, expires, count: Message(
        mid, body, {}, None, {} if kind is None else {KIND_HEADER: kind}, persistent, priority, ts, expires,
        delivery_count=count),
    MESSAGE_IDS, st.binary(max_size=64), st.sampled_from([None, "bytes", "map", "stream", "text", "x"]),
    st.booleans(), st.integers(0, 9), st.integers(0, 2 ** 42), st.integers(0, 2 ** 42), st.integers(0, 7))


@settings(max_examples=300, deadline=None)
@given(PLAIN_MESSAGES, DESTINATIONS, st.integers(1, MAX_VERSION), st.integers(0, 2 ** 40), st.integers(0, 2 ** 42))
def test_a_plain_message_is_dispatched_as_the_general_way_does(message: Message, destination: Struct,
                                                               version: int, seq: int, now: int) -> None:
    _dispatched_as_the_general_way(message, destination, version, seq, now)


def test_an_advisory_keeps_its_data_structure() -> None:
    """Advisories (ActiveMQMessage with a data structure) go through the general path."""
    message = Message("ID:a:1:1:1", b"", {}, None,
                      {KIND_HEADER: "message", advisories.OPERATION_HEADER: "add"})
    destination = Struct(s.TOPIC, physical_name="ActiveMQ.Advisory.Queue")
    head = dispatch_head(Struct(s.CONSUMER_ID, connection_id="ID:c-1:1", session_id=1, value=3),
                         destination, MAX_VERSION)
    frame = dispatch_frame(message, destination, head, 5, 1000, MAX_VERSION)
    nested = to_openwire(message, destination, 5, 1000)
    assert frame == encode_dispatch(head, nested, 0, MAX_VERSION)
    assert dispatch_frame(message, destination, head, 5, 1000, MAX_VERSION,
                          encode_object(destination, MAX_VERSION)) == frame
    (dispatch,) = FrameParser().feed(frame)
    assert dispatch.message.type == s.MESSAGE and dispatch.message.message_id.broker_sequence_id == 5
