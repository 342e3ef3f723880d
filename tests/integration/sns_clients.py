"""Helpers for the SNS integration tests: boto3 SNS/SQS clients and a local HTTP endpoint.

`Endpoint` is the HTTP(S) subscriber a user would run: a plain ``http.server`` on
127.0.0.1 that records every POST (headers and JSON body) and answers with the status the
test sets, so tests wait for notifications with deadlines instead of sleeping.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3

from tests.integration.sqs_clients import ACCESS_KEY, REGION, SECRET_KEY, client_config, sqs_client

WAIT = 10.0

_CACHE: dict[tuple[str, bool], Any] = {}


def sns_client(endpoint_url: str, validate: bool = True) -> Any:
    """`validate=False`: botocore sends what its model would refuse, to see the broker refuse it."""
    key = (endpoint_url, validate)
    if key not in _CACHE:
        _CACHE[key] = boto3.session.Session(
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION,
        ).client("sns", endpoint_url=endpoint_url, config=client_config(validate))
    return _CACHE[key]


def sqs(endpoint_url: str) -> Any:
    return sqs_client("json", endpoint_url)


def queue_with_arn(endpoint_url: str, name: str, **attributes: str) -> tuple[str, str]:
    client = sqs(endpoint_url)
    url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


class Endpoint:
    """A local HTTP endpoint: POSTs are queued; ``statuses`` lists the answers to give
    (the last one repeats); with a ``gate`` every request waits for it before answering."""

    def __init__(self, statuses: tuple[int, ...] = (200,), gate: threading.Event | None = None) -> None:
        self.statuses = list(statuses)
        self.gate = gate
        self.posts: queue.Queue[dict[str, Any]] = queue.Queue()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if owner.gate is not None:
                    owner.gate.wait(WAIT)
                status = owner.statuses.pop(0) if len(owner.statuses) > 1 else owner.statuses[0]
                owner.posts.put({"headers": {k.lower(): v for k, v in self.headers.items()},
                                 "body": body.decode("utf-8"), "at": time.monotonic(), "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def next(self, timeout: float = WAIT, kind: str | None = None) -> dict[str, Any]:
        """The next POST (of message type ``kind`` if given), with ``json`` parsed."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind or ''} POST within {timeout}s")
            try:
                post = self.posts.get(timeout=left)
            except queue.Empty:
                continue
            post["json"] = json.loads(post["body"]) if post["body"].startswith("{") else None
            if kind is None or post["headers"].get("x-amz-sns-message-type") == kind:
                return post

    def quiet(self, seconds: float = 0.5) -> bool:
        """True when nothing was POSTed for ``seconds``."""
        try:
            post = self.posts.get(timeout=seconds)
        except queue.Empty:
            return True
        print("unexpected POST:", post)
        return False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
