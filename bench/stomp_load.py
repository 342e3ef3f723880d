"""STOMP load generator and scenarios.

Built so that the generator is not the bottleneck on a 2-core machine:
- raw sockets, no STOMP library in the hot loops;
- frames pre-encoded (only the receipt id / timestamp is formatted per message);
- producers and consumers in separate processes (fork), so the kernel shares
  the cores between them and the broker;
- producers pipeline: each keeps a window of W outstanding receipts (as a JMS
  async sender with a producer window does) instead of waiting for each one;
  window=1 is measured too;
- consumers count frames by their NUL terminator (bodies never contain NUL)
  and ACK cumulatively (`client` mode) every `ack_every` messages, or use
  `auto` mode.
Every loop is bounded by a message count and a deadline, and stops by itself.

Run one scenario by hand (against any STOMP broker on loopback):
    python -m bench.stomp_load --port 61613 --scenario persistent_w64 --quick
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue as queue_mod
import select
import selectors
import socket
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field

from . import stomp_wire
from .forking import CTX, default_signals
from .stats import latency_summary_ms, rate, timed, window_rate
from .sysinfo import tree_rss_kib

BODY_SIZE = 1024
TS_DIGITS = 20


@dataclass
class StompTarget:
    name: str
    port: int
    host: str = "127.0.0.1"
    headers: dict[str, str] = field(default_factory=dict)   # extra CONNECT headers
    pids: list[int] = field(default_factory=list)           # broker processes (RSS)


@dataclass
class ProducerCfg:
    count: int                 # upper bound on messages
    duration: float            # upper bound on seconds of sending
    persistent: bool = False
    receipt_every: int = 1     # every k-th message asks for a receipt (0: none)
    window: int = 1            # max outstanding receipts
    rate: float = 0.0          # messages/s; 0 = as fast as the window allows
    body_size: int = BODY_SIZE
    timestamp: bool = False    # put monotonic_ns of the send in the body
    drain_timeout: float = 30.0


@dataclass
class ConsumerCfg:
    ack: str = "auto"          # auto | client (cumulative)
    ack_every: int = 100
    prefetch: int = 1000
    latency: bool = False      # parse the timestamp of every message
    marks_every: int = 0       # record (count, time) every n messages
    hard_timeout: float = 120.0


class ScenarioError(RuntimeError):
    pass


# ---------------------------------------------------------------- frames

def _body(size: int) -> bytes:
    # Printable filler, never NUL, never "ERROR"; 'x' keeps it compressible-free.
    return (b"x" * size)


def _send_head(dest: str, persistent: bool, size: int) -> bytes:
    h = f"SEND\ndestination:{dest}\n"
    if persistent:
        h += "persistent:true\n"
    h += f"content-length:{size}\n"
    return h.encode()


def _raise_if_error(region: bytes) -> None:
    if b"ERROR\n" not in region:
        return
    for raw in region.split(b"\0"):
        cmd, headers, body = stomp_wire.parse_frame(raw)
        if cmd == "ERROR":
            raise stomp_wire.StompError(
                f"broker ERROR: {headers.get('message', '')} {body[:300]!r}")


# ---------------------------------------------------------------- producer

def _producer_proc(target: StompTarget, dest: str, cfg: ProducerCfg, ready_q, go,
                   out_q, idx: int) -> None:
    default_signals()
    res = {"idx": idx, "role": "producer"}
    sock = None
    try:
        sock, reader, _ = stomp_wire.connect(target.host, target.port, target.headers)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        pending = bytearray(reader.buf)
        ready_q.put(("ready", idx))
        if not go.wait(60):
            raise ScenarioError("never got the go signal")
        if cfg.rate > 0:
            res.update(_produce_paced(sock, pending, dest, cfg))
        else:
            res.update(_produce_windowed(sock, pending, dest, cfg))
    except Exception as e:  # reported to the parent, never raised past the process
        res["error"] = f"{type(e).__name__}: {e}"
        res["trace"] = traceback.format_exc(limit=3)
    finally:
        res["cpu"] = time.process_time(); res["sys"] = os.times().system
        out_q.put(res)
        if sock is not None:
            stomp_wire.disconnect(sock, None)


def _produce_windowed(sock, pending: bytearray, dest: str, cfg: ProducerCfg) -> dict:
    """Send as fast as the receipt window allows. Every k-th message carries
    a receipt; at most `window` receipts are outstanding."""
    head = _send_head(dest, cfg.persistent, cfg.body_size)
    tail = b"\n" + _body(cfg.body_size) + b"\0"
    plain = head + tail
    k = cfg.receipt_every
    t0 = time.monotonic()
    deadline = t0 + cfg.duration
    sent = confirmed = 0
    groups_out = 0           # receipts outstanding
    group_sizes: list[int] = []   # messages covered by each outstanding receipt (FIFO)
    gi = 0                   # index of next group to be confirmed
    rid = 0
    t_last = t0
    sock.settimeout(1.0)
    batch: list[bytes] = []
    while True:
        now = time.monotonic()
        sending = sent < cfg.count and now < deadline
        if not sending and groups_out == 0:
            break
        if sending:
            if k == 0:
                n = min(64, cfg.count - sent)
                sock.sendall(plain * n)
                sent += n
                confirmed = sent
                t_last = time.monotonic()
                continue
            while groups_out < cfg.window and sent < cfg.count:
                g = min(k, cfg.count - sent)
                if g > 1:
                    batch.append(plain * (g - 1))
                rid += 1
                batch.append(head + b"receipt:%d\n" % rid + tail)
                sent += g
                groups_out += 1
                group_sizes.append(g)
                if len(batch) >= 64:
                    sock.sendall(b"".join(batch))
                    batch.clear()
            if batch:
                sock.sendall(b"".join(batch))
                batch.clear()
        elif now > deadline + cfg.drain_timeout:
            raise ScenarioError(f"{groups_out} receipts still missing {cfg.drain_timeout}s "
                                f"after the end of sending")
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        if not data:
            raise stomp_wire.StompError("connection closed by broker")
        pending += data
        last = pending.rfind(b"\0")
        if last < 0:
            continue
        region = bytes(pending[: last + 1])
        del pending[: last + 1]
        _raise_if_error(region)
        n = region.count(b"\0")
        for _ in range(n):
            confirmed += group_sizes[gi]
            gi += 1
        groups_out -= n
        t_last = time.monotonic()
        if gi > 4096:
            del group_sizes[:gi]
            gi = 0
    return {"sent": sent, "confirmed": confirmed, "t0": t0, "t_end": t_last}


def _produce_paced(sock, pending: bytearray, dest: str, cfg: ProducerCfg) -> dict:
    """Send at a fixed rate with the send time (monotonic ns) at the start of
    the body. Receipts, if asked for, are read without blocking the pacing."""
    head = _send_head(dest, cfg.persistent, cfg.body_size)
    filler = b"\n" + _body(cfg.body_size - TS_DIGITS)
    period = 1.0 / cfg.rate
    k = cfg.receipt_every
    t0 = time.monotonic() + 0.01
    deadline = t0 + cfg.duration
    sent = receipts = asked = late = 0
    sock.setblocking(False)
    while sent < cfg.count:
        due = t0 + sent * period
        if due > deadline:
            break
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        elif now - due > 0.001:
            late += 1
        want = k and (sent + 1) % k == 0 and (asked - receipts) < cfg.window
        frame = (head + (b"receipt:%d\n" % sent if want else b"")
                 + filler[:1] + b"%020d" % time.monotonic_ns() + filler[1:] + b"\0")
        asked += 1 if want else 0
        _sendall_nb(sock, frame)
        sent += 1
        receipts += _drain_receipts(sock, pending)
    end_wait = time.monotonic() + cfg.drain_timeout
    while receipts < asked and time.monotonic() < end_wait:
        time.sleep(0.005)
        receipts += _drain_receipts(sock, pending)
    return {"sent": sent, "confirmed": sent, "receipts": receipts, "asked": asked,
            "late": late, "t0": t0, "t_end": time.monotonic()}


def _sendall_nb(sock, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = sock.send(view)
            view = view[n:]
        except BlockingIOError:
            select.select([], [sock], [], 0.01)


def _drain_receipts(sock, pending: bytearray) -> int:
    try:
        data = sock.recv(65536)
    except BlockingIOError:
        return 0
    if not data:
        raise stomp_wire.StompError("connection closed by broker")
    pending += data
    last = pending.rfind(b"\0")
    if last < 0:
        return 0
    region = bytes(pending[: last + 1])
    del pending[: last + 1]
    _raise_if_error(region)
    return region.count(b"\0")


# ---------------------------------------------------------------- consumer

class _Sub:
    __slots__ = ("sock", "buf", "count", "acked_at", "last_ack_id", "first_t", "last_t",
                 "lat", "marks", "slot", "next_mark", "t_subscribe")

    def __init__(self, sock, slot):
        self.sock = sock
        self.buf = bytearray()
        self.count = 0
        self.acked_at = 0
        self.last_ack_id = None
        self.first_t = None
        self.last_t = None
        self.lat: list[int] = []
        self.marks: list[tuple[int, float]] = []
        self.slot = slot
        self.next_mark = 0
        self.t_subscribe = 0.0


def _consumer_proc(target: StompTarget, dests: list[str], slots: list[int], cfg: ConsumerCfg,
                   ready_q, progress, stop, out_q) -> None:
    default_signals()
    res = {"role": "consumer", "subs": []}
    subs: list[_Sub] = []
    sel = selectors.DefaultSelector()
    try:
        for dest, slot in zip(dests, slots):
            sock, reader, _ = stomp_wire.connect(target.host, target.port, target.headers)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sub = _Sub(sock, slot)
            sub.t_subscribe = time.monotonic()
            sock.sendall(stomp_wire.encode("SUBSCRIBE", {
                "id": str(slot), "destination": dest, "ack": cfg.ack,
                "activemq.prefetchSize": str(cfg.prefetch),
                "prefetch-count": str(cfg.prefetch), "receipt": f"sub-{slot}"}))
            # Wait for the receipt; MESSAGEs may come first on some brokers.
            early = bytearray()
            while True:
                cmd, headers, body = reader.read(30)
                if cmd == "RECEIPT":
                    break
                if cmd == "ERROR":
                    raise stomp_wire.StompError(f"SUBSCRIBE: {headers.get('message')}")
                if cmd == "MESSAGE":
                    early += stomp_wire.encode("MESSAGE", headers, body)
            sub.buf = early + reader.buf
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ, sub)
            subs.append(sub)
            ready_q.put(("ready", slot))
        hard = time.monotonic() + cfg.hard_timeout
        for sub in subs:
            if sub.buf:
                _consume_region(sub, cfg, time.monotonic_ns(), progress)
        while not stop.value and time.monotonic() < hard:
            for key, _ in sel.select(0.2):
                sub = key.data
                try:
                    data = sub.sock.recv(262144)
                except BlockingIOError:
                    continue
                if not data:
                    raise stomp_wire.StompError("connection closed by broker")
                sub.buf += data
                _consume_region(sub, cfg, time.monotonic_ns(), progress)
        for sub in subs:  # final cumulative ACK, confirmed by a receipt
            if cfg.ack == "client" and sub.last_ack_id and sub.acked_at < sub.count:
                sub.sock.setblocking(True)
                sub.sock.settimeout(10)
                sub.sock.sendall(b"ACK\nid:" + sub.last_ack_id + b"\nreceipt:final\n\n\0")
                _wait_receipt(sub.sock, b"final", 10)
    except Exception as e:
        res["error"] = f"{type(e).__name__}: {e}"
        res["trace"] = traceback.format_exc(limit=3)
    finally:
        for sub in subs:
            res["subs"].append({"slot": sub.slot, "count": sub.count, "first_t": sub.first_t,
                                "last_t": sub.last_t, "lat": sub.lat, "marks": sub.marks,
                                "t_subscribe": sub.t_subscribe})
            try:
                sub.sock.setblocking(True)
                stomp_wire.disconnect(sub.sock, None)
            except OSError:
                pass
        res["cpu"] = time.process_time(); res["sys"] = os.times().system
        out_q.put(res)


def _wait_receipt(sock, rid: bytes, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    buf = b""
    needle = b"receipt-id:" + rid
    while needle not in buf and time.monotonic() < deadline:
        try:
            data = sock.recv(262144)
        except socket.timeout:
            break
        if not data:
            break
        buf = buf[-64:] + data


def _consume_region(sub: _Sub, cfg: ConsumerCfg, now_ns: int, progress) -> None:
    buf = sub.buf
    last = buf.rfind(b"\0")
    if last < 0:
        return
    region = bytes(buf[: last + 1])
    del buf[: last + 1]
    _raise_if_error(region)
    n = region.count(b"\0")
    if n == 0:
        return
    now = now_ns / 1e9
    if sub.first_t is None:
        sub.first_t = now
    sub.last_t = now
    if cfg.latency:
        for raw in region.split(b"\0")[:-1]:
            i = raw.find(b"\n\n")
            if i >= 0:
                try:
                    sub.lat.append(now_ns - int(raw[i + 2: i + 2 + TS_DIGITS]))
                except ValueError:
                    pass
    sub.count += n
    progress[sub.slot] = sub.count
    if cfg.marks_every and sub.count >= sub.next_mark:
        sub.marks.append((sub.count, now))
        sub.next_mark = sub.count + cfg.marks_every
    if cfg.ack == "client":
        i = region.rfind(b"\nack:")
        if i < 0:  # STOMP 1.0/1.1 style brokers: ack by message-id
            i = region.rfind(b"\nmessage-id:")
            j = region.find(b"\n", i + 1)
            ack_id = region[i + 12: j] if i >= 0 else None
        else:
            j = region.find(b"\n", i + 1)
            ack_id = region[i + 5: j]
        if ack_id:
            sub.last_ack_id = ack_id
        if sub.count - sub.acked_at >= cfg.ack_every and sub.last_ack_id:
            _sendall_nb(sub.sock, b"ACK\nid:" + sub.last_ack_id + b"\n\n\0")
            sub.acked_at = sub.count


# ---------------------------------------------------------------- orchestration

@dataclass
class FlowResult:
    t_go: float = 0.0
    producers: list[dict] = field(default_factory=list)
    subs: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cons_done: int = 0
    cons_errors: list[str] = field(default_factory=list)
    cpu: float = 0.0          # CPU seconds used by all generator processes
    sys_cpu: float = 0.0      # of which in the kernel
    wall: float = 0.0         # seconds from go to the end of the flow

    @property
    def confirmed(self) -> int:
        return sum(p.get("confirmed", 0) for p in self.producers)

    @property
    def received(self) -> int:
        return sum(s["count"] for s in self.subs)

    def send_rate(self) -> float | None:
        ps = [p for p in self.producers if "t0" in p]
        if not ps:
            return None
        t0 = min(p["t0"] for p in ps)
        t1 = max(p["t_end"] for p in ps)
        return rate(self.confirmed, t1 - t0)

    def consume_rate(self, since: float | None = None) -> float | None:
        lasts = [s["last_t"] for s in self.subs if s["last_t"]]
        if not lasts:
            return None
        t0 = since if since is not None else self.t_go
        return rate(self.received, max(lasts) - t0)

    def latencies(self) -> list[int]:
        out: list[int] = []
        for s in self.subs:
            out.extend(s["lat"])
        return out


def run_flow(target: StompTarget, *, producer_dests: list[str], prod: ProducerCfg | None,
             consumer_groups: list[list[str]], cons: ConsumerCfg, fanout: bool = False,
             quiet_timeout: float = 10.0, expected: int | None = None) -> FlowResult:
    """Start consumer processes (each with one connection per destination in
    its group), wait until every subscription is acknowledged, start one
    producer process per entry of producer_dests, then wait until consumers
    have everything the producers had confirmed (each consumer for a topic,
    all together for a queue), or `expected` messages when there are no
    producers, or until nothing arrived for quiet_timeout."""
    n_subs = sum(len(g) for g in consumer_groups)
    progress = CTX.RawArray("q", max(1, n_subs))
    stop = CTX.RawValue("b", 0)
    ready_q, out_q, go = CTX.Queue(), CTX.Queue(), CTX.Event()
    procs: list[mp.Process] = []
    res = FlowResult()
    try:
        slot = 0
        for group in consumer_groups:
            slots = list(range(slot, slot + len(group)))
            slot += len(group)
            p = CTX.Process(target=_consumer_proc, daemon=True,
                            args=(target, group, slots, cons, ready_q, progress, stop, out_q))
            p.start()
            procs.append(p)
        _wait_ready(ready_q, n_subs, 60, procs, out_q, res)
        prods = []
        for i, dest in enumerate(producer_dests):
            p = CTX.Process(target=_producer_proc, daemon=True,
                            args=(target, dest, prod, ready_q, go, out_q, i))
            p.start()
            prods.append(p)
            procs.append(p)
        _wait_ready(ready_q, len(prods), 60, procs, out_q, res)
        res.t_go = time.monotonic()
        go.set()
        # Producers end by themselves (count, duration, drain timeout).
        limit = time.monotonic() + (prod.duration + prod.drain_timeout + 30 if prod else 0)
        while len(res.producers) < len(prods) and time.monotonic() < limit:
            _collect(out_q, res, 0.5)
        if len(res.producers) < len(prods):
            res.errors.append("a producer did not finish in time")
        for pr in res.producers:
            if "error" in pr:
                res.errors.append("producer: " + pr["error"])
        if expected is None:
            expected = res.confirmed
        # Consumers: until they have it all, or nothing moves for quiet_timeout.
        if n_subs:
            hard = time.monotonic() + cons.hard_timeout
            last_total, last_move = -1, time.monotonic()
            while time.monotonic() < hard:
                counts = list(progress[:n_subs])
                total = sum(counts)
                done = (min(counts) >= expected) if fanout else (total >= expected)
                if done:
                    break
                if total != last_total:
                    last_total, last_move = total, time.monotonic()
                elif time.monotonic() - last_move > quiet_timeout:
                    res.errors.append(f"consumers stalled at {total} of "
                                      f"{expected * (n_subs if fanout else 1)}")
                    break
                if res.cons_errors:
                    break
                _collect(out_q, res, 0.05)
        stop.value = 1
        res.wall = time.monotonic() - res.t_go
        n_cons = len(consumer_groups)
        limit = time.monotonic() + 30
        while res.cons_done < n_cons and time.monotonic() < limit:
            _collect(out_q, res, 0.2)
        if res.cons_done < n_cons:
            res.errors.append("a consumer did not report")
        for err in res.cons_errors:
            res.errors.append("consumer: " + err)
    finally:
        stop.value = 1
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
    return res


def _collect(out_q, res: FlowResult, timeout: float) -> None:
    try:
        item = out_q.get(timeout=timeout)
    except queue_mod.Empty:
        return
    if item.get("role") == "producer":
        res.producers.append(item)
        res.cpu += item.get("cpu", 0.0)
        res.sys_cpu += item.get("sys", 0.0)
    else:
        res.cons_done += 1
        res.cpu += item.get("cpu", 0.0)
        res.sys_cpu += item.get("sys", 0.0)
        res.subs.extend(item["subs"])
        if item.get("error"):
            res.cons_errors.append(item["error"])


def _wait_ready(ready_q, n: int, timeout: float, procs, out_q, res) -> None:
    got = 0
    deadline = time.monotonic() + timeout
    while got < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ScenarioError(f"only {got}/{n} clients ready after {timeout}s")
        try:
            ready_q.get(timeout=min(left, 0.5))
            got += 1
        except queue_mod.Empty:
            # A client that failed to connect reports on out_q and exits.
            try:
                item = out_q.get_nowait()
            except queue_mod.Empty:
                continue
            err = item.get("error") or "client exited"
            raise ScenarioError(f"client failed during set-up: {err}")


# ---------------------------------------------------------------- scenarios

def _dest(kind: str, tag: str) -> str:
    return f"/{kind}/bench.{tag}.{uuid.uuid4().hex[:8]}"


@dataclass
class Scale:
    quick: bool = False

    def pick(self, full, quick):
        return quick if self.quick else full


def _flow_metrics(fr: FlowResult, fanout_n: int = 0) -> dict:
    m = {"sent": fr.confirmed, "received": fr.received,
         "send_rate": fr.send_rate(), "consume_rate": fr.consume_rate()}
    if fanout_n:
        m["deliver_rate"] = m.pop("consume_rate")
    if fr.wall > 0:
        # Load generator CPU as % of one core over the flow (set-up included).
        m["gen_cpu_pct"] = round(100 * fr.cpu / fr.wall, 1)
        m["gen_sys_pct"] = round(100 * fr.sys_cpu / fr.wall, 1)
    if fr.errors:
        m["error"] = "; ".join(fr.errors)[:500]
    return m


def sc_persistent(target: StompTarget, scale: Scale, window: int, producers: int = 1) -> dict:
    dest = _dest("queue", f"persist-w{window}")
    prod = ProducerCfg(count=scale.pick(200_000, 40_000), duration=scale.pick(15, 5),
                       persistent=True, receipt_every=1, window=window)
    cons = ConsumerCfg(ack="client", ack_every=100, prefetch=1000)
    fr = run_flow(target, producer_dests=[dest] * producers, prod=prod,
                  consumer_groups=[[dest]], cons=cons)
    return _flow_metrics(fr)


def sc_nonpersistent(target: StompTarget, scale: Scale) -> dict:
    dest = _dest("queue", "nonpersist")
    prod = ProducerCfg(count=scale.pick(1_000_000, 200_000), duration=scale.pick(15, 5),
                       persistent=False, receipt_every=100, window=8)
    cons = ConsumerCfg(ack="auto", prefetch=1000)
    fr = run_flow(target, producer_dests=[dest], prod=prod, consumer_groups=[[dest]], cons=cons)
    return _flow_metrics(fr)


def sc_fanout(target: StompTarget, scale: Scale, n: int = 4) -> dict:
    dest = _dest("topic", "fanout")
    prod = ProducerCfg(count=scale.pick(500_000, 100_000), duration=scale.pick(15, 5),
                       persistent=False, receipt_every=100, window=8)
    cons = ConsumerCfg(ack="auto", prefetch=1000)
    half = n // 2
    groups = [[dest] * half, [dest] * (n - half)] if n > 1 else [[dest]]
    fr = run_flow(target, producer_dests=[dest], prod=prod, consumer_groups=groups, cons=cons,
                  fanout=True)
    m = _flow_metrics(fr, fanout_n=n)
    m["publish_rate"] = m.pop("send_rate")
    return m


def sc_latency(target: StompTarget, scale: Scale, persistent: bool, msg_rate: float = 1000) -> dict:
    dest = _dest("queue", "latency-p" if persistent else "latency-np")
    dur = scale.pick(15, 5)
    prod = ProducerCfg(count=int(dur * msg_rate), duration=dur, persistent=persistent,
                       receipt_every=1 if persistent else 0, window=64, rate=msg_rate,
                       timestamp=True)
    cons = ConsumerCfg(ack="auto", prefetch=1000, latency=True)
    fr = run_flow(target, producer_dests=[dest], prod=prod, consumer_groups=[[dest]], cons=cons)
    lat = fr.latencies()
    warm = min(len(lat) // 10, int(msg_rate / 2))   # drop the first 0.5 s
    m = {"sent": fr.confirmed, "received": fr.received, **latency_summary_ms(lat[warm:])}
    late = sum(p.get("late", 0) for p in fr.producers)
    if late:
        m["producer_late"] = late
    if fr.errors:
        m["error"] = "; ".join(fr.errors)[:500]
    return m


def sc_depth(target: StompTarget, scale: Scale, depth: int | None = None) -> dict:
    depth = depth or scale.pick(100_000, 10_000)
    dest = _dest("queue", "depth")
    prod = ProducerCfg(count=depth, duration=scale.pick(300, 90), persistent=True,
                       receipt_every=1, window=64, drain_timeout=60)
    fill = run_flow(target, producer_dests=[dest], prod=prod, consumer_groups=[],
                    cons=ConsumerCfg())
    m: dict = {"depth": fill.confirmed, "fill_rate": fill.send_rate()}
    errors = list(fill.errors)
    if fill.confirmed:
        cons = ConsumerCfg(ack="client", ack_every=100, prefetch=1000,
                           marks_every=max(100, fill.confirmed // 100),
                           hard_timeout=scale.pick(300, 120))
        # Drain only: expected = what the fill confirmed.
        drain = run_flow(target, producer_dests=[], prod=None, consumer_groups=[[dest]],
                         cons=cons, quiet_timeout=15, expected=fill.confirmed)
        sub = drain.subs[0] if drain.subs else None
        if sub and sub["last_t"]:
            m["drained"] = sub["count"]
            m["drain_rate"] = rate(sub["count"], sub["last_t"] - sub["t_subscribe"])
            marks = [(0, sub["t_subscribe"])] + [tuple(x) for x in sub["marks"]]
            if sub["marks"] and sub["marks"][-1][0] < sub["count"]:
                marks.append((sub["count"], sub["last_t"]))
            d = fill.confirmed
            m["drain_rate_deep"] = window_rate(marks, d // 10, d // 5)   # depth 90%..80%
            m["drain_rate_shallow"] = window_rate(marks, d - d // 10, d)  # last 10% to empty
        errors += drain.errors
    if errors:
        m["error"] = "; ".join(errors)[:500]
    return m


def sc_idle(target: StompTarget, scale: Scale, n: int = 500) -> dict:
    if not target.pids:
        return {"error": "broker pid unknown"}
    time.sleep(2)
    before = tree_rss_kib(target.pids)
    socks = []
    t0 = time.monotonic()
    try:
        for _ in range(n):
            s, _, _ = stomp_wire.connect(target.host, target.port, target.headers, timeout=30)
            socks.append(s)
        t_conn = time.monotonic() - t0
        time.sleep(3)
        after = tree_rss_kib(target.pids)
        # The broker must still answer while holding them.
        stomp_wire.probe(target.host, target.port, target.headers, timeout=10)
    finally:
        for s in socks:
            try:
                s.sendall(b"DISCONNECT\n\n\0")
                s.close()
            except OSError:
                pass
    delta = after - before
    return {"connections": n, "rss_before_mib": before / 1024, "rss_after_mib": after / 1024,
            "rss_delta_mib": delta / 1024, "kib_per_conn": delta / n,
            "connect_rate": rate(n, t_conn)}


SCENARIOS = {
    # key: (title, function). idle500 comes first: it is measured on a freshly
    # started broker, before other traffic leaves freed memory to reuse.
    "idle500": ("500 idle STOMP connections", lambda t, s: sc_idle(t, s, 500)),
    "persistent_w1": ("Persistent queue, receipt per message, window 1",
                      lambda t, s: sc_persistent(t, s, window=1)),
    "persistent_w64": ("Persistent queue, receipt per message, window 64",
                       lambda t, s: sc_persistent(t, s, window=64)),
    "persistent_4p": ("Persistent queue, 4 producers x window 16",
                      lambda t, s: sc_persistent(t, s, window=16, producers=4)),
    "nonpersistent": ("Non-persistent queue (receipt every 100, window 8)",
                      lambda t, s: sc_nonpersistent(t, s)),
    "fanout4": ("Topic fan-out 1->4, non-persistent", lambda t, s: sc_fanout(t, s, 4)),
    "latency_np": ("End-to-end latency @1000 msg/s, non-persistent",
                   lambda t, s: sc_latency(t, s, persistent=False)),
    "latency_p": ("End-to-end latency @1000 msg/s, persistent (receipts, window 64)",
                  lambda t, s: sc_latency(t, s, persistent=True)),
    "depth": ("Depth: fill with persistent messages, then drain",
              lambda t, s: sc_depth(t, s)),
}


def warm_up(target: StompTarget, seconds: float = 3.0) -> dict:
    """Untimed traffic before the first scenario (the JVM's JIT, caches)."""
    out = {}
    for persistent in (False, True):
        dest = _dest("queue", "warmup")
        prod = ProducerCfg(count=200_000, duration=seconds, persistent=persistent,
                           receipt_every=1 if persistent else 100, window=64 if persistent else 8)
        fr = run_flow(target, producer_dests=[dest], prod=prod, consumer_groups=[[dest]],
                      cons=ConsumerCfg(ack="client" if persistent else "auto"))
        out["persistent" if persistent else "nonpersistent"] = fr.confirmed
        if fr.errors:
            out["error"] = "; ".join(fr.errors)[:300]
    return out


def run_scenario(key: str, target: StompTarget, scale: Scale) -> dict:
    return timed(SCENARIOS[key][1], target, scale)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.stomp_load",
                                 description="Run STOMP benchmark scenarios against one broker.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--header", action="append", default=[],
                    help="extra CONNECT header k=v (e.g. login=guest)")
    ap.add_argument("--pid", type=int, action="append", default=[],
                    help="broker pid for the RSS scenario")
    ap.add_argument("--scenario", action="append", choices=list(SCENARIOS),
                    help="default: all")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    stomp_wire.check_loopback(args.host)
    target = StompTarget("cli", args.port, args.host,
                         dict(h.split("=", 1) for h in args.header), args.pid)
    for key in args.scenario or list(SCENARIOS):
        print(key, json.dumps(run_scenario(key, target, Scale(args.quick))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
