"""Stage cache (hits counted at the backend, TTL settings, Cache-Control invalidation, flush),
throttling with a small burst, API keys with usage plans and quotas that survive a restart,
and the gateway's metrics and access log."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import BrokerProcess, unique
from tests.integration.apigw_support import Backend, apigw_client, build_api, call, stage_url, wait_for


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    server = Backend()
    yield server
    server.close()


def _http_get(backend: Backend, path: str, **integration: Any) -> dict[str, Any]:
    return {"integration": {"type": "HTTP_PROXY", "integrationHttpMethod": "GET", "uri": backend.url + path,
                            **integration}}


def test_stage_cache_hits_skip_the_backend(shared_broker: BrokerProcess, backend: Backend) -> None:
    gw = apigw_client(shared_broker.aws_url)
    path = f"/{unique('cached')}"
    ids = build_api(gw, unique("cache"), {
        "/data": {"GET": _http_get(backend, path, cacheKeyParameters=["method.request.querystring.k"]),
                  "POST": {"integration": {"type": "HTTP_PROXY", "integrationHttpMethod": "POST",
                                           "uri": backend.url + path}}}})
    gw.update_stage(restApiId=ids["api"], stageName="test", patchOperations=[
        {"op": "replace", "path": "/cacheClusterEnabled", "value": "true"},
        {"op": "replace", "path": "/cacheClusterSize", "value": "0.5"},
        {"op": "replace", "path": "/*/*/caching/ttlInSeconds", "value": "300"}])
    stage = gw.get_stage(restApiId=ids["api"], stageName="test")
    assert stage["cacheClusterEnabled"] is True and stage["cacheClusterStatus"] == "AVAILABLE"
    url = stage_url(shared_broker.aws_url, ids["api"], "test", "/data")
    for _ in range(3):
        assert call("GET", url + "?k=1").status == 200
    assert backend.hits(path) == 1
    call("GET", url + "?k=2")
    assert backend.hits(path) == 2  # a declared cache-key parameter makes another entry
    call("POST", url)
    call("POST", url)
    assert backend.hits(path) == 4  # only GET is cached by default
    call("GET", url + "?k=1", headers={"Cache-Control": "max-age=0"})
    assert backend.hits(path) == 4  # invalidation needs authorization by default: ignored
    gw.update_stage(restApiId=ids["api"], stageName="test", patchOperations=[
        {"op": "replace", "path": "/*/*/caching/requireAuthorizationForCacheControl", "value": "false"}])
    call("GET", url + "?k=1", headers={"Cache-Control": "max-age=0"})
    assert backend.hits(path) == 5
    gw.flush_stage_cache(restApiId=ids["api"], stageName="test")
    call("GET", url + "?k=1")
    assert backend.hits(path) == 6
    gw.update_stage(restApiId=ids["api"], stageName="test", patchOperations=[
        {"op": "replace", "path": "/~1data/GET/caching/enabled", "value": "false"}])
    call("GET", url + "?k=1")
    call("GET", url + "?k=1")
    assert backend.hits(path) == 8
    metrics = call("GET", f"{shared_broker.aws_url}/_apigateway/metrics").body.decode()
    hits = [line for line in metrics.splitlines()
            if line.startswith("mqgate_apigateway_cache_hit_count") and ids["api"] in line]
    assert hits and float(hits[0].rsplit(" ", 1)[1]) == 3


def test_method_throttling_with_a_small_burst(shared_broker: BrokerProcess) -> None:
    gw = apigw_client(shared_broker.aws_url)
    mock = {"integration": {"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}},
            "responses": {"200": {"responseTemplates": {"application/json": "{}"}}}}
    ids = build_api(gw, unique("throttle"), {"/limited": {"GET": mock}, "/free": {"GET": mock}})
    gw.update_stage(restApiId=ids["api"], stageName="test", patchOperations=[
        {"op": "replace", "path": "/~1limited/GET/throttling/burstLimit", "value": "3"},
        {"op": "replace", "path": "/~1limited/GET/throttling/rateLimit", "value": "0.01"}])
    url = stage_url(shared_broker.aws_url, ids["api"], "test", "/limited")
    statuses = [call("GET", url).status for _ in range(6)]
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429, 429]
    reply = call("GET", url)
    assert reply.json() == {"message": "Too Many Requests"}
    assert call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/free")).status == 200


def test_api_keys_usage_plans_and_quota_survive_restart(broker: BrokerProcess) -> None:
    gw = apigw_client(broker.aws_url)
    mock = {"integration": {"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}},
            "method": {"apiKeyRequired": True},
            "responses": {"200": {"responseTemplates": {"application/json": '{"key": "$context.identity.apiKeyId"}'}}}}
    ids = build_api(gw, unique("keys"), {"/paid": {"GET": mock}})
    key = gw.create_api_key(name="customer", enabled=True, value="k" * 30)
    plan = gw.create_usage_plan(name="basic", apiStages=[{"apiId": ids["api"], "stage": "test"}],
                                quota={"limit": 3, "period": "MONTH"}, throttle={"rateLimit": 100, "burstLimit": 50})
    url = stage_url(broker.aws_url, ids["api"], "test", "/paid")
    assert call("GET", url).status == 403
    assert call("GET", url).json() == {"message": "Forbidden"}
    headers = {"x-api-key": "k" * 30}
    assert call("GET", url, headers=headers).status == 403  # not in a usage plan yet
    gw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    first = call("GET", url, headers=headers)
    assert first.status == 200 and first.json() == {"key": key["id"]}
    assert call("GET", url, headers=headers).status == 200
    broker.restart()  # a clean stop: every counted call is in the store
    gw = apigw_client(broker.aws_url)
    url = stage_url(broker.aws_url, ids["api"], "test", "/paid")
    assert call("GET", url, headers=headers).status == 200
    over = call("GET", url, headers=headers)
    assert over.status == 429
    assert over.json() == {"message": "Limit Exceeded"}
    import datetime
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    usage = gw.get_usage(usagePlanId=plan["id"], startDate=today, endDate=today)
    assert usage["items"][key["id"]] == [[3, 0]]
    gw.update_usage(usagePlanId=plan["id"], keyId=key["id"],
                    patchOperations=[{"op": "replace", "path": "/remaining", "value": "2"}])
    assert call("GET", url, headers=headers).status == 200
    gw.update_api_key(apiKey=key["id"], patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}])
    assert call("GET", url, headers=headers).status == 403


def test_access_log_to_a_file(shared_broker: BrokerProcess, tmp_path: Path) -> None:
    gw = apigw_client(shared_broker.aws_url)
    mock = {"integration": {"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}},
            "responses": {"200": {"responseTemplates": {"application/json": "{}"}}}}
    ids = build_api(gw, unique("logs"), {"/x": {"GET": mock}})
    log_file = tmp_path / "access.log"
    log_format = ('{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
                  '"method":"$context.httpMethod","path":"$context.resourcePath","status":"$context.status"}')
    gw.update_stage(restApiId=ids["api"], stageName="test", patchOperations=[
        {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": f"file://{log_file}"},
        {"op": "replace", "path": "/accessLogSettings/format", "value": log_format}])
    reply = call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/x"))
    call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/missing"))
    lines = wait_for(lambda: log_file.exists() and log_file.read_text().splitlines()[1:] and
                     log_file.read_text().splitlines())
    first, second = json.loads(lines[0]), json.loads(lines[1])
    assert first == {"requestId": reply.headers["x-amzn-requestid"], "ip": "127.0.0.1", "method": "GET",
                     "path": "/x", "status": "200"}
    assert second["status"] == "403"


def test_usage_plan_throttles_per_key_and_per_method(shared_broker: BrokerProcess) -> None:
    gw = apigw_client(shared_broker.aws_url)
    mock = {"integration": {"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}},
            "method": {"apiKeyRequired": True},
            "responses": {"200": {"responseTemplates": {"application/json": "{}"}}}}
    ids = build_api(gw, unique("planthrottle"), {"/a": {"GET": mock}, "/b": {"GET": mock}})
    plan = gw.create_usage_plan(name="tight", throttle={"rateLimit": 0.01, "burstLimit": 2},
                                apiStages=[{"apiId": ids["api"], "stage": "test",
                                            "throttle": {"/b/GET": {"rateLimit": 0.01, "burstLimit": 1}}}])
    keys = []
    for n in range(2):
        key = gw.create_api_key(name=f"k{n}", enabled=True)
        gw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
        keys.append(key["value"])
    url = lambda path: stage_url(shared_broker.aws_url, ids["api"], "test", path)  # noqa: E731
    first = {"x-api-key": keys[0]}
    assert [call("GET", url("/a"), headers=first).status for _ in range(3)] == [200, 200, 429]
    assert [call("GET", url("/b"), headers=first).status for _ in range(2)] == [200, 429]  # its own bucket
    assert call("GET", url("/a"), headers={"x-api-key": keys[1]}).status == 200  # buckets are per key
