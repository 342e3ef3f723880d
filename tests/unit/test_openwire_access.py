"""The OpenWire door remembers the authorization checks a connection passed: a send asks
the same as a fresh check would, whatever changed in between (a reload of users, groups or
the map, a destination that went away and would be created again)."""
from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from broker.auth.security import Security
from broker.config import Config
from broker.engine.broker import Broker
from broker.protocols.openwire import primitives as p
from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import FrameParser, Struct, encode
from broker.protocols.openwire.convert import text_content
from broker.protocols.openwire.factory import OpenWireFactory

CONN = "ID:unit-access-1:1"
PRODUCER = Struct(s.PRODUCER_ID, connection_id=CONN, value=1, session_id=1)
USERS = [{"name": "app", "password": "pw", "groups": ["producers"]},
         {"name": "boss", "password": "pw", "groups": ["producers", "admins"]}]
# Writers may write to orders.>, admins may also create them; app may write to logs.> only
# when the map says so.
MAPS = {
    "write": [{"queue": "orders.>", "write": ["producers"], "admin": ["admins"]}],
    "write+create": [{"queue": "orders.>", "write": ["producers"], "admin": ["producers"]}],
    "none": [{"queue": "orders.>", "read": ["producers"], "admin": ["admins"]}],
}


def _config(map_name: str, groups: list[str] | None = None) -> Config:
    users = [dict(u) for u in USERS]
    if groups is not None:
        users[0]["groups"] = groups
    return Config(users=users, authorization=MAPS[map_name])


def _login(factory: OpenWireFactory, user: str) -> tuple[Any, StringTransport]:
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(encode(Struct(s.WIRE_FORMAT_INFO, version=12, marshalled_properties=p.encode_map({}))))
    protocol.dataReceived(encode(Struct(s.CONNECTION_INFO, command_id=1, response_required=True,
                                        connection_id=Struct(s.CONNECTION_ID, value=CONN),
                                        user_name=user, password="pw")))
    transport.clear()
    return protocol, transport


def _send(protocol: Any, transport: StringTransport, seq: int, queue: str) -> str | None:
    """The exception class the send was refused with, or None when it was taken."""
    transport.clear()
    protocol.dataReceived(encode(Struct(
        s.TEXT_MESSAGE, command_id=seq, response_required=True, producer_id=PRODUCER,
        destination=Struct(s.QUEUE, physical_name=queue),
        message_id=Struct(s.MESSAGE_ID, producer_id=PRODUCER, producer_sequence_id=seq),
        persistent=False, priority=4, content=text_content("x"))))
    (reply,) = [c for c in FrameParser().feed(transport.value()) if c is not None]
    if reply.type == s.RESPONSE:
        return None
    return reply.exception[0]


# One step: reload the security settings, delete a queue, or send.
STEPS = st.one_of(
    st.tuples(st.just("reload"), st.sampled_from(sorted(MAPS)),
              st.sampled_from([None, ["producers"], ["producers", "admins"], []])),
    st.tuples(st.just("delete"), st.sampled_from(["orders.a", "orders.b"])),
    st.tuples(st.just("send"), st.sampled_from(["orders.a", "orders.b", "logs.a"])),
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["app", "boss"]), st.lists(STEPS, min_size=1, max_size=12))
def test_remembered_checks_answer_as_fresh_ones(user: str, steps: list[tuple]) -> None:
    """Two brokers get the same steps; on one, every send is checked afresh (its
    connection forgets what it passed before each send): the answers are the same."""
    sides = []
    for _ in range(2):
        clock = Clock()
        security = Security(_config("write"), clock, run_in_thread=maybeDeferred)
        factory = OpenWireFactory(Broker(None, clock), Config(), clock, security)
        protocol, transport = _login(factory, user)
        sides.append((factory, protocol, transport))
    seq = 10
    for step in steps:
        answers = []
        for fresh, (factory, protocol, transport) in enumerate(sides):
            if step[0] == "reload":
                factory.security.reload(_config(step[1], step[2]))
            elif step[0] == "delete":
                factory.broker.delete_queue(step[1])
            else:
                if fresh:
                    protocol.granted.checks.clear()
                answers.append(_send(protocol, transport, seq, step[1]))
        seq += 1
        if answers:
            assert answers[0] == answers[1]


def test_a_reload_that_takes_write_away_refuses_the_next_send() -> None:
    clock = Clock()
    security = Security(_config("write+create"), clock, run_in_thread=maybeDeferred)
    factory = OpenWireFactory(Broker(None, clock), Config(), clock, security)
    protocol, transport = _login(factory, "app")
    assert _send(protocol, transport, 2, "orders.a") is None
    assert _send(protocol, transport, 3, "orders.a") is None
    security.reload(_config("none"))
    assert _send(protocol, transport, 4, "orders.a") == "java.lang.SecurityException"


def test_a_deleted_queue_needs_create_again() -> None:
    clock = Clock()
    security = Security(_config("write"), clock, run_in_thread=maybeDeferred)
    broker = Broker(None, clock)
    factory = OpenWireFactory(broker, Config(), clock, security)
    broker.queue("orders.a")
    protocol, transport = _login(factory, "app")
    assert _send(protocol, transport, 2, "orders.a") is None
    broker.delete_queue("orders.a")
    assert _send(protocol, transport, 3, "orders.a") == "java.lang.SecurityException"
