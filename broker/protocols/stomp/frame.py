"""The STOMP frame as the codec hands it to the protocol, and the codec's error."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Frame:
    """One decoded STOMP frame.

    `headers` keeps the first value of a repeated header, as ActiveMQ does, so
    a client cannot override a header the broker has already seen by sending
    it again.
    """

    command: str
    headers: dict[str, str]
    body: bytes = b""


CLIENT_COMMANDS: frozenset[str] = frozenset(
    {
        "CONNECT",
        "STOMP",
        "SEND",
        "SUBSCRIBE",
        "UNSUBSCRIBE",
        "ACK",
        "NACK",
        "BEGIN",
        "COMMIT",
        "ABORT",
        "DISCONNECT",
    }
)
SERVER_COMMANDS: frozenset[str] = frozenset({"CONNECTED", "MESSAGE", "RECEIPT", "ERROR"})


class FrameError(Exception):
    """Malformed or oversized input; always fatal for the connection.

    After bad input the parser no longer knows where the next frame starts,
    so the only sound answer is an ERROR frame (`message` as its `message`
    header, `detail` as its body) and closing the connection.

    `frames` holds the complete frames that preceded the bad input in the
    same `feed()` call: a broker reading the stream frame by frame would have
    acted on them before meeting the error, so the caller should too.
    """

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = message if detail is None else detail
        self.frames: list[Frame] = []
        # The `receipt` the bad frame asked for, when it could be read (an unknown command).
        self.receipt: str | None = None
