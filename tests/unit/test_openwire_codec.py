"""The OpenWire codec against frames the ActiveMQ 5.17 client and broker exchange, and
fuzzed input: any bytes end in a decoded command or a clean OpenWireError."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings, strategies as st

from broker.protocols.openwire import primitives as p
from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import FrameParser, OpenWireError, Struct, decode, encode
from broker.protocols.openwire.convert import text_content, text_of
from broker.protocols.openwire.properties import java_number, to_engine, to_jms

# Frames between the ActiveMQ 5.17.2 client (default URL) and an ActiveMQ broker set to
# loose encoding, no cache, no stack traces.
CONNECTION_INFO = bytes.fromhex(
    "00000051030000000101017801001d49443a766d2d34333231332d3137393537"
    "36353438303638372d313a3101001d49443a766d2d34333231332d3137393537"
    "36353438303638372d303a31000000000101000000")
CONSUMER_INFO = bytes.fromhex(
    "00000080050000000501017a01001d49443a766d2d34333231332d3137393537"
    "36353438303638372d313a310000000000000001000000000000000100016401"
    "000d6578616d706c652e7175657565000003e800000000010001001d49443a76"
    "6d2d34333231332d313739353736353438303638372d303a3100000000000000"
    "00000000")
TEXT_MESSAGE = bytes.fromhex(
    "000000fb1c0000000601017b01001d49443a766d2d34333231332d3137393537"
    "36353438303638372d313a310000000000000001000000000000000101640100"
    "0d6578616d706c652e71756575650000016e00017b01001d49443a766d2d3433"
    "3231332d313739353736353438303638372d313a310000000000000001000000"
    "0000000001000000000000000100000000000000000000000000000001000000"
    "00000000000400000001a21bf6ad8f0001000000240000002068656c6c6f204a"
    "4d5320c3a9c3bce4b8ad20e29c9320eda0bdedb88020656e6400000000000000"
    "00000000000000000000000000000000000000000000000000000000000000")
MESSAGE_DISPATCH = bytes.fromhex(
    "0000014a150000000000017a01001d49443a766d2d34333231332d3137393537"
    "36353438303638372d313a310000000000000001000000000000000101640100"
    "0d6578616d706c652e7175657565011c0000000601017b01001d49443a766d2d"
    "34333231332d313739353736353438303638372d313a31000000000000000100"
    "00000000000001016401000d6578616d706c652e71756575650000016e00017b"
    "01001d49443a766d2d34333231332d313739353736353438303638372d313a31"
    "00000000000000010000000000000001000000000000000100000000000000d9"
    "000000000000000100000000000000000400000001a21bf6ad8f000100000024"
    "0000002068656c6c6f204a4d5320c3a9c3bce4b8ad20e29c9320eda0bdedb880"
    "20656e64000000000000000000000000000000000000010000000001a21bf6ad"
    "8f000001a21bf6ad900000000000")
MESSAGE_ACK = bytes.fromhex(
    "000000db160000000900016401000d6578616d706c652e717565756500017a01"
    "001d49443a766d2d34333231332d313739353736353438303638372d313a3100"
    "00000000000001000000000000000102016e00017b01001d49443a766d2d3433"
    "3231332d313739353736353438303638372d313a310000000000000001000000"
    "0000000001000000000000000100000000000000d9016e00017b01001d49443a"
    "766d2d34333231332d313739353736353438303638372d313a31000000000000"
    "00010000000000000001000000000000000100000000000000d90000000100")
EXCEPTION_RESPONSE = bytes.fromhex(
    "000000881f000000000000000001010100226a617661782e6a6d732e496e7661"
    "6c6964436c69656e744944457863657074696f6e01005542726f6b65723a206c"
    "6f63616c686f7374202d20436c69656e743a206170702d636c69656e742d3120"
    "616c726561647920636f6e6e65637465642066726f6d207463703a2f2f313237"
    "2e302e302e313a3438373730")
REMOVE_CONNECTION = bytes.fromhex(
    "000000300c0000000d01017801001d49443a766d2d34333231332d3137393537"
    "36353438303638372d313a3100000000000000db")
RESPONSE = bytes.fromhex("0000000a1e000000000000000001")
SHUTDOWN = bytes.fromhex("000000060b0000000e00")
OBSERVED = [CONNECTION_INFO, CONSUMER_INFO, TEXT_MESSAGE, MESSAGE_DISPATCH, MESSAGE_ACK,
            EXCEPTION_RESPONSE, REMOVE_CONNECTION, RESPONSE, SHUTDOWN]
CONN = "ID:vm-43213-1795765480687-1:1"


def parse_one(frame: bytes, version: int = 12) -> Struct:
    parser = FrameParser()
    parser.version = version
    (command,) = list(parser.feed(frame))
    return command


@pytest.mark.parametrize("frame", OBSERVED)
def test_observed_frames_decode_and_encode_to_the_same_bytes(frame: bytes) -> None:
    command = parse_one(frame)
    assert encode(command) == frame


def test_fields_of_observed_commands() -> None:
    info = parse_one(CONNECTION_INFO)
    assert info.type == s.CONNECTION_INFO and info.command_id == 1 and info.response_required
    assert info.connection_id.value == CONN
    assert info.client_id == "ID:vm-43213-1795765480687-0:1"
    consumer = parse_one(CONSUMER_INFO)
    assert consumer.destination.type == s.QUEUE and consumer.destination.physical_name == "example.queue"
    assert consumer.prefetch_size == 1000 and consumer.consumer_id.value == 1
    message = parse_one(TEXT_MESSAGE)
    assert message.persistent and message.priority == 4
    assert text_of(message.content) == "hello JMS \u00e9\u00fc\u4e2d \u2713 \U0001F600 end"
    ack = parse_one(MESSAGE_ACK)
    assert ack.ack_type == 2 and ack.message_count == 1
    assert ack.last_message_id.broker_sequence_id == 0xd9
    error = parse_one(EXCEPTION_RESPONSE)
    assert error.correlation_id == 1
    assert error.exception == ("javax.jms.InvalidClientIDException",
                               "Broker: localhost - Client: app-client-1 already connected from tcp://127.0.0.1:48770")
    assert parse_one(REMOVE_CONNECTION).last_delivered_sequence_id == 0xdb


def test_frames_split_anywhere_and_joined() -> None:
    stream = b"".join(OBSERVED)
    for step in (1, 7, 64):
        parser = FrameParser()
        got = []
        for i in range(0, len(stream), step):
            got.extend(parser.feed(stream[i:i + step]))
        assert [c.type for c in got] == [parse_one(f).type for f in OBSERVED]


def test_older_versions_leave_out_newer_fields() -> None:
    info = parse_one(CONSUMER_INFO)
    v9 = encode(info, 9)
    back = parse_one(v9, 9)
    assert back.client_id is None and back.destination.physical_name == "example.queue"
    assert len(v9) < len(CONSUMER_INFO)
    v1 = encode(parse_one(TEXT_MESSAGE), 1)
    assert text_of(parse_one(v1, 1).content).endswith(" end")


def test_null_frame_and_limits() -> None:
    assert list(FrameParser().feed(b"\x00\x00\x00\x01\x00")) == [None]
    parser = FrameParser(max_frame=100)
    with pytest.raises(OpenWireError, match="out of range"):
        list(parser.feed(struct.pack(">i", 101)))
    with pytest.raises(OpenWireError, match="out of range"):
        list(FrameParser().feed(struct.pack(">i", -5)))


def test_nothing_on_the_wire_names_a_type_outside_the_allow_list() -> None:
    # A ConnectionInfo whose connectionId claims to be a ProducerId.
    bad = bytearray(CONNECTION_INFO)
    bad[11] = s.PRODUCER_ID
    with pytest.raises(OpenWireError, match="not allowed"):
        list(FrameParser().feed(bytes(bad)))
    with pytest.raises(OpenWireError, match="unknown command type"):
        decode(b"\x5a\x00")
    # ConsumerInfo.additionalPredicate is a broker-side class: never accepted.
    with pytest.raises(OpenWireError):
        decode(CONSUMER_INFO[4:-8] + b"\x01\x64" + CONSUMER_INFO[-7:])


def test_nesting_is_bounded() -> None:
    # BrokerInfo.peerBrokerInfos nests BrokerInfos: 40 levels deep is refused.
    info = Struct(s.BROKER_INFO)
    for _ in range(40):
        info = Struct(s.BROKER_INFO, peer_broker_infos=[info])
    with pytest.raises(OpenWireError, match="too deep"):
        list(FrameParser().feed(encode(info)))


def test_modified_utf8() -> None:
    for text in ("", "plain", "\u00e9\u4e2d", "\U0001F600", "a\x00b", "\uffff"):
        raw = p.encode_utf(text)
        assert b"\x00" not in raw
        assert p.decode_utf(raw) == text
    assert p.encode_utf("\U0001F600") == bytes.fromhex("eda0bdedb880")
    assert p.encode_utf("\x00") == b"\xc0\x80"
    assert text_of(text_content("x\x00\U0001F600")) == "x\x00\U0001F600"


def test_map_encoding_matches_the_java_client() -> None:
    values = {"a": (p.BOOLEAN, True), "b": (p.BYTE, 1), "c": (p.CHAR, "c"), "d": (p.SHORT, 2),
              "e": (p.INTEGER, 3), "f": (p.LONG, 4), "g": (p.DOUBLE, 2.5), "h": (p.FLOAT, 1.5),
              "i": (p.STRING, "s"), "j": (p.BYTE_ARRAY, b"\x09\x08"), "k": (p.NULL, None)}
    expected = bytes.fromhex(
        "0000000b" "0001610101" "0001620201" "000163030063" "000164040002" "00016505" "00000003"
        "00016606" "0000000000000004" "00016707" "4004000000000000" "00016808" "3fc00000"
        "000169090001" "73" "00016a0a" "00000002" "0908" "00016b00")
    assert p.encode_map(values) == expected
    assert p.decode_map(expected) == values


def test_typed_properties_survive_the_engine() -> None:
    values = {"b": (p.BOOLEAN, False), "y": (p.BYTE, -3), "s": (p.SHORT, 300), "i": (p.INTEGER, -42),
              "l": (p.LONG, 1 << 40), "f": (p.FLOAT, 0.1), "d": (p.DOUBLE, 1e100), "c": (p.CHAR, "\u00e9"),
              "t": (p.STRING, "text"), "x": (p.BYTE_ARRAY, b"\x00\x01"),
              "m": (p.MAP, {"k": (p.INTEGER, 1)}), "n": (p.LIST, [(p.STRING, "a"), (p.LONG, 2)])}
    props, types = to_engine(p.decode_map(p.encode_map(values)))
    back = to_jms(props, types)
    assert back.keys() == values.keys()
    for key, (code, value) in values.items():
        got_code, got = back[key]
        assert got_code == code, key
        if code == p.FLOAT:
            assert struct.pack(">f", got) == struct.pack(">f", value)
        else:
            assert got == value, key
    assert props["f"] == "0.1" and props["d"] == "1.0E100" and types["l"] == "long"


def test_other_doors_types_become_java_types() -> None:
    got = to_jms({"n": "42", "big": "12345678901", "r": "2.5", "s": "x", "bin": b"\x01"},
                 {"n": "Number", "big": "Number", "r": "Number", "bin": "Binary"})
    assert got == {"n": (p.INTEGER, 42), "big": (p.LONG, 12345678901), "r": (p.DOUBLE, 2.5),
                   "s": (p.STRING, "x"), "bin": (p.BYTE_ARRAY, b"\x01")}
    # A value its declared type cannot hold goes as text rather than failing the delivery.
    assert to_jms({"i": "abc"}, {"i": "int"}) == {"i": (p.STRING, "abc")}


@pytest.mark.parametrize("value,single,text", [
    (1.5, False, "1.5"), (3.0, False, "3.0"), (1e10, False, "1.0E10"), (0.0001, False, "1.0E-4"),
    (0.1, True, "0.1"), (1234567.0, False, "1234567.0"), (float("nan"), False, "NaN"),
    (-float("inf"), True, "-Infinity"), (-2.5e-7, False, "-2.5E-7")])
def test_java_number_text(value: float, single: bool, text: str) -> None:
    if single:
        value = struct.unpack(">f", struct.pack(">f", value))[0]
    assert java_number(value, single) == text


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzzed_bytes_never_crash_the_parser(data: bytes) -> None:
    parser = FrameParser(max_frame=1 << 16)
    try:
        list(parser.feed(struct.pack(">i", len(data)) + data))
    except OpenWireError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(OBSERVED), st.data())
def test_mutated_observed_frames_decode_or_fail_cleanly(frame: bytes, data: st.DataObject) -> None:
    mutated = bytearray(frame)
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(4, len(mutated) - 1))
        mutated[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(5, len(mutated)))
    body = bytes(mutated[4:cut])
    try:
        list(FrameParser().feed(struct.pack(">i", len(body)) + body))
    except OpenWireError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzzed_typed_maps_fail_cleanly(data: bytes) -> None:
    for decoder in (p.decode_map, p.decode_stream):
        try:
            decoder(data)
        except p.PrimitiveError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=50))
def test_any_text_round_trips_as_modified_utf8(text: str) -> None:
    # Lone surrogates cannot be sent by Java either; everything else comes back intact.
    if any("\ud800" <= c <= "\udfff" for c in text):
        return
    assert p.decode_utf(p.encode_utf(text)) == text
