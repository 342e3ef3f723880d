"""SNS benchmark: Publish → 3 SQS queues end to end, and HTTP push, mqgate and moto.

Scenarios (1 KiB messages, each bounded by a count and a deadline):
  publish_1    Publish to a topic with 3 SQS subscriptions, 1 connection, one at a time:
               publishes/s and Publish latency
  publish_16   the same with 16 keep-alive connections
  publish_16_raw  the same with RawMessageDelivery (no signed envelope)
  per_queue    Publish latency p50 with 0 and with 3 subscribed queues: added ms per queue
  delivery     publish one message, long-poll ReceiveMessage on a subscribed queue:
               time from the Publish request to the message in the client's hands
  http_push    a topic with one confirmed http subscription to a local endpoint (a
               forked asyncio server), PublishBatch of 10 on 4 connections:
               notifications/s received by the endpoint, and the target's CPU time per
               notification (its main process, and with the processes it started)

Run: python -m bench.sns_load [--quick] [--targets mqgate moto] [--write-docs]
--write-docs replaces the "## SNS" section of docs/benchmarks.md with this run (the "###"
notes under its table stay).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import urlopen

import boto3

from . import peers as peers_mod
from .forking import CTX, default_signals
from .sqs_wire import REGION, HttpConn, Response, drive
from .stats import latency_summary_ms, rate
from .sysinfo import cpu_seconds, tree_cpu_seconds

BODY = "x" * 1024
DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
GOALS = {"publish_16": "≥ 50× moto", "publish_16_raw": "≥ 50× moto", "per_queue": "≤ 1 ms per queue", "http_push": "≥ 2,000 notifications/s"}


def _client(service: str, port: int) -> Any:
    return boto3.client(service, endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION,
                        aws_access_key_id="bench", aws_secret_access_key="bench")


def publish_request(port: int, topic_arn: str, message: str = BODY, batch: int = 0) -> bytes:
    """A signed-looking Query Publish, or PublishBatch of ``batch`` entries (SigV4 scope
    names sns; the signature is not checked)."""
    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    form = {"Action": "Publish", "Version": "2010-03-31", "TopicArn": topic_arn, "Message": message}
    if batch:
        form = {"Action": "PublishBatch", "Version": "2010-03-31", "TopicArn": topic_arn}
        for i in range(1, batch + 1):
            form[f"PublishBatchRequestEntries.member.{i}.Id"] = str(i)
            form[f"PublishBatchRequestEntries.member.{i}.Message"] = message
    body = urlencode(form).encode()
    auth = (f"AWS4-HMAC-SHA256 Credential=AKIDBENCHMARK/{amz_date[:8]}/{REGION}/sns/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, Signature=" + "0" * 64)
    head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
            f"X-Amz-Date: {amz_date}\r\nAuthorization: {auth}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def _topic_with_queues(port: int, queues: int, raw: bool = False) -> tuple[str, list[str]]:
    sns, sqs = _client("sns", port), _client("sqs", port)
    name = "bench-" + uuid.uuid4().hex[:8]
    arn = sns.create_topic(Name=name)["TopicArn"]
    urls = []
    for i in range(queues):
        url = sqs.create_queue(QueueName=f"{name}-q{i}")["QueueUrl"]
        qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                      Attributes={"RawMessageDelivery": "true" if raw else "false"})
        urls.append(url)
    return arn, urls


def _sequential(port: int, arn: str, count: int, deadline: float) -> dict[str, Any]:
    conn = HttpConn("127.0.0.1", port)
    request = publish_request(port, arn)
    samples: list[int] = []
    failed = 0
    t0 = time.monotonic()
    try:
        while len(samples) < count and time.monotonic() < deadline:
            s = time.perf_counter_ns()
            r = conn.request(request)
            samples.append(time.perf_counter_ns() - s)
            failed += r.status != 200
    finally:
        conn.close()
    seconds = time.monotonic() - t0
    return {"published": len(samples), "failed": failed, "publish_per_s": rate(len(samples), seconds),
            **latency_summary_ms(samples)}


def publish_1(port: int, quick: bool) -> dict[str, Any]:
    arn, _ = _topic_with_queues(port, 3)
    return _sequential(port, arn, 300 if quick else 2000, time.monotonic() + 60)


def _parallel(port: int, arn: str, count: int, connections: int, deadline: float,
              batch: int = 0) -> tuple[int, int, float]:
    """(messages published, failed requests, seconds) for ``count`` messages."""
    request = publish_request(port, arn, batch=batch)
    done = {"ok": 0, "failed": 0}
    per = count // connections // (batch or 1)

    def conversation():
        for _ in range(per):
            r: Response = yield request
            if r.status == 200:
                done["ok"] += batch or 1
            else:
                done["failed"] += 1
    t0 = time.monotonic()
    drive("127.0.0.1", port, [conversation() for _ in range(connections)], deadline)
    return done["ok"], done["failed"], time.monotonic() - t0


def publish_16(port: int, quick: bool) -> dict[str, Any]:
    arn, _ = _topic_with_queues(port, 3)
    ok, failed, seconds = _parallel(port, arn, 800 if quick else 8000, 16, time.monotonic() + 120)
    return {"published": ok, "failed": failed, "publish_per_s": rate(ok, seconds)}


def publish_16_raw(port: int, quick: bool) -> dict[str, Any]:
    arn, _ = _topic_with_queues(port, 3, raw=True)
    ok, failed, seconds = _parallel(port, arn, 800 if quick else 8000, 16, time.monotonic() + 120)
    return {"published": ok, "failed": failed, "publish_per_s": rate(ok, seconds)}


def per_queue(port: int, quick: bool) -> dict[str, Any]:
    count = 200 if quick else 1000
    bare, _ = _topic_with_queues(port, 0)
    fan, _ = _topic_with_queues(port, 3)
    zero = _sequential(port, bare, count, time.monotonic() + 60)
    three = _sequential(port, fan, count, time.monotonic() + 60)
    added = None
    if zero["p50_ms"] is not None and three["p50_ms"] is not None:
        added = (three["p50_ms"] - zero["p50_ms"]) / 3
    return {"p50_0_queues_ms": zero["p50_ms"], "p50_3_queues_ms": three["p50_ms"], "added_ms_per_queue": added}


def delivery(port: int, quick: bool) -> dict[str, Any]:
    arn, urls = _topic_with_queues(port, 3)
    sqs = _client("sqs", port)
    conn = HttpConn("127.0.0.1", port)
    samples = []
    deadline = time.monotonic() + 60
    try:
        for _ in range(50 if quick else 300):
            if time.monotonic() > deadline:
                break
            s = time.perf_counter_ns()
            conn.request(publish_request(port, arn))
            got = sqs.receive_message(QueueUrl=urls[0], WaitTimeSeconds=5).get("Messages", [])
            if not got:
                continue
            samples.append(time.perf_counter_ns() - s)
            sqs.delete_message(QueueUrl=urls[0], ReceiptHandle=got[0]["ReceiptHandle"])
    finally:
        conn.close()
    return latency_summary_ms(samples)


# -- http push -------------------------------------------------------------------------------
def _endpoint_process(port_out: Any, counter: Any, ready: Any) -> None:
    """A minimal keep-alive HTTP/1.1 endpoint: counts Notification POSTs, confirms by GET."""
    default_signals()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                kind = b""
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                    elif name.lower() == b"x-amz-sns-message-type":
                        kind = value.strip()
                body = await reader.readexactly(length)
                if kind == b"SubscriptionConfirmation":
                    url = json.loads(body)["SubscribeURL"]
                    await asyncio.get_running_loop().run_in_executor(None, lambda: urlopen(url, timeout=10).read())
                elif kind == b"Notification":
                    with counter.get_lock():
                        counter.value += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port_out.value = server.sockets[0].getsockname()[1]
        ready.set()
        await server.serve_forever()
    asyncio.run(main())


def http_push(port: int, quick: bool) -> dict[str, Any]:
    counter, port_out, ready = CTX.Value("l", 0), CTX.Value("i", 0), CTX.Event()
    proc = CTX.Process(target=_endpoint_process, args=(port_out, counter, ready), daemon=True)
    proc.start()
    try:
        if not ready.wait(10):
            return {"error": "endpoint did not start"}
        sns = _client("sns", port)
        arn = sns.create_topic(Name="bench-http-" + uuid.uuid4().hex[:8])["TopicArn"]
        sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=f"http://127.0.0.1:{port_out.value}/")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
            if subs and subs[0]["SubscriptionArn"] != "PendingConfirmation":
                break
            time.sleep(0.05)
        else:
            return {"error": "subscription not confirmed"}
        count = 1000 if quick else 6000
        t0 = time.monotonic()
        ok, failed, _ = _parallel(port, arn, count, 4, t0 + 120, batch=10)
        deadline = t0 + 120
        while counter.value < ok and time.monotonic() < deadline:
            time.sleep(0.01)
        seconds = time.monotonic() - t0
        return {"published": ok, "failed": failed, "notified": counter.value,
                # 0, not "no figure", when the target accepted the publications but sent nothing
                "notifications_per_s": rate(counter.value, seconds) or 0.0}
    finally:
        proc.terminate()
        proc.join(5)


SCENARIOS = {"publish_1": publish_1, "publish_16": publish_16, "publish_16_raw": publish_16_raw,
             "per_queue": per_queue,
             "delivery": delivery, "http_push": http_push}

ROWS = [  # scenario, metric, label, unit
    ("publish_1", "publish_per_s", "Publish → 3 queues, 1 connection ↑", "publishes/s"),
    ("publish_1", "p50_ms", "Publish → 3 queues, 1 connection, latency p50 ↓", "ms"),
    ("publish_16", "publish_per_s", "Publish → 3 queues, 16 connections ↑", "publishes/s"),
    ("publish_16_raw", "publish_per_s", "Publish → 3 queues (raw delivery), 16 connections ↑", "publishes/s"),
    ("per_queue", "added_ms_per_queue", "Publish latency added per subscribed queue (p50) ↓", "ms"),
    ("delivery", "p50_ms", "Publish → ReceiveMessage, end to end, p50 ↓", "ms"),
    ("delivery", "p99_ms", "Publish → ReceiveMessage, end to end, p99 ↓", "ms"),
    ("http_push", "notifications_per_s", "HTTP push to a local endpoint ↑", "notifications/s"),
    ("http_push", "main_cpu_ms_per_notification", "HTTP push, CPU per notification, main process ↓", "ms"),
    ("http_push", "cpu_ms_per_notification", "HTTP push, CPU per notification, all its processes ↓", "ms"),
]


def run(targets: list[str], quick: bool, scenarios: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in targets:
        peer = peers_mod.PEERS[name]()
        try:
            ep = peer.start()
        except Exception as e:  # not installed, did not start
            results[name] = {"unavailable": str(e).splitlines()[0] if str(e) else type(e).__name__}
            continue
        results[name] = {"version": ep.version, "scenarios": {}}
        try:
            for key in scenarios:
                fn = SCENARIOS[key]
                cpu = (tree_cpu_seconds(ep.pids), sum(map(cpu_seconds, ep.pids)))
                try:
                    metrics = fn(ep.aws_port, quick)
                except Exception as e:
                    metrics = {"error": f"{type(e).__name__}: {e}"}
                if metrics.get("notified"):
                    # CPU of the target's processes (the broker and any helper process it
                    # runs, such as mqgate's signing process) per notification received
                    per = 1000 / metrics["notified"]
                    metrics["cpu_ms_per_notification"] = (tree_cpu_seconds(ep.pids) - cpu[0]) * per
                    metrics["main_cpu_ms_per_notification"] = (sum(map(cpu_seconds, ep.pids)) - cpu[1]) * per
                results[name]["scenarios"][key] = metrics
                print(f"{name} {key}: {json.dumps(metrics)}", flush=True)
        finally:
            peer.stop()
    return results


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def section(results: dict[str, Any], command: str) -> str:
    names = list(results)
    lines = ["## SNS (Query protocol over HTTP/1.1)", "",
             f"- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"- Command: `{command}`",
             "- Versions: " + "; ".join(f"{n}: {results[n].get('version', results[n].get('unavailable'))}"
                                        for n in names),
             "- Load average at the end of the run: " + " ".join(f"{v:.2f}" for v in os.getloadavg())
             + " (2 cores; other work on the machine lowers every figure)",
             "- Messages of 1 KiB; every Publish answer waits for the commit of the publication and its "
             "three queue copies (mqgate).", "",
             "| Scenario | unit | " + " | ".join(names) + " | mqgate / moto | goal |",
             "|---|---|" + "---:|" * len(names) + "---:|---|"]
    for key, metric, label, unit in ROWS:
        values = [results[n].get("scenarios", {}).get(key, {}).get(metric) for n in names]
        ratio = "—"
        if "mqgate" in names and "moto" in names:
            a, b = values[names.index("mqgate")], values[names.index("moto")]
            if a and b:
                ratio = f"{a / b:,.1f}×" if a / b >= 10 else f"{a / b:.2f}×"
        goal = GOALS.get(key, "") if metric in ("publish_per_s", "added_ms_per_queue", "notifications_per_s") else ""
        lines.append(f"| {label} | {unit} | " + " | ".join(_fmt(v) for v in values) + f" | {ratio} | {goal} |")
    return "\n".join(lines) + "\n"


def _bounds(text: str) -> tuple[int, int] | None:
    start = text.find("## SNS")
    if start < 0:
        return None
    end = text.find("\n## ", start + 1)
    return start, (end + 1 if end >= 0 else len(text))


def write_docs(text: str) -> None:
    current = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    bounds = _bounds(current)
    if bounds:
        # "### " notes written by hand under the generated table stay
        old = current[bounds[0]:bounds[1]]
        notes = old.find("\n### ")
        if notes >= 0:
            text = text + old[notes:]
        current = current[:bounds[0]] + text + current[bounds[1]:]
    else:
        current = current.rstrip("\n") + "\n\n" + text
    DOCS.write_text(current)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="SNS Publish → SQS and HTTP push benchmark (mqgate vs moto)")
    ap.add_argument("--quick", action="store_true", help="fewer messages per scenario")
    ap.add_argument("--targets", nargs="+", default=["mqgate", "moto"], choices=["mqgate", "moto"])
    ap.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS),
                    help="run only these scenarios")
    ap.add_argument("--write-docs", action="store_true", help="replace the SNS section of docs/benchmarks.md")
    args = ap.parse_args(argv)
    results = run(args.targets, args.quick, args.scenarios)
    text = section(results, "python -m bench.sns_load " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(text)
    if args.write_docs:
        write_docs(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
