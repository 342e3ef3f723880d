"""Broker CPU per SQS request, in process: the AWS port's HTTP server, SigV4, dispatch,
the SQS facade and the engine, without sockets.

`bench.sqs_load` measures the whole machine, which is shared and noisy; this one feeds
signed AWS JSON 1.0 requests (made by botocore, as boto3 sends them) to the AWS port's
protocol over an in-memory transport and reports the process CPU time per request,
which stays comparable between two runs of two versions even on a busy machine. The
store is off (non-persistent queues): the store's writer thread is not what is measured.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from broker.auth.security import Security
from broker.config import Config
from broker.engine.broker import Broker
from broker.service import settle_collector
from facades.site import build_port

KEY, SECRET = "AKIDHOTPATH", "hotpath-secret"
HOST = "localhost:4566"


def _signed(action: str, params: dict[str, Any]) -> bytes:
    """One request as botocore would send it (signed, JSON 1.0)."""
    body = json.dumps(params).encode()
    request = AWSRequest("POST", f"http://{HOST}/", data=body, headers={
        "X-Amz-Target": f"AmazonSQS.{action}", "Content-Type": "application/x-amz-json-1.0",
        "User-Agent": "Boto3/1.34 md/Botocore#1.34 ua/2.0 os/linux lang/python#3.11"})
    SigV4Auth(Credentials(KEY, SECRET), "sqs", "us-east-1").add_auth(request)
    head = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
    return (f"POST / HTTP/1.1\r\nHost: {HOST}\r\nAccept-Encoding: identity\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _port() -> tuple[Any, StringTransport, Clock]:
    clock = Clock()
    config = Config(aws_credentials=f"{KEY}:{SECRET}")
    security = Security(config, clock)
    factory = build_port(Broker(None, clock), config, clock, security)
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport, clock


def _call(protocol: Any, transport: StringTransport, clock: Clock, data: bytes) -> bytes:
    protocol.dataReceived(data)
    clock.advance(0)
    out = transport.value()
    transport.clear()
    return out


def run(scenario: str, requests: int) -> dict[str, float]:
    protocol, transport, clock = _port()
    url = json.loads(_call(protocol, transport, clock, _signed("CreateQueue", {"QueueName": "bench"}))
                     .partition(b"\r\n\r\n")[2])["QueueUrl"]
    body = "x" * 1024
    send = _signed("SendMessage", {"QueueUrl": url, "MessageBody": body})
    batch = _signed("SendMessageBatch", {"QueueUrl": url, "Entries": [
        {"Id": str(i), "MessageBody": body} for i in range(10)]})
    receive = _signed("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10})
    messages = {"send": 1, "batch": 10, "drain": 10}[scenario]   # drain: a receive and a delete per 10
    spent = 0.0
    for _ in range(requests):
        if scenario == "drain":
            _call(protocol, transport, clock, batch)   # untimed refill
            start = time.process_time()
            answer = _call(protocol, transport, clock, receive)
            spent += time.process_time() - start
            handles = [m["ReceiptHandle"] for m in json.loads(answer.partition(b"\r\n\r\n")[2])["Messages"]]
            delete = _signed("DeleteMessageBatch", {"QueueUrl": url, "Entries": [
                {"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)]})
            start = time.process_time()
            answer = _call(protocol, transport, clock, delete)
            spent += time.process_time() - start
        else:
            start = time.process_time()
            answer = _call(protocol, transport, clock, send if scenario == "send" else batch)
            spent += time.process_time() - start
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    return {"requests": requests, "us_per_request": spent / requests * 1e6,
            "us_per_message": spent / (requests * messages) * 1e6}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sqs_hotpath", description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario; the best is kept")
    args = parser.parse_args(argv)
    settle_collector()
    results = {}
    for scenario in ("send", "batch", "drain"):
        runs = [run(scenario, args.requests) for _ in range(args.repeat)]
        results[scenario] = min(runs, key=lambda r: r["us_per_request"])
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
