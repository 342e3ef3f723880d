"""The POST-only HTTP/1.1 client of SNS push, on a StringTransport and a Clock: answers
framed every way HTTP/1.1 allows, kept-alive connections reused, and failures."""
from __future__ import annotations

import pytest
from twisted.internet.error import ConnectionLost, TimeoutError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from facades.sns.http_client import BadResponse, HttpClient, Target, _Connection

TARGET = Target.parse("http://user@endpoint.test:8080/hook?x=1")


def _connected(client: HttpClient) -> tuple[_Connection, StringTransport]:
    connection = _Connection(client, TARGET)
    transport = StringTransport()
    connection.makeConnection(transport)
    return connection, transport


def _results(d) -> list:
    out: list = []
    d.addCallbacks(out.append, out.append)
    return out


def test_a_url_becomes_the_request_line_and_host():
    assert TARGET.request_line == b"POST /hook?x=1 HTTP/1.1\r\nHost: endpoint.test:8080\r\n"
    assert (TARGET.host, TARGET.port) == ("endpoint.test", 8080)
    assert Target.parse("https://h").port == 443 and Target.parse("https://h").request_line.startswith(b"POST / ")
    with pytest.raises(ValueError):
        Target.parse("ftp://h/")


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nTrailer: t\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n",
])
def test_an_answer_read_whole_gives_its_status_and_frees_the_connection(answer):
    client = HttpClient(Clock(), keep=4)
    connection, transport = _connected(client)
    got = _results(connection.post(b"request", 15))
    for i in range(len(answer)):                   # byte by byte: any split is read the same
        connection.dataReceived(answer[i:i + 1])
    assert got == [200 if b" 204 " not in answer else 204]
    assert transport.value() == b"request" and not transport.disconnecting
    assert client._idle[("http", "endpoint.test", 8080)].connections == [connection]
    assert not client.reactor.getDelayedCalls()    # the timeout went with the answer


def test_an_answer_to_the_close_or_asking_for_it_does_not_keep_the_connection():
    client = HttpClient(Clock(), keep=4)
    connection, transport = _connected(client)
    got = _results(connection.post(b"r", 15))
    connection.dataReceived(b"HTTP/1.0 500 Oops\r\n\r\npartial body")
    assert got == []
    connection.connectionLost(Failure(ConnectionLost()))
    assert got == [500]
    connection, transport = _connected(client)
    got = _results(connection.post(b"r", 15))
    connection.dataReceived(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert got == [200] and transport.disconnecting and not client._idle


def test_a_connection_lost_before_the_answer_fails_the_request():
    client = HttpClient(Clock(), keep=4)
    connection, _ = _connected(client)
    got = _results(connection.post(b"r", 15))
    connection.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
    connection.connectionLost(Failure(ConnectionLost()))
    assert len(got) == 1 and got[0].check(ConnectionLost)


def test_no_answer_in_time_fails_the_request_and_drops_the_connection():
    clock = Clock()
    client = HttpClient(clock, keep=4)
    connection, transport = _connected(client)
    got = _results(connection.post(b"r", 15))
    clock.advance(15)
    assert len(got) == 1 and got[0].check(TimeoutError) and transport.disconnecting


def test_a_garbled_answer_fails_the_request_and_drops_the_connection():
    client = HttpClient(Clock(), keep=4)
    connection, transport = _connected(client)
    got = _results(connection.post(b"r", 15))
    connection.dataReceived(b"SMTP ready\r\n\r\n")
    assert len(got) == 1 and got[0].check(BadResponse) and transport.disconnecting


def test_idle_connections_past_the_bound_are_closed_and_closed_ones_forgotten():
    client = HttpClient(Clock(), keep=1)
    (first, _), (second, second_transport) = _connected(client), _connected(client)
    client.idle(first)
    client.idle(second)
    assert second_transport.disconnecting
    first.connectionLost(Failure(ConnectionLost()))
    assert not client._idle
