"""The AWS port's HTTP/1.1 protocol, in process: bytes in, bytes out, a fake clock."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from broker.auth.limits import ConnectionCounter
from facades.aws.dispatch import WireRequest, WireResponse
from facades.aws.httpserver import MAX_HEAD, MAX_PIPELINED, HttpServerFactory, HttpServerProtocol


class App:
    """Answers ``/later`` when told to; everything else at once, echoing what it got."""

    def __init__(self) -> None:
        self.requests: list[WireRequest] = []
        self.waiting: list[Deferred[WireResponse]] = []
        self.cancelled = 0

    def __call__(self, request: WireRequest) -> Deferred[WireResponse]:
        self.requests.append(request)
        if request.path == "/later":
            pending: Deferred[WireResponse] = Deferred(self._cancel)
            self.waiting.append(pending)
            return pending
        return succeed(WireResponse(200, {"Content-Type": "text/plain"}, b"echo:" + request.body))

    def _cancel(self, pending: Deferred[WireResponse]) -> None:
        self.cancelled += 1
        pending.errback(Failure(CancelledError()))


def connect(app: Any = None, **options: Any) -> tuple[HttpServerProtocol, StringTransport, Clock, App]:
    app = app or App()
    clock = Clock()
    factory = HttpServerFactory(app, clock, max_body=100, **options)
    protocol = factory.buildProtocol(None)
    assert protocol is not None
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport, clock, app


def responses(transport: StringTransport) -> list[bytes]:
    """Status line and body of every response written so far."""
    out, data = [], transport.value()
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next((int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length")), 0)
        out.append(lines[0] + b" " + rest[:length])
        data = rest[length:]
    return out


POST = b"POST /%s HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s"


def post(path: str = "", body: bytes = b"") -> bytes:
    return POST % (path.encode(), len(body), body)


def test_keep_alive_answers_each_request_on_one_connection() -> None:
    protocol, transport, _, app = connect()
    protocol.dataReceived(post("", b"one"))
    protocol.dataReceived(post("", b"two"))
    assert responses(transport) == [b"HTTP/1.1 200 OK echo:one", b"HTTP/1.1 200 OK echo:two"]
    assert not transport.disconnecting
    assert app.requests[0].host == "h" and app.requests[0].headers["content-length"] == "3"


def test_pipelined_answers_leave_in_request_order() -> None:
    protocol, transport, _, app = connect()
    protocol.dataReceived(post("later") + post("", b"second"))
    assert transport.value() == b""   # the first is still waiting
    app.waiting[0].callback(WireResponse(200, {}, b"first"))
    assert responses(transport) == [b"HTTP/1.1 200 OK first", b"HTTP/1.1 200 OK echo:second"]


def test_a_request_split_anywhere_is_the_same_request() -> None:
    data = post("q?Action=Send&x=%20y", b"body")
    for cut in range(1, len(data)):
        protocol, transport, _, app = connect()
        protocol.dataReceived(data[:cut])
        protocol.dataReceived(data[cut:])
        assert responses(transport) == [b"HTTP/1.1 200 OK echo:body"]
        assert app.requests[0].path == "/q" and app.requests[0].query == [("Action", "Send"), ("x", " y")]


def test_chunked_bodies_are_joined() -> None:
    protocol, transport, _, _ = connect()
    protocol.dataReceived(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert responses(transport) == [b"HTTP/1.1 200 OK echo:abcde"]


def test_expect_continue_is_answered_before_the_body() -> None:
    protocol, transport, _, _ = connect()
    protocol.dataReceived(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert transport.value() == b"HTTP/1.1 100 Continue\r\n\r\n"
    transport.clear()
    protocol.dataReceived(b"ok")
    assert responses(transport) == [b"HTTP/1.1 200 OK echo:ok"]


def test_expect_continue_waits_for_the_answers_before_it() -> None:
    protocol, transport, _, app = connect()
    protocol.dataReceived(post("later") + b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert transport.value() == b""
    app.waiting[0].callback(WireResponse(204, {}, b""))
    assert transport.value().endswith(b"\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n")


def test_only_enough_of_an_oversized_body_is_kept_to_refuse_it() -> None:
    protocol, transport, _, app = connect()
    protocol.dataReceived(post("", b"x" * 250))
    assert len(app.requests[0].body) == 101   # max_body + 1
    assert not transport.disconnecting


def test_a_malformed_request_gets_400_and_the_connection_closes() -> None:
    for garbage in (b"NOT HTTP AT ALL\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                    b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"):
        protocol, transport, _, app = connect()
        protocol.dataReceived(garbage)
        assert transport.value().startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert transport.disconnecting and app.requests == []


def test_a_head_over_the_limit_is_refused() -> None:
    protocol, transport, _, app = connect()
    protocol.dataReceived(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * MAX_HEAD + b"\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 400 Bad Request\r\n") and app.requests == []


def test_http_1_0_closes_after_the_answer_unless_kept_alive() -> None:
    protocol, transport, _, _ = connect()
    protocol.dataReceived(b"GET / HTTP/1.0\r\n\r\n")
    assert b"Connection: close" in transport.value() and transport.disconnecting
    protocol, transport, _, _ = connect()
    protocol.dataReceived(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert b"Connection: keep-alive" in transport.value() and not transport.disconnecting


def test_connection_close_ends_the_connection_and_what_follows_is_not_read() -> None:
    protocol, transport, _, app = connect()
    protocol.dataReceived(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n" + post("", b"ignored"))
    assert responses(transport) == [b"HTTP/1.1 200 OK echo:"] and transport.disconnecting
    assert len(app.requests) == 1


def test_head_gets_the_headers_without_the_body() -> None:
    protocol, transport, _, _ = connect()
    protocol.dataReceived(b"HEAD / HTTP/1.1\r\n\r\n" + post("", b"after"))
    first, _, rest = transport.value().partition(b"\r\n\r\n")
    assert b"Content-Length: 5" in first   # the length a GET would have had
    assert rest.startswith(b"HTTP/1.1 200 OK")


def test_a_partial_head_times_out_with_408() -> None:
    protocol, transport, clock, _ = connect(head_timeout=5, body_timeout=5, idle_timeout=30)
    clock.advance(10)   # idle, but not for long enough
    protocol.dataReceived(b"POST / HTTP/1.1\r\nHost: h\r\n")
    clock.advance(4)
    protocol.dataReceived(b"X-Slow: 1\r\n")   # trickling bytes does not extend the head's time
    assert not transport.disconnecting
    clock.advance(1.5)
    assert transport.value().startswith(b"HTTP/1.1 408 Request Timeout\r\n") and transport.disconnecting


def test_a_stalled_body_times_out_but_a_slow_one_does_not() -> None:
    protocol, transport, clock, app = connect(head_timeout=5, body_timeout=5, idle_timeout=30)
    protocol.dataReceived(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n")
    for part in (b"a", b"b", b"c"):
        clock.advance(4)
        protocol.dataReceived(part)
    assert not transport.disconnecting
    clock.advance(5)
    assert transport.value().startswith(b"HTTP/1.1 408") and transport.disconnecting and app.requests == []


def test_an_idle_connection_is_closed_but_not_one_waiting_for_an_answer() -> None:
    protocol, transport, clock, app = connect(head_timeout=5, body_timeout=5, idle_timeout=30)
    protocol.dataReceived(post("later"))
    clock.advance(100)
    assert not transport.disconnecting
    app.waiting[0].callback(WireResponse(200, {}, b""))
    clock.advance(29)
    assert not transport.disconnecting
    clock.advance(2)
    assert transport.disconnecting and responses(transport) == [b"HTTP/1.1 200 OK "]


def test_a_client_that_goes_away_cancels_what_it_waits_for() -> None:
    protocol, _, _, app = connect()
    released: list[str] = []
    protocol.factory.release = released.append  # type: ignore[method-assign]
    protocol.dataReceived(post("later") + post("later"))
    protocol.connectionLost(Failure(ConnectionError()))
    assert app.cancelled == 2 and len(released) == 1


def test_a_client_that_goes_away_cancels_an_answer_that_waits_on_another() -> None:
    """A handler that has its result but waits before answering (for a commit): its
    Deferred fired and waits on another, which the lost connection cancels."""
    app = App()
    inner: list[Deferred[WireResponse]] = []

    def answer(request: WireRequest) -> Deferred[WireResponse]:
        inner.append(app(request))
        return succeed(None).addCallback(lambda _: inner[-1])
    protocol, transport, _, _ = connect(answer)
    protocol.dataReceived(post("later") + post("echo"))
    protocol.connectionLost(Failure(ConnectionError()))
    assert app.cancelled == 1 and responses(transport) == []


def test_reading_pauses_while_too_many_answers_are_owed() -> None:
    protocol, transport, _, app = connect()
    protocol.dataReceived(post("later") * MAX_PIPELINED)
    assert transport.producerState == "paused"
    for pending in app.waiting:
        pending.callback(WireResponse(200, {}, b""))
    assert transport.producerState == "producing" and len(responses(transport)) == MAX_PIPELINED


def test_a_streamed_body_is_chunked_and_the_connection_stays_usable() -> None:
    streams: list[tuple[Any, Deferred[None]]] = []
    finished: list[object] = []

    def stream(body: Any) -> Deferred[None]:
        done: Deferred[None] = Deferred()
        body.notifyFinish().addCallback(finished.append)
        streams.append((body, done))
        return done

    def app(request: WireRequest) -> Deferred[WireResponse]:
        if request.path == "/stream":
            return succeed(WireResponse(200, {}, b"", stream=stream))
        return succeed(WireResponse(200, {}, b"plain"))

    protocol, transport, _, _ = connect(app)
    protocol.dataReceived(post("stream") + post(""))
    body, done = streams[0]
    body.write(b"hello")
    body.write(b" world")
    assert b"plain" not in transport.value()   # the next answer waits for the stream's end
    done.callback(None)
    data = transport.value()
    assert b"Transfer-Encoding: chunked" in data
    assert b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" in data and data.endswith(b"plain")
    assert finished == [None] and not transport.disconnecting


def test_connections_over_the_per_address_limit_are_refused() -> None:
    counter = ConnectionCounter(per_user=0, per_address=1)
    factory = HttpServerFactory(App(), Clock(), max_body=10, connections=counter)
    from twisted.internet.address import IPv4Address
    first = factory.buildProtocol(IPv4Address("TCP", "10.0.0.1", 1))
    assert first is not None and factory.buildProtocol(IPv4Address("TCP", "10.0.0.1", 2)) is None
    first.makeConnection(StringTransport())
    first.connectionLost(Failure(ConnectionError()))
    assert factory.buildProtocol(IPv4Address("TCP", "10.0.0.1", 3)) is not None


def test_a_failing_application_answers_500() -> None:
    def broken(request: WireRequest) -> Deferred[WireResponse]:
        raise RuntimeError("bug")

    protocol, transport, _, _ = connect(broken)
    protocol.dataReceived(post(""))
    assert responses(transport) == [b"HTTP/1.1 500 Internal Server Error "]


def test_header_names_are_lower_case_and_repeats_are_joined() -> None:
    protocol, _, _, app = connect()
    protocol.dataReceived(b"GET /p HTTP/1.1\r\nX-Amz-Date: 1\r\nx-thing: a\r\nX-Thing: b\r\n\r\n")
    assert app.requests[0].headers == {"x-amz-date": "1", "x-thing": "a,b"}


def test_a_malformed_request_behind_a_waiting_one_is_refused_after_its_answer() -> None:
    protocol, transport, _, app = connect()
    protocol.dataReceived(post("later") + b"BROKEN\r\n\r\n")
    assert transport.value() == b"" and not transport.disconnecting
    app.waiting[0].callback(WireResponse(200, {}, b"first"))
    assert responses(transport) == [b"HTTP/1.1 200 OK first", b"HTTP/1.1 400 Bad Request "]
    assert transport.disconnecting


def test_a_partial_request_behind_a_waiting_one_times_out_once_that_is_answered() -> None:
    protocol, transport, clock, app = connect(head_timeout=5, body_timeout=5, idle_timeout=30)
    protocol.dataReceived(post("later") + b"POST / HTTP/1.1\r\n")
    clock.advance(20)   # a long poll is still waiting: the connection is not idle
    assert not transport.disconnecting
    app.waiting[0].callback(WireResponse(200, {}, b"polled"))
    clock.advance(5)
    assert responses(transport)[0] == b"HTTP/1.1 200 OK polled"
    assert transport.value().endswith(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    assert transport.disconnecting


def test_an_upgrade_header_is_ignored_and_the_next_request_read() -> None:
    protocol, transport, _, app = connect()
    protocol.dataReceived(b"GET /a HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n"
                          + post("b", b"next"))
    assert [r.path for r in app.requests] == ["/a", "/b"]
    assert responses(transport)[1] == b"HTTP/1.1 200 OK echo:next"
