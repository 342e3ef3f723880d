"""Facts about the machine and processes: CPU, memory, load, RSS of a process tree."""
from __future__ import annotations

import os
import platform
import subprocess
import sys


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total_gib() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def os_release() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def kernel() -> str:
    return platform.release()


def python_version() -> str:
    return sys.version.split()[0]


def dpkg_version(package: str) -> str | None:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def java_version() -> str | None:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = (out.stderr or out.stdout).splitlines()
    return first[0].strip() if first else None


def children_of(pid: int) -> list[int]:
    """All descendants of pid (via /proc/*/stat)."""
    parent: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # comm may contain spaces/parens: split after the last ')'.
        rest = stat.rsplit(")", 1)[1].split()
        parent[int(name)] = int(rest[1])
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out.extend(kids)
        frontier.extend(kids)
    return out


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(pids: list[int]) -> int:
    """Sum of VmRSS of the given processes and all their descendants."""
    seen: set[int] = set()
    total = 0
    for pid in pids:
        for p in [pid, *children_of(pid)]:
            if p not in seen:
                seen.add(p)
                total += rss_kib(p)
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pids: list[int]) -> float:
    """CPU time of the given processes and of their live descendants."""
    return sum(cpu_seconds(p) for p in {q for pid in pids for q in (pid, *children_of(pid))})


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_busy_seconds() -> float:
    """CPU seconds spent busy by all cores since boot (from /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return 0.0
    v = [int(x) for x in fields]
    # user nice system idle iowait irq softirq steal guest guest_nice
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
    return busy / CLK_TCK


def process_cpu_seconds(pids: list[int]) -> float:
    """utime+stime of the given processes and their live descendants."""
    total = 0.0
    seen: set[int] = set()
    for pid in pids:
        for p in [pid, *children_of(pid)]:
            if p in seen:
                continue
            seen.add(p)
            try:
                with open(f"/proc/{p}/stat") as f:
                    rest = f.read().rsplit(")", 1)[1].split()
                total += (int(rest[11]) + int(rest[12])) / CLK_TCK
            except (OSError, IndexError, ValueError):
                pass
    return total


class CpuMeter:
    """Broker and whole-machine CPU over an interval, in % of one core."""

    def __init__(self, pids: list[int]):
        self.pids = pids

    def __enter__(self):
        import time
        self.t0 = time.monotonic()
        self.m0 = machine_busy_seconds()
        self.b0 = process_cpu_seconds(self.pids)
        return self

    def __exit__(self, *exc):
        import time
        self.wall = max(1e-9, time.monotonic() - self.t0)
        self.machine_pct = 100 * (machine_busy_seconds() - self.m0) / self.wall
        self.broker_pct = 100 * (process_cpu_seconds(self.pids) - self.b0) / self.wall
        return False
