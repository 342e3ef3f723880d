"""Counters per API, stage, method and resource, in Prometheus' text format.

The names are CloudWatch's API Gateway metrics (Count, 4XXError, 5XXError,
Latency, IntegrationLatency, CacheHitCount, CacheMissCount); latencies are
sums in milliseconds, so a rate over them divided by Count is the mean.
"""

from __future__ import annotations

from collections import defaultdict

_METRICS = ("Count", "4XXError", "5XXError", "Latency", "IntegrationLatency", "CacheHitCount", "CacheMissCount")
_PROM = {"Count": "count", "4XXError": "4xx_error", "5XXError": "5xx_error", "Latency": "latency_ms_sum",
         "IntegrationLatency": "integration_latency_ms_sum", "CacheHitCount": "cache_hit_count",
         "CacheMissCount": "cache_miss_count"}

Labels = tuple[str, str, str, str]


class Metrics:
    def __init__(self) -> None:
        self._values: dict[Labels, dict[str, float]] = defaultdict(lambda: dict.fromkeys(_METRICS, 0.0))

    def record(self, labels: Labels, status: int, latency_ms: float, integration_ms: float,
               cache_hit: bool | None) -> None:
        values = self._values[labels]
        values["Count"] += 1
        if 400 <= status < 500:
            values["4XXError"] += 1
        elif status >= 500:
            values["5XXError"] += 1
        values["Latency"] += latency_ms
        values["IntegrationLatency"] += integration_ms
        if cache_hit is True:
            values["CacheHitCount"] += 1
        elif cache_hit is False:
            values["CacheMissCount"] += 1

    def value(self, labels: Labels, metric: str) -> float:
        return self._values.get(labels, {}).get(metric, 0.0)

    def render(self) -> str:
        lines = []
        for metric in _METRICS:
            name = f"mqgate_apigateway_{_PROM[metric]}"
            lines.append(f"# TYPE {name} counter")
            for (api, stage, method, resource), values in sorted(self._values.items()):
                labels = f'api="{api}",stage="{stage}",method="{method}",resource="{_escape(resource)}"'
                lines.append(f"{name}{{{labels}}} {values[metric]:g}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
