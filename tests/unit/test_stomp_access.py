"""The STOMP door's security on an injected clock: frames pipelined behind a CONNECT wait
for the (off-thread) password check, and a CONNECT that never completes is cut off after
the connect-attempt timeout."""
from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from broker.auth.passwords import hash_password
from broker.auth.security import Security
from broker.config import Config
from broker.engine.broker import Broker
from broker.protocols.stomp.factory import StompFactory

HASH = hash_password("pw")


class ManualThreads:
    """Stands in for the thread pool: runs each call when the test says so."""

    def __init__(self) -> None:
        self.calls: list[tuple[Deferred, Any, tuple]] = []

    def __call__(self, fn: Any, *args: Any) -> Deferred:
        d: Deferred = Deferred()
        self.calls.append((d, fn, args))
        return d

    def run_all(self) -> None:
        calls, self.calls = self.calls, []
        for d, fn, args in calls:
            d.callback(fn(*args))


def _factory(threads: ManualThreads | None = None, **settings: Any) -> tuple[StompFactory, Clock]:
    clock = Clock()
    config = Config(users=[{"name": "app", "password_hash": HASH}], **settings)
    security = Security(config, clock, run_in_thread=threads or ManualThreads())
    return StompFactory(Broker(None, clock), config, clock, security), clock


def _open(factory: StompFactory, port: int = 1) -> tuple[Any, StringTransport]:
    addr = IPv4Address("TCP", "127.0.0.1", port)
    protocol = factory.buildProtocol(addr)
    transport = StringTransport(peerAddress=addr)
    protocol.makeConnection(transport)
    return protocol, transport


def test_frames_behind_connect_wait_for_the_password_check():
    threads = ManualThreads()
    factory, _ = _factory(threads)
    protocol, transport = _open(factory)
    protocol.dataReceived(b"CONNECT\naccept-version:1.2\nlogin:app\npasscode:pw\n\n\0"
                          b"BEGIN\ntransaction:t\nreceipt:b\n\n\0")
    protocol.dataReceived(b"ABORT\ntransaction:t\nreceipt:a\n\n\0")
    assert transport.value() == b""                     # nothing answered before the login
    threads.run_all()
    out = transport.value()
    assert out.startswith(b"CONNECTED\n")
    assert out.index(b"receipt-id:b") < out.index(b"receipt-id:a")


def test_a_wrong_password_closes_after_the_check():
    threads = ManualThreads()
    factory, _ = _factory(threads)
    protocol, transport = _open(factory)
    protocol.dataReceived(b"CONNECT\naccept-version:1.2\nlogin:app\npasscode:no\nreceipt:c\n\n\0BEGIN\ntransaction:t\n\n\0")
    threads.run_all()
    out = transport.value()
    assert out.startswith(b"ERROR\n") and b"message:User name [app] or password is invalid." in out
    assert b"receipt-id:c" in out and transport.disconnecting
    assert out.count(b"\0") == 1                          # the held BEGIN was dropped


def test_connect_attempt_timeout():
    factory, clock = _factory(connect_timeout=30)
    slow, slow_transport = _open(factory, 1)
    slow.dataReceived(b"CONNECT\naccept-version:1.2\n")           # half a frame
    done, done_transport = _open(factory, 2)
    done.dataReceived(b"CONNECT\naccept-version:1.2\n\n\0")     # anonymous: refused at once
    clock.advance(29)
    assert not slow_transport.disconnected
    clock.advance(1)
    assert slow_transport.disconnected                             # aborted
    assert clock.getDelayedCalls() == []


def test_no_timer_once_connected():
    factory, clock = _factory(threads=None, connect_timeout=30, auth={"anonymous": True})
    protocol, transport = _open(factory)
    protocol.dataReceived(b"CONNECT\naccept-version:1.2\n\n\0")
    assert transport.value().startswith(b"CONNECTED")
    assert clock.getDelayedCalls() == []


def test_at_most_two_hash_checks_run_at_once():
    threads = ManualThreads()
    factory, _ = _factory(threads)
    transports = []
    for port in range(1, 5):
        protocol, transport = _open(factory, port)
        protocol.dataReceived(b"CONNECT\naccept-version:1.2\nlogin:app\npasscode:pw\n\n\0")
        transports.append(transport)
    assert len(threads.calls) == 2            # the other two wait for a slot
    while threads.calls:
        threads.run_all()
    assert all(t.value().startswith(b"CONNECTED") for t in transports)
