"""Headers handled as ActiveMQ 5.17 handles them where a strict reading of the STOMP spec,
or no rule at all, would do otherwise: an unknown `ack` mode on SUBSCRIBE and an undefined
escape sequence in a SEND header are accepted, a SEND's own `JMSXUserID` is dropped.
Each was found by sending the same frames to both brokers; so was the one case refused
here that ActiveMQ takes (a second SUBSCRIBE under one id). A SEND keeps its own timestamp."""
from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from broker.config import Config
from broker.engine.broker import Broker
from broker.protocols.stomp.factory import StompFactory


def _connected(version: str, clock: Clock | None = None,
               subscribe: bytes = b"") -> tuple[Any, StringTransport, Clock]:
    """A client connected with `version` to a broker of its own, having sent `subscribe`."""
    clock = clock or Clock()
    factory = StompFactory(Broker(None, clock), Config(), clock)
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(f"CONNECT\naccept-version:{version}\nhost:h\n\n\0".encode())
    transport.clear()
    if subscribe:
        protocol.dataReceived(subscribe)
    return protocol, transport, clock


_SUBSCRIBE = b"SUBSCRIBE\nid:s\ndestination:/queue/q\n\n\0"


def _frames(transport: StringTransport, clock: Clock) -> list[bytes]:
    clock.advance(0)
    frames = [f.lstrip(b"\n") for f in transport.value().split(b"\0")[:-1]]
    transport.clear()
    return frames


def test_an_unknown_ack_mode_subscribes_in_auto_mode() -> None:
    """ActiveMQ takes anything but `client` and `client-individual` as `auto`."""
    protocol, transport, clock = _connected("1.2")
    protocol.dataReceived(b"SUBSCRIBE\nid:s\ndestination:/queue/q\nack:Client\nreceipt:r\n\n\0")
    assert _frames(transport, clock) == [b"RECEIPT\nreceipt-id:r\n\n"]
    protocol.dataReceived(b"SEND\ndestination:/queue/q\n\none\0SEND\ndestination:/queue/q\n\ntwo\0")
    frames = _frames(transport, clock)
    assert [f.rsplit(b"\n", 1)[1] for f in frames] == [b"one", b"two"]
    assert not any(b"\nack:" in f for f in frames)   # nothing to acknowledge
    assert not transport.disconnecting


def test_an_undefined_escape_in_a_header_is_delivered_as_written() -> None:
    """`C:\\temp` sent unescaped on 1.1 keeps its backslash, and the connection stays."""
    protocol, transport, clock = _connected("1.1", subscribe=_SUBSCRIBE)
    protocol.dataReceived(b"SEND\ndestination:/queue/q\npath:C\\ctemp\\tx\\r\nreceipt:r\n\nbody\0")
    frames = _frames(transport, clock)
    assert b"RECEIPT\nreceipt-id:r\n\n" in frames
    [message] = [f for f in frames if f.startswith(b"MESSAGE\n")]
    assert b"\npath:C\\ctemp\\\\tx\\\\r\n" in message   # re-escaped for 1.1: C:temp\tx\r
    assert not transport.disconnecting


def test_a_send_cannot_claim_a_user_id() -> None:
    """ActiveMQ removes JMSXUserID from a SEND: only the broker may vouch for the sender."""
    protocol, transport, clock = _connected("1.2", subscribe=_SUBSCRIBE)
    protocol.dataReceived(b"SEND\ndestination:/queue/q\nJMSXUserID:admin\nkept:yes\n\nbody\0")
    [message] = _frames(transport, clock)
    assert b"\nkept:yes\n" in message and b"JMSXUserID" not in message


def test_a_second_subscription_under_one_id_is_refused_in_plain_words() -> None:
    """Not lenient: ActiveMQ would make a consumer nothing can unsubscribe. The ERROR names
    the id, or on 1.0 (no id) the destination."""
    for version, subscribe in (("1.2", _SUBSCRIBE),
                               ("1.0", b"SUBSCRIBE\ndestination:/queue/q\n\n\0")):
        protocol, transport, clock = _connected(version)
        protocol.dataReceived(subscribe)
        protocol.dataReceived(subscribe)
        [error] = _frames(transport, clock)
        named = b"s" if version == "1.2" else b"/queue/q"
        assert error.startswith(b"ERROR\n")
        assert b"\n\nThere already is a subscription for: " + named + b". Either use unique" in error


def test_a_send_keeps_its_own_timestamp() -> None:
    """ActiveMQ takes a SEND's `timestamp` as the message's; none, or 0, is the broker's
    time, and a value that is no number refuses the SEND."""
    clock = Clock()
    clock.advance(1_800_000_000)
    protocol, transport, clock = _connected("1.2", clock, _SUBSCRIBE)
    for stamp in (b"timestamp:12345\n", b"", b"timestamp:0\n"):
        protocol.dataReceived(b"SEND\ndestination:/queue/q\n" + stamp + b"\nbody\0")
    stamps = [f.split(b"\ntimestamp:")[1].split(b"\n")[0] for f in _frames(transport, clock)]
    assert stamps == [b"12345", b"1800000000000", b"1800000000000"]
    protocol.dataReceived(b"SEND\ndestination:/queue/q\ntimestamp:soon\n\nbody\0")
    [error] = _frames(transport, clock)
    assert error.startswith(b"ERROR\n") and b"Invalid timestamp header: soon" in error
