"""The OpenWire door at the byte level: negotiation, keep-alives, malformed input.

A raw socket speaks the frames the ActiveMQ client sends, so what the broker advertises and
how it treats a silent or broken peer can be checked exactly.
"""
from __future__ import annotations

import socket
import time

from broker.protocols.openwire import primitives as p
from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import FrameParser, Struct, encode
from broker.protocols.openwire.convert import text_of
from tests.conftest import BrokerProcess, unique
from tests.integration.openwire_raw import RawClient


def test_broker_advertises_loose_uncached_openwire_first(shared_broker: BrokerProcess) -> None:
    sock = socket.create_connection(("127.0.0.1", shared_broker.openwire_port), timeout=5)
    try:
        data = b""
        while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
            data += sock.recv(4096)
    finally:
        sock.close()
    (info,) = list(FrameParser().feed(data))
    assert info.type == s.WIRE_FORMAT_INFO and info.version == 12
    options = p.decode_map(info.marshalled_properties)
    assert options["TightEncodingEnabled"] == (p.BOOLEAN, False)
    assert options["CacheEnabled"] == (p.BOOLEAN, False)
    assert options["StackTraceEnabled"] == (p.BOOLEAN, False)
    assert options["MaxInactivityDuration"] == (p.LONG, 30000)     # LONG, or the client drops us
    assert options["MaxFrameSize"][0] == p.LONG


def test_malformed_input_closes_only_that_connection(shared_broker: BrokerProcess) -> None:
    queue = unique()
    good = RawClient(shared_broker.openwire_port)
    good.open()
    for garbage in (b"\x00\x00\x00\x05\x5a\x01\x02\x03\x04",          # unknown command type
                    b"\x7f\xff\xff\xff",                              # frame size over the limit
                    encode(Struct(s.CONNECTION_INFO, command_id=1, response_required=True,
                                  connection_id=Struct(s.PRODUCER_ID)))):  # wrong nested type
        bad = RawClient(shared_broker.openwire_port)
        bad.open()
        bad.sock.sendall(garbage)
        try:
            while True:
                bad.read(5)
        except ConnectionError:
            pass
        bad.close()
    before_negotiation = socket.create_connection(("127.0.0.1", shared_broker.openwire_port), timeout=5)
    before_negotiation.sendall(b"GET / HTTP/1.1\r\n\r\n")
    before_negotiation.settimeout(5)
    try:
        while before_negotiation.recv(4096):   # our WireFormatInfo, then the close
            pass
    except ConnectionResetError:
        pass
    finally:
        before_negotiation.close()
    # The good connection still works.
    rid = good.send_text(queue, "still serving", 1)
    assert good.read_until(s.RESPONSE).correlation_id == rid
    good.consumer(queue)
    dispatch = good.read_until(s.MESSAGE_DISPATCH)
    assert text_of(dispatch.message.content) == "still serving"
    good.close()


def test_keep_alives_and_silent_client_dropped(shared_broker: BrokerProcess) -> None:
    queue = unique()
    silent = RawClient(shared_broker.openwire_port, inactivity_ms=600)
    silent.open()
    silent.send_text(queue, "held", 1)
    silent.consumer(queue)
    dispatch = silent.read_until(s.MESSAGE_DISPATCH)
    assert dispatch.redelivery_counter == 0
    # Idle: the broker keeps writing KeepAliveInfo (every third of the negotiated 600 ms)...
    assert silent.read_until(s.KEEP_ALIVE_INFO, timeout=3).command_id == 0
    # ...and drops the client, which sends nothing, after 600 ms of silence.
    dropped = False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not dropped:
        try:
            silent.read(1)
        except ConnectionError:
            dropped = True
        except TimeoutError:
            pass
    silent.close()
    assert dropped
    # Its unacknowledged message went back, marked as delivered once.
    other = RawClient(shared_broker.openwire_port)
    other.open()
    other.consumer(queue)
    again = other.read_until(s.MESSAGE_DISPATCH)
    assert text_of(again.message.content) == "held"
    assert again.redelivery_counter == 1
    other.close()


def test_an_older_client_version_is_spoken_back(shared_broker: BrokerProcess) -> None:
    queue = unique()
    old = RawClient(shared_broker.openwire_port, version=3)
    old.open()
    rid = old.send_text(queue, "from a v3 client", 1)
    assert old.read_until(s.RESPONSE).correlation_id == rid
    old.consumer(queue)
    dispatch = old.read_until(s.MESSAGE_DISPATCH)   # decoded with the v3 layout
    assert text_of(dispatch.message.content) == "from a v3 client"
    assert dispatch.message.message_id.text_view is None   # a v10 field, absent in v3
    old.close()
