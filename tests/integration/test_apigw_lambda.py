"""Lambda proxy and non-proxy integrations and Lambda/Cognito authorizers, through a stand-in
Lambda Invoke server the tests start (what `sam local start-lambda` serves), against a broker
started with `--lambda-endpoint` and `--jwks`."""
from __future__ import annotations

import base64
import http.client
import json
import time
import urllib.parse
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import broker_on, BrokerProcess, unique
from tests.integration.apigw_support import (Backend, LambdaStandIn, apigw_client, build_api, call, lambda_uri,
                                             stage_url)

POOL = "us-east-1_TestPool1"
URL_POOL = "us-east-1_UrlPool2"
ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{POOL}"


@pytest.fixture(scope="module")
def functions() -> Iterator[LambdaStandIn]:
    server = LambdaStandIn()
    yield server
    server.close()


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="test-kid", alg="RS256", use="sig")
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    return key, path


@pytest.fixture(scope="module")
def jwks_server(signing_key: tuple[Any, Path]) -> Iterator[Backend]:
    """Serves the JWKS over HTTP, for the pool configured by URL."""
    server = Backend()
    server.documents["/.well-known/jwks.json"] = signing_key[1].read_bytes()
    yield server
    server.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def lambda_broker(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  functions: LambdaStandIn, signing_key: tuple[Any, Path],
                  jwks_server: Backend) -> Iterator[BrokerProcess]:
    jwks = f"{POOL}={signing_key[1]},{URL_POOL}={jwks_server.url}/.well-known/jwks.json"
    extra = ["--lambda-endpoint", functions.url, "--jwks", jwks]
    with broker_on(request.param, tmp_path_factory.mktemp("lambda-broker"), extra) as proc:
        yield proc


def _proxy(function: str) -> dict[str, Any]:
    return {"integration": {"type": "AWS_PROXY", "integrationHttpMethod": "POST", "uri": lambda_uri(function)}}


def test_lambda_proxy_event_and_result(lambda_broker: BrokerProcess, functions: LambdaStandIn) -> None:
    name = unique("proxyfn")
    functions.functions[name] = lambda event: {
        "statusCode": 201, "headers": {"X-Fn": "yes"}, "multiValueHeaders": {"X-Multi": ["a", "b"]},
        "body": json.dumps({"got": event["pathParameters"], "q": event["queryStringParameters"]})}
    gw = apigw_client(lambda_broker.aws_url)
    ids = build_api(gw, unique("lproxy"), {"/users/{id}": {"POST": _proxy(name)}})
    gw.update_stage(restApiId=ids["api"], stageName="test",
                    patchOperations=[{"op": "replace", "path": "/variables/env", "value": "qa"}])
    reply = call("POST", stage_url(lambda_broker.aws_url, ids["api"], "test", "/users/u1?a=1&a=2&b=3"),
                 body='{"x": 1}', headers={"Content-Type": "application/json", "X-Trace": "t"})
    assert reply.status == 201
    assert reply.headers["x-fn"] == "yes"
    assert reply.headers["x-multi"] == "a,b"
    assert reply.json() == {"got": {"id": "u1"}, "q": {"a": "2", "b": "3"}}
    event = functions.events[name][-1]
    assert event["resource"] == "/users/{id}"
    assert event["path"] == "/users/u1"
    assert event["httpMethod"] == "POST"
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["3"]}
    assert event["pathParameters"] == {"id": "u1"}
    assert event["stageVariables"] == {"env": "qa"}
    assert event["body"] == '{"x": 1}' and event["isBase64Encoded"] is False
    assert event["headers"]["X-Trace"] == "t"
    context = event["requestContext"]
    assert context["stage"] == "test" and context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["resourcePath"] == "/users/{id}" and context["requestId"]


def test_lambda_proxy_event_shows_headers_as_sent(lambda_broker: BrokerProcess, functions: LambdaStandIn) -> None:
    """A REST API's event keeps each header name as the client spelled it, and every value
    of a repeated header in ``multiValueHeaders`` (the last one in ``headers``)."""
    name = unique("hdrfn")
    functions.functions[name] = lambda event: {"statusCode": 200, "body": "ok"}
    gw = apigw_client(lambda_broker.aws_url)
    ids = build_api(gw, unique("lhdr"), {"/h": {"GET": _proxy(name)}})
    url = urllib.parse.urlsplit(stage_url(lambda_broker.aws_url, ids["api"], "test", "/h"))
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest("GET", url.path)
        for header, value in (("x-lower-case", "1"), ("X-Mixed-Case", "2"), ("X-Repeated", "a"),
                              ("X-Repeated", "b")):
            conn.putheader(header, value)
        conn.endheaders()
        reply = conn.getresponse()
        assert (reply.status, reply.read()) == (200, b"ok")
    finally:
        conn.close()
    event = functions.events[name][-1]
    assert event["headers"]["x-lower-case"] == "1"
    assert event["headers"]["X-Mixed-Case"] == "2"
    assert event["headers"]["X-Repeated"] == "b"
    assert event["multiValueHeaders"]["X-Repeated"] == ["a", "b"]
    assert event["multiValueHeaders"]["x-lower-case"] == ["1"]
    assert "X-Lower-Case" not in event["headers"] and "x-mixed-case" not in event["headers"]


def test_malformed_and_failing_functions_answer_502(lambda_broker: BrokerProcess, functions: LambdaStandIn) -> None:
    bad, boom = unique("badfn"), unique("boomfn")
    functions.functions[bad] = lambda event: {"statusCode": "not a status", "body": {"not": "a string"}}

    def explode(event: dict[str, Any]) -> Any:
        raise RuntimeError("kaput")
    functions.functions[boom] = explode
    gw = apigw_client(lambda_broker.aws_url)
    ids = build_api(gw, unique("lbad"), {"/bad": {"GET": _proxy(bad)}, "/boom": {"GET": _proxy(boom)},
                                          "/absent": {"GET": _proxy(unique("nosuchfn"))}})
    for path in ("/bad", "/boom", "/absent"):
        reply = call("GET", stage_url(lambda_broker.aws_url, ids["api"], "test", path))
        assert reply.status == 502, path
        assert reply.json() == {"message": "Internal server error"}


def test_lambda_non_proxy_with_templates_and_error_selection(lambda_broker: BrokerProcess,
                                                             functions: LambdaStandIn) -> None:
    name = unique("plainfn")

    def handler(event: dict[str, Any]) -> Any:
        if event.get("fail"):
            raise ValueError("Invalid input: bad things")
        return {"sum": event["a"] + event["b"]}
    functions.functions[name] = handler
    gw = apigw_client(lambda_broker.aws_url)
    ids = build_api(gw, unique("lplain"), {"/add": {"POST": {
        "integration": {"type": "AWS", "integrationHttpMethod": "POST", "uri": lambda_uri(name),
                        "requestTemplates": {"application/json":
                                             '{"a": $input.json(\'$.a\'), "b": $input.json(\'$.b\'), '
                                             '"fail": $input.json(\'$.fail\')}'}},
        "responses": {"200": {"responseTemplates": {"application/json": '{"result": $input.json(\'$.sum\')}'}},
                      "400": {"selectionPattern": "Invalid input.*",
                              "responseTemplates": {"application/json":
                                                    '{"error": "$input.path(\'$.errorMessage\')"}'}}}}}})
    url = stage_url(lambda_broker.aws_url, ids["api"], "test", "/add")
    ok = call("POST", url, body='{"a": 2, "b": 3, "fail": false}', headers={"Content-Type": "application/json"})
    assert ok.status == 200 and ok.json() == {"result": 5}
    failed = call("POST", url, body='{"a": 2, "b": 3, "fail": true}', headers={"Content-Type": "application/json"})
    assert failed.status == 400
    assert failed.json() == {"error": "Invalid input: bad things"}


def _policy(effect: str, resource: str = "*") -> dict[str, Any]:
    return {"Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]}


def test_token_authorizer_validation_caching_policy_and_context(lambda_broker: BrokerProcess,
                                                               functions: LambdaStandIn) -> None:
    auth_fn, backend_fn = unique("authfn"), unique("securefn")

    def authorize(event: dict[str, Any]) -> Any:
        token = event["authorizationToken"]
        if token == "Bearer deny":
            return {"principalId": "bad", "policyDocument": _policy("Deny", event["methodArn"])}
        if token == "Bearer unknown":
            raise Exception("Unauthorized")
        return {"principalId": "user-1", "policyDocument": _policy("Allow", event["methodArn"].rsplit("/", 2)[0] + "/*"),
                "context": {"tenant": "acme", "tier": 2}}
    functions.functions[auth_fn] = authorize
    functions.functions[backend_fn] = lambda event: {"statusCode": 200,
                                                     "body": json.dumps(event["requestContext"]["authorizer"])}
    gw = apigw_client(lambda_broker.aws_url)
    api = gw.create_rest_api(name=unique("tokauth"))
    authorizer = gw.create_authorizer(restApiId=api["id"], name="tok", type="TOKEN",
                                      authorizerUri=lambda_uri(auth_fn),
                                      identitySource="method.request.header.Authorization",
                                      identityValidationExpression="^Bearer [a-z0-9-]+$",
                                      authorizerResultTtlInSeconds=300)
    resource = gw.create_resource(restApiId=api["id"], parentId=api["rootResourceId"], pathPart="secure")
    gw.put_method(restApiId=api["id"], resourceId=resource["id"], httpMethod="GET", authorizationType="CUSTOM",
                  authorizerId=authorizer["id"])
    gw.put_integration(restApiId=api["id"], resourceId=resource["id"], httpMethod="GET", type="AWS_PROXY",
                       integrationHttpMethod="POST", uri=lambda_uri(backend_fn))
    gw.create_deployment(restApiId=api["id"], stageName="test")
    url = stage_url(lambda_broker.aws_url, api["id"], "test", "/secure")
    assert call("GET", url).status == 401
    assert call("GET", url).json() == {"message": "Unauthorized"}
    malformed = call("GET", url, headers={"Authorization": "Basic xyz"})
    assert malformed.status == 401
    assert functions.calls(auth_fn) == 0  # the validation expression refused it without a call
    ok = call("GET", url, headers={"Authorization": "Bearer good-1"})
    assert ok.status == 200, ok.body
    assert ok.json() == {"tenant": "acme", "tier": 2, "principalId": "user-1"}
    again = call("GET", url, headers={"Authorization": "Bearer good-1"})
    assert again.status == 200
    assert functions.calls(auth_fn) == 1  # cached for authorizerResultTtlInSeconds
    denied = call("GET", url, headers={"Authorization": "Bearer deny"})
    assert denied.status == 403
    assert denied.json() == {"message": "User is not authorized to access this resource with an explicit deny"}
    assert call("GET", url, headers={"Authorization": "Bearer unknown"}).status == 401
    gw.flush_stage_authorizers_cache(restApiId=api["id"], stageName="test")
    assert call("GET", url, headers={"Authorization": "Bearer good-1"}).status == 200
    assert functions.calls(auth_fn) == 4


def test_request_authorizer_uses_identity_sources(lambda_broker: BrokerProcess, functions: LambdaStandIn) -> None:
    auth_fn = unique("reqauth")
    functions.functions[auth_fn] = lambda event: {
        "principalId": event["queryStringParameters"]["user"],
        "policyDocument": _policy("Allow" if event["headers"].get("X-Key") == "k1" else "Deny", "*")}
    gw = apigw_client(lambda_broker.aws_url)
    api = gw.create_rest_api(name=unique("reqauth"))
    authorizer = gw.create_authorizer(restApiId=api["id"], name="req", type="REQUEST",
                                      authorizerUri=lambda_uri(auth_fn),
                                      identitySource="method.request.header.X-Key,method.request.querystring.user",
                                      authorizerResultTtlInSeconds=0)
    gw.put_method(restApiId=api["id"], resourceId=api["rootResourceId"], httpMethod="GET",
                  authorizationType="CUSTOM", authorizerId=authorizer["id"])
    gw.put_integration(restApiId=api["id"], resourceId=api["rootResourceId"], httpMethod="GET", type="MOCK",
                       requestTemplates={"application/json": '{"statusCode": 200}'})
    gw.put_integration_response(restApiId=api["id"], resourceId=api["rootResourceId"], httpMethod="GET",
                                statusCode="200",
                                responseTemplates={"application/json": '{"who": "$context.authorizer.principalId"}'})
    gw.create_deployment(restApiId=api["id"], stageName="test")
    url = stage_url(lambda_broker.aws_url, api["id"], "test", "/")
    assert call("GET", url + "?user=ann", headers={"X-Key": "k1"}).json() == {"who": "ann"}
    assert call("GET", url + "?user=ann", headers={"X-Key": "k2"}).status == 403
    assert call("GET", url + "?user=ann", headers={"X-Key": "k1"}).json() == {"who": "ann"}
    assert functions.calls(auth_fn) == 3  # TTL 0: no caching


def _token(key: Any, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "exp": now + 300, "iat": now, "token_use": "id", "sub": "abc", **claims}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "test-kid"})


def test_cognito_authorizer_verifies_jwts(lambda_broker: BrokerProcess, signing_key: tuple[Any, Path]) -> None:
    key = signing_key[0]
    gw = apigw_client(lambda_broker.aws_url)
    api = gw.create_rest_api(name=unique("cognito"))
    authorizer = gw.create_authorizer(restApiId=api["id"], name="pool", type="COGNITO_USER_POOLS",
                                      providerARNs=[f"arn:aws:cognito-idp:us-east-1:000000000000:userpool/{POOL}"],
                                      identitySource="method.request.header.Authorization")
    for part, scopes in (("id", []), ("scoped", ["orders/read"])):
        resource = gw.create_resource(restApiId=api["id"], parentId=api["rootResourceId"], pathPart=part)
        gw.put_method(restApiId=api["id"], resourceId=resource["id"], httpMethod="GET",
                      authorizationType="COGNITO_USER_POOLS", authorizerId=authorizer["id"],
                      authorizationScopes=scopes)
        gw.put_integration(restApiId=api["id"], resourceId=resource["id"], httpMethod="GET", type="MOCK",
                           requestTemplates={"application/json": '{"statusCode": 200}'})
        gw.put_integration_response(restApiId=api["id"], resourceId=resource["id"], httpMethod="GET",
                                    statusCode="200", responseTemplates={
                                        "application/json": '{"sub": "$context.authorizer.claims.sub"}'})
    gw.create_deployment(restApiId=api["id"], stageName="test")
    url = stage_url(lambda_broker.aws_url, api["id"], "test", "/id")
    assert call("GET", url, headers={"Authorization": _token(key)}).json() == {"sub": "abc"}
    expired = _token(key, exp=int(time.time()) - 10)
    assert call("GET", url, headers={"Authorization": expired}).status == 401
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert call("GET", url, headers={"Authorization": _token(other_key)}).status == 401
    wrong_issuer = _token(key, iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other")
    assert call("GET", url, headers={"Authorization": wrong_issuer}).status == 401
    scoped = stage_url(lambda_broker.aws_url, api["id"], "test", "/scoped")
    access = _token(key, token_use="access", scope="orders/read orders/write")
    assert call("GET", scoped, headers={"Authorization": access}).status == 200
    no_scope = _token(key, token_use="access", scope="profile")
    assert call("GET", scoped, headers={"Authorization": no_scope}).status == 401
    # A pool whose JWKS is fetched from a URL: listed on the authorizer, verified the same way.
    gw.update_authorizer(restApiId=api["id"], authorizerId=authorizer["id"], patchOperations=[
        {"op": "add", "path": "/providerARNs",
         "value": f"arn:aws:cognito-idp:us-east-1:000000000000:userpool/{URL_POOL}"}])
    gw.create_deployment(restApiId=api["id"], stageName="test")
    url_pool = _token(key, iss=f"https://cognito-idp.us-east-1.amazonaws.com/{URL_POOL}", sub="from-url")
    assert call("GET", url, headers={"Authorization": url_pool}).json() == {"sub": "from-url"}


def test_binary_media_types_reach_the_function_base64_encoded(lambda_broker: BrokerProcess,
                                                              functions: LambdaStandIn) -> None:
    name = unique("binfn")
    functions.functions[name] = lambda event: {"statusCode": 200, "isBase64Encoded": True,
                                               "body": event["body"], "headers": {"Content-Type": "image/png"}}
    gw = apigw_client(lambda_broker.aws_url)
    ids = build_api(gw, unique("binary"), {"/img": {"POST": _proxy(name)}})
    gw.update_rest_api(restApiId=ids["api"], patchOperations=[{"op": "add", "path": "/binaryMediaTypes/image~1png"}])
    gw.create_deployment(restApiId=ids["api"], stageName="test")
    data = bytes(range(256))
    reply = call("POST", stage_url(lambda_broker.aws_url, ids["api"], "test", "/img"), body=data,
                 headers={"Content-Type": "image/png"})
    assert reply.status == 200
    assert reply.body == data
    assert functions.events[name][-1]["isBase64Encoded"] is True
    assert base64.b64decode(functions.events[name][-1]["body"]) == data


def test_api_key_from_the_authorizer(lambda_broker: BrokerProcess, functions: LambdaStandIn) -> None:
    auth_fn = unique("keyauth")
    key_value = unique("authorizer-issued-key-") + "x" * 10
    functions.functions[auth_fn] = lambda event: {
        "principalId": "p", "policyDocument": _policy("Allow"),
        "usageIdentifierKey": key_value if event["authorizationToken"] == "good" else "unknown-key-000000000000"}
    gw = apigw_client(lambda_broker.aws_url)
    api = gw.create_rest_api(name=unique("keysrc"), apiKeySource="AUTHORIZER")
    authorizer = gw.create_authorizer(restApiId=api["id"], name="a", type="TOKEN", authorizerUri=lambda_uri(auth_fn),
                                      authorizerResultTtlInSeconds=0)
    gw.put_method(restApiId=api["id"], resourceId=api["rootResourceId"], httpMethod="GET",
                  authorizationType="CUSTOM", authorizerId=authorizer["id"], apiKeyRequired=True)
    gw.put_integration(restApiId=api["id"], resourceId=api["rootResourceId"], httpMethod="GET", type="MOCK",
                       requestTemplates={"application/json": '{"statusCode": 200}'})
    gw.put_integration_response(restApiId=api["id"], resourceId=api["rootResourceId"], httpMethod="GET",
                                statusCode="200", responseTemplates={"application/json": '{"ok": 1}'})
    gw.create_deployment(restApiId=api["id"], stageName="test")
    key = gw.create_api_key(name="issued", enabled=True, value=key_value)
    plan = gw.create_usage_plan(name="p", apiStages=[{"apiId": api["id"], "stage": "test"}])
    gw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    url = stage_url(lambda_broker.aws_url, api["id"], "test", "/")
    assert call("GET", url, headers={"Authorization": "good"}).json() == {"ok": 1}
    refused = call("GET", url, headers={"Authorization": "other", "x-api-key": key_value})
    assert refused.status == 403  # the header does not count when the authorizer is the source


def test_asynchronous_lambda_invocation(lambda_broker: BrokerProcess, functions: LambdaStandIn) -> None:
    name = unique("asyncfn")
    functions.functions[name] = lambda event: {"never": "returned"}
    gw = apigw_client(lambda_broker.aws_url)
    ids = build_api(gw, unique("async"), {"/jobs": {"POST": {
        "integration": {"type": "AWS", "integrationHttpMethod": "POST", "uri": lambda_uri(name),
                        "requestParameters": {"integration.request.header.X-Amz-Invocation-Type": "'Event'"}},
        "responses": {"200": {"responseTemplates": {"application/json": '{"accepted": true}'}}}}}})
    reply = call("POST", stage_url(lambda_broker.aws_url, ids["api"], "test", "/jobs"), body='{"job": 7}',
                 headers={"Content-Type": "application/json"})
    assert reply.status == 200 and reply.json() == {"accepted": True}
    assert functions.events[name] == [{"job": 7}]
