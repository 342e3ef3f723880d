"""STOMP heart-beats on an injected clock: the broker writes an EOL after `cy` ms without
output, never later, and drops a client after HEARTBEAT_GRACE x `cx` ms without input."""
from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from broker.config import Config
from broker.engine.broker import Broker
from broker.protocols.stomp.factory import StompFactory
from broker.protocols.stomp.protocol import HEARTBEAT_GRACE


def _connected(heart_beat: str) -> tuple[Clock, StringTransport, object]:
    clock = Clock()
    factory = StompFactory(Broker(None, clock), Config(), clock)
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(f"CONNECT\naccept-version:1.2\nheart-beat:{heart_beat}\n\n\0".encode())
    assert transport.value().startswith(b"CONNECTED\n")
    transport.clear()
    return clock, transport, protocol


def _run(clock: Clock, seconds: float, step: float = 0.01) -> None:
    """Advance in small steps, as time passes for a real reactor (one big jump would run
    overdue timers with the clock already at the end)."""
    for _ in range(round(seconds / step)):
        clock.advance(step)


def test_idle_connection_gets_an_eol_every_cy():
    clock, transport, _ = _connected("0,1000")
    clock.advance(0.999)
    assert transport.value() == b""
    for _ in range(5):
        clock.advance(0.001)
        assert transport.value() == b"\n"
        transport.clear()
        clock.advance(0.999)
        assert transport.value() == b""


def test_output_postpones_the_beat_but_never_leaves_a_gap_over_cy():
    clock, transport, protocol = _connected("0,1000")
    clock.advance(0.5)
    # a frame at 0.5 s: no beat at 1.0 s, but one at 1.5 s rather than at 2.0 s
    protocol.dataReceived(b"BEGIN\ntransaction:t\nreceipt:r\n\n\0")
    assert transport.value().startswith(b"RECEIPT")
    transport.clear()
    _run(clock, 0.98)
    assert transport.value() == b""
    _run(clock, 0.03)
    assert transport.value() == b"\n"


def test_silent_client_dropped_after_grace_and_talking_client_kept():
    clock, transport, protocol = _connected("1000,0")
    limit = HEARTBEAT_GRACE
    for _ in range(10):           # beating every second keeps it alive
        clock.advance(1.0)
        protocol.dataReceived(b"\n")
    assert not transport.disconnecting
    clock.advance(limit - 0.01)
    assert not transport.disconnecting
    clock.advance(0.02)
    assert transport.disconnecting


def test_late_but_regular_beats_are_tolerated():
    clock, transport, protocol = _connected("1000,0")
    for _ in range(50):           # every 1.2 s: late by 20 %, steadily
        clock.advance(1.2)
        protocol.dataReceived(b"\n")
    assert not transport.disconnecting


def test_no_heart_beats_means_no_timers():
    clock, transport, _ = _connected("0,0")
    assert clock.getDelayedCalls() == []
    clock.advance(3600)
    assert transport.value() == b"" and not transport.disconnecting
