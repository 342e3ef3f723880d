"""Raw HTTP/1.1 client for the SQS JSON 1.0 protocol, built for load.

No boto3 in the hot loop: requests are a pre-built header block plus a JSON
body; responses are parsed just enough (status, Content-Length or chunked,
Connection: close). Requests carry a syntactically valid SigV4 Authorization
header with a dummy signature: moto and mqgate (by default) do not verify it,
and moto uses its credential scope to route to SQS.

`drive()` runs many keep-alive connections from one process with selectors;
each connection is a generator that yields request bytes and receives the
parsed response.
"""
from __future__ import annotations

import json
import selectors
import socket
import time
from datetime import datetime, timezone
from typing import Callable, Generator

from .stomp_wire import check_loopback

REGION = "us-east-1"


class HttpError(RuntimeError):
    pass


class Response:
    __slots__ = ("status", "body", "close")

    def __init__(self, status: int, body: bytes, close: bool):
        self.status = status
        self.body = body
        self.close = close

    def json(self) -> dict:
        return json.loads(self.body) if self.body else {}


def request_head(host: str, port: int, action: str) -> bytes:
    """Everything before Content-Length for one SQS JSON action."""
    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    auth = ("AWS4-HMAC-SHA256 Credential=AKIDBENCHMARK/" + amz_date[:8] + f"/{REGION}/sqs/"
            "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
            "Signature=" + "0" * 64)
    return (f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/x-amz-json-1.0\r\n"
            f"X-Amz-Target: AmazonSQS.{action}\r\nX-Amz-Date: {amz_date}\r\n"
            f"Authorization: {auth}\r\n").encode()


class Requests:
    """Pre-built request heads per action for one endpoint."""

    def __init__(self, host: str, port: int):
        check_loopback(host)
        self.host, self.port = host, port
        self._heads: dict[str, bytes] = {}

    def build(self, action: str, payload: dict | bytes) -> bytes:
        head = self._heads.get(action)
        if head is None:
            head = self._heads[action] = request_head(self.host, self.port, action)
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


class ResponseParser:
    """Incremental HTTP/1.1 response parser (Content-Length or chunked)."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> Response | None:
        self.buf += data
        return self._try()

    def _try(self) -> Response | None:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(buf[:end]).decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1])
        clen = None
        chunked = False
        close = parts[0] == "HTTP/1.0"
        for line in lines[1:]:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            v = v.strip()
            if k == "content-length":
                clen = int(v)
            elif k == "transfer-encoding" and "chunked" in v.lower():
                chunked = True
            elif k == "connection":
                close = v.lower() == "close"
        start = end + 4
        if chunked:
            body = bytearray()
            pos = start
            while True:
                le = buf.find(b"\r\n", pos)
                if le < 0:
                    return None
                size = int(bytes(buf[pos:le]).split(b";")[0], 16)
                if size == 0:
                    # "0\r\n" then optional trailers, then an empty line.
                    tend = buf.find(b"\r\n\r\n", le)
                    if tend < 0:
                        return None
                    del buf[: tend + 4]
                    return Response(status, bytes(body), close)
                if len(buf) < le + 2 + size + 2:
                    return None
                body += buf[le + 2: le + 2 + size]
                pos = le + 2 + size + 2
        if clen is None:
            if status in (204, 304) or 100 <= status < 200:
                clen = 0
            else:
                raise HttpError("response without Content-Length or chunked encoding")
        if len(buf) < start + clen:
            return None
        body = bytes(buf[start: start + clen])
        del buf[: start + clen]
        return Response(status, body, close)


def _open(host: str, port: int, timeout: float = 10.0) -> socket.socket:
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class HttpConn:
    """Blocking keep-alive connection (reconnects after Connection: close)."""

    def __init__(self, host: str, port: int, timeout: float = 30.0):
        check_loopback(host)
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self.parser = ResponseParser()

    def request(self, req: bytes, timeout: float | None = None) -> Response:
        if self.sock is None:
            self.sock = _open(self.host, self.port)
            self.parser = ResponseParser()
        self.sock.settimeout(timeout or self.timeout)
        try:
            self.sock.sendall(req)
            while True:
                data = self.sock.recv(262144)
                if not data:
                    raise HttpError("connection closed before a full response")
                r = self.parser.feed(data)
                if r is not None:
                    break
        except Exception:
            self.close()
            raise
        if r.close:
            self.close()
        return r

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


Conversation = Generator[bytes, Response, None]


class _Conn:
    __slots__ = ("gen", "sock", "parser", "out", "done")


def drive(host: str, port: int, gens: list[Conversation], deadline: float,
          on_error: Callable[[Exception], None] | None = None) -> None:
    """Run conversations concurrently, one keep-alive connection each, until
    every generator finishes or the deadline passes. A generator yields the
    next request and receives its Response."""
    check_loopback(host)
    sel = selectors.DefaultSelector()
    conns: list[_Conn] = []

    def start(c: _Conn, req: bytes) -> None:
        if c.sock is None:
            c.sock = _open(host, port)
            c.sock.setblocking(False)
            c.parser = ResponseParser()
            sel.register(c.sock, selectors.EVENT_READ, c)
        c.out = memoryview(req)
        flush(c)

    def flush(c: _Conn) -> None:
        while c.out:
            try:
                n = c.sock.send(c.out)
            except BlockingIOError:
                sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
                return
            c.out = c.out[n:]
        sel.modify(c.sock, selectors.EVENT_READ, c)

    def drop(c: _Conn) -> None:
        if c.sock is not None:
            try:
                sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
            c.sock = None

    def finish(c: _Conn) -> None:
        drop(c)
        c.done = True

    for g in gens:
        c = _Conn()
        c.gen, c.sock, c.parser, c.out, c.done = g, None, ResponseParser(), memoryview(b""), False
        conns.append(c)
        try:
            start(c, next(g))
        except StopIteration:
            c.done = True
    live = sum(1 for c in conns if not c.done)
    while live and time.monotonic() < deadline:
        for key, events in sel.select(timeout=0.2):
            c = key.data
            if c.done or c.sock is None:
                continue
            if events & selectors.EVENT_WRITE:
                flush(c)
            if not events & selectors.EVENT_READ:
                continue
            try:
                data = c.sock.recv(262144)
                if not data:
                    raise HttpError("connection closed before a full response")
                resp = c.parser.feed(data)
            except (OSError, HttpError, ValueError) as e:
                if on_error:
                    on_error(e)
                finish(c)
                live -= 1
                try:
                    c.gen.close()
                except Exception:
                    pass
                continue
            if resp is None:
                continue
            if resp.close:
                drop(c)
            try:
                start(c, c.gen.send(resp))
            except StopIteration:
                finish(c)
                live -= 1
            except OSError as e:
                if on_error:
                    on_error(e)
                finish(c)
                live -= 1
    for c in conns:
        if not c.done:
            drop(c)
            try:
                c.gen.close()
            except Exception:
                pass


def create_queue(conn: HttpConn, reqs: Requests, name: str,
                 attributes: dict[str, str] | None = None) -> str:
    payload: dict = {"QueueName": name}
    if attributes:
        payload["Attributes"] = attributes
    r = conn.request(reqs.build("CreateQueue", payload))
    if r.status != 200:
        raise HttpError(f"CreateQueue {name}: HTTP {r.status} {r.body[:300]!r}")
    return r.json()["QueueUrl"]
