"""The OpenWire protocol fed hostile input in-process: whatever arrives, nothing escapes
dataReceived, a bad connection is aborted, and the engine keeps serving others."""
from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from broker.config import Config
from broker.engine.broker import Broker
from broker.protocols.activemq.scheduling import JOB_ID
from broker.protocols.openwire import convert
from broker.protocols.openwire import primitives as p
from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import FrameParser, Struct, encode
from broker.protocols.openwire.convert import text_content
from broker.protocols.openwire.factory import OpenWireFactory
from broker.protocols.stomp import convert as stomp_convert
from tests.unit.engine_support import MemoryStore, restart
from tests.unit.test_openwire_codec import OBSERVED

CONN = "ID:unit-1:1"
PRODUCER = Struct(s.PRODUCER_ID, connection_id=CONN, value=1, session_id=1)


def connected(factory: OpenWireFactory) -> tuple[object, StringTransport]:
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(encode(Struct(s.WIRE_FORMAT_INFO, version=12,
                                        marshalled_properties=p.encode_map({}))))
    return protocol, transport


def logged_in() -> tuple[Broker, Any, StringTransport]:
    """A broker on a clock of its own, and a connection that sent its ConnectionInfo."""
    clock = Clock()
    broker = Broker(None, clock)
    protocol, transport = connected(OpenWireFactory(broker, Config(), clock))
    protocol.dataReceived(encode(Struct(s.CONNECTION_INFO, command_id=1, response_required=True,
                                        connection_id=Struct(s.CONNECTION_ID, value=CONN))))
    return broker, protocol, transport


def text(seq: int, body: str, rr: bool = True) -> bytes:
    return encode(Struct(s.TEXT_MESSAGE, command_id=seq, response_required=rr, producer_id=PRODUCER,
                         destination=Struct(s.QUEUE, physical_name="unit.q"),
                         message_id=Struct(s.MESSAGE_ID, producer_id=PRODUCER, producer_sequence_id=seq),
                         persistent=False, priority=4, content=text_content(body)))


def replies(transport: StringTransport) -> list[Struct]:
    return [c for c in FrameParser().feed(transport.value()) if c is not None]


def test_handshake_and_send_are_answered() -> None:
    factory = OpenWireFactory(Broker(None, Clock()), Config(), Clock())
    protocol, transport = connected(factory)
    protocol.dataReceived(encode(Struct(s.CONNECTION_INFO, command_id=1, response_required=True,
                                        connection_id=Struct(s.CONNECTION_ID, value=CONN))))
    protocol.dataReceived(text(2, "hello"))
    kinds = [(c.type, c.get("correlation_id")) for c in replies(transport)]
    assert kinds == [(s.WIRE_FORMAT_INFO, None), (s.BROKER_INFO, None), (s.RESPONSE, 1), (s.RESPONSE, 2)]
    assert factory.broker.queue("unit.q").ready_count == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(OBSERVED), min_size=1, max_size=6), st.data())
def test_mutated_command_streams_never_escape(frames: list[bytes], data: st.DataObject) -> None:
    clock = Clock()
    broker = Broker(None, clock)
    factory = OpenWireFactory(broker, Config(), clock)
    protocol, transport = connected(factory)
    stream = bytearray(b"".join(frames))
    for _ in range(data.draw(st.integers(0, 8))):
        pos = data.draw(st.integers(0, len(stream) - 1))
        stream[pos] = data.draw(st.integers(0, 255))
    protocol.dataReceived(bytes(stream))     # must not raise, whatever it holds
    clock.advance(60)                        # timers (negotiation, keep-alives) must not raise either
    # Another connection is served normally.
    other, other_transport = connected(factory)
    other.dataReceived(encode(Struct(s.CONNECTION_INFO, command_id=1, response_required=True,
                                     connection_id=Struct(s.CONNECTION_ID, value="ID:unit-2:1"))))
    assert replies(other_transport)[-1].type == s.RESPONSE


def test_a_send_after_its_queue_went_away_finds_the_queue_of_the_moment() -> None:
    """The queues a producer's destination names are remembered, never past their life:
    a deleted queue is made again, a deleted temporary queue refuses the send."""
    broker, protocol, transport = logged_in()
    protocol.dataReceived(text(2, "one"))
    first = broker.queue("unit.q")
    broker.delete_queue("unit.q")
    protocol.dataReceived(text(3, "two"))
    again = broker.queue("unit.q", create=False)
    assert again is not None and again is not first and again.ready_count == 1

    temp = "ID:unit-1:1:1"
    temp_dest = Struct(s.TEMP_QUEUE, physical_name=temp)
    protocol.dataReceived(encode(Struct(s.DESTINATION_INFO, command_id=4, response_required=True,
                                        connection_id=Struct(s.CONNECTION_ID, value=CONN),
                                        destination=temp_dest, operation_type=0)))

    def to_temp(seq: int) -> bytes:
        return encode(Struct(s.TEXT_MESSAGE, command_id=seq, response_required=True, producer_id=PRODUCER,
                             destination=temp_dest,
                             message_id=Struct(s.MESSAGE_ID, producer_id=PRODUCER, producer_sequence_id=seq),
                             persistent=False, priority=4, content=text_content("t")))
    protocol.dataReceived(to_temp(5))
    assert broker.queue(temp, create=False).ready_count == 1
    protocol.dataReceived(encode(Struct(s.DESTINATION_INFO, command_id=6, response_required=True,
                                        connection_id=Struct(s.CONNECTION_ID, value=CONN),
                                        destination=temp_dest, operation_type=1)))
    transport.clear()
    protocol.dataReceived(to_temp(7))
    (refused,) = replies(transport)
    assert refused.type == s.EXCEPTION_RESPONSE
    assert refused.exception == ("javax.jms.InvalidDestinationException",
                                 f"Cannot publish to a deleted Destination: temp-queue://{temp}")
    assert broker.queue(temp, create=False) is None


class _CountingTransport(StringTransport):
    """Counts transport writes, and drops what is written once the connection is closing
    (as a TCP transport does after loseConnection)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: bytes) -> None:
        if self.disconnecting:
            return
        self.writes += 1
        super().write(data)

    def writeSequence(self, data: list[bytes]) -> None:
        if self.disconnecting:
            return
        self.writes += 1
        super().write(b"".join(data))


def test_what_one_read_makes_the_broker_write_goes_out_in_one_write_in_order() -> None:
    factory = OpenWireFactory(Broker(None, Clock()), Config(), Clock())
    protocol = factory.buildProtocol(None)
    transport = _CountingTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(encode(Struct(s.WIRE_FORMAT_INFO, version=12, marshalled_properties=p.encode_map({}))))
    protocol.dataReceived(encode(Struct(s.CONNECTION_INFO, command_id=1, response_required=True,
                                        connection_id=Struct(s.CONNECTION_ID, value=CONN))))
    transport.clear()
    transport.writes = 0
    protocol.dataReceived(b"".join(text(seq, "x") for seq in range(2, 7))
                          + encode(Struct(s.SHUTDOWN_INFO, command_id=7, response_required=False)))
    assert transport.writes == 1 and transport.disconnecting
    assert [(c.type, c.correlation_id) for c in replies(transport)] == [(s.RESPONSE, n) for n in range(2, 7)]


def test_acks_reach_the_consumer_their_id_names_now() -> None:
    """A run of acks looks its consumer up once; a consumer closed and opened again under
    the same id gets the acks sent after that, and a closed one's acks settle nothing."""
    broker, protocol, transport = logged_in()
    for seq in range(2, 6):
        protocol.dataReceived(text(seq, f"m{seq}", rr=False))
    queue = broker.queue("unit.q")
    ids = [Struct(s.CONSUMER_ID, connection_id=CONN, session_id=1, value=v) for v in (1, 2)]

    def subscribe(consumer_id: Struct, command_id: int) -> list[Struct]:
        transport.clear()
        protocol.dataReceived(encode(Struct(
            s.CONSUMER_INFO, command_id=command_id, response_required=True, consumer_id=consumer_id,
            destination=Struct(s.QUEUE, physical_name="unit.q"), prefetch_size=2)))
        return [c for c in replies(transport) if c.type == s.MESSAGE_DISPATCH]

    def ack(consumer_id: Struct, dispatch: Struct, command_id: int) -> None:
        mid = dispatch.message.message_id
        protocol.dataReceived(encode(Struct(
            s.MESSAGE_ACK, command_id=command_id, response_required=False, destination=dispatch.destination,
            consumer_id=consumer_id, ack_type=2, first_message_id=mid, last_message_id=mid, message_count=1)))

    first = subscribe(ids[0], 10)
    second = subscribe(ids[1], 11)
    assert len(first) == 2 and len(second) == 2 and queue.inflight_count == 4
    ack(ids[0], first[0], 12)
    ack(ids[1], second[0], 13)
    ack(ids[0], second[1], 14)       # not one of consumer 1's: settles nothing
    assert queue.inflight_count == 2
    transport.clear()
    protocol.dataReceived(encode(Struct(s.REMOVE_INFO, command_id=15, response_required=True, object_id=ids[0])))
    (moved,) = [c for c in replies(transport) if c.type == s.MESSAGE_DISPATCH]   # to consumer 2
    assert moved.consumer_id == ids[1] and queue.inflight_count == 2 and queue.ready_count == 0
    ack(ids[0], first[1], 16)        # its consumer is gone: nothing to settle
    assert queue.inflight_count == 2
    protocol.dataReceived(text(20, "m20", rr=False))
    assert queue.ready_count == 1
    again = subscribe(ids[0], 17)
    assert len(again) == 1 and queue.inflight_count == 3
    ack(ids[0], again[0], 18)
    ack(ids[1], second[1], 19)
    ack(ids[1], moved, 21)
    assert queue.inflight_count == 0 and queue.ready_count == 0


def test_a_read_of_acks_delivers_what_they_free_in_one_pass_after_them() -> None:
    """Acks arrive many to a read (one per message in AUTO_ACKNOWLEDGE): the queue is
    dispatched once after the read's commands, not once per ack; a consumer closed in
    the same read gets nothing more."""
    broker, protocol, transport = logged_in()
    for seq in range(2, 12):
        protocol.dataReceived(text(seq, f"m{seq}", rr=False))
    queue = broker.queue("unit.q")
    passes = []
    dispatch = queue.dispatch
    queue.dispatch = lambda: (passes.append(queue.inflight_count), dispatch())   # type: ignore[method-assign]
    ids = [Struct(s.CONSUMER_ID, connection_id=CONN, session_id=1, value=v) for v in (1, 2)]
    dispatched: dict[int, list[Struct]] = {1: [], 2: []}

    def read(*commands: Struct) -> None:
        transport.clear()
        passes.clear()
        protocol.dataReceived(b"".join(encode(c) for c in commands))
        for c in replies(transport):
            if c.type == s.MESSAGE_DISPATCH:
                dispatched[c.consumer_id.value].append(c)

    def acks(value: int, count: int, command_id: int) -> list[Struct]:
        return [Struct(s.MESSAGE_ACK, command_id=command_id + i, response_required=False,
                       destination=d.destination, consumer_id=ids[value - 1], ack_type=2,
                       first_message_id=d.message.message_id, last_message_id=d.message.message_id,
                       message_count=1) for i, d in enumerate(dispatched[value][:count])]

    for value in (1, 2):
        read(Struct(s.CONSUMER_INFO, command_id=10 + value, response_required=True, consumer_id=ids[value - 1],
                    destination=Struct(s.QUEUE, physical_name="unit.q"), prefetch_size=3))
    assert [len(dispatched[v]) for v in (1, 2)] == [3, 3]
    read(*acks(1, 3, 20))
    assert passes == [3]          # once, after the three acks settled (inflight 6 - 3)
    assert [d.message.content for d in dispatched[1][3:]] == [text_content(f"m{n}") for n in (8, 9, 10)]
    read(*acks(2, 1, 30), Struct(s.REMOVE_INFO, command_id=40, response_required=True, object_id=ids[1]))
    assert len(dispatched[2]) == 3                          # nothing more to the closed consumer
    assert queue.inflight_count == 3 and queue.ready_count == 3


_SCHEDULES = {"plain": None, "correlated": None,
              "delayed": {"AMQ_SCHEDULED_DELAY": (p.LONG, 1000)},
              "repeated": {"AMQ_SCHEDULED_DELAY": (p.LONG, 1000), "AMQ_SCHEDULED_PERIOD": (p.LONG, 500),
                           "AMQ_SCHEDULED_REPEAT": (p.INTEGER, 2)},
              "cron": {"AMQ_SCHEDULED_CRON": (p.STRING, "* * * * *")}}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(_SCHEDULES)), min_size=1, max_size=8))
def test_messages_sent_alike_share_dicts_no_send_changes(kinds: list[str]) -> None:
    """Messages without properties, and without other headers than their kind, share
    those dicts; a scheduled send among them (which adds headers) changes none of them:
    each message holds the headers of its own send."""
    broker, protocol, _ = logged_in()
    kept = (dict(convert._NO_PROPERTIES), {k: dict(v) for k, v in convert._KIND_HEADERS.items()})
    for seq, kind in enumerate(kinds, start=2):
        schedule = _SCHEDULES[kind]
        protocol.dataReceived(encode(Struct(
            s.BYTES_MESSAGE, command_id=seq, response_required=False, producer_id=PRODUCER,
            destination=Struct(s.QUEUE, physical_name="unit.q"),
            message_id=Struct(s.MESSAGE_ID, producer_id=PRODUCER, producer_sequence_id=seq),
            persistent=False, priority=4, content=b"x", correlation_id="c" if kind == "correlated" else None,
            marshalled_properties=p.encode_map(schedule) if schedule else None)))
    assert (convert._NO_PROPERTIES, convert._KIND_HEADERS) == kept
    queue = broker.queue("unit.q")
    for m in queue.browse() + [m for m in queue._held.values() if m.job_id]:
        expected = {convert.KIND_HEADER: "bytes"}
        if m.job_id:
            expected[JOB_ID] = m.job_id
        elif m.message_id.endswith(tuple(f":{seq}" for seq, kind in enumerate(kinds, start=2)
                                         if kind == "correlated")):
            expected["correlation-id"] = "c"
        assert m.headers == expected


def test_selectors_compare_typed_properties_without_converting_strings() -> None:
    """ActiveMQ's OpenWire selectors do not read a string property as a number (JMS 1.1
    §3.8.1.1), unless the client asks with the convert_string_expressions: prefix."""
    broker, protocol, transport = logged_in()
    for seq, n in ((2, (p.STRING, "2")), (3, (p.INTEGER, 2))):
        protocol.dataReceived(encode(Struct(
            s.TEXT_MESSAGE, command_id=seq, response_required=False, producer_id=PRODUCER,
            destination=Struct(s.QUEUE, physical_name="unit.q"),
            message_id=Struct(s.MESSAGE_ID, producer_id=PRODUCER, producer_sequence_id=seq),
            persistent=False, priority=4, content=text_content(f"m{seq}"),
            marshalled_properties=p.encode_map({"n": n}))))

    def selected(value: int, selector: str) -> list[str]:
        transport.clear()
        protocol.dataReceived(encode(Struct(
            s.CONSUMER_INFO, command_id=10 + value, response_required=True,
            consumer_id=Struct(s.CONSUMER_ID, connection_id=CONN, session_id=1, value=value),
            destination=Struct(s.QUEUE, physical_name="unit.q"), prefetch_size=10,
            browser=True, selector=selector)))
        return [d.message.message_id.producer_sequence_id for d in replies(transport)
                if d.type == s.MESSAGE_DISPATCH and d.message is not None]

    assert selected(1, "n > 1") == [3]
    assert selected(2, "convert_string_expressions:n > 1") == [2, 3]


def test_a_text_message_without_text_comes_back_without_text() -> None:
    """ActiveMQ gives null back for a TextMessage whose text was never set (an empty text
    stays empty), with and without properties, and a STOMP consumer gets an empty body."""
    broker, protocol, transport = logged_in()
    sent = [(None, None), (text_content(""), None), (None, p.encode_map({"k": (p.INTEGER, 1)}))]
    for seq, (content, properties) in enumerate(sent, start=2):
        protocol.dataReceived(encode(Struct(
            s.TEXT_MESSAGE, command_id=seq, response_required=False, producer_id=PRODUCER,
            destination=Struct(s.QUEUE, physical_name="unit.q"),
            message_id=Struct(s.MESSAGE_ID, producer_id=PRODUCER, producer_sequence_id=seq),
            persistent=False, priority=4, content=content, marshalled_properties=properties)))
    stored = broker.queue("unit.q").browse()
    assert [m.body for m in stored] == [b"", b"", b""]
    assert stomp_convert.message_body(stored[0]) == b""
    assert stomp_convert.message_headers(stored[0], "/queue/unit.q", None, False).keys().isdisjoint(
        {"amq-msg-type", "content-length"})
    transport.clear()
    protocol.dataReceived(encode(Struct(
        s.CONSUMER_INFO, command_id=10, response_required=True,
        consumer_id=Struct(s.CONSUMER_ID, connection_id=CONN, session_id=1, value=1),
        destination=Struct(s.QUEUE, physical_name="unit.q"), prefetch_size=10)))
    got = [d.message for d in replies(transport) if d.type == s.MESSAGE_DISPATCH]
    assert [(m.type, m.content) for m in got] == [(s.TEXT_MESSAGE, None), (s.TEXT_MESSAGE, text_content("")),
                                                  (s.TEXT_MESSAGE, None)]


def test_a_browser_shows_messages_delivered_but_not_acknowledged() -> None:
    """ActiveMQ's browsers show what a consumer holds unacknowledged (its prefetch buffer
    too); once acknowledged, a message is gone from the browse."""
    broker, protocol, transport = logged_in()
    for seq in (2, 3):
        protocol.dataReceived(text(seq, f"m{seq}", rr=False))

    def consumer(value: int, browser: bool, prefetch: int = 10) -> list[Struct]:
        transport.clear()
        protocol.dataReceived(encode(Struct(
            s.CONSUMER_INFO, command_id=10 + value, response_required=True,
            consumer_id=Struct(s.CONSUMER_ID, connection_id=CONN, session_id=1, value=value),
            destination=Struct(s.QUEUE, physical_name="unit.q"), prefetch_size=prefetch, browser=browser)))
        return [d for d in replies(transport) if d.type == s.MESSAGE_DISPATCH and d.message is not None]

    (held,) = consumer(1, False, prefetch=1)
    assert held.message.message_id.producer_sequence_id == 2
    assert [d.message.message_id.producer_sequence_id for d in consumer(2, True)] == [2, 3]
    protocol.dataReceived(encode(Struct(
        s.MESSAGE_ACK, command_id=20, response_required=False, destination=held.destination,
        consumer_id=held.consumer_id, ack_type=2, first_message_id=held.message.message_id,
        last_message_id=held.message.message_id, message_count=1)))
    assert [d.message.message_id.producer_sequence_id for d in consumer(3, True)] == [3]


class _HeldCommits(MemoryStore):
    """A store whose commits complete when the test says so."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: list[defer.Deferred[None]] = []

    def committed(self, refusable: bool = True) -> defer.Deferred[None]:
        d: defer.Deferred[None] = defer.Deferred()
        self.waiting.append(d)
        return d


def test_an_ack_that_asks_for_a_response_gets_one() -> None:
    """With jms.sendAcksAsync=false ActiveMQ's client sends each ack synchronously and
    waits for its Response: once the persistent message it removes is gone from the store
    for good; at once for an ack of a consumer the broker no longer knows."""
    store = _HeldCommits()
    broker = restart(store)
    protocol, transport = connected(OpenWireFactory(broker, Config(), broker.clock))
    protocol.dataReceived(encode(Struct(s.CONNECTION_INFO, command_id=1, response_required=False,
                                        connection_id=Struct(s.CONNECTION_ID, value=CONN))))
    protocol.dataReceived(encode(Struct(
        s.TEXT_MESSAGE, command_id=2, response_required=False, producer_id=PRODUCER,
        destination=Struct(s.QUEUE, physical_name="unit.q"),
        message_id=Struct(s.MESSAGE_ID, producer_id=PRODUCER, producer_sequence_id=2),
        persistent=True, priority=4, content=text_content("m"))))
    protocol.dataReceived(encode(Struct(
        s.CONSUMER_INFO, command_id=3, response_required=False,
        consumer_id=Struct(s.CONSUMER_ID, connection_id=CONN, session_id=1, value=1),
        destination=Struct(s.QUEUE, physical_name="unit.q"), prefetch_size=10)))
    while store.waiting:                     # the send and the dispatch are committed
        store.waiting.pop().callback(None)
    (held,) = [d for d in replies(transport) if d.type == s.MESSAGE_DISPATCH]
    transport.clear()
    for seq, value in ((4, 1), (5, 9)):
        protocol.dataReceived(encode(Struct(
            s.MESSAGE_ACK, command_id=seq, response_required=True, destination=held.destination,
            consumer_id=Struct(s.CONSUMER_ID, connection_id=CONN, session_id=1, value=value), ack_type=2,
            first_message_id=held.message.message_id, last_message_id=held.message.message_id,
            message_count=1)))
    assert [(r.type, r.correlation_id) for r in replies(transport)] == [(s.RESPONSE, 5)]
    assert broker.queue("unit.q").inflight_count == 0 and store.rows == {}
    while store.waiting:
        store.waiting.pop().callback(None)
    assert [(r.type, r.correlation_id) for r in replies(transport)] == [(s.RESPONSE, 5), (s.RESPONSE, 4)]
