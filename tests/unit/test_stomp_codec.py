"""Unit and property tests for the sans-IO STOMP frame codec."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.protocols.stomp.codec import HEARTBEAT, FrameParser, Limits, encode, receipt
from broker.protocols.stomp.frame import (
    CLIENT_COMMANDS,
    SERVER_COMMANDS,
    Frame,
    FrameError,
)

ALL_COMMANDS = CLIENT_COMMANDS | SERVER_COMMANDS
VERSIONS = ("1.0", "1.1", "1.2")
PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def parser_at(
    version: str = "1.0", limits: Limits = Limits(), commands: frozenset[str] = CLIENT_COMMANDS
) -> FrameParser:
    parser = FrameParser(limits, commands)
    parser.version = version
    return parser


def feed_all(parser: FrameParser, chunks: list[bytes]) -> list[Frame]:
    """Feed every chunk and drain what the parser holds back after negotiation frames."""
    frames: list[Frame] = []
    for chunk in chunks:
        frames += parser.feed(chunk)
        while more := parser.feed(b""):
            frames += more
    return frames


def parse(data: bytes, version: str = "1.0", **kwargs: object) -> list[Frame]:
    return feed_all(parser_at(version, **kwargs), [data])  # type: ignore[arg-type]


def parse_error(data: bytes, version: str = "1.0", **kwargs: object) -> FrameError:
    with pytest.raises(FrameError) as caught:
        parse(data, version, **kwargs)
    return caught.value


def one_by_one(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


# --- framing ---------------------------------------------------------------


def test_frame_with_headers_and_body() -> None:
    frames = parse(b"SEND\ndestination:/queue/a\nreceipt:1\n\nhello\0")
    assert frames == [Frame("SEND", {"destination": "/queue/a", "receipt": "1"}, b"hello")]


def test_frame_without_headers_or_body() -> None:
    assert parse(b"DISCONNECT\n\n\0") == [Frame("DISCONNECT", {}, b"")]


def test_several_frames_in_one_feed() -> None:
    data = b"BEGIN\ntransaction:t\n\n\0SEND\ndestination:/q\n\nx\0COMMIT\ntransaction:t\n\n\0"
    assert [frame.command for frame in parse(data)] == ["BEGIN", "SEND", "COMMIT"]


def test_heartbeats_between_frames_are_skipped() -> None:
    parser = parser_at()
    assert parser.feed(b"\n\r\n\n") == []
    frames = parser.feed(b"\r\nSEND\n\na\0\n\n\r\nSEND\n\nb\0\n")
    assert [frame.body for frame in frames] == [b"a", b"b"]
    assert HEARTBEAT == b"\n"


def test_heartbeat_crlf_split_across_feeds() -> None:
    parser = parser_at()
    assert parser.feed(b"\r") == []
    assert parser.feed(b"\nSEND\n\nx\0") == [Frame("SEND", {}, b"x")]


def test_partial_frame_is_kept_until_complete() -> None:
    parser = parser_at()
    assert parser.feed(b"SEND\ndestination:/q") == []
    assert parser.feed(b"ueue/a\n\nhel") == []
    assert parser.feed(b"lo\0SE") == [Frame("SEND", {"destination": "/queue/a"}, b"hello")]
    assert parser.feed(b"ND\n\n\0") == [Frame("SEND", {}, b"")]


MIXED_STREAM = (
    b"\n"
    b"SEND\r\ndestination:/queue/a\r\ncontent-length:5\r\n\r\na\0b\0c\0\n"
    b"SEND\ndestination:/queue/b\nx:1\nx:2\n\ntext body\0"
    b"\r\n"
    b"ACK\nid:7\n\n\0"
    b"SEND\ncontent-length:0\n\n\0\n"
)


def test_byte_by_byte_feeding_gives_the_same_frames() -> None:
    whole = parse(MIXED_STREAM)
    assert len(whole) == 4
    assert feed_all(parser_at(), one_by_one(MIXED_STREAM)) == whole


def test_body_without_content_length_ends_at_first_nul() -> None:
    frames = parse(b"SEND\n\nab\0SEND\n\ncd\0")
    assert frames == [Frame("SEND", {}, b"ab"), Frame("SEND", {}, b"cd")]


def test_content_length_body_keeps_nul_bytes() -> None:
    body = b"\0\x01\0\n\n\0"
    frames = parse(b"SEND\ncontent-length:6\n\n" + body + b"\0")
    assert frames == [Frame("SEND", {"content-length": "6"}, body)]


def test_content_length_zero() -> None:
    assert parse(b"SEND\ncontent-length:0\n\n\0") == [
        Frame("SEND", {"content-length": "0"}, b"")
    ]


def test_content_length_with_leading_zeros() -> None:
    assert parse(b"SEND\ncontent-length:003\n\nabc\0")[0].body == b"abc"


def test_content_length_body_must_be_followed_by_nul() -> None:
    error = parse_error(b"SEND\ncontent-length:3\n\nabcd\0")
    assert error.message == "content-length bytes were read and there was no trailing null byte"


@pytest.mark.parametrize("value", ["abc", "-1", "", "1.5", "+5", "0x10", "\u0663", "1 0"])
@pytest.mark.parametrize("version", VERSIONS)
def test_invalid_content_length(version: str, value: str) -> None:
    data = f"SEND\ncontent-length:{value}\n\nabc\0".encode()
    assert parse_error(data, version).message == "Specified content-length is not a valid integer"


def test_content_length_is_trimmed_on_1_0_only() -> None:
    data = b"SEND\ncontent-length: 3 \n\nabc\0"
    assert parse(data, "1.0")[0].body == b"abc"
    assert parse_error(data, "1.1").message == "Specified content-length is not a valid integer"


def test_first_content_length_wins() -> None:
    frames = parse(b"SEND\ncontent-length:2\ncontent-length:junk\n\na\0\0")
    assert frames == [Frame("SEND", {"content-length": "2"}, b"a\0")]


def test_frame_error_carries_the_frames_before_it() -> None:
    with pytest.raises(FrameError) as caught:
        parser_at().feed(b"SEND\n\nok\0BOGUS\n\n\0")
    assert caught.value.message == "Unknown STOMP action: BOGUS"
    assert caught.value.frames == [Frame("SEND", {}, b"ok")]


# --- commands ----------------------------------------------------------------


@pytest.mark.parametrize("command", ["BOGUS", "send", "SEND ", "MESSAGE", "CONNECTED"])
def test_unknown_command(command: str) -> None:
    error = parse_error(command.encode() + b"\n\n\0")
    assert error.message == f"Unknown STOMP action: {command}"
    assert error.detail


def test_unprintable_command_is_quoted_in_the_message() -> None:
    error = parse_error(b"SE\x01ND\n\n\0")
    assert error.message == "Unknown STOMP action: 'SE\\x01ND'"


def test_server_commands_parser() -> None:
    frames = parse(b"MESSAGE\nmessage-id:1\n\nx\0", commands=SERVER_COMMANDS)
    assert frames == [Frame("MESSAGE", {"message-id": "1"}, b"x")]
    assert parse_error(b"SEND\n\n\0", commands=SERVER_COMMANDS).message == (
        "Unknown STOMP action: SEND"
    )


@pytest.mark.parametrize("command", sorted(CLIENT_COMMANDS))
def test_every_client_command_is_accepted(command: str) -> None:
    assert parse(command.encode() + b"\n\n\0")[0].command == command


# --- headers -----------------------------------------------------------------


def test_header_line_without_colon() -> None:
    error = parse_error(b"SEND\ndestination:/q\nnocolon\n\n\0")
    assert error.message == "Unable to parse header line [nocolon]"


@pytest.mark.parametrize("version", VERSIONS)
def test_header_split_at_first_colon(version: str) -> None:
    assert parse(b"SEND\na:b:c\n\n\0", version)[0].headers == {"a": "b:c"}


@pytest.mark.parametrize("version", VERSIONS)
def test_first_header_wins(version: str) -> None:
    frames = parse(b"SEND\nfoo:1\nbar:x\nfoo:2\n\n\0", version)
    assert frames[0].headers == {"foo": "1", "bar": "x"}
    assert list(frames[0].headers) == ["foo", "bar"]


@pytest.mark.parametrize("version", VERSIONS)
def test_crlf_line_endings(version: str) -> None:
    frames = parse(b"SEND\r\ndestination:/q\r\nempty:\r\n\r\nbody\0", version)
    assert frames == [Frame("SEND", {"destination": "/q", "empty": ""}, b"body")]


def test_values_are_trimmed_on_1_0() -> None:
    frames = parse(b"SEND\n name :  /queue/a \t\n\n\0", "1.0")
    assert frames[0].headers == {" name ": "/queue/a"}


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_values_are_not_trimmed_on_1_1_and_1_2(version: str) -> None:
    frames = parse(b"SEND\n name :  /queue/a \t\n\n\0", version)
    assert frames[0].headers == {" name ": "  /queue/a \t"}


def test_invalid_utf8_in_header() -> None:
    assert parse_error(b"SEND\na:\xff\n\n\0").message == "Invalid UTF-8 in frame header"


def test_utf8_header_values() -> None:
    assert parse("SEND\nnom:été ✓\n\n\0".encode())[0].headers == {"nom": "été ✓"}


# --- escaping ----------------------------------------------------------------


def test_1_0_does_not_decode_escapes() -> None:
    frames = parse(b"SEND\na\\cb:x\\ny\\\\z\\t\n\n\0", "1.0")
    assert frames[0].headers == {"a\\cb": "x\\ny\\\\z\\t"}


def test_1_1_decodes_backslash_newline_colon_in_names_and_values() -> None:
    frames = parse(b"SEND\na\\cb:x\\ny\\\\z\\c\n\n\0", "1.1")
    assert frames[0].headers == {"a:b": "x\ny\\z:"}


def test_1_2_also_decodes_carriage_return() -> None:
    frames = parse(b"SEND\nk\\r:a\\rb\\n\\c\\\\\n\n\0", "1.2")
    assert frames[0].headers == {"k\r": "a\rb\n:\\"}


@pytest.mark.parametrize(
    ("version", "header", "decoded"),
    [
        ("1.1", b"a:\\r", {"a": "\\r"}),
        ("1.1", b"a:\\t", {"a": "\\t"}),
        ("1.2", b"a:C\\temp\\n", {"a": "C\\temp\n"}),
        ("1.2", b"a:x\\", {"a": "x\\"}),
        ("1.2", b"a\\x:1", {"a\\x": "1"}),
        ("1.1", b"a:\\\\\\", {"a": "\\\\"}),
    ],
)
def test_undefined_escape_sequence_is_kept_as_written(version: str, header: bytes,
                                                       decoded: dict[str, str]) -> None:
    """ActiveMQ 5.17 keeps the backslash and the character after it (the spec would
    call it a fatal error and close the connection)."""
    assert parse(b"SEND\n" + header + b"\n\n\0", version)[0].headers == decoded


@pytest.mark.parametrize("command", ["CONNECT", "STOMP"])
@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_connect_frames_are_not_decoded(version: str, command: str) -> None:
    frames = parse(command.encode() + b"\nlogin:a\\cb\\t\n\n\0", version)
    assert frames[0].headers == {"login": "a\\cb\\t"}


def test_connected_frame_is_not_decoded() -> None:
    frames = parse(b"CONNECTED\nserver:a\\cb\n\n\0", "1.2", commands=SERVER_COMMANDS)
    assert frames[0].headers == {"server": "a\\cb"}


def test_parsing_stops_after_connect_until_version_is_set() -> None:
    parser = parser_at()
    data = b"CONNECT\naccept-version:1.2\n\n\0SEND\ndestination:a\\cb\n\n\0"
    assert [frame.command for frame in parser.feed(data)] == ["CONNECT"]
    parser.version = "1.2"
    assert parser.feed(b"") == [Frame("SEND", {"destination": "a:b"}, b"")]


# --- limits --------------------------------------------------------------------

SMALL = Limits(max_header_line=50, max_headers=3, max_body=100)


def test_header_line_at_the_limit() -> None:
    line = b"a:" + b"x" * 48
    assert parse(b"SEND\n" + line + b"\n\n\0", limits=SMALL)[0].headers == {"a": "x" * 48}
    assert parse(b"SEND\n" + line + b"\r\n\r\n\0", limits=SMALL)[0].headers == {"a": "x" * 48}


def test_header_line_too_long() -> None:
    error = parse_error(b"SEND\na:" + b"x" * 49 + b"\n\n\0", limits=SMALL)
    assert error.message == "The maximum header length was exceeded"


def test_header_line_limit_counts_bytes_not_characters() -> None:
    line = "a:" + "é" * 25  # 27 characters, 52 bytes
    error = parse_error(f"SEND\n{line}\n\n\0".encode(), limits=SMALL)
    assert error.message == "The maximum header length was exceeded"


def test_header_line_too_long_is_detected_before_it_ends() -> None:
    parser = parser_at(limits=SMALL)
    parser.feed(b"SEND\na:")
    with pytest.raises(FrameError) as caught:
        for _ in range(100):
            parser.feed(b"x")
    assert caught.value.message == "The maximum header length was exceeded"


def test_command_line_is_limited_too() -> None:
    with pytest.raises(FrameError) as caught:
        parser_at(limits=SMALL).feed(b"S" * 60)
    assert caught.value.message == "The maximum header length was exceeded"


def test_header_count_at_the_limit() -> None:
    assert len(parse(b"SEND\na:1\nb:2\nc:3\n\n\0", limits=SMALL)[0].headers) == 3


def test_too_many_headers() -> None:
    error = parse_error(b"SEND\na:1\nb:2\nc:3\na:4\n\n\0", limits=SMALL)
    assert error.message == "The maximum number of headers was exceeded"


def test_too_many_headers_is_detected_before_the_head_ends() -> None:
    parser = parser_at(limits=SMALL)
    assert parser.feed(b"SEND\na:1\nb:2\nc:3\n") == []
    with pytest.raises(FrameError) as caught:
        parser.feed(b"d:4\n")
    assert caught.value.message == "The maximum number of headers was exceeded"


def test_content_length_above_max_body_fails_as_soon_as_the_head_is_read() -> None:
    with pytest.raises(FrameError) as caught:
        parser_at(limits=SMALL).feed(b"SEND\ncontent-length:101\n\n")
    assert caught.value.message == "The maximum data length was exceeded"


def test_huge_content_length() -> None:
    error = parse_error(b"SEND\ncontent-length:" + b"9" * 5000 + b"\n\n\0")
    assert error.message == "The maximum data length was exceeded"


def test_body_at_max_body() -> None:
    assert len(parse(b"SEND\n\n" + b"x" * 100 + b"\0", limits=SMALL)[0].body) == 100
    data = b"SEND\ncontent-length:100\n\n" + b"\0" * 101
    assert len(parse(data, limits=SMALL)[0].body) == 100


def test_body_above_max_body() -> None:
    error = parse_error(b"SEND\n\n" + b"x" * 101 + b"\0", limits=SMALL)
    assert error.message == "The maximum data length was exceeded"


def test_unterminated_body_fails_as_soon_as_it_exceeds_max_body() -> None:
    parser = parser_at(limits=SMALL)
    assert parser.feed(b"SEND\n\n" + b"x" * 100) == []
    with pytest.raises(FrameError) as caught:
        parser.feed(b"x")
    assert caught.value.message == "The maximum data length was exceeded"


@pytest.mark.parametrize("content_length", [False, True])
def test_large_body_in_small_chunks_is_linear(content_length: bool) -> None:
    size = 8 * 1024 * 1024
    head = f"SEND\ncontent-length:{size}\n\n" if content_length else "SEND\n\n"
    data = head.encode() + b"x" * size + b"\0"
    parser = parser_at()
    began = time.perf_counter()
    frames = [frame for i in range(0, len(data), 256) for frame in parser.feed(data[i : i + 256])]
    # Rescanning the buffer per chunk would take minutes; linear takes well under 1 s.
    assert time.perf_counter() - began < 5
    assert len(frames) == 1 and len(frames[0].body) == size


# --- encoding --------------------------------------------------------------------


def test_encode_layout() -> None:
    frame = Frame("MESSAGE", {"destination": "/queue/a", "message-id": "7"}, b"hi")
    assert encode(frame, "1.0") == b"MESSAGE\ndestination:/queue/a\nmessage-id:7\n\nhi\0\n"


def test_encode_without_headers() -> None:
    assert encode(Frame("RECEIPT", {}), "1.2") == b"RECEIPT\n\n\0\n"


def test_encode_adds_no_content_length() -> None:
    assert b"content-length" not in encode(Frame("MESSAGE", {}, b"\0\0"), "1.2")


def test_encode_escaping_per_version() -> None:
    frame = Frame("MESSAGE", {"k:\\": "a:b\nc\rd\\"})
    assert encode(frame, "1.0") == b"MESSAGE\nk:\\:a:b\nc\rd\\\n\n\0\n"
    assert encode(frame, "1.1") == b"MESSAGE\nk\\c\\\\:a\\cb\\nc\rd\\\\\n\n\0\n"
    assert encode(frame, "1.2") == b"MESSAGE\nk\\c\\\\:a\\cb\\nc\\rd\\\\\n\n\0\n"


@pytest.mark.parametrize("command", ["CONNECTED", "CONNECT", "STOMP"])
def test_encode_does_not_escape_negotiation_frames(command: str) -> None:
    frame = Frame(command, {"session": "ID:host:1", "server": "ActiveMQ/5.17.2"})
    assert encode(frame, "1.2") == (
        command.encode() + b"\nsession:ID:host:1\nserver:ActiveMQ/5.17.2\n\n\0\n"
    )


def test_encode_escapes_values_holding_control_characters() -> None:
    frame = Frame("MESSAGE", {"a\x00": "x\x01:y"})
    assert encode(frame, "1.2") == b"MESSAGE\na\x00:x\x01\\cy\n\n\0\n"


def test_encode_keeps_header_order() -> None:
    headers = {"z": "1", "a": "2", "m": "3"}
    assert encode(Frame("SEND", headers), "1.1") == b"SEND\nz:1\na:2\nm:3\n\n\0\n"


# --- properties ------------------------------------------------------------------

FRAGMENTS = [
    b"SEND\n", b"CONNECT\n", b"MESSAGE\n", b"content-length:", b"content-length:3\n",
    b"a:b\n", b"\n", b"\r\n", b"\0", b":", b"\\", b"\\c", b"\\r", b"\xff", b"x" * 60,
]


def outcome(parser: FrameParser, chunks: list[bytes]) -> tuple[list[Frame], bool]:
    """Return the frames read before any error, and whether there was one."""
    frames: list[Frame] = []
    try:
        for chunk in chunks:
            frames += parser.feed(chunk)
            while more := parser.feed(b""):
                frames += more
    except FrameError as error:
        assert error.message and error.detail
        return frames + error.frames, True
    return frames, False


@PROPERTY
@given(
    pieces=st.lists(st.one_of(st.binary(max_size=16), st.sampled_from(FRAGMENTS)), max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=12),
    version=st.sampled_from(VERSIONS),
    commands=st.sampled_from([CLIENT_COMMANDS, SERVER_COMMANDS]),
)
def test_fuzz_only_frame_errors(
    pieces: list[bytes], cuts: list[int], version: str, commands: frozenset[str]
) -> None:
    data = b"".join(pieces)
    bounds = [0, *sorted(cut for cut in cuts if cut < len(data)), len(data)]
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    limits = Limits(max_header_line=40, max_headers=4, max_body=50)
    whole = outcome(parser_at(version, limits, commands), [data])
    # However the bytes are split, the frames and the verdict are the same.
    assert outcome(parser_at(version, limits, commands), chunks) == whole
    for frame in whole[0]:
        assert frame.command in commands and isinstance(frame.body, bytes)


def header_text(forbidden: str) -> st.SearchStrategy[str]:
    return st.text(st.characters(exclude_characters=forbidden, exclude_categories=("Cs",)), max_size=12)


@st.composite
def headers_for(draw: st.DrawFn, version: str, command: str) -> dict[str, str]:
    """Headers that `version` can carry unchanged on a `command` frame."""
    if version == "1.0" or command in ("CONNECT", "STOMP", "CONNECTED"):
        names = header_text(":\n")
        values = header_text("\n")
    else:
        names = st.text(max_size=12)
        values = st.text(max_size=12)
    headers = draw(st.dictionaries(names, values, max_size=6))
    if version == "1.0":
        headers = {name: value.strip() for name, value in headers.items()}
    elif version == "1.1" or command in ("CONNECT", "STOMP", "CONNECTED"):
        # A raw CR at the end of a line reads as CRLF.
        headers = {name: value.rstrip("\r") for name, value in headers.items()}
    headers.pop("content-length", None)
    return headers


@st.composite
def frames_for(draw: st.DrawFn, version: str) -> Frame:
    command = draw(st.sampled_from(sorted(ALL_COMMANDS)))
    headers = draw(headers_for(version, command))
    if draw(st.booleans()):
        body = draw(st.binary(max_size=64))
        headers["content-length"] = str(len(body))
    else:
        body = draw(st.binary(max_size=64)).replace(b"\0", b"")
    return Frame(command, headers, body)


@PROPERTY
@given(data=st.data(), version=st.sampled_from(VERSIONS))
def test_round_trip(data: st.DataObject, version: str) -> None:
    frames = data.draw(st.lists(frames_for(version), min_size=1, max_size=3))
    heartbeats = data.draw(st.lists(st.sampled_from([b"", b"\n", b"\r\n"]), min_size=3, max_size=3))
    stream = b"".join(encode(frame, version) + beat for frame, beat in zip(frames, heartbeats))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[a:b] for a, b in zip(bounds, bounds[1:])]
    parser = parser_at(version, commands=ALL_COMMANDS)
    assert feed_all(parser, [stream]) == frames
    assert feed_all(parser_at(version, commands=ALL_COMMANDS), chunks) == frames


@given(receipt_id=st.text(), version=st.sampled_from(VERSIONS))
def test_a_receipt_is_encoded_as_the_general_encoder_would(receipt_id: str, version: str) -> None:
    assert receipt(receipt_id, version) == encode(Frame("RECEIPT", {"receipt-id": receipt_id}), version)
