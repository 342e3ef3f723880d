"""Write gathering shared by the ActiveMQ doors: one transport call per stretch."""
from __future__ import annotations

from typing import Any

from broker.protocols.activemq.gathered_writes import GATHER_BYTES, GatheredWrites


class Transport:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def writeSequence(self, data: list[bytes]) -> None:
        self.calls.append(("writeSequence", list(data)))


class Monitor:
    def __init__(self) -> None:
        self.writes = 0

    def wrote(self) -> None:
        self.writes += 1


class Connection:
    def __init__(self) -> None:
        self.transport = Transport()
        self.lost = False
        self.monitor: Monitor | None = Monitor()


def test_writes_outside_a_stretch_go_at_once_and_inside_in_one_call() -> None:
    connection = Connection()
    writes = GatheredWrites(connection)
    writes.write(b"a")
    assert connection.transport.calls == [("writeSequence", [b"a"])]
    writes.open()
    writes.open()   # a nested stretch is the same stretch
    writes.write(b"b")
    writes.write(b"c")
    assert writes.gathering and len(connection.transport.calls) == 1
    writes.close()
    assert connection.transport.calls[1:] == [("writeSequence", [b"b", b"c"])]
    assert not writes.gathering and connection.monitor is not None and connection.monitor.writes == 2
    writes.open()
    writes.write(b"d")
    writes.close()   # one piece: one call all the same
    writes.open()
    writes.close()   # nothing gathered: no call
    assert connection.transport.calls[2:] == [("writeSequence", [b"d"])]


def test_first_write_of_a_turn_asks_for_a_flush_and_gathers_until_it() -> None:
    connection = Connection()
    connection.monitor = None
    asked = []
    writes = GatheredWrites(connection, lambda: asked.append(True))
    writes.write(b"a")
    writes.write(b"b")
    assert asked == [True] and connection.transport.calls == []
    writes.close()
    assert connection.transport.calls == [("writeSequence", [b"a", b"b"])]
    writes.write(b"c")
    assert asked == [True, True]


def test_a_burst_goes_out_at_gather_bytes_and_gathering_goes_on() -> None:
    connection = Connection()
    asked = []
    writes = GatheredWrites(connection, lambda: asked.append(True))
    half = b"x" * (GATHER_BYTES // 2)
    writes.write(half)
    writes.write(half)
    assert connection.transport.calls == [("writeSequence", [half, half])]
    writes.write(b"tail")
    assert writes.gathering and asked == [True] and len(connection.transport.calls) == 1
    writes.close()
    assert connection.transport.calls[1:] == [("writeSequence", [b"tail"])]


def test_nothing_reaches_a_lost_transport() -> None:
    connection = Connection()
    writes = GatheredWrites(connection)
    writes.open()
    writes.write(b"a")
    connection.lost = True
    writes.write(b"b")
    writes.close()
    writes.write(b"c")
    assert connection.transport.calls == []
