"""The AWS port on a real socket, with real clients."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import boto3
import botocore.session
import pytest
import pytest_twisted
from botocore.config import Config
from twisted.internet import reactor, task, threads
from twisted.internet.defer import Deferred
from twisted.logger import globalLogPublisher
from twisted.web.client import Agent, FileBodyProducer, ResponseNeverReceived
from twisted.web.http_headers import Headers

from facades.aws.dispatch import AwsDispatcher
from facades.aws.http import AwsPort
from facades.aws.httpserver import HttpServerFactory
from tests.unit.auth_support import security_with_keys
from facades.aws.sigv4 import SigV4Verifier
from facades.sqs.errors import sqs_error
from facades.sqs.models import LEGACY_QUERY_MODEL_PATH
from facades.sqs.service import sqs_service

cancelled: list[Deferred] = []
waiting: list[Deferred] = []


def get_queue_url(ctx: Any, params: dict) -> Any:
    if params["QueueName"] == "missing":
        raise sqs_error("QueueDoesNotExist")
    # Answer later, from the reactor, as engine-backed handlers do.
    return task.deferLater(reactor, 0.01, lambda: {"QueueUrl": f"{ctx.base_url}/{ctx.account_id}/{params['QueueName']}"})


def receive_message(ctx: Any, params: dict) -> Deferred:
    pending: Deferred = Deferred(lambda d: cancelled.append(d))
    waiting.append(pending)
    return pending


@pytest.fixture
def endpoint() -> Iterator[str]:
    service = sqs_service({"GetQueueUrl": get_queue_url, "ReceiveMessage": receive_message})
    # No keys configured: the raw (unsigned) request below must get through.
    dispatcher = AwsDispatcher([service], SigV4Verifier(security_with_keys({}), "000000000000"), "us-east-1")
    aws = AwsPort(dispatcher, {"/cert.pem": ("application/x-x509-ca-cert", b"PEM")})
    port = reactor.listenTCP(0, HttpServerFactory(aws, reactor, aws.max_body, head_timeout=0.3, body_timeout=0.3),
                             interface="127.0.0.1")
    yield f"http://127.0.0.1:{port.getHost().port}"
    pytest_twisted.blockon(port.stopListening())


def _clients(endpoint: str) -> list[Any]:
    options = dict(
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKID",
        aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1}),
    )
    legacy = botocore.session.get_session()
    legacy.get_component("data_loader").search_paths.insert(0, str(LEGACY_QUERY_MODEL_PATH))
    return [boto3.client("sqs", **options), legacy.create_client("sqs", **options)]


@pytest_twisted.inlineCallbacks
def test_boto3_and_an_old_query_client_against_the_port(endpoint: str) -> Any:
    for client in _clients(endpoint):
        result = yield threads.deferToThread(client.get_queue_url, QueueName="orders")
        assert result["QueueUrl"] == f"{endpoint}/000000000000/orders"

        def missing(client: Any = client) -> str:
            try:
                client.get_queue_url(QueueName="missing")
            except client.exceptions.QueueDoesNotExist as error:
                return error.response["Error"]["Code"]
            return "no error"

        code = yield threads.deferToThread(missing)
        assert code == "AWS.SimpleQueueService.NonExistentQueue"


@pytest_twisted.inlineCallbacks
def test_a_client_that_goes_away_cancels_its_handler(endpoint: str) -> Any:
    cancelled.clear()
    waiting.clear()
    failures: list[dict] = []
    observer = lambda event: failures.append(event) if event.get("log_failure") else None  # noqa: E731
    globalLogPublisher.addObserver(observer)
    agent = Agent(reactor)
    request = agent.request(
        b"POST",
        endpoint.encode(),
        Headers({b"X-Amz-Target": [b"AmazonSQS.ReceiveMessage"], b"Content-Type": [b"application/x-amz-json-1.0"]}),
        _body(b'{"QueueUrl": "u", "WaitTimeSeconds": 20}'),
    )
    for _ in range(500):   # until the handler waits (bounded: a busy machine connects slowly)
        if waiting:
            break
        yield task.deferLater(reactor, 0.01, lambda: None)
    request.cancel()  # aborts the connection
    with pytest.raises(ResponseNeverReceived):
        yield request
    for _ in range(50):
        if cancelled:
            break
        yield task.deferLater(reactor, 0.01, lambda: None)
    globalLogPublisher.removeObserver(observer)
    assert len(cancelled) == 1
    assert failures == []  # a vanished client is not a server error


def _body(data: bytes) -> FileBodyProducer:
    return FileBodyProducer(BytesIO(data))


def _exchange(endpoint: str, data: bytes) -> bytes:
    """Send ``data`` on a raw socket and read
    until the server closes the connection."""
    host, port = endpoint.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


@pytest_twisted.inlineCallbacks
def test_a_published_document_by_get_and_head(endpoint: str) -> Any:
    def fetch(method: str) -> tuple[int, str, bytes]:
        connection = http.client.HTTPConnection(endpoint.removeprefix("http://"), timeout=5)
        connection.request(method, "/cert.pem")
        response = connection.getresponse()
        result = response.status, response.getheader("Content-Type"), response.read()
        connection.close()
        return result

    assert (yield threads.deferToThread(fetch, "GET")) == (200, "application/x-x509-ca-cert", b"PEM")
    assert (yield threads.deferToThread(fetch, "HEAD")) == (200, "application/x-x509-ca-cert", b"")


@pytest_twisted.inlineCallbacks
def test_a_request_that_never_completes_is_timed_out(endpoint: str) -> Any:
    """Slowloris: a head that stops half way is answered 408 and closed, as is a stalled body."""
    partial_head = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonSQS.GetQueueUrl\r\n"
    answer = yield threads.deferToThread(_exchange, endpoint, partial_head)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    partial_body = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
    answer = yield threads.deferToThread(_exchange, endpoint, partial_body)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
