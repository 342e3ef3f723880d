"""STOMP output: a reactor turn's frames leave in one write per connection, and a MESSAGE
built from the per-message cache is byte for byte the frame its headers encode to."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from broker.config import Config
from broker.engine.broker import Broker
from broker.engine.message import DeadLetter, Message
from broker.protocols.stomp.codec import encode
from broker.protocols.stomp.convert import message_body, message_headers
from broker.protocols.stomp.factory import StompFactory
from broker.protocols.stomp.frame import Frame
from broker.protocols.stomp.message_frames import message_frame


class CountingTransport(StringTransport):
    """Counts the calls that hand data to the transport."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def write(self, data: bytes) -> None:
        self.calls += 1
        super().write(data)

    def writeSequence(self, data: Any) -> None:
        self.calls += 1
        StringTransport.write(self, b"".join(data))


def _connect(factory: StompFactory) -> tuple[Any, CountingTransport]:
    protocol = factory.buildProtocol(None)
    transport = CountingTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(b"CONNECT\naccept-version:1.2\n\n\0")
    transport.clear()
    transport.calls = 0
    return protocol, transport


def test_a_burst_of_frames_is_one_write_per_connection() -> None:
    clock = Clock()
    factory = StompFactory(Broker(None, clock), Config(), clock)
    producer, producer_out = _connect(factory)
    consumers = [_connect(factory) for _ in range(3)]
    for i, (consumer, out) in enumerate(consumers):
        consumer.dataReceived(f"SUBSCRIBE\nid:s{i}\ndestination:/topic/t\n\n\0".encode())
        out.clear()
        out.calls = 0
    sends = b"".join(b"SEND\ndestination:/topic/t\nreceipt:r%d\ncontent-length:1\n\n%d\0" % (n, n)
                     for n in range(10))
    producer.dataReceived(sends)
    assert producer_out.calls == 1 and producer_out.value().count(b"RECEIPT\n") == 10
    for i, (_, out) in enumerate(consumers):
        frames = out.value().split(b"\0\n")[:-1]
        assert out.calls == 1 and len(frames) == 10
        assert [f.rsplit(b"\n", 1)[1] for f in frames] == [b"%d" % n for n in range(10)]
        assert all(f.startswith(b"MESSAGE\nsubscription:s%d\n" % i) for f in frames)


def test_output_written_outside_input_goes_out_when_the_reactor_comes_round() -> None:
    clock = Clock()
    factory = StompFactory(Broker(None, clock), Config(), clock)
    protocol, transport = _connect(factory)
    protocol.send_frame(Frame("RECEIPT", {"receipt-id": "1"}))
    protocol.send_frame(Frame("RECEIPT", {"receipt-id": "2"}))
    assert transport.value() == b""
    clock.advance(0)
    assert transport.calls == 1
    assert transport.value() == b"RECEIPT\nreceipt-id:1\n\n\0\nRECEIPT\nreceipt-id:2\n\n\0\n"


def _messages() -> list[Message]:
    plain = Message("ID:a:1", b"hello", {"color": "red"}, timestamp=5)
    typed = Message("ID:b:1", b"\x00bin", {"n": "1", "raw": b"\x01"}, {"n": "Number", "raw": "Binary"},
                    {"reply-to": "/temp-queue/ID:c:1:1", "amq-msg-type": "bytes"}, persistent=True)
    odd = Message("ID:c:1", b"x", {"ack": "mine", "subscription": "theirs", "k:n": "v\nw"})
    dead = Message("ID:d:1", b"", {}, dead_letter=DeadLetter("queue", "q", "expired", 9))
    prop_reply = Message("ID:e:1", b"y", {"reply-to": "/queue/r"})
    return [plain, typed, odd, dead, prop_reply]


def _encoded(message: Message, version: str, destination: str, sub: str | None,
             redelivered: bool, ack: str | None, localize: Any) -> bytes:
    """The MESSAGE frame the general encoder gives the delivery's headers."""
    headers = message_headers(message, destination, sub, redelivered)
    if "reply-to" in headers:
        headers["reply-to"] = localize(headers["reply-to"])
    if ack is not None:
        headers["ack"] = ack
    return encode(Frame("MESSAGE", headers, message_body(message)), version)


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
@pytest.mark.parametrize("index", range(5))
def test_cached_message_frame_equals_the_encoded_headers(version: str, index: int) -> None:
    message = _messages()[index]

    def localize(name: str) -> str:
        return name.replace("ID:c:1", "local")

    for copy in (message, message.copy(), message.copy()):
        for sub, ack, redelivered in (("s1", "7", False), (None, None, True), ("a:b", None, False)):
            expected = _encoded(copy, version, "/topic/t", sub, redelivered, ack, localize)
            for shared in (True, False):
                assert message_frame(copy, version, "/topic/t", sub, redelivered, ack, localize,
                                     shared) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.booleans(), st.sampled_from(["1.0", "1.1", "1.2"]),
                          st.sampled_from(["/topic/t", "/topic/u"]), st.sampled_from([None, "s1", "a:b"]),
                          st.sampled_from([None, "7"]), st.booleans(), st.booleans()),
                min_size=1, max_size=12), st.booleans())
def test_message_frames_in_any_order_equal_the_encoded_headers(
        deliveries: list[tuple[int, bool, str, str, str | None, str | None, bool, bool]],
        own_cache: bool) -> None:
    """Deliveries of the same message objects (a fan-out's shared copy) and of their
    copies, to any destination, version and connection, in any order, with the copies'
    own cache of encodings (as a topic publication gives them) or without: each frame is
    what encoding its headers gives, whatever was encoded before it."""
    messages = _messages()
    if own_cache:
        for message in messages:
            message.encodings = {}
    copies = [m.copy() for m in messages]

    def localizer(own: bool) -> Any:
        return (lambda name: name.replace("ID:c:1", "local")) if own else (lambda name: name)

    for index, same, version, destination, sub, ack, redelivered, own in deliveries:
        message = messages[index] if same else copies[index]
        localize = localizer(own)
        expected = _encoded(message, version, destination, sub, redelivered, ack, localize)
        assert message_frame(message, version, destination, sub, redelivered, ack, localize) == expected


_NAMES = st.sampled_from(["color", "k:n", "a\\b", "line\nbreak", "destination", "ack", "reply-to",
                          "content-type", "priority", "x\x00y", "amq-msg-type", "cr\r"])
_KINDS = st.sampled_from(["bytes", "text", "map", "stream", "message"])
_TEXTS = st.one_of(st.text(max_size=6), st.sampled_from(["ID:q:1", "v\nw", "\x01", "/queue/r"]))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_NAMES, st.one_of(_TEXTS, st.binary(max_size=2)), max_size=4),
       st.dictionaries(_NAMES, _TEXTS, max_size=4),
       st.booleans(), st.integers(0, 9), st.integers(0, 10**13), st.binary(max_size=4),
       st.sampled_from(["1.0", "1.1", "1.2"]), st.sampled_from(["/queue/q", "/queue/a:b\n"]),
       st.sampled_from([None, "s1", "a:b"]), st.sampled_from([None, "7", "ID:x:1"]), st.booleans(),
       st.sampled_from(["ID:a:-1:1:1", "ID:a:-1:1:2", "plain", "n\x00ul", "x\\y:1", "p:q\nr",
                        "c\r:1", "e:\r", ":"]), st.one_of(st.none(), _KINDS))
def test_a_queue_delivery_frame_equals_the_encoded_headers(
        properties: dict[str, Any], headers: dict[str, str], persistent: bool, priority: int,
        expires: int, body: bytes, version: str, destination: str, sub: str | None,
        ack: str | None, redelivered: bool, message_id: str, kind: str | None) -> None:
    """A queue delivery (encoded without the shared cache, most by the direct path) and
    the deliveries of a fan-out's shared copy (the first encodes the shared part, most by
    the direct path, the next reuse it) are byte for byte what encoding their headers
    gives, whatever the names and values hold."""
    if kind is not None:
        headers["amq-msg-type"] = kind
    message = Message(message_id, body, properties, headers=headers, persistent=persistent,
                      priority=priority, expires=expires, timestamp=expires // 3)

    def localize(name: str) -> str:
        return name + "-local"

    expected = _encoded(message, version, destination, sub, redelivered, ack, localize)
    assert message_frame(message, version, destination, sub, redelivered, ack, localize,
                         shared=False) == expected
    message.encodings = {}
    for other in (sub, "s2"):
        expected = _encoded(message, version, destination, other, redelivered, ack, localize)
        assert message_frame(message, version, destination, other, redelivered, ack,
                             localize) == expected


def test_a_fan_out_delivery_the_shared_part_cannot_serve_is_encoded_in_full() -> None:
    """A property named as a header each delivery sets (`ack`) keeps the place the general
    encoding gives it: every subscriber's frame is encoded whole."""
    clock = Clock()
    broker = Broker(None, clock)
    factory = StompFactory(broker, Config(), clock)
    consumers = [_connect(factory) for _ in range(2)]
    for i, (consumer, _) in enumerate(consumers):
        consumer.dataReceived(f"SUBSCRIBE\nid:s{i}\ndestination:/topic/t\n\n\0".encode())
    message = Message("ID:p:1", b"x", {"ack": "mine", "color": "red"}, timestamp=5)
    broker.publish("t", message)
    clock.advance(0)
    for i, (_, out) in enumerate(consumers):
        assert out.value() == _encoded(message, "1.2", "/topic/t", f"s{i}", False, None,
                                       lambda name: name)
