"""Pure data-plane logic: route matching, token buckets and the stage cache on an injected
clock, resource and authorizer policies, mapping selection rules and Lambda proxy results."""
from __future__ import annotations

import json

import pytest
from twisted.internet.task import Clock

from facades.apigateway.dataplane import authorizers, lambda_proxy, mapping, policy
from facades.apigateway.dataplane.backend import BackendResponse
from facades.apigateway.dataplane.cache import StageCache
from facades.apigateway.dataplane.errors import GatewayError
from facades.apigateway.dataplane.routing import Router
from facades.aws.policy import Policy, parse as parse_policy
from facades.apigateway.dataplane.throttle import Throttles


def _resources(*paths: str, methods: tuple[str, ...] = ("GET",)) -> dict:
    return {str(i): {"id": str(i), "path": p, "resourceMethods": {m: {"httpMethod": m} for m in methods}}
            for i, p in enumerate(paths)}


def test_routing_prefers_literals_then_params_then_greedy() -> None:
    router = Router(_resources("/", "/pets", "/pets/{id}", "/pets/mine", "/{proxy+}", "/pets/{id}/toys/{toy}"))
    assert router.match("GET", "/").resource["path"] == "/"
    assert router.match("GET", "/pets/mine").resource["path"] == "/pets/mine"
    found = router.match("GET", "/pets/42")
    assert found.resource["path"] == "/pets/{id}" and found.path_params == {"id": "42"}
    deep = router.match("GET", "/pets/1/toys/ball")
    assert deep.path_params == {"id": "1", "toy": "ball"}
    greedy = router.match("GET", "/pets/1/other/x")
    assert greedy.resource["path"] == "/{proxy+}" and greedy.path_params == {"proxy": "pets/1/other/x"}
    assert router.match("GET", "/a%20b").path_params == {"proxy": "a b"}


def test_routing_falls_back_to_any_and_misses() -> None:
    resources = _resources("/things", methods=("ANY",))
    resources["x"] = {"id": "x", "path": "/only-get", "resourceMethods": {"GET": {"httpMethod": "GET"}}}
    router = Router(resources)
    assert router.match("PATCH", "/things").method["httpMethod"] == "ANY"
    assert router.match("POST", "/only-get") is None
    assert router.match("GET", "/nowhere") is None


def test_token_bucket_burst_then_rate() -> None:
    clock = Clock()
    throttles = Throttles(clock.seconds)
    assert [throttles.allow("k", 2.0, 3) for _ in range(4)] == [True, True, True, False]
    clock.advance(0.5)
    assert throttles.allow("k", 2.0, 3) is True
    assert throttles.allow("k", 2.0, 3) is False
    clock.advance(10)
    assert [throttles.allow("k", 2.0, 3) for _ in range(4)] == [True, True, True, False]
    assert throttles.allow("other", 2.0, 3) is True  # buckets are per name
    assert throttles.allow("zero", 0.0, 0) is False


def test_stage_cache_ttl_eviction_and_flush() -> None:
    clock = Clock()
    cache = StageCache(clock.seconds, max_entries=2, max_bytes=10)
    cache.put("a", 200, {}, b"aaa", ttl=5)
    cache.put("b", 200, {}, b"bbb", ttl=5)
    assert cache.get("a").body == b"aaa"
    cache.put("c", 200, {}, b"ccc", ttl=5)  # evicts the least recently used: b
    assert cache.get("b") is None and cache.get("a") is not None
    cache.put("big", 200, {}, b"x" * 11, ttl=5)  # larger than the whole cache: not kept
    assert cache.get("big") is None
    clock.advance(5)
    assert cache.get("a") is None
    cache.put("d", 200, {}, b"d", ttl=0)
    assert cache.get("d") is None
    cache.put("e", 200, {}, b"e", ttl=60)
    cache.flush()
    assert len(cache) == 0


def test_resource_policy_source_ip_conditions() -> None:
    arn = policy.method_arn("us-east-1", "000000000000", "abc", "prod", "GET", "/pets")
    statements = parse_policy(json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
         "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}}},
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "arn:aws:execute-api:us-east-1:000000000000:abc/*/GET/pets",
         "Condition": {"NotIpAddress": {"aws:SourceIp": "10.1.0.0/16"}}}]}))
    policy.check(statements, arn, "abc", "10.1.2.3")
    with pytest.raises(GatewayError, match="explicit deny"):
        policy.check(statements, arn, "abc", "10.2.0.1")
    with pytest.raises(GatewayError) as refused:
        policy.check(Policy(statements.statements[:1]), arn, "abc", "192.168.0.1")  # only the Allow, which does not apply
    assert refused.value.status == 403 and "explicit" not in refused.value.message
    policy.check(Policy(), arn, "abc", "192.168.0.1")  # no policy: everyone


def test_resource_policy_judges_every_condition_as_iam_does() -> None:
    arn = policy.method_arn("us-east-1", "000000000000", "abc", "prod", "GET", "/pets")
    statements = parse_policy(json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "Execute-API:invoke", "Resource": "execute-api:/prod/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
         "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}}]}))
    policy.check(Policy(statements.statements[:1]), arn, "abc", "10.1.2.3")   # actions are case-blind
    with pytest.raises(GatewayError, match="explicit deny"):   # no VPC endpoint: the Deny applies
        policy.check(statements, arn, "abc", "10.1.2.3")
    only_from = parse_policy(json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}, "IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}}}]}))
    with pytest.raises(GatewayError):
        policy.check(only_from, arn, "abc", "10.1.2.3")


def test_authorizer_policy_is_judged_as_iam_judges_it() -> None:
    arn = "arn:aws:execute-api:us-east-1:000000000000:abc/prod/GET/pets"
    authorizers.evaluate({"Statement": {"Effect": "allow", "Action": "Execute-API:*", "Resource": arn}}, arn)
    office = {"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*",
                             "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}
    authorizers.evaluate(office, arn, "10.1.2.3")
    with pytest.raises(GatewayError, match="not authorized"):
        authorizers.evaluate(office, arn, "192.168.0.1")


def test_authorizer_policy_evaluation() -> None:
    arn = "arn:aws:execute-api:us-east-1:000000000000:abc/prod/GET/pets"
    authorizers.evaluate({"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke",
                                         "Resource": "arn:aws:execute-api:us-east-1:000000000000:abc/*"}]}, arn)
    with pytest.raises(GatewayError, match="explicit deny"):
        authorizers.evaluate({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                                            {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": arn}]}, arn)
    with pytest.raises(GatewayError, match="not authorized"):
        authorizers.evaluate({"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke",
                                             "Resource": arn.replace("GET", "POST")}]}, arn)


def test_request_template_selection_and_passthrough() -> None:
    with_template = {"requestTemplates": {"application/json": "T"}}
    assert mapping.select_request_template(with_template, "application/json") == "T"
    assert mapping.select_request_template(with_template, "text/plain") is None  # WHEN_NO_MATCH
    with pytest.raises(GatewayError) as refused:
        mapping.select_request_template({**with_template, "passthroughBehavior": "WHEN_NO_TEMPLATES"}, "text/plain")
    assert refused.value.status == 415
    assert mapping.select_request_template({"passthroughBehavior": "WHEN_NO_TEMPLATES"}, "text/plain") is None
    with pytest.raises(GatewayError):
        mapping.select_request_template({"passthroughBehavior": "NEVER"}, "application/json")


def test_integration_response_selection() -> None:
    integration = {"integrationResponses": {
        "200": {"statusCode": "200"},
        "404": {"statusCode": "404", "selectionPattern": "404"},
        "500": {"statusCode": "500", "selectionPattern": "5\\d{2}|.*failed.*"}}}
    assert mapping.select_integration_response(integration, BackendResponse(404))["statusCode"] == "404"
    assert mapping.select_integration_response(integration, BackendResponse(503))["statusCode"] == "500"
    assert mapping.select_integration_response(integration, BackendResponse(201))["statusCode"] == "200"
    failed = BackendResponse(200, error_message="it failed badly")
    assert mapping.select_integration_response(integration, failed)["statusCode"] == "500"
    with pytest.raises(GatewayError) as no_default:
        mapping.select_integration_response({"integrationResponses": {"4": {"statusCode": "400",
                                                                          "selectionPattern": "4\\d\\d"}}},
                                            BackendResponse(200))
    assert no_default.value.status == 500


def test_lambda_proxy_results() -> None:
    ok = lambda_proxy.result(BackendResponse(200, body=json.dumps(
        {"statusCode": 201, "headers": {"A": "1"}, "multiValueHeaders": {"B": ["x", "y"]}, "body": "hi"}).encode()))
    assert (ok.status, ok.headers, ok.body) == (201, {"A": "1", "B": "x,y"}, b"hi")
    binary = lambda_proxy.result(BackendResponse(200, body=b'{"statusCode": 200, "isBase64Encoded": true, "body": "AAE="}'))
    assert binary.body == b"\x00\x01"
    for bad in (b"not json", b"[1]", b'{"statusCode": "abc"}', b'{"statusCode": 200, "body": {"a": 1}}',
                b'{"statusCode": 99}'):
        with pytest.raises(GatewayError) as malformed:
            lambda_proxy.result(BackendResponse(200, body=bad))
        assert malformed.value.status == 502 and malformed.value.message == "Internal server error"
