"""Run every benchmark scenario against the peers and mqgate in one run.

    python -m bench.run_all [--only stomp|sqs] [--quick] [--targets ...] [--scenarios ...]

Targets run one after another, each started on loopback ports by
bench.peers and stopped afterwards: ActiveMQ and RabbitMQ (STOMP), moto
(SQS) and mqgate (both; once per --mqgate-sync variant). Prints a table and
writes docs/benchmarks.md. A target that cannot start (e.g. mqgate not built
yet) gets an empty column with the reason.
"""
from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from . import peers as peers_mod
from . import report, sqs_load, stomp_load, sysinfo

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"
ALL_TARGETS = ["activemq", "rabbitmq", "mqgate", "moto"]
COLD_SCENARIOS = {"idle500"}   # measured before the warm-up traffic
NO_REPEAT = {"idle500", "depth", "drain_deep"}   # long, or only meaningful once


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def headline(proto: str, key: str, metrics: dict) -> str:
    parts = []
    for row in report.ROWS[proto]:
        if row.scenario == key and metrics.get(row.metric) is not None:
            parts.append(f"{row.metric}={report.fmt(metrics[row.metric], row.unit)} {row.unit}")
    if metrics.get("error"):
        parts.append("ERROR: " + str(metrics["error"])[:200])
    return ", ".join(parts) or json.dumps(metrics)[:200]


def make_peer(name: str) -> peers_mod.Peer:
    if name.startswith("mqgate-sync-"):
        return peers_mod.Mqgate(sync=name.rsplit("-", 1)[1])
    if name.startswith("mqgate-reactor-"):
        return peers_mod.Mqgate(reactor=name.rsplit("-", 1)[1])
    return peers_mod.PEERS[name]()


def machine() -> dict:
    return {"nproc": sysinfo.nproc(), "cpu": sysinfo.cpu_model(),
            "mem_gib": round(sysinfo.mem_total_gib(), 1), "os": sysinfo.os_release(),
            "kernel": sysinfo.kernel()}


def run_target(name: str, protos: list[str], scenarios: dict[str, list[str]], quick: bool,
               sections: dict, keep: bool, repeat: int = 1) -> None:
    peer = make_peer(name)
    kinds = [p for p in protos if p in peer.kinds]
    if not kinds:
        return
    log(f"{name}: starting")
    entry_base = {"loadavg": sysinfo.loadavg()}
    try:
        ep = peer.start()
    except Exception as e:  # PeerUnavailable, or anything a half-built broker does
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        log(f"{name}: not available: {reason}")
        for proto in kinds:
            sections[proto]["targets"][name] = {**entry_base, "unavailable": reason}
        return
    log(f"{name}: up ({ep.version}; stomp={ep.stomp_port} aws={ep.aws_port})")
    try:
        for proto in kinds:
            entry = {**entry_base, "version": ep.version, "notes": ep.notes, "scenarios": {}}
            sections[proto]["targets"][name] = entry
            if proto == "stomp":
                if not ep.stomp_port:
                    entry["unavailable"] = "no STOMP listener"
                    continue
                target = stomp_load.StompTarget(name, ep.stomp_port, ep.host, ep.stomp_headers,
                                                ep.pids)
                scale = stomp_load.Scale(quick)
                runner = stomp_load.run_scenario
            else:
                if not ep.aws_port:
                    entry["unavailable"] = "no AWS (SQS) listener"
                    continue
                target = sqs_load.SqsTarget(name, ep.aws_port, ep.host)
                scale = sqs_load.Scale(quick)
                runner = sqs_load.run_scenario
            warmed = False
            for key in scenarios[proto]:
                if not warmed and key not in COLD_SCENARIOS:
                    warmed = True
                    mod = stomp_load if proto == "stomp" else sqs_load
                    log(f"{name}: {proto} warm-up ...")
                    try:
                        w = mod.warm_up(target)
                    except Exception as e:
                        w = {"error": f"{type(e).__name__}: {e}"}
                    log(f"{name}: {proto} warm-up: {json.dumps(w)}")
                log(f"{name}: {proto} {key} ...")
                m = run_repeated(proto, key, runner, target, scale, ep.pids, repeat)
                entry["scenarios"][key] = m
                log(f"{name}: {proto} {key}: {headline(proto, key, m)} ({m.get('seconds')} s)")
    finally:
        if not keep:
            log(f"{name}: stopping")
            try:
                peer.stop()
            except Exception as e:
                log(f"{name}: stop failed: {e}")


QUIET = {"wait": 30.0, "threshold": 30.0}


def wait_quiet(pids: list[int]) -> float:
    """Wait (up to QUIET["wait"] s) for one second in which everything but the
    broker (idle now; RabbitMQ's schedulers spin for a while after load) uses
    less than QUIET["threshold"] % of one core: the machine may be shared with
    other work. Returns that % for the last second."""
    deadline = time.monotonic() + QUIET["wait"]
    while True:
        with sysinfo.CpuMeter(pids) as cpu:
            time.sleep(1.0)
        other = max(0.0, cpu.machine_pct - cpu.broker_pct)
        if other < QUIET["threshold"] or time.monotonic() >= deadline:
            return other


def run_once(runner, key, target, scale, pids: list[int]) -> dict:
    busy = wait_quiet(pids) if QUIET["wait"] > 0 else None
    with sysinfo.CpuMeter(pids) as cpu:
        m = runner(key, target, scale)
    if busy is not None:
        m["other_before_pct"] = round(busy, 1)
    m["broker_cpu_pct"] = round(cpu.broker_pct, 1)
    m["machine_cpu_pct"] = round(cpu.machine_pct, 1)
    if "gen_cpu_pct" in m:
        # What neither the broker nor the load generator used: other work on
        # the machine (and kernel time not charged to either).
        m["other_cpu_pct"] = round(max(0.0, cpu.machine_pct - cpu.broker_pct
                                       - m["gen_cpu_pct"]), 1)
    return m


def run_repeated(proto: str, key: str, runner, target, scale, pids: list[int],
                 repeat: int) -> dict:
    """Run a scenario `repeat` times and keep the best run by its headline
    metric (the first table row of the scenario); all headline values are kept."""
    row = next((r for r in report.ROWS[proto] if r.scenario == key and r.better), None)
    if key in NO_REPEAT:
        row = None
    runs = [run_once(runner, key, target, scale, pids)]
    for _ in range(repeat - 1):
        if row is None:
            break
        log(f"  {key}: {row.metric}={runs[-1].get(row.metric)}; again ...")
        runs.append(run_once(runner, key, target, scale, pids))
    if len(runs) == 1:
        return runs[0]
    ok = [r for r in runs if isinstance(r.get(row.metric), (int, float))] or runs
    pick = max if row.better == "higher" else min
    best = pick(ok, key=lambda r: r.get(row.metric) or 0)
    best = dict(best)
    best["all_runs"] = [r.get(row.metric) for r in runs]
    return best


def merge(previous: dict, new: dict, full_protos: set[str]) -> dict:
    """Sections run in full replace the old ones; a subset run (some targets or
    scenarios) updates the old section in place."""
    out = {"sections": dict(previous.get("sections", {}))}
    if "backlog" in previous:            # written by bench.backlog, kept as it is
        out["backlog"] = previous["backlog"]
    for proto, sec in new["sections"].items():
        old = out["sections"].get(proto)
        if proto in full_protos or not old:
            out["sections"][proto] = sec
            continue
        merged = dict(old)
        merged.setdefault("updates", []).append({"date": sec["date"], "command": sec["command"]})
        targets = dict(old.get("targets", {}))
        for name, t in sec["targets"].items():
            if name in targets and "scenarios" in t and "scenarios" in targets[name]:
                keep = dict(targets[name])
                keep["scenarios"] = {**keep["scenarios"], **t["scenarios"]}
                keep.update({k: v for k, v in t.items() if k != "scenarios"})
                targets[name] = keep
            else:
                targets[name] = t
        merged["targets"] = targets
        out["sections"][proto] = merged
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m bench.run_all",
        description="Benchmark mqgate against ActiveMQ and RabbitMQ (STOMP) and moto (SQS) "
                    "on loopback, print a table and write docs/benchmarks.md.",
        epilog="STOMP scenarios: " + ", ".join(stomp_load.SCENARIOS) +
               ". SQS scenarios: " + ", ".join(sqs_load.SCENARIOS) +
               ". Needs the Debian packages activemq (and a JRE) and rabbitmq-server "
               "(running); a missing peer is reported and skipped.")
    ap.add_argument("--only", choices=["stomp", "sqs"], help="run one protocol only")
    ap.add_argument("--quick", action="store_true",
                    help="short run (~5 s per scenario, 10k depth) for a smoke test")
    ap.add_argument("--targets", default=",".join(ALL_TARGETS),
                    help="comma list of targets (default: %(default)s)")
    ap.add_argument("--scenarios", default="",
                    help="comma list of scenario keys (default: all)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each scenario N times and keep the best (the machine may "
                         "be busy with other work); default %(default)s")
    ap.add_argument("--quiet-wait", type=float, default=30.0,
                    help="before each scenario, wait up to this many seconds for the machine "
                         "to be idle (other work on it skews figures); 0 = don't wait "
                         "(default %(default)s)")
    ap.add_argument("--mqgate-sync", default="default,full",
                    help="mqgate --store-sync variants to run, comma list of "
                         "default|normal|full (default: %(default)s)")
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                    help="markdown report (default: docs/benchmarks.md)")
    ap.add_argument("--no-write", action="store_true", help="print only, write no report")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    ap.add_argument("--keep-peers", action="store_true",
                    help="leave the targets running (python -m bench.peers stop all)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    lock = peers_mod.RunLock()
    if not lock.acquire():
        print("another benchmark run is in progress (pid, start: "
              f"{peers_mod.RunLock.holder()}); runs share the peers and the cores, "
              "so wait for it to finish.", file=sys.stderr)
        return 3
    QUIET["wait"] = args.quiet_wait
    protos = [args.only] if args.only else ["stomp", "sqs"]
    wanted = [s for s in args.scenarios.split(",") if s]
    scenarios = {
        "stomp": [k for k in stomp_load.SCENARIOS if not wanted or k in wanted],
        "sqs": [k for k in sqs_load.SCENARIOS if not wanted or k in wanted],
    }
    unknown = set(wanted) - set(stomp_load.SCENARIOS) - set(sqs_load.SCENARIOS)
    if unknown:
        print(f"unknown scenarios: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    targets: list[str] = []
    for t in [t.strip() for t in args.targets.split(",") if t.strip()]:
        if t == "mqgate":
            for v in [v.strip() for v in args.mqgate_sync.split(",") if v.strip()]:
                targets.append("mqgate" if v == "default" else f"mqgate-sync-{v}")
        elif t in peers_mod.PEERS or t.startswith(("mqgate-sync-", "mqgate-reactor-")):
            targets.append(t)
        else:
            print(f"unknown target {t}", file=sys.stderr)
            return 2
    command = "python -m bench.run_all" + (" " + shlex.join(argv if argv is not None
                                                             else sys.argv[1:])
                                           if (argv if argv is not None else sys.argv[1:])
                                           else "")
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info = machine()
    log(f"machine: {info['nproc']} cores, {info['cpu']}, {info['mem_gib']} GiB; "
        f"load {sysinfo.loadavg()}")
    sections = {}
    for proto in protos:
        if not scenarios[proto]:
            continue
        sections[proto] = {"date": now, "command": command, "quick": args.quick,
                           "machine": info, "python": sysinfo.python_version(),
                           "targets": {}}
        if proto == "stomp":
            sections[proto]["java"] = sysinfo.java_version()

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)

    t0 = time.monotonic()
    interrupted = False
    try:
        for name in targets:
            run_target(name, list(sections), scenarios, args.quick, sections, args.keep_peers,
                       args.repeat)
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: peers stopped, writing what was measured")
    log(f"done in {time.monotonic() - t0:.0f} s")

    results = {"sections": sections}
    for proto, sec in sections.items():
        header, rows = report.table(proto, sec)
        print()
        print(report.TITLES[proto])
        print(report.console_table(header, rows))
    full = {p for p in sections
            if not wanted and set(targets) >= {t for t in ALL_TARGETS if t != "mqgate"}}
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if interrupted:
        full = set()   # keep the figures of the previous run for what was not measured
    if not args.no_write:
        report.write(args.output, merge(report.load_previous(args.output), results, full))
        log(f"wrote {args.output}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
