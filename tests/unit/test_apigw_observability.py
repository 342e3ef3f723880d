"""Access-log lines from `$context` formats (the console's presets) and the metric counters."""
from __future__ import annotations

import json

from facades.apigateway.dataplane.accesslog import PRESETS, format_line
from facades.apigateway.dataplane.metrics import Metrics

CONTEXT = {"requestId": "r-1", "identity": {"sourceIp": "10.0.0.9", "caller": "", "user": None},
           "requestTime": "04/Dec/2026:10:00:00 +0000", "httpMethod": "GET", "resourcePath": "/pets/{id}",
           "status": 200, "protocol": "HTTP/1.1", "responseLength": 12}


def test_presets() -> None:
    assert format_line(PRESETS["CLF"], CONTEXT) == (
        '10.0.0.9 - - [04/Dec/2026:10:00:00 +0000] "GET /pets/{id} HTTP/1.1" 200 12 r-1')
    assert json.loads(format_line(PRESETS["JSON"], CONTEXT)) == {
        "requestId": "r-1", "ip": "10.0.0.9", "caller": "-", "user": "-", "requestTime": "04/Dec/2026:10:00:00 +0000",
        "httpMethod": "GET", "resourcePath": "/pets/{id}", "status": "200", "protocol": "HTTP/1.1",
        "responseLength": "12"}
    assert format_line(PRESETS["CSV"], CONTEXT) == (
        "10.0.0.9,-,-,04/Dec/2026:10:00:00 +0000,GET,/pets/{id},HTTP/1.1,200,12,r-1")
    assert '<request id="r-1">' in format_line(PRESETS["XML"], CONTEXT)
    assert format_line("$context.unknown.thing $context.requestId.", CONTEXT) == "- r-1."


def test_counters() -> None:
    metrics = Metrics()
    labels = ("api", "prod", "GET", "/pets")
    metrics.record(labels, 200, 2.5, 1.0, cache_hit=True)
    metrics.record(labels, 404, 1.0, 0.0, cache_hit=False)
    metrics.record(labels, 502, 3.0, 2.0, cache_hit=None)
    assert [metrics.value(labels, m) for m in ("Count", "4XXError", "5XXError", "Latency", "IntegrationLatency",
                                               "CacheHitCount", "CacheMissCount")] == [3, 1, 1, 6.5, 3.0, 1, 1]
    text = metrics.render()
    assert 'mqgate_apigateway_count{api="api",stage="prod",method="GET",resource="/pets"} 3' in text
    assert "# TYPE mqgate_apigateway_5xx_error counter" in text
