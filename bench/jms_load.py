"""JMS throughput over OpenWire: ActiveMQ's own client against mqgate and ActiveMQ 5.17.

    python -m bench.jms_load [--count N] [--size BYTES] [--targets mqgate activemq] [--repeat N]

For each target and send mode (persistent with synchronous sends, persistent with async
sends, non-persistent) one JVM sends COUNT messages of SIZE bytes to a fresh queue, then
consumes them (AUTO_ACKNOWLEDGE, default prefetch); the send and receive rates are the
best of --repeat runs. The result becomes the "JMS (OpenWire)" section of
docs/benchmarks.md (kept when bench.run_all rewrites the file).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

from . import peers as peers_mod
from . import sysinfo

REPO = Path(__file__).resolve().parent.parent
PROGRAM = REPO / "tests" / "java" / "JmsScenarios.java"
JAR_DIR = Path("/usr/share/java")
JARS = ("activemq-client.jar", "geronimo-jms_1.1_spec.jar", "geronimo-j2ee-management-1.1-spec.jar",
        "hawtbuf.jar", "slf4j-api.jar", "slf4j-nop.jar")
MODES = {"sync": ("Persistent, synchronous sends", 4000),
         "async": ("Persistent, async sends (jms.useAsyncSend)", 20000),
         "nonpersistent": ("Non-persistent", 20000)}
TARGETS = {"activemq": peers_mod.ActiveMQ, "mqgate": peers_mod.Mqgate}
# Goals: persistent at least twice ActiveMQ, non-persistent at least ActiveMQ.
GOALS = {"sync": 2.0, "async": 2.0, "nonpersistent": 1.0}


def compile_program(workdir: Path) -> str:
    classes = workdir / "jms-classes"
    classes.mkdir(parents=True, exist_ok=True)
    classpath = os.pathsep.join(str(JAR_DIR / j) for j in JARS)
    subprocess.run(["javac", "-nowarn", "-d", str(classes), "-cp", classpath, str(PROGRAM)],
                   check=True, capture_output=True, timeout=120)
    return os.pathsep.join([str(classes), classpath])


def run_mode(classpath: str, port: int, mode: str, count: int, size: int) -> dict[str, float]:
    queue = f"bench.jms.{mode}.{uuid.uuid4().hex[:8]}"
    done = subprocess.run(["java", "-cp", classpath, "JmsScenarios", f"tcp://127.0.0.1:{port}",
                           "throughput", queue, str(count), str(size), mode],
                          capture_output=True, text=True, timeout=600)
    out = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    if done.returncode != 0 or out.get("received") != str(count):
        raise RuntimeError(f"{mode} run failed: {done.stdout[-500:]} {done.stderr[-500:]}")
    return {"send": float(out["send_rate"]), "receive": float(out["receive_rate"])}


def measure(name: str, classpath: str, size: int, repeat: int, scale: float) -> dict:
    peer = TARGETS[name]()
    ok, why = peer.available()
    if not ok:
        return {"unavailable": why}
    endpoint = peer.start()
    try:
        if not endpoint.openwire_port:
            return {"unavailable": "no OpenWire port"}
        result: dict = {"version": endpoint.version, "notes": endpoint.notes, "modes": {}}
        for mode, (_, count) in MODES.items():
            runs = [run_mode(classpath, endpoint.openwire_port, mode, max(100, int(count * scale)), size)
                    for _ in range(repeat)]
            result["modes"][mode] = {"send": max(r["send"] for r in runs),
                                     "receive": max(r["receive"] for r in runs)}
            print(f"{name:10} {mode:14} send {result['modes'][mode]['send']:>9,.0f} msg/s   "
                  f"receive {result['modes'][mode]['receive']:>9,.0f} msg/s", flush=True)
        return result
    finally:
        peer.stop()


def render(section: dict) -> list[str]:
    """The JMS section of docs/benchmarks.md."""
    targets = section["targets"]
    m = section.get("machine", {})
    out = ["## JMS (OpenWire)", "",
           f"- Date: {section.get('date')}",
           f"- Machine: {m.get('nproc')} cores, {m.get('cpu')}, {m.get('os')}",
           f"- Command: `{section.get('command')}`",
           "- Versions: " + "; ".join(f"{n}: {t.get('version', '?')}" for n, t in targets.items()
                                      if not t.get("unavailable")) + f"; {section.get('java')}",
           f"- Load: ActiveMQ's JMS client 5.17.2 (Debian libactivemq-java), one connection, "
           f"{section.get('size')}-byte BytesMessages, AUTO_ACKNOWLEDGE, default URL; "
           "best of the repeated runs.", ""]
    header = "| Scenario | unit | ActiveMQ | mqgate | mqgate / ActiveMQ | goal |"
    out += [header, "|---|---|---:|---:|---:|---|"]
    for mode, (title, _) in MODES.items():
        for direction in ("send", "receive"):
            values = {n: t["modes"][mode][direction] for n, t in targets.items() if "modes" in t}
            amq, mq = values.get("activemq"), values.get("mqgate")
            ratio = f"{mq / amq:.2f}×" if amq and mq else "—"
            goal = ""
            if direction == "send" and amq and mq:
                wanted = GOALS[mode]
                goal = f"≥ {wanted:g}× ActiveMQ: " + ("met" if mq >= wanted * amq else "not met")
            cell = (lambda v: f"{v:,.0f}" if v else "—")
            out.append(f"| {title}, {'produced' if direction == 'send' else 'consumed'} ↑ | msg/s | "
                       f"{cell(amq)} | {cell(mq)} | {ratio} | {goal} |")
    out.append("")
    for n, t in targets.items():
        if t.get("unavailable"):
            out.append(f"- **{n}**: not measured: {t['unavailable']}")
        else:
            out.append(f"- **{n}** ({t.get('version')}): {t.get('notes', '')}")
    out.append("")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.jms_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1024, help="message body size in bytes (default 1024)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the message counts (default 1)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per scenario, best kept (default 2)")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    lock = peers_mod.RunLock()
    if not lock.acquire():
        print(f"another benchmark run holds the lock ({peers_mod.RunLock.holder()})", file=sys.stderr)
        return 1
    try:
        peers_mod.BENCH_DIR.mkdir(parents=True, exist_ok=True)
        classpath = compile_program(peers_mod.BENCH_DIR)
        section = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                   "command": "python -m bench.jms_load " + " ".join(argv if argv is not None else sys.argv[1:]),
                   "machine": {"nproc": sysinfo.nproc(), "cpu": sysinfo.cpu_model(), "os": sysinfo.os_release()},
                   "java": sysinfo.java_version(), "size": args.size,
                   "targets": {n: measure(n, classpath, args.size, args.repeat, args.scale) for n in args.targets}}
    finally:
        lock.release()
    write_section(args.output, section)
    print(json.dumps(section, indent=1))
    return 0


def write_section(path: Path, section: dict) -> None:
    """Put the section into the report, through the report's own raw results so that
    bench.run_all keeps it when it rewrites the file."""
    from . import report

    results = report.load_previous(path)
    results.setdefault("sections", {})["jms"] = section
    if results["sections"].keys() == {"jms"}:
        path.write_text("\n".join(["# Benchmarks", "", *render(section)]))
        return
    path.write_text(report.render_markdown(results))


if __name__ == "__main__":
    sys.exit(main())
