"""Turn benchmark results into a console table and docs/benchmarks.md.

Results are a dict:
  {"sections": {"stomp"|"sqs": {"date", "command", "quick", "machine", "versions",
                               "targets": {name: {"version", "notes", "unavailable",
                                                   "loadavg", "scenarios": {key: metrics}}}}}}
The JSON is embedded in the markdown (an HTML comment), so a later partial
run (`--only sqs`) keeps the other section's figures.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

PEERS = {"stomp": ["activemq", "rabbitmq"], "sqs": ["moto"]}
LABELS = {"activemq": "ActiveMQ", "rabbitmq": "RabbitMQ", "moto": "moto"}
JSON_START = "<!-- bench-results-json"
JSON_END = "bench-results-json -->"


def label(name: str) -> str:
    if name.startswith("mqgate-sync-"):
        return "mqgate (sync=" + name.rsplit("-", 1)[1] + ")"
    if name.startswith("mqgate-reactor-"):
        return "mqgate (" + name.rsplit("-", 1)[1] + ")"
    return LABELS.get(name, name)


@dataclass(frozen=True)
class Goal:
    text: str
    peer: str | None = None        # ratio goal against this peer ("best": the best one) ...
    factor: float | None = None    # ... mqgate >= factor * peer (higher is better)
    limit: float | None = None     # absolute goal: mqgate <= limit (lower is better)
    floor: float | None = None     # absolute goal: mqgate >= floor (higher is better)

    def met(self, value, peers: dict) -> bool | None:
        if value is None:
            return None
        if self.limit is not None:
            return value <= self.limit
        if self.floor is not None:
            return value >= self.floor
        ref = max(peers.values(), default=None) if self.peer == "best" else peers.get(self.peer)
        if ref in (None, 0):
            return None
        return value >= self.factor * ref


@dataclass(frozen=True)
class Row:
    scenario: str
    metric: str
    title: str
    unit: str
    better: str | None        # "higher", "lower" or None (information only)
    goal: Goal | None = None


AMQ5 = Goal("≥ 5× ActiveMQ", "activemq", 5.0)

ROWS = {
    "stomp": [
        Row("persistent_w1", "send_rate", "Persistent queue, receipt each, 1 producer, window 1",
            "msg/s", "higher"),
        Row("persistent_w64", "send_rate", "Persistent queue, receipt each, 1 producer, window 64",
            "msg/s", "higher", AMQ5),
        Row("persistent_4p", "send_rate", "Persistent queue, receipt each, 4 producers × window 16",
            "msg/s", "higher", AMQ5),
        Row("nonpersistent", "consume_rate", "Non-persistent queue, 1 → 1, consumed",
            "msg/s", "higher", Goal("≥ 1.5× best peer", "best", 1.5)),
        Row("fanout4", "deliver_rate", "Topic fan-out 1 → 4, deliveries", "msg/s", "higher",
            Goal("≥ 1.5× ActiveMQ", "activemq", 1.5)),
        Row("fanout4", "publish_rate", "Topic fan-out 1 → 4, published", "msg/s", "higher"),
        Row("latency_np", "p50_ms", "Latency at 1,000 msg/s, non-persistent, p50", "ms", "lower"),
        Row("latency_np", "p99_ms", "Latency at 1,000 msg/s, non-persistent, p99", "ms", "lower",
            Goal("≤ 0.5 ms", limit=0.5)),
        Row("latency_p", "p50_ms", "Latency at 1,000 msg/s, persistent, p50", "ms", "lower"),
        Row("latency_p", "p99_ms", "Latency at 1,000 msg/s, persistent, p99", "ms", "lower"),
        Row("depth", "depth", "Depth test: persistent messages queued", "msgs", None),
        Row("depth", "fill_rate", "Depth test: fill (window 64, no consumer)", "msg/s", "higher"),
        Row("depth", "drain_rate", "Depth test: drain, whole queue", "msg/s", "higher"),
        Row("depth", "drain_rate_deep", "Depth test: drain at 90% → 80% of depth", "msg/s",
            "higher"),
        Row("depth", "drain_rate_shallow", "Depth test: drain of the last 10%", "msg/s", "higher"),
        Row("idle500", "rss_delta_mib", "500 idle connections: broker RSS growth", "MiB", "lower",
            Goal("≤ 10 MB", limit=10 * 1e6 / 2**20)),
        Row("idle500", "kib_per_conn", "500 idle connections: per connection", "KiB", "lower"),
    ],
    "sqs": [
        Row("send_1", "rate", "SendMessage, 1 connection", "msg/s", "higher",
            Goal("≥ 30× moto", "moto", 30)),
        Row("send_16", "rate", "SendMessage, 16 connections", "msg/s", "higher",
            Goal("≥ 30× moto", "moto", 30)),
        Row("batch_1", "rate", "SendMessageBatch of 10, 1 connection", "msg/s", "higher",
            Goal("≥ 150× moto", "moto", 150)),
        Row("batch_16", "rate", "SendMessageBatch of 10, 16 connections", "msg/s", "higher",
            Goal("≥ 25,000 msg/s", floor=25_000)),
        Row("drain_10", "rate", "Receive 10 + DeleteMessageBatch, 10 queued", "msg/s", "higher",
            Goal("≥ 300× moto", "moto", 300)),
        Row("drain_16", "rate", "Receive 10 + DeleteMessageBatch, 16 connections", "msg/s",
            "higher", Goal("≥ 15,000 msg/s", floor=15_000)),
        Row("drain_deep", "depth", "Deep queue: depth reached by the fill", "msgs", None),
        Row("drain_deep", "fill_rate", "Deep queue: fill, batches of 10, 16 connections",
            "msg/s", "higher"),
        Row("drain_deep", "drain1_rate", "Deep queue: receive 10 + delete, 1 connection",
            "msg/s", "higher", Goal("≥ 300× moto", "moto", 300)),
        Row("drain_deep", "drain8_rate", "Deep queue: receive 10 + delete, 8 connections",
            "msg/s", "higher", Goal("≥ 300× moto", "moto", 300)),
        Row("longpoll", "p50_ms", "Long-poll wake-up after a send, p50", "ms", "lower"),
        Row("longpoll", "p99_ms", "Long-poll wake-up after a send, p99", "ms", "lower",
            Goal("≤ 5 ms", limit=5.0)),
    ],
}

TITLES = {"stomp": "STOMP", "sqs": "SQS (AWS JSON 1.0 over HTTP/1.1)"}


def fmt(value, unit: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if unit in ("msg/s", "msgs"):
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.2f}" if value < 100 else f"{value:,.0f}"
    if unit in ("MiB", "KiB"):
        return f"{value:,.1f}"
    return f"{value:g}"


def _ratio(value, best) -> str:
    if value is None or best in (None, 0):
        return "—"
    r = value / best
    return f"{r:.2f}×" if r < 10 else f"{r:,.0f}×"


def _targets(section: dict) -> tuple[list[str], list[str]]:
    names = list(section.get("targets", {}))
    peers = [n for n in names if not n.startswith("mqgate")]
    mq = [n for n in names if n.startswith("mqgate")]
    return peers, mq


def _value(section: dict, target: str, row: Row):
    t = section["targets"].get(target, {})
    m = t.get("scenarios", {}).get(row.scenario)
    if m is None:
        return None
    v = m.get(row.metric)
    if v is None and m.get("error"):
        return "error"
    return v


def table(proto: str, section: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows: scenario, unit, each target, ratio per mqgate column, goal."""
    peers, mqs = _targets(section)
    header = ["Scenario", "unit", *[label(p) for p in peers], *[label(m) for m in mqs]]
    header += [f"{label(m)} / best peer" for m in mqs]
    header += ["goal"]
    out = []
    for row in ROWS[proto]:
        peer_vals = {p: _value(section, p, row) for p in peers}
        nums = [v for v in peer_vals.values() if isinstance(v, (int, float))]
        best = None
        if nums and row.better:
            best = max(nums) if row.better == "higher" else min(nums)
        cells = [row.title + (" ↑" if row.better == "higher" else " ↓" if row.better == "lower"
                              else ""), row.unit]
        cells += [fmt(peer_vals[p], row.unit) for p in peers]
        mq_vals = [_value(section, m, row) for m in mqs]
        cells += [fmt(v, row.unit) for v in mq_vals]
        cells += [_ratio(v, best) if row.better and isinstance(v, (int, float)) else "—"
                  for v in mq_vals]
        goal = ""
        if row.goal:
            peer_nums = {p: v for p, v in peer_vals.items() if isinstance(v, (int, float))}
            marks = []
            for v in mq_vals:
                ok = row.goal.met(v if isinstance(v, (int, float)) else None, peer_nums)
                marks.append("met" if ok else "not met" if ok is False else "n/a")
            goal = row.goal.text + (": " + " / ".join(marks) if marks else "")
        cells.append(goal)
        out.append(cells)
    return header, out


def cpu_table(proto: str, section: dict) -> tuple[list[str], list[list[str]]] | None:
    """Broker CPU and other machine load per scenario, in % of one core."""
    names = [n for n, t in section.get("targets", {}).items() if t.get("scenarios")]
    if not names:
        return None
    keys: list[str] = []
    for n in names:
        for k in section["targets"][n]["scenarios"]:
            if k not in keys:
                keys.append(k)
    order = [r.scenario for r in ROWS[proto]]
    keys.sort(key=lambda k: order.index(k) if k in order else len(order))
    header = ["Scenario", *[f"{label(n)}: broker / other" for n in names]]
    rows = []
    for k in keys:
        cells = [k]
        for n in names:
            m = section["targets"][n]["scenarios"].get(k, {})
            b, o = m.get("broker_cpu_pct"), m.get("other_cpu_pct")
            cells.append("—" if b is None else f"{b:.0f}% / " + ("—" if o is None else f"{o:.0f}%"))
        rows.append(cells)
    return header, rows


def goal_summary(proto: str, section: dict) -> list[str]:
    peers, mqs = _targets(section)
    lines = []
    for m in mqs:
        if section["targets"][m].get("unavailable"):
            continue
        met, total, missed = 0, 0, []
        for row in ROWS[proto]:
            if not row.goal:
                continue
            v = _value(section, m, row)
            peer_nums = {p: _value(section, p, row) for p in peers}
            peer_nums = {p: x for p, x in peer_nums.items() if isinstance(x, (int, float))}
            ok = row.goal.met(v if isinstance(v, (int, float)) else None, peer_nums)
            if ok is None:
                continue
            total += 1
            if ok:
                met += 1
            else:
                missed.append(row.title)
        if total:
            lines.append(f"Goals met by {label(m)}: {met} of {total}"
                         + (f" (missed: {'; '.join(missed)})" if missed else "") + ".")
    return lines + [""] if lines else []


def console_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *[line(r) for r in rows]])


def md_table(header: list[str], rows: list[list[str]]) -> str:
    def esc(c):
        return str(c).replace("|", "\\|")
    lines = ["| " + " | ".join(esc(h) for h in header) + " |",
             "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header) - 1)) + "|---|"]
    for r in rows:
        lines.append("| " + " | ".join(esc(c) for c in r) + " |")
    return "\n".join(lines)


METHOD = """\
## How it is measured

Everything runs on this one machine, over loopback, one target at a time (the
others stopped, except the RabbitMQ system service, which idles). The load
generator is Python but stays out of the way: raw sockets, pre-encoded
frames and requests, producers and consumers in separate processes so the
kernel shares the cores between them and the broker. Its own CPU use is
recorded per scenario (`gen_cpu_pct` in the raw results, in % of one core).
Every loop is bounded by a message count and a deadline.

**STOMP** (1.2, heart-beats off, 1 KiB bodies with `content-length`):
- *Persistent*: `persistent:true` SENDs, each with a `receipt`; the producer keeps
  up to W receipts outstanding (W=1: one at a time; W=64: pipelined, as a JMS
  async sender with a producer window). One consumer in `client` ack mode
  (cumulative ACK every 100 messages, prefetch 1000) drains concurrently. The
  figure is receipted messages per second.
- *Non-persistent*: a receipt on every 100th SEND, at most 8 outstanding (a
  producer window), one `auto`-ack consumer; the figure is messages consumed
  per second from the first send to the last receive.
- *Fan-out*: the same producer to a topic with 4 `auto`-ack subscribers
  (2 processes × 2 connections); deliveries = 4 × published.
- *Latency*: one producer at a fixed 1,000 msg/s puts its send time
  (`CLOCK_MONOTONIC`, shared by all processes) in the body; the consumer
  subtracts it on receipt. The first 0.5 s is dropped. The persistent variant
  asks a receipt for each message (window 64) without waiting for it.
- *Depth*: N persistent messages sent with receipts (window 64) and no
  consumer, then one `client`-ack consumer drains the queue; the drain rate is
  given for the whole queue, for the stretch from 90% to 80% of the depth
  (deep queue) and for the last 10% (shallow queue).
- *Idle connections*: 500 connections, CONNECTed and idle; the broker's RSS
  (VmRSS of its process tree in /proc) before and 3 s after.

**SQS** (AWS JSON 1.0 over keep-alive HTTP/1.1, dummy SigV4 header, 1 KiB bodies):
- *SendMessage* / *SendMessageBatch of 10*: back-to-back requests on 1
  connection, or on 16 connections (2 processes × 8, selectors).
- *Receive 10 + DeleteMessageBatch, 10 queued*: cycles of an untimed
  SendMessageBatch of 10 followed by a timed ReceiveMessage(10) +
  DeleteMessageBatch; the figure is messages deleted per timed second.
- *Receive 10 + DeleteMessageBatch, 16 connections*: fill a queue with
  batches (16 connections, untimed), then drain it with receive 10 +
  DeleteMessageBatch cycles on 16 connections (2 processes × 8): what the
  broker can drain, where the 1-connection figure is one client's round trips.
- *Deep queue*: fill with batches (16 connections, up to the depth or a time
  cap: moto slows down as its queue grows, so its depth is smaller), then
  ReceiveMessage(10) + DeleteMessageBatch for a fixed time on 1 connection,
  then on 8.
- *Long-poll*: a ReceiveMessage with WaitTimeSeconds=20 is parked on an empty
  queue for 50 ms, then one SendMessage on another connection; the figure is
  the time from the start of the send to the arrival of the message.

Before each scenario the runner waits (up to `--quiet-wait`, 30 s) for a
second in which the machine is nearly idle, and records the CPU used during
the scenario by the broker and by everything else; `--repeat N` runs each
short scenario N times and keeps the best. To see where mqgate spends its
time, run with `MQGATE_BENCH_PROFILE=1` (and usually `--targets mqgate
--scenarios KEY`): mqgate runs under cProfile and the summary lands in
`/tmp/mqgate-bench/mqgate-profile.txt`.

Ratios are mqgate / the best peer in that row (↑ higher is better: > 1× means
mqgate is faster; ↓ lower is better: < 1× means mqgate is better). Goals are
those set in issues 2 and 3. The machine is shared with other work during a
run, so treat differences under ~10% as noise; the load average at the start
of each target is in the notes.
"""


ORDER = ["activemq", "rabbitmq", "moto", "mqgate"]


def _ordered(targets: dict) -> dict:
    def key(name: str):
        base = "mqgate" if name.startswith("mqgate") else name
        return (ORDER.index(base) if base in ORDER else len(ORDER), name != base, name)
    return {n: targets[n] for n in sorted(targets, key=key)}


BACKLOG_ROWS = [
    ("fill_msgs_per_s", "Fill: persistent sends into one queue ↑", "msg/s"),
    ("rss_mb_full", "Broker RSS with the whole backlog queued ↓", "MiB"),
    ("restart_to_first_message_s", "Restart to the first delivered message ↓", "s"),
    ("rss_mb_after_restart", "Broker RSS after the restart ↓", "MiB"),
    ("drain_msgs_per_s", "Drain of the deep backlog, auto-ack ↑", "msg/s"),
    ("drain_cpu_us_per_msg", "Broker CPU per drained message ↓", "µs"),
    ("rss_mb_drained", "Broker RSS once drained ↓", "MiB"),
    ("topic_bytes_per_publication", "Database growth per publication, topic with 10 durable subscribers ↓", "bytes"),
]


def backlog_section(backlog: dict | None) -> list[str]:
    """The deep-backlog runs of `python -m bench.backlog --write`, one column per run."""
    if not backlog or not backlog.get("runs"):
        return []
    # Runs of the same backlog side by side, mqgate first.
    runs = dict(sorted(backlog["runs"].items(), key=lambda kv: (
        kv[1].get("messages", 0), kv[1].get("size", 0), kv[1].get("target") != "mqgate", kv[0])))
    header = ["Scenario", "unit", *runs]
    rows = [[title, unit, *(fmt(r.get(key), unit) if r.get(key) is not None else "—" for r in runs.values())]
            for key, title, unit in BACKLOG_ROWS]
    out = ["## Deep backlog", "",
           "Measured by `python -m bench.backlog --write`, one column per run: a raw STOMP "
           "client against mqgate (its own broker on a fresh SQLite database, default "
           "settings unless the command says otherwise) or ActiveMQ (`--target activemq`: "
           "the ActiveMQ of `bench.peers`, KahaDB). Runs are recorded one at a time, on a "
           "machine shared with other work, so compare columns with care.", ""]
    out += [f"- {name}: {r.get('date', '?')}, `{r.get('command', '?')}`"
            + (f", load average {r['load']}" if r.get("load") is not None else "") for name, r in runs.items()]
    out += ["", md_table(header, rows), ""]
    # What the figures were measured for (before/after a change, in one run), kept with them.
    out += [*backlog.get("notes", []), ""] if backlog.get("notes") else []
    return out


def render_markdown(results: dict) -> str:
    sections = results.get("sections", {})
    for sec in sections.values():
        sec["targets"] = _ordered(sec.get("targets", {}))
    out = ["# Benchmarks", "",
           "Generated by `python -m bench.run_all` (`make bench`); do not edit by hand.",
           "Re-run the command below to reproduce; `--quick` gives a shorter run, "
           "`--only stomp|sqs` one protocol (the other section is kept).", ""]
    for proto in ("stomp", "sqs"):
        sec = sections.get(proto)
        if not sec:
            continue
        out += [f"## {TITLES[proto]}", ""]
        m = sec.get("machine", {})
        out += [f"- Date: {sec.get('date')}" + ("  (quick run)" if sec.get("quick") else ""),
                f"- Machine: {m.get('nproc')} cores, {m.get('cpu')}, {m.get('mem_gib', 0):.0f} GiB, "
                f"{m.get('os')}, Linux {m.get('kernel')}",
                f"- Command: `{sec.get('command')}`",
                "- Versions: " + "; ".join(
                    f"{label(n)}: {t.get('version', '?')}" for n, t in sec["targets"].items()
                    if not t.get("unavailable")) +
                (f"; Python {sec.get('python')}" if sec.get("python") else "") +
                (f"; {sec.get('java')}" if sec.get("java") else "")]
        for upd in sec.get("updates", []):
            out.append(f"- Partly re-run {upd.get('date')}: `{upd.get('command')}`")
        out.append("")
        header, rows = table(proto, sec)
        out += [md_table(header, rows), ""]
        out += goal_summary(proto, sec)
        cpu = cpu_table(proto, sec)
        if cpu:
            out += ["CPU while each scenario ran, in % of one core (the machine has "
                    f"{m.get('nproc')}): the broker's own processes / everything that was "
                    "neither the broker nor the load generator (other work on the machine, and "
                    "kernel threads such as the file system journal). "
                    "A high second figure means the run was disturbed.", "",
                    md_table(*cpu), ""]
        notes = []
        for n, t in sec["targets"].items():
            if t.get("unavailable"):
                notes.append(f"- **{label(n)}**: not measured: {t['unavailable']}")
                continue
            notes.append(f"- **{label(n)}** ({t.get('version', '?')}): {t.get('notes', '')}; "
                         f"load average at start {t.get('loadavg', '?')}.")
            for key, metrics in t.get("scenarios", {}).items():
                if metrics.get("error"):
                    notes.append(f"  - `{key}`: {metrics['error']}")
        out += ["Notes:", "", *notes, ""]
    out += backlog_section(results.get("backlog"))
    if sections.get("jms"):
        from .jms_load import render as render_jms  # JMS throughput, from bench.jms_load
        out += render_jms(sections["jms"])
    out += [METHOD, "## Raw results", "",
            "The full metrics of the last run of each section (also read back by "
            "`bench.run_all` to keep a section that a partial run skipped) are in "
            "the HTML comment below; the sections after it are kept as they are when "
            "the generated ones are rewritten.", "",
            JSON_START, # "--" may not appear in an HTML comment: escape it inside JSON strings.
            json.dumps(results, indent=1).replace("--", "-\\u002d"),
            JSON_END, ""]
    return "\n".join(out)


def load_previous(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError:
        return {}
    m = re.search(re.escape(JSON_START) + r"\n(.*)\n" + re.escape(JSON_END), text, re.S)
    if not m:
        return {}
    try:
        return json.loads(m.group(1))
    except ValueError:
        return {}


# The sections render_markdown writes; every other "## " section of the page (SNS's and
# API Gateway's, written by their own benchmarks, and the analyses written by hand) is
# kept, in its order, when the page is rewritten.
GENERATED_HEADINGS = frozenset({*(f"## {t}" for t in TITLES.values()), "## Deep backlog",
                                "## JMS (OpenWire)", "## How it is measured", "## Raw results"})


def kept_sections(text: str) -> str:
    """The sections of an existing page that render_markdown does not write."""
    parts = re.split(r"(?m)^(?=## )", text)
    return "".join(p for p in parts[1:] if p.split("\n", 1)[0].rstrip() not in GENERATED_HEADINGS)


def write(path: Path, results: dict) -> None:
    """Rewrite the page's generated sections from `results`, keeping all the others."""
    kept = kept_sections(path.read_text()) if path.exists() else ""
    text = render_markdown(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + ("\n" + kept if kept else ""))
