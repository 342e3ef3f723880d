"""Sans-IO STOMP 1.0/1.1/1.2 frame codec: bytes in, frames out, and back.

The parser sits on the broker's hot path and reads untrusted input, so it
keeps one bytearray per connection and remembers how far it has searched the
incomplete frame at its front: a body arriving in many small pieces is
scanned once, not once per piece, and every limit trips as soon as the
buffered bytes exceed it rather than after the whole frame has been buffered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from operator import methodcaller

from broker.protocols.stomp.frame import CLIENT_COMMANDS, Frame, FrameError

HEARTBEAT = b"\n"
_EOL = (10, 13)   # the bytes a heart-beat is made of (LF, or CR LF)


@dataclass(frozen=True)
class Limits:
    """Per-connection input limits; the defaults are ActiveMQ's."""

    max_header_line: int = 10240
    max_headers: int = 1000
    max_body: int = 100 * 1024 * 1024


# The spec never escapes these frames, because they are exchanged before the
# version is agreed. For the same reason they are the only frames after which
# the version can change, so the parser stops after one (see `feed`).
_NEGOTIATION = frozenset({"CONNECT", "STOMP", "CONNECTED"})

_HEAD_END = re.compile(rb"\n\r?\n")
_NAME_VALUE = methodcaller("split", ":", 1)
_ESCAPE_SEQUENCE = re.compile(r"\\(.?)", re.DOTALL)
_UNESCAPES: dict[str, dict[str, str]] = {
    "1.1": {"\\": "\\", "n": "\n", "c": ":"},
    "1.2": {"\\": "\\", "n": "\n", "c": ":", "r": "\r"},
}


class FrameParser:
    """Incremental parser for the frames of one connection."""

    def __init__(
        self, limits: Limits = Limits(), commands: frozenset[str] = CLIENT_COMMANDS,
        fast_path: bool = True,
    ) -> None:
        self.version = "1.0"
        # Whole SEND frames go through `_fast_send` first; off only to compare the two.
        self._fast = fast_path and "SEND" in commands
        self._limits = limits
        self._commands = commands
        self._buf = bytearray()
        # Progress on the incomplete frame at the front of the buffer, as
        # offsets from its start, so that no byte is searched twice.
        self._scanned = 0  # bytes searched for the end of the head or body
        self._lines = 0  # complete lines in the head so far
        self._line_start = 0  # start of the head's incomplete last line
        # (command, headers, body offset, content-length or -1) once the head is read
        self._head: tuple[str, dict[str, str], int, int] | None = None

    def feed(self, data: bytes) -> list[Frame]:
        """Buffer `data` and return the frames it completes, in order.

        Parsing stops after a CONNECT, STOMP or CONNECTED frame, because the
        frames behind it must be decoded with the version it negotiates: set
        `version`, then call `feed(b"")` to get them.
        """
        buf = self._buf
        buf += data
        frames: list[Frame] = []
        start = 0
        try:
            while start < len(buf):
                head = self._head
                if head is None:
                    if buf[start] in _EOL:
                        start = self._skip_heartbeats(start)
                    if self._fast and self._scanned == 0:
                        fast = self._fast_send(start)
                        if fast is not None:
                            frames.append(fast[0])
                            start = fast[1]
                            continue
                    head = self._head = self._read_head(start)
                    if head is None:
                        break
                frame, end = self._read_body(start, head)
                if frame is None:
                    break
                frames.append(frame)
                self._head = None
                self._scanned = self._lines = self._line_start = 0
                start = end
                if frame.command in _NEGOTIATION:
                    break
        except FrameError as error:
            error.frames = frames
            raise
        del buf[:start]
        return frames

    def _fast_send(self, start: int) -> tuple[Frame, int] | None:
        """The common frame in one pass: a complete SEND with a content-length body
        and a plain head (no CR, no escapes, within every limit).

        Anything else, including anything the general path would refuse, returns
        None and is left to the general path, so both read every input alike.
        """
        buf = self._buf
        if not buf.startswith(b"SEND\n", start):
            return None
        head_end = buf.find(b"\n\n", start)
        limits = self._limits
        if head_end < 0 or head_end - start > limits.max_header_line:
            return None
        try:
            text = buf[start + 5:head_end].decode()
        except UnicodeDecodeError:
            return None
        # (Tested on the text: `in` on bytes tries the operand as an integer first, and
        # pays for the exception that raises.)
        if "\r" in text or "\\" in text:
            return None
        lines = text.split("\n")
        if len(lines) > limits.max_headers:
            return None
        if self.version == "1.0":
            headers: dict[str, str] = {}
            for line in lines:
                name, colon, value = line.partition(":")
                if not colon:
                    return None
                if name not in headers:
                    headers[name] = value.strip()
        else:
            try:
                # Each line split at its first colon, in C; a line without one fails.
                headers = dict(map(_NAME_VALUE, lines))
            except ValueError:
                return None
            if len(headers) != len(lines):
                return None   # a repeated header: the first value counts (the general path)
        length = headers.get("content-length")
        if length is None or len(length) > 9 or not (length.isascii() and length.isdigit()):
            return None
        body_start = head_end + 2
        end = body_start + int(length)
        if end - body_start > limits.max_body or len(buf) <= end or buf[end]:
            return None
        # The LF clients put after the NUL is a heart-beat: skipped here rather than by
        # `_skip_heartbeats`, as the next frame starts.
        after = end + 2 if len(buf) > end + 1 and buf[end + 1] == 10 else end + 1
        return Frame("SEND", headers, bytes(buf[body_start:end])), after

    def _skip_heartbeats(self, start: int) -> int:
        """Skip the EOLs between frames, which are heart-beats."""
        buf = self._buf
        end = len(buf)
        pos = start
        while pos < end:
            byte = buf[pos]
            if byte == 10:
                pos += 1
            elif byte == 13 and pos + 1 < end and buf[pos + 1] == 10:
                pos += 2
            else:
                break
        if pos != start:
            # Only a lone CR can have been scanned as a head: start afresh.
            self._scanned = self._lines = self._line_start = 0
        return pos

    def _read_head(self, start: int) -> tuple[str, dict[str, str], int, int] | None:
        """Read the head once it is complete: one decode and one split, not one per line."""
        buf = self._buf
        # Resume 2 bytes back: the end marker may straddle two feeds.
        match = _HEAD_END.search(buf, start + max(self._scanned - 2, 0))
        if match is None:
            self._check_partial_head(start)
            return None
        head_end = match.start()
        try:
            text = buf[start:head_end].decode()
        except UnicodeDecodeError as error:
            raise FrameError(
                "Invalid UTF-8 in frame header", f"Frame header is not valid UTF-8: {error}"
            ) from None
        command, headers = self._parse_head(text, head_end - start)
        body_offset = match.end() - start
        self._scanned = body_offset
        return command, headers, body_offset, self._content_length(headers)

    def _check_partial_head(self, start: int) -> None:
        """Enforce the header limits on a head that has not ended yet."""
        buf = self._buf
        end = len(buf)
        limits = self._limits
        pos = start + self._scanned
        line_start = start + self._line_start
        while (newline := buf.find(b"\n", pos, end)) >= 0:
            length = newline - line_start
            if buf[newline - 1] == 13:
                length -= 1
            if length > limits.max_header_line:
                raise _line_too_long(limits)
            self._lines += 1
            if self._lines - 1 > limits.max_headers:  # the first line is the command
                raise _too_many_headers(limits)
            line_start = pos = newline + 1
        # One byte of slack: the incomplete line may yet end in CRLF.
        if end - line_start > limits.max_header_line + 1:
            raise _line_too_long(limits)
        self._line_start = line_start - start
        self._scanned = end - start

    def _parse_head(self, text: str, size: int) -> tuple[str, dict[str, str]]:
        """Split a complete head into command and headers.

        CRLF is accepted on every version because ActiveMQ accepts it on 1.0
        too, and clients written against it send it.
        """
        lines = text.split("\n")
        if "\r" in text:
            lines = [line[:-1] if line[-1:] == "\r" else line for line in lines]
        command = lines[0]
        if command not in self._commands:
            error = FrameError(f"Unknown STOMP action: {_shown(command)}")
            error.receipt = next((line[8:] for line in lines[1:] if line.startswith("receipt:")), None)
            raise error
        limits = self._limits
        if len(lines) - 1 > limits.max_headers:
            raise _too_many_headers(limits)
        if size > limits.max_header_line:
            ascii_only = text.isascii()
            for line in lines:
                if len(line) > limits.max_header_line or (
                    not ascii_only and len(line.encode()) > limits.max_header_line
                ):
                    raise _line_too_long(limits)
        version = self.version
        unescapes = None
        if "\\" in text and command not in _NEGOTIATION:
            unescapes = _UNESCAPES.get(version)
        trim = version == "1.0"
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise FrameError(
                    f"Unable to parse header line [{_shown(line)}]",
                    "A header line must be name:value.",
                )
            if unescapes:
                name = _unescape(name, unescapes)
                value = _unescape(value, unescapes)
            elif trim:
                value = value.strip()
            if name not in headers:
                headers[name] = value
        return command, headers

    def _content_length(self, headers: dict[str, str]) -> int:
        """Return the announced body size, or -1 when the body ends at the first NUL."""
        value = headers.get("content-length")
        if value is None:
            return -1
        if not (value.isascii() and value.isdigit()):
            raise FrameError(
                "Specified content-length is not a valid integer",
                f"content-length {_shown(value)} is not a non-negative decimal integer.",
            )
        max_body = self._limits.max_body
        digits = value.lstrip("0") or "0"
        # int() refuses more than 4300 digits; such a length is too large anyway.
        length = int(digits) if len(digits) < 4300 else max_body + 1
        if length > max_body:
            raise FrameError(
                "The maximum data length was exceeded",
                f"content-length {_shown(value)} is above the limit of {max_body} bytes.",
            )
        return length

    def _read_body(
        self, start: int, head: tuple[str, dict[str, str], int, int]
    ) -> tuple[Frame | None, int]:
        """Return the frame and where the next one starts, or (None, 0) for more data."""
        command, headers, body_offset, length = head
        buf = self._buf
        body_start = start + body_offset
        if length >= 0:
            end = body_start + length
            if len(buf) <= end:
                return None, 0
            if buf[end]:
                raise FrameError(
                    "content-length bytes were read and there was no trailing null byte",
                    f"The byte after the {length} bytes of a content-length body must be NUL.",
                )
        else:
            end = buf.find(b"\0", start + self._scanned)
            max_body = self._limits.max_body
            if end < 0:
                self._scanned = len(buf) - start
                if len(buf) - body_start > max_body:
                    raise _body_too_large(max_body)
                return None, 0
            if end - body_start > max_body:
                raise _body_too_large(max_body)
        if end - body_start < 65536:
            body = bytes(buf[body_start:end])  # faster than a memoryview when small
        else:
            with memoryview(buf) as view:  # one copy of a big body instead of two
                body = bytes(view[body_start:end])
        return Frame(command, headers, body), end + 1


def _unescape(text: str, table: dict[str, str]) -> str:
    """Decode the escape sequences `table` defines; any other backslash stays as written,
    with the character after it. The spec makes an undefined sequence (`\\t`, `\\r` on
    1.1, a trailing backslash) a fatal error, but ActiveMQ 5.17's StompWireFormat keeps it,
    so a client that sends a Windows path unescaped keeps its connection."""
    if "\\" not in text:
        return text
    return _ESCAPE_SEQUENCE.sub(lambda match: table.get(match.group(1), match.group()), text)


def _shown(text: str) -> str:
    """Make wire text safe to quote in an ERROR frame's `message` header."""
    if len(text) <= 100 and text.isprintable():
        return text
    return repr(text[:100])


def _line_too_long(limits: Limits) -> FrameError:
    return FrameError(
        "The maximum header length was exceeded",
        f"A frame line is longer than {limits.max_header_line} bytes.",
    )


def _too_many_headers(limits: Limits) -> FrameError:
    return FrameError(
        "The maximum number of headers was exceeded",
        f"A frame has more than {limits.max_headers} headers.",
    )


def _body_too_large(max_body: int) -> FrameError:
    return FrameError(
        "The maximum data length was exceeded",
        f"A frame body is longer than {max_body} bytes.",
    )


def _escape_11(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace(":", "\\c")


def _escape_12(text: str) -> str:
    # _escape_11's replacements spelled out: one call less for every MESSAGE.
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace(":", "\\c").replace("\r", "\\r")


ESCAPES: dict[str, Callable[[str], str]] = {"1.1": _escape_11, "1.2": _escape_12}


def encode(frame: Frame, version: str) -> bytes:
    """Serialize `frame` for a connection speaking `version`.

    Every frame ends in NUL then LF, as ActiveMQ sends them (the LF reads as
    a heart-beat). No content-length is added: whether a body gets one is the
    caller's choice, since ActiveMQ omits it for text messages.
    """
    headers = frame.headers
    if not headers:
        head = frame.command + "\n\n"
    else:
        lines = header_lines(headers, None if frame.command in _NEGOTIATION else version)
        head = f"{frame.command}\n{lines}\n\n"
    return b"".join((head.encode(), frame.body, b"\0\n"))


def receipt(receipt_id: str, version: str) -> bytes:
    """`encode` of a RECEIPT frame, spelled out: a producer that asks one for every
    persistent SEND gets as many RECEIPTs as it sends messages."""
    return b"RECEIPT\nreceipt-id:" + escape_value(receipt_id, version).encode() + b"\n\n\0\n"


def header_lines(headers: dict[str, str], version: str | None) -> str:
    """The `name:value` lines of `headers`, LF-separated, escaped as `version` wants
    (None: not escaped, as in the negotiation frames)."""
    escape = None if version is None else ESCAPES.get(version)
    if escape is None:
        return "\n".join(map(":".join, headers.items()))
    return _escaped_lines(headers, escape)


def escape_value(text: str, version: str) -> str:
    """One header name or value as `version` writes it."""
    escape = ESCAPES.get(version)
    return text if escape is None else escape(text)


def _escaped_lines(headers: dict[str, str], escape: Callable[[str], str]) -> str:
    """Escape all names and values in one pass over one string.

    Escaping each string separately costs a few calls per header, and most
    MESSAGE frames need it (message ids contain colons). Joining with NUL and
    SOH lets one escape call cover the lot; the counts prove no name or value
    contains a separator before the separators are turned back into `:` and
    LF.
    """
    text = "\x01".join(map("\x00".join, headers.items()))
    if text.count("\x00") == len(headers) and text.count("\x01") == len(headers) - 1:
        return escape(text).replace("\x00", ":").replace("\x01", "\n")
    return "\n".join(escape(name) + ":" + escape(value) for name, value in headers.items())
