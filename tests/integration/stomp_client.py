"""Helpers for the STOMP integration tests.

`RawStomp` speaks STOMP over a plain socket, byte for byte, for malformed input and exact
wire checks. `connect()` gives a stomp.py connection (what users use) with a `Collector`
listener that queues every MESSAGE, RECEIPT and ERROR, so tests wait on them with deadlines
instead of sleeping.
"""
from __future__ import annotations

import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import stomp

WAIT = 10.0      # upper bound for anything the broker should do "now"
QUIET = 0.3      # how long to listen to be confident something did not happen


# ---------------------------------------------------------------------------------------------
# raw sockets
# ---------------------------------------------------------------------------------------------
_UNESCAPE = {"1.1": {"\\\\": "\\", "\\n": "\n", "\\c": ":"},
             "1.2": {"\\\\": "\\", "\\n": "\n", "\\c": ":", "\\r": "\r"}}


@dataclass
class Frame:
    command: str
    header_list: list[tuple[str, str]]
    body: bytes
    raw: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in self.header_list:
            self.headers.setdefault(name, value)

    def __repr__(self) -> str:
        return f"Frame({self.command}, {self.headers}, {self.body[:200]!r})"


class Closed(Exception):
    """The broker closed the connection."""


def _unescape(text: str, version: str) -> str:
    table = _UNESCAPE.get(version)
    if not table or "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        pair = text[i:i + 2]
        if pair in table:
            out.append(table[pair])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def escape(text: str, version: str = "1.2") -> str:
    if version == "1.0":
        return text
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace(":", "\\c")
    return text.replace("\r", "\\r") if version == "1.2" else text


def build(command: str, headers: dict[str, str] | list[tuple[str, str]] | None = None,
          body: bytes | str = b"", version: str = "1.2", escaped: bool = True) -> bytes:
    """One frame's bytes. Headers are escaped for `version` unless `escaped` is False."""
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    lines = [command]
    for name, value in items:
        if escaped and command not in ("CONNECT", "STOMP"):
            name, value = escape(name, version), escape(value, version)
        lines.append(f"{name}:{value}")
    if isinstance(body, str):
        body = body.encode()
    return ("\n".join(lines) + "\n\n").encode() + body + b"\0"


class RawStomp:
    """A STOMP connection on a bare socket: send bytes, read frames, see the socket close."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = WAIT) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.version = "1.0"
        self.eof = False
        self.connected = False
        self.heartbeats = 0   # EOLs seen between frames

    # -- output ------------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, command: str, headers: dict[str, str] | list[tuple[str, str]] | None = None,
             body: bytes | str = b"", escaped: bool = True) -> None:
        self.send_raw(build(command, headers, body, self.version, escaped))

    # -- input -------------------------------------------------------------------------------
    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no frame from the broker in time")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no frame from the broker in time") from None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            raise Closed("connection closed by the broker")
        self.buf += chunk

    def _skip_eols(self) -> None:
        while self.buf[:1] == b"\n" or self.buf[:2] == b"\r\n":
            n = 1 if self.buf[:1] == b"\n" else 2
            del self.buf[:n]
            self.heartbeats += 1

    def recv(self, timeout: float = WAIT) -> Frame:
        """The next frame (heart-beat EOLs skipped); raises Closed or TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            self._skip_eols()
            end = self.buf.find(b"\n\n")
            if end >= 0:
                head = self.buf[:end].decode()
                lines = head.split("\n")
                command = lines[0]
                version = "1.0" if command == "CONNECTED" else self.version
                pairs = []
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    pairs.append((_unescape(name, version), _unescape(value, version)))
                first = dict(reversed(pairs))
                start = end + 2
                if "content-length" in first:
                    n = int(first["content-length"])
                    while len(self.buf) < start + n + 1:
                        self._fill(deadline)
                    assert self.buf[start + n] == 0, "frame body not followed by NUL"
                    stop = start + n
                else:
                    while (stop := self.buf.find(b"\0", start)) < 0:
                        self._fill(deadline)
                raw = bytes(self.buf[:stop + 1])
                frame = Frame(command, pairs, bytes(self.buf[start:stop]), raw)
                del self.buf[:stop + 1]
                if command == "CONNECTED":
                    self.version = frame.headers.get("version", "1.0")
                    self.connected = True
                return frame
            self._fill(deadline)

    def expect(self, command: str, timeout: float = WAIT) -> Frame:
        frame = self.recv(timeout)
        assert frame.command == command, f"expected {command}, got {frame!r}"
        return frame

    def nothing(self, wait: float | None = None) -> None:
        """Assert no frame is pending. Without `wait`, a BEGIN/ABORT round trip proves it:
        the broker dispatches synchronously, so whatever it owed this connection is written
        before the RECEIPT. With `wait`, listen that many seconds (for timers)."""
        if wait is None:
            tx = "sync-" + uuid.uuid4().hex[:8]
            self.send("BEGIN", {"transaction": tx})
            self.send("ABORT", {"transaction": tx, "receipt": tx})
            frame = self.recv()
            assert frame.command == "RECEIPT" and frame.headers.get("receipt-id") == tx, \
                f"unexpected frame {frame!r}"
            return
        try:
            frame = self.recv(wait)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame {frame!r}")

    def wait_closed(self, timeout: float = WAIT) -> list[Frame]:
        """Read until the broker closes the socket; returns the frames read before that."""
        frames = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                frames.append(self.recv(max(0.01, deadline - time.monotonic())))
            except Closed:
                return frames
            except TimeoutError:
                raise AssertionError(f"connection still open after {timeout}s; got {frames}") from None

    def is_open(self, wait: float = QUIET) -> bool:
        """True if the broker neither closes the socket nor sends anything for `wait`."""
        try:
            frame = self.recv(wait)
        except TimeoutError:
            return True
        except Closed:
            return False
        raise AssertionError(f"unexpected frame {frame!r}")

    # -- conveniences ---------------------------------------------------------------------------
    def connect(self, version: str | None = "1.2", **headers: str) -> Frame:
        h = {"host": "localhost"}
        if version is not None:
            h["accept-version"] = version
        h.update(headers)
        self.send("CONNECT", h)
        return self.expect("CONNECTED")

    def roundtrip(self, command: str, headers: dict[str, str] | None = None,
                  body: bytes | str = b"") -> Frame:
        """Send a frame with a receipt and return what answers it (RECEIPT or ERROR)."""
        receipt = "r-" + uuid.uuid4().hex[:8]
        self.send(command, {**(headers or {}), "receipt": receipt}, body)
        frame = self.recv()
        assert frame.headers.get("receipt-id") == receipt, frame
        return frame

    def answer(self, command: str, headers: dict[str, str] | None = None,
               body: bytes | str = b"") -> tuple[Frame, list[Frame]]:
        """Like roundtrip, but MESSAGEs may arrive before the answer: returns (answer, messages)."""
        receipt = "r-" + uuid.uuid4().hex[:8]
        self.send(command, {**(headers or {}), "receipt": receipt}, body)
        others = []
        while True:
            frame = self.recv()
            if frame.headers.get("receipt-id") == receipt:
                return frame, others
            assert frame.command == "MESSAGE", frame
            others.append(frame)

    def close(self) -> None:
        """DISCONNECT and wait for the broker to close: by then it has released whatever this
        connection held, so the next step of a test sees it. Falls back to a plain close."""
        if self.connected and not self.eof:
            try:
                self.send("DISCONNECT", {"receipt": "bye"})
                deadline = time.monotonic() + WAIT
                while True:
                    self.recv(max(0.01, deadline - time.monotonic()))
            except (Closed, TimeoutError, OSError, AssertionError):
                pass
        self.abort()

    def abort(self) -> None:
        """Close the socket with no DISCONNECT, as a crashed client would."""
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RawStomp":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# stomp.py
# ---------------------------------------------------------------------------------------------
class Collector(stomp.ConnectionListener):
    """Queues what the broker sends so tests can wait for it with a deadline."""

    def __init__(self) -> None:
        self.messages: queue.Queue[stomp.utils.Frame] = queue.Queue()
        self.errors: queue.Queue[stomp.utils.Frame] = queue.Queue()
        self.receipts: set[str] = set()
        self.disconnected = threading.Event()
        self._cond = threading.Condition()

    def on_message(self, frame: Any) -> None:
        self.messages.put(frame)

    def on_error(self, frame: Any) -> None:
        self.errors.put(frame)

    def on_receipt(self, frame: Any) -> None:
        with self._cond:
            self.receipts.add(frame.headers["receipt-id"])
            self._cond.notify_all()

    def on_disconnected(self) -> None:
        self.disconnected.set()
        with self._cond:
            self._cond.notify_all()

    def wait_receipt(self, receipt: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while receipt not in self.receipts:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no RECEIPT {receipt} in {timeout}s")
                self._cond.wait(left)

    def wait_receipts(self, receipts: Callable[[], set[str]] | set[str], timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not set(receipts() if callable(receipts) else receipts) <= self.receipts:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("receipts missing after %.0fs" % timeout)
                self._cond.wait(left)

    def get(self, timeout: float = WAIT) -> Any:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no MESSAGE within {timeout}s") from None

    def take(self, n: int, timeout: float = WAIT) -> list[Any]:
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            left = deadline - time.monotonic()
            try:
                out.append(self.messages.get(timeout=max(0.0, left)))
            except queue.Empty:
                raise AssertionError(f"got {len(out)} of {n} messages in {timeout}s: "
                                     f"{[f.body for f in out][:20]}") from None
        return out

    def none(self, wait: float = QUIET) -> None:
        try:
            frame = self.messages.get(timeout=wait)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected MESSAGE {frame.headers} {frame.body!r}")

    def drain(self, quiet: float = QUIET, timeout: float = WAIT) -> list[Any]:
        """Everything that arrives until nothing more comes for `quiet` seconds."""
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                out.append(self.messages.get(timeout=quiet))
            except queue.Empty:
                break
        return out

    def error(self, timeout: float = WAIT) -> Any:
        try:
            return self.errors.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no ERROR within {timeout}s") from None


_CLASSES = {"1.0": stomp.Connection10, "1.1": stomp.Connection11, "1.2": stomp.Connection12}


class Client:
    """A connected stomp.py connection and its collector."""

    def __init__(self, port: int, version: str = "1.2", client_id: str | None = None,
                 heartbeats: tuple[int, int] = (0, 0), **connect_headers: str) -> None:
        cls = _CLASSES[version]
        kwargs: dict[str, Any] = {"reconnect_attempts_max": 1, "timeout": WAIT}
        if version != "1.0":
            kwargs["heartbeats"] = heartbeats
        self.conn = cls([("127.0.0.1", port)], **kwargs)
        self.listener = Collector()
        self.conn.set_listener("collector", self.listener)
        headers = dict(connect_headers)
        if client_id:
            headers["client-id"] = client_id
        self.conn.connect(wait=True, headers=headers)
        self.version = version

    # pass-throughs -------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    def receipt(self) -> str:
        return "r-" + uuid.uuid4().hex[:10]

    def send_sync(self, destination: str, body: str | bytes, **headers: Any) -> None:
        """SEND and wait for its RECEIPT."""
        r = self.receipt()
        self.conn.send(destination, body, headers={**{k: str(v) for k, v in headers.items()}, "receipt": r})
        self.listener.wait_receipt(r)

    def subscribe_sync(self, destination: str, sub_id: str = "1", ack: str = "auto", **headers: Any) -> None:
        r = self.receipt()
        self.conn.subscribe(destination, sub_id, ack=ack,
                            headers={**{k: str(v) for k, v in headers.items()}, "receipt": r})
        self.listener.wait_receipt(r)

    def sync(self) -> None:
        """A frame with a receipt: once it answers, everything sent before it was handled."""
        r = self.receipt()
        # An UNSUBSCRIBE of nothing would be an ERROR; BEGIN/ABORT is harmless.
        tx = "sync-" + r
        self.conn.begin(transaction=tx)
        self.conn.abort(tx, headers={"receipt": r})
        self.listener.wait_receipt(r)

    def exactly(self, n: int, timeout: float = WAIT) -> list[Any]:
        """The next `n` messages, and proof (a receipt round trip) that no more are pending."""
        got = self.listener.take(n, timeout)
        self.none()
        return got

    def none(self) -> None:
        """Assert no MESSAGE is pending for this connection (see RawStomp.nothing)."""
        self.sync()
        if not self.listener.messages.empty():
            frame = self.listener.messages.get_nowait()
            raise AssertionError(f"unexpected MESSAGE {frame.headers} {frame.body!r}")

    def drain_all(self) -> list[Any]:
        """Everything the subscriptions will get, even past transport back-pressure: receipt
        round trips until one brings no message."""
        out: list[Any] = []
        while True:
            batch = self.everything()
            if not batch:
                return out
            out.extend(batch)

    def everything(self) -> list[Any]:
        """Whatever is pending now (after a receipt round trip)."""
        self.sync()
        out = []
        while not self.listener.messages.empty():
            out.append(self.listener.messages.get_nowait())
        return out

    def close(self) -> None:
        """DISCONNECT with a receipt: once it arrives the broker has let go of the session."""
        try:
            if self.conn.is_connected():
                r = self.receipt()
                self.conn.disconnect(receipt=r)
        except Exception:
            pass


def connect(port: int, version: str = "1.2", **kw: Any) -> Client:
    return Client(port, version, **kw)


class Streamer:
    """Pipelines SEND frames with receipts on a raw socket from one thread and reads the
    receipts on another, keeping at most `window` unanswered, until stopped or the broker dies.
    `receipted` holds the bodies whose RECEIPT arrived (so: committed, for persistent sends)."""

    def __init__(self, port: int, destination: str, prefix: str = "s", window: int = 64,
                 **headers: str) -> None:
        self.raw = RawStomp(port)
        self.raw.connect("1.2")
        self.destination = destination
        self.prefix = prefix
        self.window = window
        self.headers = headers
        self.sent: list[str] = []
        self.receipted: list[str] = []
        self.errors: list[Any] = []
        self._stop = threading.Event()
        self._slots = threading.Semaphore(window)
        self._writer = threading.Thread(target=self._write, daemon=True)
        self._reader = threading.Thread(target=self._read, daemon=True)

    def start(self) -> "Streamer":
        self._writer.start()
        self._reader.start()
        return self

    def _write(self) -> None:
        n = 0
        try:
            while not self._stop.is_set():
                if not self._slots.acquire(timeout=0.2):
                    continue
                body = f"{self.prefix}{n}"
                self.sent.append(body)
                self.raw.send("SEND", {"destination": self.destination, "receipt": body,
                                       **self.headers}, body)
                n += 1
        except OSError:
            pass

    def _read(self) -> None:
        try:
            while True:
                frame = self.raw.recv(timeout=60)
                if frame.command == "RECEIPT":
                    self.receipted.append(frame.headers["receipt-id"])
                    self._slots.release()
                else:
                    self.errors.append(frame)
        except (Closed, TimeoutError, OSError):
            pass
        finally:
            self._stop.set()

    def wait_receipts(self, n: int, timeout: float = 30.0) -> None:
        wait_until(lambda: len(self.receipted) >= n or self._stop.is_set(), timeout=timeout,
                   message=f"{n} receipts")
        assert len(self.receipted) >= n, f"stream ended early: {self.errors}"

    def stop(self, timeout: float = 10.0) -> None:
        """Wait for the reader to see the connection end (after a kill), or stop sending."""
        self._stop.set()
        self._writer.join(timeout)
        self._reader.join(timeout)
        self.raw.abort()

    def finish(self, timeout: float = 30.0) -> None:
        """Stop sending and wait for every outstanding receipt (the broker is alive)."""
        self._stop.set()
        self._writer.join(timeout)
        wait_until(lambda: len(self.receipted) == len(self.sent), timeout=timeout,
                   message="all receipts")
        self.raw.abort()
        self._reader.join(timeout)


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT, interval: float = 0.02,
               message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not reached within {timeout}s")
        time.sleep(interval)
