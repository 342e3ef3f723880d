"""Small numeric helpers shared by the load generators."""
from __future__ import annotations

import time
from typing import Callable


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (p in 0..100)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def latency_summary_ms(samples_ns: list[int]) -> dict[str, float | int | None]:
    s = sorted(samples_ns)
    to_ms = (lambda v: None if v is None else v / 1e6)
    return {
        "n": len(s),
        "p50_ms": to_ms(percentile(s, 50)),
        "p99_ms": to_ms(percentile(s, 99)),
        "p999_ms": to_ms(percentile(s, 99.9)),
        "max_ms": to_ms(s[-1]) if s else None,
    }


def rate(count: int, seconds: float) -> float | None:
    if count <= 0 or seconds <= 0:
        return None
    return count / seconds


def window_rate(marks: list[tuple[int, float]], lo: int, hi: int) -> float | None:
    """Rate between the first marks at or past message counts lo and hi.
    marks: increasing (count, monotonic seconds) checkpoints."""
    a = next((m for m in marks if m[0] >= lo), None)
    b = next((m for m in marks if m[0] >= hi), None)
    if a is None or b is None or b[1] <= a[1]:
        return None
    return (b[0] - a[0]) / (b[1] - a[1])


def timed(fn: Callable[..., dict], *args: object) -> dict:
    """Run one scenario function; its metrics plus the wall time, an exception as an error."""
    t0 = time.monotonic()
    try:
        m = fn(*args)
    except Exception as e:
        m = {"error": f"{type(e).__name__}: {e}"}
    m["seconds"] = round(time.monotonic() - t0, 1)
    return m
