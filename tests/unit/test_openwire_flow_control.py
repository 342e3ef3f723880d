"""Producer flow control on the OpenWire door, in-process: a send to a full destination
is answered (Response or ProducerAck) only once there is room, what follows it waits
behind it, consuming commands do not, and sendFailIfNoSpace gives ActiveMQ's
ResourceAllocationException."""
from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from broker.config import Config
from broker.engine.broker import Broker
from broker.engine.limits import Policy, Refusal
from broker.protocols.activemq.flow_control import refusal_text
from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import Struct, encode
from broker.protocols.openwire.factory import OpenWireFactory
from tests.unit.test_openwire_protocol import CONN, PRODUCER, connected, replies, text


def limited(policy: Policy) -> tuple[Broker, Clock, object, StringTransport]:
    clock = Clock()
    broker = Broker(None, clock, policies=[policy])
    protocol, transport = connected(OpenWireFactory(broker, Config(), clock))
    protocol.dataReceived(encode(Struct(s.CONNECTION_INFO, command_id=1, response_required=True,
                                        connection_id=Struct(s.CONNECTION_ID, value=CONN))))
    return broker, clock, protocol, transport


def answers(transport: StringTransport) -> list[tuple[str, object]]:
    return [(c.type_name, c.get("correlation_id", c.get("size")))
            for c in replies(transport) if c.type in (s.RESPONSE, s.EXCEPTION_RESPONSE, s.PRODUCER_ACK,
                                                      s.CONNECTION_ERROR)][1:]


def drain_one(broker: Broker, clock: Clock) -> str:
    got = []
    broker.queue("unit.q").receive(1, 30_000).addCallback(got.extend)
    lease = got[0]
    broker.queue("unit.q").ack(lease)
    clock.advance(0)
    return lease.message.message_id


def test_a_sync_send_to_a_full_queue_is_answered_once_a_consumer_makes_room() -> None:
    broker, clock, protocol, transport = limited(Policy(queue="unit.q", max_messages=1))
    protocol.dataReceived(text(2, "m0") + text(3, "m1") + text(4, "m2"))
    assert answers(transport) == [("Response", 2)]
    assert protocol.transport.producerState == "producing"    # few commands held: still reading
    assert broker.stats()["queues"]["unit.q"]["producers_blocked"] == 1
    drain_one(broker, clock)
    assert answers(transport) == [("Response", 2), ("Response", 3)]
    drain_one(broker, clock)
    assert answers(transport) == [("Response", 2), ("Response", 3), ("Response", 4)]
    assert broker.queue("unit.q").ready_count == 1


def test_a_windowed_async_producer_gets_its_producer_ack_only_when_accepted() -> None:
    broker, clock, protocol, transport = limited(Policy(queue="unit.q", max_messages=1))
    protocol.dataReceived(encode(Struct(s.PRODUCER_INFO, command_id=2, response_required=True,
                                        producer_id=PRODUCER, window_size=65536)))
    protocol.dataReceived(text(3, "m0", rr=False) + text(4, "m1", rr=False))
    acks = [a for a in answers(transport) if a[0] == "ProducerAck"]
    assert len(acks) == 1
    drain_one(broker, clock)
    assert len([a for a in answers(transport) if a[0] == "ProducerAck"]) == 2


def test_commands_pile_up_behind_a_waiting_send_until_the_connection_stops_reading() -> None:
    broker, clock, protocol, transport = limited(Policy(queue="unit.q", max_messages=1))
    protocol.dataReceived(b"".join(text(i, f"m{i}", rr=False) for i in range(2, 40)))
    assert transport.producerState == "paused"
    for _ in range(38):
        drain_one(broker, clock)
    assert transport.producerState == "producing"
    assert broker.queue("unit.q").ready_count == 0


def test_send_fail_if_no_space_answers_a_resource_allocation_exception() -> None:
    broker, clock, protocol, transport = limited(
        Policy(queue="unit.q", max_messages=1, send_fail_if_no_space=True))
    protocol.dataReceived(text(2, "m0") + text(3, "m1") + text(4, "m2", rr=False))
    found = [c for c in replies(transport) if c.type in (s.EXCEPTION_RESPONSE, s.CONNECTION_ERROR)]
    expected = ("javax.jms.ResourceAllocationException",
                "Usage Manager Memory Limit reached on queue://unit.q. "
                "See http://activemq.apache.org/producer-flow-control.html for more info")
    assert [(c.type, c.get("correlation_id"), tuple(c.exception)) for c in found] == [
        (s.EXCEPTION_RESPONSE, 3, expected), (s.CONNECTION_ERROR, None, expected)]
    assert broker.queue("unit.q").ready_count == 1


def test_refusals_are_worded_as_activemq_words_them_per_destination_kind_and_resource() -> None:
    more = " See http://activemq.apache.org/producer-flow-control.html for more info"
    assert refusal_text(Refusal("memory", 5), "topic", "t", "ID:c:1:2") == (
        "Usage Manager memory limit (5) reached. Rejecting send for producer (ID:c:1:2) to prevent "
        "flooding topic://t." + more)
    assert refusal_text(Refusal("store", 1024), "queue", "q", "ID:c:1:2") == (
        "Persistent store is Full, 100% of 1024. Stopping producer (ID:c:1:2) to prevent flooding "
        "queue://q." + more)
