"""Minimal blocking STOMP 1.2 client pieces for the load generator.

Only what the benchmark needs: encode a frame, connect, read whole frames
outside the hot loops (set-up, receipts of SUBSCRIBE, errors). The hot loops
in stomp_load.py work on raw bytes and only count NUL terminators.
"""
from __future__ import annotations

import socket
import time

LOOPBACK_PREFIXES = ("127.", "localhost", "::1")


class StompError(RuntimeError):
    """The broker answered with an ERROR frame, or the connection broke."""


def check_loopback(host: str) -> None:
    # Benchmarks only ever talk to this machine.
    if not host.startswith(LOOPBACK_PREFIXES):
        raise ValueError(f"refusing non-loopback benchmark target {host!r}")


def encode(command: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [command]
    for k, v in (headers or {}).items():
        lines.append(f"{k}:{v}")
    return ("\n".join(lines) + "\n\n").encode() + body + b"\0"


def parse_frame(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    """Parse one frame (without its NUL). Leading EOLs (heart-beats) are skipped.
    Headers are left escaped: the first value wins, as in the spec."""
    raw = raw.lstrip(b"\r\n")
    head, _, body = raw.partition(b"\n\n")
    lines = head.decode("utf-8", "replace").split("\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        k, _, v = line.rstrip("\r").partition(":")
        headers.setdefault(k, v)
    return lines[0].rstrip("\r"), headers, body


class FrameReader:
    """Reads whole frames from a blocking socket (not for hot loops)."""

    def __init__(self, sock: socket.socket, initial: bytes = b""):
        self.sock = sock
        self.buf = bytearray(initial)

    def read(self, timeout: float) -> tuple[str, dict[str, str], bytes]:
        deadline = time.monotonic() + timeout
        while True:
            frame = self._take()
            if frame is not None:
                return frame
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no STOMP frame within %.1fs" % timeout)
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise StompError("connection closed by broker")
            self.buf += data

    def _take(self):
        # Skip heart-beat EOLs.
        while self.buf[:1] in (b"\n", b"\r"):
            del self.buf[:1]
        if not self.buf:
            return None
        head_end = self.buf.find(b"\n\n")
        if head_end < 0:
            return None
        head = bytes(self.buf[:head_end])
        clen = None
        for line in head.split(b"\n")[1:]:
            if line.lower().startswith(b"content-length:"):
                clen = int(line.split(b":", 1)[1].strip())
                break
        if clen is not None:
            end = head_end + 2 + clen
            if len(self.buf) < end + 1:
                return None
        else:
            end = self.buf.find(b"\0", head_end)
            if end < 0:
                return None
        raw = bytes(self.buf[:end])
        del self.buf[: end + 1]
        return parse_frame(raw)

    def expect(self, command: str, timeout: float) -> dict[str, str]:
        cmd, headers, body = self.read(timeout)
        if cmd != command:
            msg = headers.get("message", "")
            raise StompError(f"expected {command}, got {cmd}: {msg} {body[:200]!r}")
        return headers


def connect(host: str, port: int, extra_headers: dict[str, str] | None = None,
            timeout: float = 15.0) -> tuple[socket.socket, FrameReader, dict[str, str]]:
    """Open a STOMP 1.2 session with heart-beating off. Returns the socket,
    a reader holding any bytes already received, and the CONNECTED headers."""
    check_loopback(host)
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    headers = {"accept-version": "1.2", "host": "localhost", "heart-beat": "0,0"}
    headers.update(extra_headers or {})
    sock.sendall(encode("CONNECT", headers))
    reader = FrameReader(sock)
    connected = reader.expect("CONNECTED", timeout)
    return sock, reader, connected


def subscribe(sock: socket.socket, reader: FrameReader, sub_id: str, destination: str,
              ack: str = "auto", prefetch: int = 1000, timeout: float = 15.0) -> None:
    """SUBSCRIBE with a receipt and wait for it. Prefetch is given in both
    ActiveMQ's and RabbitMQ's header; brokers ignore the one they don't know."""
    sock.sendall(encode("SUBSCRIBE", {
        "id": sub_id, "destination": destination, "ack": ack,
        "activemq.prefetchSize": str(prefetch), "prefetch-count": str(prefetch),
        "receipt": "sub-" + sub_id,
    }))
    reader.expect("RECEIPT", timeout)


def disconnect(sock: socket.socket, reader: FrameReader | None, timeout: float = 5.0) -> None:
    """Polite DISCONNECT with a receipt; never raises."""
    try:
        sock.sendall(encode("DISCONNECT", {"receipt": "bye"}))
        if reader is not None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                cmd, headers, _ = reader.read(deadline - time.monotonic())
                if cmd == "RECEIPT" and headers.get("receipt-id") == "bye":
                    break
    except Exception:
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


def probe(host: str, port: int, extra_headers: dict[str, str] | None = None,
          timeout: float = 5.0) -> dict[str, str]:
    """CONNECT and DISCONNECT once; returns the CONNECTED headers."""
    sock, reader, connected = connect(host, port, extra_headers, timeout)
    disconnect(sock, reader, timeout)
    return connected
