"""Broker CPU per SQS request, in process: the AWS port's HTTP server, SigV4, dispatch,
the SQS facade and the engine, without sockets.

`bench.sqs_load` measures the whole machine, which is shared and noisy; this one feeds
signed AWS JSON 1.0 requests (made by botocore, as boto3 sends them) to the AWS port's
protocol over an in-memory transport and reports the process CPU time per request,
which stays comparable between two runs of two versions even on a busy machine. By
default the store is off (non-persistent queues). With --store, queues are persistent on
a temporary SQLite file and twisted's reactor runs in process (the store's threads hand
their outcomes back with callFromThread): each request is answered only after its commit,
as in the server, so the reactor thread's share of the store (batches, hand-offs, the
answers' callbacks) is measured too; the store's own threads are not on the reactor's.

For instruction counts, `valgrind --tool=callgrind --separate-threads=yes` on two runs
with the same --prefill and different --requests, under PYTHONHASHSEED=0 (string hashes
differ run to run otherwise, and with them the counts by some 5%): the difference of the
main thread's counts, less the cryptography extension's (the random key generation of the
security set-up), over the difference of the requests is the cost of one drain cycle.
With --store the counts also vary by about 3% with how the store's threads interleave.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import tempfile
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
from broker.store.store import Store
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


def _resigned(template: bytes, params: dict[str, Any]) -> bytes:
    """`template` (a request `_signed` made) with another body, signed again as botocore
    signs it (the same headers, date and scope): a drain cycle's DeleteMessageBatch, whose
    receipt handles change every cycle, costs the bench a few hashes rather than botocore's
    request preparation, which under callgrind counted as much as a fifth of a cycle."""
    head = template.partition(b"\r\n\r\n")[0].decode()
    fields = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])
    body = json.dumps(params).encode()
    date = fields["X-Amz-Date"]
    credential, signed_headers, _ = fields["Authorization"].split(", ")
    scope = credential.split("=", 1)[1].split("/", 1)[1]
    names = signed_headers.split("=", 1)[1]
    lower = {name.lower(): value for name, value in fields.items()}
    canonical = "\n".join(["POST", "/", "", *(f"{n}:{lower[n].strip()}" for n in names.split(";")), "",
                           names, hashlib.sha256(body).hexdigest()])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + SECRET).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    fields["Authorization"] = (f"{credential}, {signed_headers}, "
                               f"Signature={hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()}")
    fields["Content-Length"] = str(len(body))
    lines = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"{head.split(chr(13), 1)[0]}\r\n{lines}\r\n".encode() + body


class _Driver:
    """Feeds requests to one AWS port connection and collects the answers: with a fake
    clock (no store), or with the real reactor and a store on a temporary SQLite file."""

    def __init__(self, store_dir: str | None) -> None:
        config = Config(aws_credentials=f"{KEY}:{SECRET}")
        if store_dir is None:
            self.reactor: Any = None
            self.clock: Any = Clock()
            self.store: Store | None = None
        else:
            from twisted.internet import reactor
            self.reactor = self.clock = reactor
            self.store = Store(f"sqlite:///{store_dir}/bench.db", reactor)
        broker = Broker(self.store, self.clock)
        if self.store is not None:
            self._wait(broker.start())
        factory = build_port(broker, config, self.clock, Security(config, self.clock))
        self.protocol = factory.buildProtocol(None)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)

    def _wait(self, d: Any) -> Any:
        """Run the reactor until `d` fires; its result."""
        done: list[Any] = []
        d.addBoth(done.append)
        while not done:
            self.reactor.iterate(0.05)
        return done[0]

    def call(self, data: bytes) -> bytes:
        self.protocol.dataReceived(data)
        if self.reactor is None:
            self.clock.advance(0)
        else:
            while not _complete(self.transport.value()):
                self.reactor.iterate(0.05)
        out = self.transport.value()
        self.transport.clear()
        return out

    def close(self) -> None:
        if self.store is not None:
            self._wait(self.store.close())


def _complete(answer: bytes) -> bool:
    """Whether `answer` holds a whole HTTP response (head and Content-Length body)."""
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            return len(body) >= int(value)
    return True


def run(scenario: str, requests: int, prefill: int | None = None, store: bool = False) -> dict[str, float]:
    """`prefill` (drain only): messages queued before the timed cycles, untimed (by
    default as many as the cycles take)."""
    with tempfile.TemporaryDirectory(prefix="sqs_hotpath") as tmp:
        driver = _Driver(tmp if store else None)
        try:
            return _run(driver, scenario, requests, prefill)
        finally:
            driver.close()


def _run(driver: _Driver, scenario: str, requests: int, prefill: int | None) -> dict[str, float]:
    call = driver.call
    url = json.loads(call(_signed("CreateQueue", {"QueueName": "bench"})).partition(b"\r\n\r\n")[2])["QueueUrl"]
    body = "x" * 1024
    send = _signed("SendMessage", {"QueueUrl": url, "MessageBody": body})
    batch = _signed("SendMessageBatch", {"QueueUrl": url, "Entries": [
        {"Id": str(i), "MessageBody": body} for i in range(10)]})
    receive = _signed("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10})
    delete_template = _signed("DeleteMessageBatch", {"QueueUrl": url, "Entries": []})
    messages = {"send": 1, "batch": 10, "drain": 10}[scenario]   # drain: a receive and a delete per 10
    if scenario == "drain":
        for _ in range(-(-(requests * 10 if prefill is None else prefill) // 10)):
            call(batch)
    spent = 0.0
    for _ in range(requests):
        if scenario == "drain":
            start = time.process_time()
            answer = call(receive)
            spent += time.process_time() - start
            handles = [m["ReceiptHandle"] for m in json.loads(answer.partition(b"\r\n\r\n")[2])["Messages"]]
            assert len(handles) == 10, answer[:300]
            delete = _resigned(delete_template, {"QueueUrl": url, "Entries": [
                {"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)]})
            start = time.process_time()
            answer = call(delete)
            spent += time.process_time() - start
        else:
            start = time.process_time()
            answer = call(send if scenario == "send" else batch)
            spent += time.process_time() - start
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    return {"requests": requests, "us_per_request": spent / requests * 1e6,
            "us_per_message": spent / (requests * messages) * 1e6}


SCENARIOS = ("send", "batch", "drain")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sqs_hotpath", description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario; the best is kept")
    parser.add_argument("--scenario", choices=SCENARIOS, action="append",
                        help="run only this scenario (repeatable; default: all)")
    parser.add_argument("--prefill", type=int, help="drain: messages queued first (default: requests x 10)")
    parser.add_argument("--store", action="store_true",
                        help="persistent queues on a temporary SQLite file, with twisted's reactor")
    args = parser.parse_args(argv)
    settle_collector()
    results = {}
    for scenario in args.scenario or SCENARIOS:
        runs = [run(scenario, args.requests, args.prefill, args.store) for _ in range(args.repeat)]
        results[scenario] = min(runs, key=lambda r: r["us_per_request"])
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
