"""SQS load generator and scenarios (AWS JSON 1.0 over raw HTTP/1.1).

Scenarios (each bounded by a message count and a deadline):
  send_1      SendMessage, 1 connection, one request at a time
  send_16     SendMessage, 16 keep-alive connections (2 processes x 8)
  batch_1     SendMessageBatch of 10, 1 connection
  batch_16    SendMessageBatch of 10, 16 connections
  drain_10    receive 10 + DeleteMessageBatch with 10 messages queued: cycles of
              (untimed SendMessageBatch of 10, timed receive + delete), 1 connection
  drain_16    fill a queue with batches (16 connections, untimed), then drain it with
              receive 10 + DeleteMessageBatch on 16 connections: the broker's capacity
              to drain, where drain_10 is one client's round trips
  drain_deep  fill a queue to a large depth with batches (16 connections), then
              receive 10 + DeleteMessageBatch for a while with 1 connection (at
              most half the depth), then with 8 connections
  longpoll    a ReceiveMessage(WaitTimeSeconds=20) is waiting on an empty
              queue, then one SendMessage: time from the send to delivery

Bodies are 1 KiB. Standalone:
    python -m bench.sqs_load --port 4566 --scenario send_1 --quick
"""
from __future__ import annotations

import argparse
import json
import queue as queue_mod
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass

from .sqs_wire import HttpConn, Requests, Response, create_queue, drive
from .forking import CTX, default_signals
from .stats import latency_summary_ms, rate, timed

BODY = "x" * 1024


@dataclass
class SqsTarget:
    name: str
    port: int
    host: str = "127.0.0.1"


@dataclass
class Scale:
    quick: bool = False

    def pick(self, full, quick):
        return quick if self.quick else full


class _Stats:
    def __init__(self) -> None:
        self.ok = 0          # messages sent / deleted
        self.failed = 0      # per-entry or per-request failures
        self.requests = 0
        self.first_error: str | None = None
        self.t_last = 0.0
        self.timed = 0.0     # seconds inside timed sections (drain_10)

    def error(self, what: str) -> None:
        self.failed += 1
        if self.first_error is None:
            self.first_error = what[:300]

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _check(r: Response, st: _Stats, action: str) -> dict | None:
    st.requests += 1
    if r.status != 200:
        st.error(f"{action}: HTTP {r.status} {r.body[:200]!r}")
        return None
    try:
        return r.json()
    except ValueError:
        st.error(f"{action}: bad JSON {r.body[:200]!r}")
        return None


# ---------------------------------------------------------------- conversations

def g_send(reqs: Requests, url: str, st: _Stats, quota: int, deadline: float):
    req = reqs.build("SendMessage", {"QueueUrl": url, "MessageBody": BODY})
    for _ in range(quota):
        if time.monotonic() >= deadline:
            return
        r = yield req
        st.requests += 1
        if r.status == 200:
            st.ok += 1
        else:
            st.error(f"SendMessage: HTTP {r.status} {r.body[:200]!r}")
        st.t_last = time.monotonic()


def _batch_req(reqs: Requests, url: str) -> bytes:
    return reqs.build("SendMessageBatch", {"QueueUrl": url, "Entries": [
        {"Id": f"m{i}", "MessageBody": BODY} for i in range(10)]})


def g_batch(reqs: Requests, url: str, st: _Stats, quota: int, deadline: float):
    req = _batch_req(reqs, url)
    for _ in range(quota):
        if time.monotonic() >= deadline:
            return
        r = yield req
        doc = _check(r, st, "SendMessageBatch")
        if doc is not None:
            st.ok += len(doc.get("Successful", []))
            for f in doc.get("Failed", []):
                st.error(f"SendMessageBatch entry failed: {f}")
        st.t_last = time.monotonic()


def _receive_req(reqs: Requests, url: str, wait: int = 0, n: int = 10) -> bytes:
    return reqs.build("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": n,
                                         "WaitTimeSeconds": wait})


def _delete_req(reqs: Requests, url: str, msgs: list[dict]) -> bytes:
    return reqs.build("DeleteMessageBatch", {"QueueUrl": url, "Entries": [
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]})


def g_drain(reqs: Requests, url: str, st: _Stats, quota: int, deadline: float,
            max_empty: int = 3):
    recv = _receive_req(reqs, url)
    empties = 0
    while st.ok < quota and time.monotonic() < deadline:
        r = yield recv
        doc = _check(r, st, "ReceiveMessage")
        msgs = (doc or {}).get("Messages", [])
        if not msgs:
            empties += 1
            if empties >= max_empty:
                return
            continue
        empties = 0
        r = yield _delete_req(reqs, url, msgs)
        doc = _check(r, st, "DeleteMessageBatch")
        if doc is not None:
            st.ok += len(doc.get("Successful", []))
            for f in doc.get("Failed", []):
                st.error(f"DeleteMessageBatch entry failed: {f}")
        st.t_last = time.monotonic()


def g_drain10(reqs: Requests, url: str, st: _Stats, cycles: int, deadline: float):
    """Keep 10 messages queued: untimed batch send, then timed receive+delete."""
    send = _batch_req(reqs, url)
    recv = _receive_req(reqs, url)
    for _ in range(cycles):
        if time.monotonic() >= deadline:
            return
        r = yield send
        if _check(r, st, "SendMessageBatch") is None:
            return
        t = time.monotonic()
        got: list[dict] = []
        for _try in range(20):
            r = yield recv
            doc = _check(r, st, "ReceiveMessage")
            got += (doc or {}).get("Messages", [])
            if len(got) >= 10:
                break
        if not got:
            st.error("ReceiveMessage returned nothing with 10 messages queued")
            return
        r = yield _delete_req(reqs, url, got)
        doc = _check(r, st, "DeleteMessageBatch")
        st.timed += time.monotonic() - t
        if doc is not None:
            st.ok += len(doc.get("Successful", []))
        st.t_last = time.monotonic()


GENS = {"send": g_send, "batch": g_batch, "drain": g_drain, "drain10": g_drain10}


# ---------------------------------------------------------------- processes

def _worker(target: SqsTarget, url: str, kind: str, n_conns: int, quota: int,
            duration: float, go, out_q) -> None:
    default_signals()
    st = _Stats()
    res: dict = {}
    try:
        reqs = Requests(target.host, target.port)
        if not go.wait(60):
            raise RuntimeError("never got the go signal")
        t0 = time.monotonic()
        deadline = t0 + duration
        gens = [GENS[kind](reqs, url, st, quota, deadline) for _ in range(n_conns)]
        drive(target.host, target.port, gens, deadline + 30,
              on_error=lambda e: st.error(f"{type(e).__name__}: {e}"))
        res["t0"] = t0
    except Exception as e:
        st.error(f"{type(e).__name__}: {e}")
        res["trace"] = traceback.format_exc(limit=3)
    res.update(st.as_dict())
    res["cpu"] = time.process_time()
    out_q.put(res)


def run_load(target: SqsTarget, url: str, kind: str, conns: int, count: int,
             duration: float) -> dict:
    """Run `kind` on `conns` connections spread over up to 2 processes;
    `count` is the total quota (messages, or cycles for drain10)."""
    nproc = 1 if conns == 1 else 2
    per_proc = [conns // nproc + (1 if i < conns % nproc else 0) for i in range(nproc)]
    quota_per_conn = max(1, count // conns)
    go, out_q = CTX.Event(), CTX.Queue()
    procs = []
    for n in per_proc:
        # For drain the quota is shared by the process's connections.
        q = quota_per_conn * n if kind == "drain" else quota_per_conn
        p = CTX.Process(target=_worker, daemon=True,
                        args=(target, url, kind, n, q, duration, go, out_q))
        p.start()
        procs.append(p)
    time.sleep(0.2)
    t_go = time.monotonic()
    go.set()
    results = []
    limit = t_go + duration + 90
    while len(results) < nproc and time.monotonic() < limit:
        try:
            results.append(out_q.get(timeout=0.5))
        except queue_mod.Empty:
            pass
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.terminate()
            p.join(timeout=5)
    ok = sum(r["ok"] for r in results)
    t_end = max((r["t_last"] for r in results if r["t_last"]), default=t_go)
    t0 = min((r.get("t0", t_go) for r in results), default=t_go)
    out = {"ok": ok, "requests": sum(r["requests"] for r in results),
           "rate": rate(ok, t_end - t0), "failed": sum(r["failed"] for r in results),
           "timed": sum(r["timed"] for r in results),
           "gen_cpu_pct": round(100 * sum(r["cpu"] for r in results) / max(1e-9, t_end - t_go), 1)}
    errs = [r["first_error"] for r in results if r.get("first_error")]
    if len(results) < nproc:
        errs.append("a load process did not report")
    if errs:
        out["error"] = errs[0]
    return out


# ---------------------------------------------------------------- scenarios

def _queue(target: SqsTarget, tag: str) -> str:
    conn = HttpConn(target.host, target.port)
    try:
        return create_queue(conn, Requests(target.host, target.port),
                            f"bench-{tag}-{uuid.uuid4().hex[:8]}")
    finally:
        conn.close()


def _pick(m: dict, key: str = "rate") -> dict:
    out = {"msgs": m["ok"], key: m["rate"], "gen_cpu_pct": m["gen_cpu_pct"]}
    if m.get("failed"):
        out["failed"] = m["failed"]
    if m.get("error"):
        out["error"] = m["error"]
    return out


def sc_send(target: SqsTarget, scale: Scale, conns: int) -> dict:
    url = _queue(target, f"send{conns}")
    return _pick(run_load(target, url, "send", conns, scale.pick(200_000, 50_000),
                          scale.pick(10, 4)))


def sc_batch(target: SqsTarget, scale: Scale, conns: int) -> dict:
    url = _queue(target, f"batch{conns}")
    # quota counts requests per connection for "batch"
    return _pick(run_load(target, url, "batch", conns, scale.pick(100_000, 20_000),
                          scale.pick(10, 4)))


def sc_drain10(target: SqsTarget, scale: Scale) -> dict:
    url = _queue(target, "drain10")
    m = run_load(target, url, "drain10", 1, scale.pick(2000, 300), scale.pick(10, 4))
    out = {"msgs": m["ok"], "rate": rate(m["ok"], m["timed"]),
           "gen_cpu_pct": m["gen_cpu_pct"]}
    if m.get("error"):
        out["error"] = m["error"]
    return out


def sc_drain16(target: SqsTarget, scale: Scale) -> dict:
    url = _queue(target, "drain16")
    fill = run_load(target, url, "batch", 16, scale.pick(4000, 1000), scale.pick(60, 30))
    drain = run_load(target, url, "drain", 16, fill["ok"], scale.pick(30, 10))
    out = {"msgs": drain["ok"], "rate": drain["rate"], "gen_cpu_pct": drain["gen_cpu_pct"]}
    error = fill.get("error") or drain.get("error")
    if error:
        out["error"] = error
    return out


def sc_drain_deep(target: SqsTarget, scale: Scale, depth: int | None = None) -> dict:
    depth = depth or scale.pick(100_000, 10_000)
    url = _queue(target, "deep")
    fill_time = scale.pick(120, 30)
    fill = run_load(target, url, "batch", 16, depth // 10, fill_time)
    out: dict = {"depth": fill["ok"], "fill_rate": fill["rate"]}
    errs = [fill.get("error")]
    left = fill["ok"]
    for conns in (1, 8):
        if left <= 0:
            break
        out[f"depth_at_drain{conns}"] = left
        # One connection takes at most half: a fast broker would otherwise empty the
        # queue within the time and leave nothing for the 8-connection phase.
        quota = left // 2 if conns == 1 else left
        d = run_load(target, url, "drain", conns, quota, scale.pick(10, 4))
        out[f"drain{conns}_rate"] = d["rate"]
        left -= d["ok"]
        errs.append(d.get("error"))
    errs = [e for e in errs if e]
    if errs:
        out["error"] = errs[0]
    return out


def sc_longpoll(target: SqsTarget, scale: Scale) -> dict:
    url = _queue(target, "longpoll")
    reqs = Requests(target.host, target.port)
    sender, receiver = HttpConn(target.host, target.port), HttpConn(target.host, target.port)
    n = scale.pick(100, 20)
    cap = time.monotonic() + scale.pick(120, 40)
    recv_req = _receive_req(reqs, url, wait=20, n=1)
    lat: list[int] = []
    send_lat: list[int] = []
    misses = 0
    errors: list[str] = []
    try:
        for i in range(n):
            if time.monotonic() > cap:
                errors.append(f"time cap reached after {i} rounds")
                break
            box: dict = {}

            def wait_for_message():
                try:
                    box["r"] = receiver.request(recv_req, timeout=30)
                except Exception as e:  # reported below
                    box["e"] = e
                box["t"] = time.monotonic_ns()

            th = threading.Thread(target=wait_for_message, daemon=True)
            th.start()
            time.sleep(0.05)   # let the ReceiveMessage reach the server and park
            body = f"lp-{i}-{uuid.uuid4().hex}"
            t_send = time.monotonic_ns()
            r = sender.request(reqs.build("SendMessage", {"QueueUrl": url, "MessageBody": body}))
            send_lat.append(time.monotonic_ns() - t_send)
            if r.status != 200:
                errors.append(f"SendMessage HTTP {r.status}")
                break
            th.join(30)
            if "r" not in box:
                errors.append(f"ReceiveMessage failed: {box.get('e')}")
                break
            msgs = box["r"].json().get("Messages", []) if box["r"].status == 200 else []
            if not msgs or msgs[0].get("Body") != body:
                misses += 1
                continue
            lat.append(box["t"] - t_send)
            sender.request(_delete_req(reqs, url, msgs))
    finally:
        sender.close()
        receiver.close()
    out = {**latency_summary_ms(lat), "misses": misses,
           "send_p50_ms": latency_summary_ms(send_lat)["p50_ms"]}
    if errors:
        out["error"] = errors[0]
    return out


SCENARIOS = {
    "send_1": ("SendMessage, 1 connection", lambda t, s: sc_send(t, s, 1)),
    "send_16": ("SendMessage, 16 connections", lambda t, s: sc_send(t, s, 16)),
    "batch_1": ("SendMessageBatch (10), 1 connection", lambda t, s: sc_batch(t, s, 1)),
    "batch_16": ("SendMessageBatch (10), 16 connections", lambda t, s: sc_batch(t, s, 16)),
    "drain_10": ("Receive 10 + DeleteMessageBatch, 10 queued, 1 connection",
                 lambda t, s: sc_drain10(t, s)),
    "drain_16": ("Fill, then receive 10 + DeleteMessageBatch on 16 connections",
                 lambda t, s: sc_drain16(t, s)),
    "drain_deep": ("Fill to depth, then receive 10 + DeleteMessageBatch",
                   lambda t, s: sc_drain_deep(t, s)),
    "longpoll": ("Long-poll (WaitTimeSeconds=20) wake-up latency", lambda t, s: sc_longpoll(t, s)),
}


def warm_up(target: SqsTarget, seconds: float = 2.0) -> dict:
    """Untimed requests before the first scenario."""
    url = _queue(target, "warmup")
    m = run_load(target, url, "batch", 4, 100_000, seconds)
    d = run_load(target, url, "drain", 4, m["ok"], seconds)
    out = {"sent": m["ok"], "drained": d["ok"]}
    if m.get("error") or d.get("error"):
        out["error"] = m.get("error") or d.get("error")
    return out


def run_scenario(key: str, target: SqsTarget, scale: Scale) -> dict:
    return timed(SCENARIOS[key][1], target, scale)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.sqs_load",
                                 description="Run SQS benchmark scenarios against one endpoint.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--scenario", action="append", choices=list(SCENARIOS))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    target = SqsTarget("cli", args.port, args.host)
    for key in args.scenario or list(SCENARIOS):
        print(key, json.dumps(run_scenario(key, target, Scale(args.quick))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
