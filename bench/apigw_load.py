"""API Gateway benchmark: the gateway in front of a trivial local backend, against the
backend alone, in the same run; stage-cache hits; the SQS integration into a queue.

    python -m bench.apigw_load [--seconds 5] [--connections 16] [--no-write]

Starts mqgate (SQLite in a temp dir) and a minimal keep-alive HTTP backend (asyncio, one
fixed answer) on loopback ports, deploys a REST API with boto3, then measures with the raw
HTTP/1.1 client of bench.sqs_wire: throughput with N keep-alive connections, and latency
from one connection sending requests back to back. Writes the "API Gateway" section of
docs/benchmarks.md (the other sections are kept).
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from . import sysinfo
from .peers import free_port, wait_port
from .sqs_wire import HttpConn, Response, drive
from .stats import latency_summary_ms

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
SECTION = "## API Gateway"


def _backend(port: int) -> None:
    body = b'{"ok":true}'
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.buf = b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while True:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buf[:end].lower()
                length = 0
                match = re.search(rb"content-length:\s*(\d+)", head)
                if match:
                    length = int(match.group(1))
                if len(self.buf) < end + 4 + length:
                    return
                self.buf = self.buf[end + 4 + length:]
                self.transport.write(answer)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Echo, HOST, port)
        await server.serve_forever()
    asyncio.run(main())


def _get(port: int, path: str, host: str | None = None) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host or f'{HOST}:{port}'}\r\n\r\n".encode()


def _post(port: int, path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def throughput(port: int, request: bytes, connections: int, seconds: float) -> tuple[float, int]:
    """Requests per second with ``connections`` keep-alive connections; and non-2xx answers."""
    counts = {"ok": 0, "bad": 0}
    deadline = time.monotonic() + seconds

    def conversation() -> Any:
        while time.monotonic() < deadline:
            response: Response = yield request
            counts["ok" if 200 <= response.status < 300 else "bad"] += 1
    started = time.monotonic()
    drive(HOST, port, [conversation() for _ in range(connections)], deadline + 10)
    return (counts["ok"] + counts["bad"]) / (time.monotonic() - started), counts["bad"]


def latency(port: int, request: bytes, count: int) -> dict[str, Any]:
    conn = HttpConn(HOST, port)
    samples = []
    for _ in range(count):
        t0 = time.perf_counter_ns()
        conn.request(request)
        samples.append(time.perf_counter_ns() - t0)
    conn.close()
    return latency_summary_ms(samples)


def _deploy(aws_url: str, backend_port: int) -> tuple[str, str]:
    client = boto3.client("apigateway", endpoint_url=aws_url, region_name="us-east-1", aws_access_key_id="bench",
                          aws_secret_access_key="bench", config=Config(retries={"total_max_attempts": 1}))
    sqs = boto3.client("sqs", endpoint_url=aws_url, region_name="us-east-1", aws_access_key_id="bench",
                       aws_secret_access_key="bench")
    queue_url = sqs.create_queue(QueueName="apigw-bench")["QueueUrl"]
    api = client.create_rest_api(name="bench")
    api_id, root = api["id"], api["rootResourceId"]
    for part, method, integration in (
        ("direct", "GET", {"type": "HTTP_PROXY", "integrationHttpMethod": "GET",
                           "uri": f"http://{HOST}:{backend_port}/direct"}),
        ("cached", "GET", {"type": "HTTP_PROXY", "integrationHttpMethod": "GET",
                           "uri": f"http://{HOST}:{backend_port}/cached"}),
        ("sqs", "POST", {"type": "AWS", "integrationHttpMethod": "POST",
                         "uri": "arn:aws:apigateway:us-east-1:sqs:path/000000000000/apigw-bench",
                         "requestParameters": {"integration.request.header.Content-Type":
                                               "'application/x-www-form-urlencoded'"},
                         "requestTemplates": {"application/json":
                                              "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"}}),
    ):
        resource = client.create_resource(restApiId=api_id, parentId=root, pathPart=part)
        client.put_method(restApiId=api_id, resourceId=resource["id"], httpMethod=method, authorizationType="NONE")
        client.put_integration(restApiId=api_id, resourceId=resource["id"], httpMethod=method, **integration)
        if integration["type"] == "AWS":
            client.put_integration_response(restApiId=api_id, resourceId=resource["id"], httpMethod=method,
                                            statusCode="200", responseTemplates={"application/json": '{"queued":1}'})
    client.create_deployment(restApiId=api_id, stageName="bench")
    client.update_stage(restApiId=api_id, stageName="bench", patchOperations=[
        {"op": "replace", "path": "/cacheClusterEnabled", "value": "true"},
        {"op": "replace", "path": "/~1cached/GET/caching/enabled", "value": "true"},
        {"op": "replace", "path": "/~1direct/GET/caching/enabled", "value": "false"}])
    return api_id, queue_url


def run(seconds: float, connections: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="apigw-bench-"))
    backend_port, aws_port, stomp_port = free_port(), free_port(), free_port()
    backend = multiprocessing.Process(target=_backend, args=(backend_port,), daemon=True)
    backend.start()
    log = open(workdir / "mqgate.log", "wb")
    broker = subprocess.Popen([sys.executable, "-m", "broker", "serve", "--bind", HOST, "--aws-port", str(aws_port),
                               "--stomp-port", str(stomp_port), "--store", f"sqlite:///{workdir}/bench.db",
                               "--log-level", "warning"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(backend_port, 10, what="backend")
        wait_port(aws_port, 30, broker, what="mqgate", log=workdir / "mqgate.log")
        api_id, queue_url = _deploy(f"http://{HOST}:{aws_port}", backend_port)
        load = sysinfo.loadavg()
        stage = f"/restapis/{api_id}/bench/_user_request_"
        alone = _get(backend_port, "/direct")
        through = _get(aws_port, f"{stage}/direct")
        cached = _get(aws_port, f"{stage}/cached")
        to_sqs = _post(aws_port, f"{stage}/sqs", b'{"order": 1, "items": [1, 2, 3]}')
        for request, port in ((alone, backend_port), (through, aws_port), (cached, aws_port)):
            latency(port, request, 300)  # warm up connections, caches and code paths
        results: dict[str, Any] = {"load": load}
        results["backend_lat"] = latency(backend_port, alone, 3000)
        results["gateway_lat"] = latency(aws_port, through, 3000)
        results["cached_lat"] = latency(aws_port, cached, 3000)
        results["backend_rps"] = throughput(backend_port, alone, connections, seconds)
        results["gateway_rps"] = throughput(aws_port, through, connections, seconds)
        results["cached_rps"] = throughput(aws_port, cached, connections, seconds)
        results["sqs_rps"] = throughput(aws_port, to_sqs, connections, seconds)
        sqs = boto3.client("sqs", endpoint_url=f"http://{HOST}:{aws_port}", region_name="us-east-1",
                           aws_access_key_id="bench", aws_secret_access_key="bench")
        depth = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
        results["sqs_depth"] = int(depth["Attributes"]["ApproximateNumberOfMessages"])
        return results
    finally:
        broker.terminate()
        try:
            broker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            broker.kill()
        backend.terminate()
        backend.join(5)
        log.close()


def render(results: dict[str, Any], seconds: float, connections: int, command: str) -> str:
    b, g, c = results["backend_lat"], results["gateway_lat"], results["cached_lat"]
    added = g["p50_ms"] - b["p50_ms"]
    lines = [SECTION, "",
             "Generated by `python -m bench.apigw_load` (its own run: the gateway and the backend alone are "
             "measured in the same run).", "",
             f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             f"- Machine: {sysinfo.nproc()} cores, {sysinfo.cpu_model()}, {sysinfo.mem_total_gib():.0f} GiB, "
             f"{sysinfo.os_release()}; load average at start {results['load']}",
             f"- Command: `{command}`",
             f"- Load: {connections} keep-alive connections for {seconds:g} s per throughput row (one Python "
             "load process); latency from one connection, 3,000 requests back to back. Backend: a minimal "
             "asyncio HTTP server on loopback. mqgate: SQLite (WAL) store in a temp dir.", "",
             "| Scenario | unit | result | goal |", "|---|---|---:|---|",
             f"| Backend alone ↑ | req/s | {results['backend_rps'][0]:,.0f} | |",
             f"| Gateway (HTTP_PROXY) → backend ↑ | req/s | {results['gateway_rps'][0]:,.0f} | |",
             f"| Backend alone, latency p50 / p99 ↓ | ms | {b['p50_ms']:.2f} / {b['p99_ms']:.2f} | |",
             f"| Gateway → backend, latency p50 / p99 ↓ | ms | {g['p50_ms']:.2f} / {g['p99_ms']:.2f} | |",
             f"| Added by the gateway, p50 ↓ | ms | {added:.2f} | ≤ 1 ms: {'met' if added <= 1 else 'not met'} |",
             f"| Stage cache hits ↑ | req/s | {results['cached_rps'][0]:,.0f} | ≥ 5,000: "
             f"{'met' if results['cached_rps'][0] >= 5000 else 'not met'} |",
             f"| Stage cache hit, latency p50 ↓ | ms | {c['p50_ms']:.2f} | |",
             f"| SQS integration → queue ↑ | req/s | {results['sqs_rps'][0]:,.0f} | ≥ 3,000: "
             f"{'met' if results['sqs_rps'][0] >= 3000 else 'not met'} |",
             f"| Messages in the queue afterwards | msgs | {results['sqs_depth']:,} | |", "",
             "Non-2xx answers during the throughput rows: " + ", ".join(
                 f"{name} {results[name][1]}" for name in ("backend_rps", "gateway_rps", "cached_rps", "sqs_rps")),
             ""]
    return "\n".join(lines)


def write(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start >= 0:
        following = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + ("" if following < 0 else text[following + 1:])
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput row")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections for throughput")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    results = run(args.seconds, args.connections)
    section = render(results, args.seconds, args.connections, " ".join(["python -m bench.apigw_load", *sys.argv[1:]]))
    print(section)
    if not args.no_write:
        write(section)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
