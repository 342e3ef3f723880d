"""The parser's SEND fast path reads every input exactly as the general path does:
the same frames, the same errors, whatever the bytes and however they are split."""
from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.protocols.stomp.codec import FrameParser, Limits
from broker.protocols.stomp.frame import CLIENT_COMMANDS, FrameError

SMALL = Limits(max_header_line=40, max_headers=3, max_body=30)

_TEXT = st.text(st.sampled_from("ab c:\u00e9\u0663"), max_size=6)
# Lines the fast path must leave to the general one (escapes, CR, no colon, bad escapes).
_ODD_LINES = st.sampled_from(["a\\cb:c\\n", "x:\\q", "n\r:v", "nocolon", ":", "\u00e9:\\r"])
_EOL = st.sampled_from(["\n", "\n", "\n", "\r\n"])


@st.composite
def _frame(draw: st.DrawFn) -> bytes:
    """A SEND frame most of the time, with any of its parts possibly wrong."""
    command = draw(st.sampled_from(["SEND", "SEND", "SEND", "ACK", "BOGUS", ""]))
    body = draw(st.binary(max_size=12))
    headers = draw(st.lists(st.tuples(_TEXT, _TEXT), max_size=4))
    length = draw(st.sampled_from(["ok", "ok", "ok", "none", "short", "long", "padded", "bad",
                                   "huge"]))
    lines = [f"{name.replace(':', '')}:{value}" for name, value in headers]
    if draw(st.integers(0, 4)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(_ODD_LINES))
    value = {"ok": str(len(body)), "short": str(max(0, len(body) - 1)),
             "long": str(len(body) + 1), "padded": f" {len(body)} ", "bad": "x1",
             "huge": "9" * 12}.get(length)
    if value is not None:
        lines.insert(draw(st.integers(0, len(lines))), f"content-length:{value}")
    eol = draw(_EOL)
    head = eol.join([command, *lines]) + eol + draw(_EOL)
    end = draw(st.sampled_from([b"\0", b"\0", b"\0\n", b"x", b""]))
    return head.encode() + body + end


_INPUT = st.one_of(
    st.lists(_frame(), min_size=1, max_size=4).map(b"".join),
    st.binary(max_size=80),
)


def _run(parser: FrameParser, data: bytes, cuts: list[int]) -> tuple[list[Any], Any]:
    """Feed `data` cut at `cuts`; return the frames and the error (message, detail, receipt)."""
    frames: list[Any] = []
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    try:
        for start, end in zip(bounds, bounds[1:]):
            frames += [(f.command, f.headers, f.body) for f in parser.feed(data[start:end])]
            while more := parser.feed(b""):
                frames += [(f.command, f.headers, f.body) for f in more]
    except FrameError as error:
        frames += [(f.command, f.headers, f.body) for f in error.frames]
        return frames, (error.message, error.detail, error.receipt)
    return frames, None


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_INPUT, cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=3),
       version=st.sampled_from(["1.0", "1.1", "1.2"]), small=st.booleans())
def test_fast_path_and_general_parser_agree(data: bytes, cuts: list[int], version: str,
                                             small: bool) -> None:
    results = []
    for fast in (True, False):
        parser = FrameParser(SMALL if small else Limits(), CLIENT_COMMANDS, fast_path=fast)
        parser.version = version
        results.append(_run(parser, data, cuts))
    assert results[0] == results[1]


def test_fast_path_takes_the_common_send() -> None:
    """The frame stomp.py sends for a text message parses whole, in one call."""
    parser = FrameParser()
    parser.version = "1.2"
    frames = parser.feed(b"SEND\ndestination:/queue/a\ncontent-type:text/plain\n"
                         b"content-length:5\n\nhello\0\nSEND\ndestination:/queue/b\n"
                         b"content-length:2\n\nhi\0")
    assert [(f.headers["destination"], f.body) for f in frames] == [("/queue/a", b"hello"),
                                                                    ("/queue/b", b"hi")]
    assert frames[0].headers == {"destination": "/queue/a", "content-type": "text/plain",
                                 "content-length": "5"}
