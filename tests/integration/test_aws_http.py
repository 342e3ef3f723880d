"""HTTP/1.1 on the AWS port of a real broker, from a standard library client and raw
sockets: pipelining (a long poll ahead of other requests), chunked bodies,
``Expect: 100-continue``, oversized bodies, HEAD, HTTP/1.0 and malformed requests."""
from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlsplit

from tests.conftest import unique
from tests.integration.sqs_clients import create_queue, receive, sqs_client

JSON = "application/x-amz-json-1.0"


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def _sqs_request(action: str, params: dict, connection: str = "") -> bytes:
    body = json.dumps(params).encode()
    extra = f"Connection: {connection}\r\n" if connection else ""
    head = (f"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: AmazonSQS.{action}\r\n"
            f"Content-Type: {JSON}\r\nContent-Length: {len(body)}\r\n{extra}\r\n")
    return head.encode() + body


def _read_responses(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """``count`` responses with Content-Length bodies, read off ``sock`` in order."""
    data, out = b"", []
    while len(out) < count:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            length = int(headers.get("content-length", "0"))
            if len(rest) >= length:
                out.append((int(lines[0].split()[1]), headers, rest[:length]))
                data = rest[length:]
                continue
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed after {len(out)} responses")
        data += chunk
    return out


def test_pipelined_requests_are_answered_in_order_while_a_long_poll_waits(shared_broker):
    client = sqs_client("json", shared_broker.aws_url)
    url = create_queue(client, unique("pipe"))
    with socket.create_connection(_address(shared_broker.aws_url), timeout=15) as sock:
        # One write: a long poll on the empty queue, then the send that satisfies it, then a lookup.
        sock.sendall(_sqs_request("ReceiveMessage", {"QueueUrl": url, "WaitTimeSeconds": 10})
                     + _sqs_request("SendMessage", {"QueueUrl": url, "MessageBody": "for the waiter"})
                     + _sqs_request("GetQueueUrl", {"QueueName": url.rsplit("/", 1)[1]}))
        (s1, _, received), (s2, _, sent), (s3, _, looked_up) = _read_responses(sock, 3)
    assert (s1, s2, s3) == (200, 200, 200)
    assert json.loads(received)["Messages"][0]["Body"] == "for the waiter"
    assert "MessageId" in json.loads(sent)
    assert json.loads(looked_up)["QueueUrl"] == "http://localhost/" + url.split("/", 3)[3]   # the Host sent


def test_a_chunked_request_body(shared_broker):
    client = sqs_client("json", shared_broker.aws_url)
    url = create_queue(client, unique("chunked"))
    body = json.dumps({"QueueUrl": url, "MessageBody": "in pieces"}).encode()
    connection = http.client.HTTPConnection(*_address(shared_broker.aws_url), timeout=10)
    connection.request("POST", "/", body=iter([body[:7], body[7:20], body[20:]]), encode_chunked=True,
                       headers={"X-Amz-Target": "AmazonSQS.SendMessage", "Content-Type": JSON,
                                "Transfer-Encoding": "chunked"})
    response = connection.getresponse()
    assert response.status == 200, response.read()
    response.read()
    connection.close()
    assert [m["Body"] for m in receive(client, url)] == ["in pieces"]


def test_expect_100_continue(shared_broker):
    client = sqs_client("json", shared_broker.aws_url)
    url = create_queue(client, unique("continue"))
    request = _sqs_request("SendMessage", {"QueueUrl": url, "MessageBody": "after the 100"})
    head, _, body = request.partition(b"\r\n\r\n")
    with socket.create_connection(_address(shared_broker.aws_url), timeout=10) as sock:
        sock.sendall(head + b"\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        [(status, _, _)] = _read_responses(sock, 1)
    assert status == 200
    assert [m["Body"] for m in receive(client, url)] == ["after the 100"]


def test_an_oversized_body_is_refused_and_the_connection_stays_usable(shared_broker):
    big = b'{"QueueUrl": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    connection = http.client.HTTPConnection(*_address(shared_broker.aws_url), timeout=30)
    connection.request("POST", "/", body=big, headers={"X-Amz-Target": "AmazonSQS.SendMessage",
                                                        "Content-Type": JSON})
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["__type"].endswith("RequestEntityTooLarge")
    connection.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "AmazonSQS.ListQueues",
                                                          "Content-Type": JSON})
    response = connection.getresponse()
    assert response.status == 200
    response.read()
    connection.close()


def test_head_http_1_0_and_a_malformed_request(shared_broker):
    address = _address(shared_broker.aws_url)
    connection = http.client.HTTPConnection(*address, timeout=10)
    connection.request("HEAD", "/?Action=ListQueues")
    response = connection.getresponse()
    assert response.status == 200 and int(response.getheader("Content-Length")) > 0
    assert response.read() == b""
    connection.close()
    for request, status in ((b"GET /?Action=ListQueues HTTP/1.0\r\n\r\n", b"200"),
                             (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", b"400")):
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(65536):   # the server closes the connection after answering
                answer += chunk
        assert answer.split(b" ", 2)[1] == status


def test_connection_close_is_honoured(shared_broker):
    with socket.create_connection(_address(shared_broker.aws_url), timeout=10) as sock:
        sock.sendall(_sqs_request("ListQueues", {}, connection="close"))
        [(status, headers, _)] = _read_responses(sock, 1)
        assert status == 200 and headers["connection"] == "close"
        assert sock.recv(1) == b""
