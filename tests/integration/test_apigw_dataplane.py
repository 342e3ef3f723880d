"""API Gateway data plane against the real server with a real HTTP client: routing, MOCK,
HTTP and HTTP_PROXY backends, mapping templates, SQS integration feeding a STOMP consumer,
request validation, gateway responses, resource policies and the payload limit."""
from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from tests.conftest import unique
from tests.integration.apigw_support import Backend, apigw_client, build_api, call, stage_url
from tests.integration.sqs_clients import make_client
from tests.integration.stomp_client import Client


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    server = Backend()
    yield server
    server.close()


@pytest.fixture(scope="module")
def gw(shared_broker: Any) -> Any:
    return apigw_client(shared_broker.aws_url)


MOCK_OK = {"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}}


def _mock(template: str) -> dict[str, Any]:
    return {"integration": MOCK_OK, "responses": {"200": {"responseTemplates": {"application/json": template}}}}


def test_mock_routes_params_greedy_and_any(gw: Any, shared_broker: Any) -> None:
    ids = build_api(gw, unique("routes"), {
        "/pets": {"GET": _mock('{"route": "list"}')},
        "/pets/{id}": {"GET": _mock('{"route": "one", "id": "$input.params(\'id\')"}')},
        "/pets/special": {"GET": _mock('{"route": "literal"}')},
        "/files/{proxy+}": {"ANY": _mock('{"route": "greedy", "proxy": "$input.params(\'proxy\')", '
                                         '"method": "$context.httpMethod"}')},
    })
    url = lambda p: stage_url(shared_broker.aws_url, ids["api"], "test", p)  # noqa: E731
    assert call("GET", url("/pets")).json() == {"route": "list"}
    assert call("GET", url("/pets/42")).json() == {"route": "one", "id": "42"}
    assert call("GET", url("/pets/special")).json() == {"route": "literal"}
    reply = call("DELETE", url("/files/a/b/c.txt"))
    assert reply.status == 200
    assert reply.json() == {"route": "greedy", "proxy": "a/b/c.txt", "method": "DELETE"}
    missing = call("GET", url("/nothing/here"))
    assert missing.status == 403
    assert missing.json() == {"message": "Missing Authentication Token"}
    wrong_method = call("POST", url("/pets"))
    assert wrong_method.status == 403
    # The execute-api host name form, as custom SDK endpoints and curl users call it.
    host = call("GET", f"{shared_broker.aws_url}/test/pets/7",
                headers={"Host": f"{ids['api']}.execute-api.localhost:{shared_broker.aws_port}"})
    assert host.json() == {"route": "one", "id": "7"}
    unknown_stage = call("GET", stage_url(shared_broker.aws_url, ids["api"], "nostage", "/pets"))
    assert unknown_stage.status == 403
    assert unknown_stage.json() == {"message": "Forbidden"}


def test_http_proxy_forwards_everything_and_passes_the_answer_back(gw: Any, shared_broker: Any,
                                                                   backend: Backend) -> None:
    ids = build_api(gw, unique("proxy"), {
        "/{proxy+}": {"ANY": {"integration": {"type": "HTTP_PROXY", "integrationHttpMethod": "ANY",
                                              "uri": backend.url + "/svc/{proxy}",
                                              "requestParameters": {
                                                  "integration.request.path.proxy": "method.request.path.proxy"}},
                              "method": {"requestParameters": {"method.request.path.proxy": True}}}},
    })
    reply = call("PUT", stage_url(shared_broker.aws_url, ids["api"], "test", "/orders/9?x=1&y=2"),
                 body='{"n": 1}', headers={"Content-Type": "application/json", "X-Custom": "abc"})
    assert reply.status == 200
    assert reply.headers["x-backend"] == "yes"
    seen = reply.json()
    assert seen["method"] == "PUT"
    assert seen["path"] == "/svc/orders/9"
    assert seen["query"] == {"x": "1", "y": "2"}
    assert seen["headers"]["x-custom"] == "abc"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert seen["body"] == '{"n": 1}'
    status = call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/status/418"))
    assert status.status == 418


def test_http_integration_with_mapping_templates_and_parameter_mapping(gw: Any, shared_broker: Any,
                                                                       backend: Backend) -> None:
    request_template = ('#set($body = $input.path(\'$\'))'
                        '{"name": "$util.escapeJavaScript($body.name)", "count": $body.items.size(), '
                        '"stage": "$context.stage", "var": "$stageVariables.color"}')
    response_template = ('#set($r = $input.path(\'$\'))'
                         '{"echoed": $r.body, "query": "$r.query.tag", "header": "$r.headers.get(\'x-from-gateway\')"}')
    ids = build_api(gw, unique("http"), {
        "/items/{id}": {"POST": {
            "method": {"requestParameters": {"method.request.path.id": True,
                                             "method.request.querystring.tag": False}},
            "integration": {"type": "HTTP", "integrationHttpMethod": "POST", "uri": backend.url + "/items/{id}",
                            "requestParameters": {"integration.request.path.id": "method.request.path.id",
                                                  "integration.request.querystring.tag": "method.request.querystring.tag",
                                                  "integration.request.header.X-From-Gateway": "'static-value'"},
                            "requestTemplates": {"application/json": request_template}},
            "responses": {"200": {"responseTemplates": {"application/json": response_template},
                                  "responseParameters": {}},
                          "400": {"selectionPattern": "4\\d{2}",
                                  "responseTemplates": {"application/json": '{"failed": true}'}}}}},
    })
    gw.update_stage(restApiId=ids["api"], stageName="test",
                    patchOperations=[{"op": "replace", "path": "/variables/color", "value": "blue"}])
    reply = call("POST", stage_url(shared_broker.aws_url, ids["api"], "test", "/items/5?tag=t1"),
                 body=json.dumps({"name": 'say "hi"', "items": [1, 2, 3]}),
                 headers={"Content-Type": "application/json"})
    assert reply.status == 200, reply.body
    out = reply.json()
    assert out["query"] == "t1"
    assert out["header"] == "static-value"
    assert out["echoed"] == {"name": 'say "hi"', "count": 3, "stage": "test", "var": "blue"}
    assert backend.requests[-1]["path"] == "/items/5"


def test_backend_timeout_unreachable_and_hanging_up(gw: Any, shared_broker: Any, backend: Backend) -> None:
    ids = build_api(gw, unique("slow"), {
        "/slow": {"GET": {"integration": {"type": "HTTP_PROXY", "integrationHttpMethod": "GET",
                                          "uri": backend.url + "/slow", "timeoutInMillis": 300}}},
        "/down": {"GET": {"integration": {"type": "HTTP_PROXY", "integrationHttpMethod": "GET",
                                          "uri": "http://127.0.0.1:9/nothing"}}},
        "/reset": {"GET": {"integration": {"type": "HTTP_PROXY", "integrationHttpMethod": "GET",
                                           "uri": backend.url + "/reset"}}},
    })
    slow = call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/slow"))
    assert slow.status == 504
    assert slow.json() == {"message": "Endpoint request timed out"}
    down = call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/down"))
    assert down.status == 504  # INTEGRATION_FAILURE, its default status
    assert down.json() == {"message": "Internal server error"}
    reset = call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/reset"))
    assert reset.status == 504
    assert reset.json() == {"message": "Internal server error"}
    # The gateway keeps serving.
    assert call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/slow")).status == 504


def test_sqs_integration_feeds_a_stomp_consumer(gw: Any, shared_broker: Any) -> None:
    queue = unique("apigw-sqs")
    sqs = make_client("json", shared_broker.aws_url)
    sqs.create_queue(QueueName=queue)
    consumer = Client(shared_broker.stomp_port)
    try:
        consumer.subscribe_sync(f"/queue/{queue}")
        ids = build_api(gw, unique("sqs"), {
            "/orders": {"POST": {
                "integration": {
                    "type": "AWS", "integrationHttpMethod": "POST",
                    "uri": f"arn:aws:apigateway:us-east-1:sqs:path/000000000000/{queue}",
                    "credentials": "arn:aws:iam::000000000000:role/apigw-sqs",
                    "requestParameters": {
                        "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
                    "requestTemplates": {"application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"},
                    "passthroughBehavior": "NEVER"},
                "responses": {"200": {"responseTemplates": {"application/json": '{"queued": true}'}}}}},
            "/orders/action": {"POST": {
                "integration": {
                    "type": "AWS", "integrationHttpMethod": "POST",
                    "uri": "arn:aws:apigateway:us-east-1:sqs:action/SendMessage",
                    "requestParameters": {
                        "integration.request.querystring.QueueUrl": f"'{shared_broker.aws_url}/000000000000/{queue}'",
                        "integration.request.querystring.MessageBody": "method.request.body"}},
                "responses": {"200": {}}}},
        })
        reply = call("POST", stage_url(shared_broker.aws_url, ids["api"], "test", "/orders"),
                     body='{"order": 1, "note": "a&b=c"}', headers={"Content-Type": "application/json"})
        assert reply.status == 200, reply.body
        assert reply.json() == {"queued": True}
        frame = consumer.listener.get()
        assert json.loads(frame.body) == {"order": 1, "note": "a&b=c"}
        second = call("POST", stage_url(shared_broker.aws_url, ids["api"], "test", "/orders/action"),
                      body='{"order": 2}', headers={"Content-Type": "application/json"})
        assert second.status == 200, second.body
        assert b"SendMessageResponse" in second.body  # the service's own answer passed through
        assert json.loads(consumer.listener.get().body) == {"order": 2}
        refused = call("POST", stage_url(shared_broker.aws_url, ids["api"], "test", "/orders"),
                       body="plain", headers={"Content-Type": "text/plain"})
        assert refused.status == 415
        assert refused.json() == {"message": "Unsupported Media Type"}
    finally:
        consumer.disconnect()


def test_request_validation_with_models_and_required_parameters(gw: Any, shared_broker: Any) -> None:
    api = gw.create_rest_api(name=unique("valid"))
    api_id = api["id"]
    gw.create_model(restApiId=api_id, name="Item", contentType="application/json",
                    schema=json.dumps({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
                                       "required": ["sku"], "properties": {"sku": {"type": "string"}}}))
    gw.create_model(restApiId=api_id, name="Order", contentType="application/json",
                    schema=json.dumps({"type": "object", "required": ["items"], "properties": {
                        "items": {"type": "array", "items": {
                            "$ref": f"https://apigateway.amazonaws.com/restapis/{api_id}/models/Item"}}}}))
    validator = gw.create_request_validator(restApiId=api_id, name="all", validateRequestBody=True,
                                            validateRequestParameters=True)
    resource = gw.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="orders")
    gw.put_method(restApiId=api_id, resourceId=resource["id"], httpMethod="POST", authorizationType="NONE",
                  requestValidatorId=validator["id"], requestModels={"application/json": "Order"},
                  requestParameters={"method.request.header.X-Tenant": True,
                                     "method.request.querystring.mode": True})
    gw.put_integration(restApiId=api_id, resourceId=resource["id"], httpMethod="POST", **MOCK_OK)
    gw.put_method_response(restApiId=api_id, resourceId=resource["id"], httpMethod="POST", statusCode="200")
    gw.put_integration_response(restApiId=api_id, resourceId=resource["id"], httpMethod="POST", statusCode="200",
                                responseTemplates={"application/json": '{"ok": true}'})
    gw.create_deployment(restApiId=api_id, stageName="v1")
    url = stage_url(shared_broker.aws_url, api_id, "v1", "/orders")
    good = call("POST", url + "?mode=x", body='{"items": [{"sku": "a"}]}',
                headers={"Content-Type": "application/json", "X-Tenant": "t"})
    assert good.status == 200 and good.json() == {"ok": True}
    missing = call("POST", url, body='{"items": []}', headers={"Content-Type": "application/json"})
    assert missing.status == 400
    assert missing.json() == {"message": "Missing required request parameters: [X-Tenant, mode]"}
    bad = call("POST", url + "?mode=x", body='{"items": [{"sku": 5}]}',
               headers={"Content-Type": "application/json", "X-Tenant": "t"})
    assert bad.status == 400
    assert bad.json() == {"message": "Invalid request body"}
    not_json = call("POST", url + "?mode=x", body='{"items": ', headers={"Content-Type": "application/json",
                                                                           "X-Tenant": "t"})
    assert not_json.status == 400 and not_json.json() == {"message": "Invalid request body"}


def test_gateway_responses_can_be_customised(gw: Any, shared_broker: Any) -> None:
    ids = build_api(gw, unique("gwresp"), {"/x": {"GET": _mock('{}')}})
    gw.put_gateway_response(restApiId=ids["api"], responseType="MISSING_AUTHENTICATION_TOKEN", statusCode="404",
                            responseParameters={"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"},
                            responseTemplates={"application/json": '{"error": $context.error.messageString, '
                                                                   '"type": "$context.error.responseType"}'})
    gw.create_deployment(restApiId=ids["api"], stageName="test")
    reply = call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/nope"))
    assert reply.status == 404
    assert reply.headers["access-control-allow-origin"] == "*"
    assert reply.json() == {"error": "Missing Authentication Token", "type": "MISSING_AUTHENTICATION_TOKEN"}


def test_resource_policy_source_ip(gw: Any, shared_broker: Any) -> None:
    ids = build_api(gw, unique("policy"), {"/open": {"GET": _mock('{"ok": 1}')},
                                           "/closed": {"GET": _mock('{"ok": 2}')}})
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*/GET/closed",
         "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8"]}}},
    ]}
    gw.update_rest_api(restApiId=ids["api"], patchOperations=[{"op": "replace", "path": "/policy",
                                                               "value": json.dumps(policy)}])
    gw.create_deployment(restApiId=ids["api"], stageName="test")
    assert call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/open")).json() == {"ok": 1}
    denied = call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/closed"))
    assert denied.status == 403
    assert denied.json()["message"].startswith("User: anonymous is not authorized to perform: execute-api:Invoke")
    assert denied.json()["message"].endswith("with an explicit deny")


def test_payload_limit_and_bad_templates_keep_the_gateway_serving(gw: Any, shared_broker: Any) -> None:
    ids = build_api(gw, unique("limits"), {
        "/echo": {"POST": _mock('{"size": $input.body.length()}')},
        "/broken": {"GET": _mock('#foreach($x in $input.path(\'$.[[[\'))$x#end')},
    })
    huge = call("POST", stage_url(shared_broker.aws_url, ids["api"], "test", "/echo"),
                body=b"x" * (10 * 1024 * 1024 + 1), headers={"Content-Type": "application/json"})
    assert huge.status == 413
    assert huge.json() == {"message": "Request Too Long"}
    broken = call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/broken"))
    assert broken.status == 500
    assert broken.json() == {"message": "Internal server error"}
    ok = call("POST", stage_url(shared_broker.aws_url, ids["api"], "test", "/echo"), body="abc",
              headers={"Content-Type": "application/json"})
    assert ok.status == 200
    assert ok.json() == {"size": 0}  # in an integration response, $input is the (empty) MOCK answer


def test_lambda_integration_without_an_endpoint_says_which_flag_is_missing(gw: Any, shared_broker: Any) -> None:
    uri = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
           "arn:aws:lambda:us-east-1:000000000000:function:fn/invocations")
    ids = build_api(gw, unique("nolambda"), {"/fn": {"GET": {"integration": {
        "type": "AWS_PROXY", "integrationHttpMethod": "POST", "uri": uri}}}})
    reply = call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/fn"))
    assert reply.status == 500
    assert reply.json() == {"message": "Internal server error"}
    assert "--lambda-endpoint" in shared_broker.log()


def test_sns_publish_integration(gw: Any, shared_broker: Any) -> None:
    """Runs when an SNS service is registered on the port (it answers CreateTopic)."""
    import boto3
    from botocore.exceptions import ClientError

    sns = boto3.client("sns", endpoint_url=shared_broker.aws_url, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    try:
        topic = sns.create_topic(Name=unique("apigw-topic"))["TopicArn"]
    except ClientError as error:
        pytest.skip(f"no SNS service registered on the AWS port ({error.response['Error']['Code']})")
    ids = build_api(gw, unique("sns"), {"/notify": {"POST": {
        "integration": {"type": "AWS", "integrationHttpMethod": "POST",
                        "uri": "arn:aws:apigateway:us-east-1:sns:action/Publish",
                        "requestParameters": {"integration.request.querystring.TopicArn": f"'{topic}'",
                                              "integration.request.querystring.Message": "method.request.body"}},
        "responses": {"200": {"responseTemplates": {"application/json": '{"published": true}'}}}}}})
    reply = call("POST", stage_url(shared_broker.aws_url, ids["api"], "test", "/notify"), body='{"hello": 1}',
                 headers={"Content-Type": "application/json"})
    assert reply.status == 200 and reply.json() == {"published": True}


def test_large_and_unsized_backend_bodies_are_relayed_whole(gw: Any, shared_broker: Any, backend: Backend) -> None:
    ids = build_api(gw, unique("stream"), {"/big/{n}": {"GET": {"integration": {
        "type": "HTTP_PROXY", "integrationHttpMethod": "GET", "uri": backend.url + "/big/{n}",
        "requestParameters": {"integration.request.path.n": "method.request.path.n"}}}}})
    expected = bytes(i % 251 for i in range(3 * 1024 * 1024))
    sized = call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", f"/big/{len(expected)}"))
    assert sized.status == 200 and sized.body == expected
    chunked = call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", f"/big/{len(expected)}?chunked=1"))
    assert chunked.status == 200 and chunked.body == expected
    assert chunked.headers["content-type"] == "application/octet-stream"
    small = call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/big/10"))
    assert small.body == expected[:10] and small.headers["content-length"] == "10"


def test_other_invoke_url_forms_and_disabled_endpoint(gw: Any, shared_broker: Any) -> None:
    ids = build_api(gw, unique("urls"), {"/u/{x}": {"GET": _mock('{"x": "$input.params(\'x\')"}')}})
    assert call("GET", f"{shared_broker.aws_url}/_aws/execute-api/{ids['api']}/test/u/5").json() == {"x": "5"}
    gw.update_rest_api(restApiId=ids["api"], patchOperations=[
        {"op": "replace", "path": "/disableExecuteApiEndpoint", "value": "true"}])
    gw.create_deployment(restApiId=ids["api"], stageName="test")
    off = call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/u/5"))
    assert off.status == 403 and off.json() == {"message": "Forbidden"}
    with pytest.raises(gw.exceptions.BadRequestException):
        gw.update_stage(restApiId=ids["api"], stageName="test", patchOperations=[
            {"op": "replace", "path": "/*/*/caching/ttlInSeconds", "value": "3601"}])


def test_content_handling_converts_binary_and_text(gw: Any, shared_broker: Any, backend: Backend) -> None:
    ids = build_api(gw, unique("convert"), {
        "/as-text": {"GET": {"integration": {"type": "HTTP", "integrationHttpMethod": "GET",
                                             "uri": backend.url + "/big/300"},
                             "responses": {"200": {"contentHandling": "CONVERT_TO_TEXT"}}}},
        "/as-binary": {"GET": {"integration": {"type": "MOCK",
                                               "requestTemplates": {"application/json": '{"statusCode": 200}'}},
                               "responses": {"200": {"contentHandling": "CONVERT_TO_BINARY",
                                                     "responseTemplates": {"application/json": "AAECAw=="}}}}},
    })
    import base64
    text = call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/as-text"))
    assert text.status == 200
    assert base64.b64decode(text.body) == bytes(i % 251 for i in range(300))
    binary = call("GET", stage_url(shared_broker.aws_url, ids["api"], "test", "/as-binary"))
    assert binary.body == b"\x00\x01\x02\x03"


def test_custom_domain_names_and_base_path_mappings(gw: Any, shared_broker: Any) -> None:
    ids = build_api(gw, unique("domain"), {"/hello": {"GET": _mock('{"stage": "$context.stage"}')}})
    gw.create_stage(restApiId=ids["api"], stageName="v2",
                    deploymentId=gw.get_stage(restApiId=ids["api"], stageName="test")["deploymentId"])
    domain = f"{unique('api')}.example.test"
    created = gw.create_domain_name(domainName=domain, regionalCertificateArn="arn:aws:acm:us-east-1:0:certificate/x",
                                    endpointConfiguration={"types": ["REGIONAL"]})
    assert created["domainNameStatus"] == "AVAILABLE"
    gw.create_base_path_mapping(domainName=domain, basePath="shop", restApiId=ids["api"], stage="test")
    gw.create_base_path_mapping(domainName=domain, restApiId=ids["api"])  # (none): the stage comes from the path
    with pytest.raises(gw.exceptions.ConflictException):
        gw.create_base_path_mapping(domainName=domain, basePath="shop", restApiId=ids["api"], stage="test")
    assert {m["basePath"] for m in gw.get_base_path_mappings(domainName=domain)["items"]} == {"shop", "(none)"}
    host = {"Host": f"{domain}:{shared_broker.aws_port}"}
    assert call("GET", f"{shared_broker.aws_url}/shop/hello", headers=host).json() == {"stage": "test"}
    assert call("GET", f"{shared_broker.aws_url}/v2/hello", headers=host).json() == {"stage": "v2"}
    gw.update_base_path_mapping(domainName=domain, basePath="shop",
                                patchOperations=[{"op": "replace", "path": "/stage", "value": "v2"}])
    assert call("GET", f"{shared_broker.aws_url}/shop/hello", headers=host).json() == {"stage": "v2"}
    gw.delete_base_path_mapping(domainName=domain, basePath="(none)")
    gw.delete_domain_name(domainName=domain)
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.get_domain_name(domainName=domain)


def test_request_and_response_overrides(gw: Any, shared_broker: Any, backend: Backend) -> None:
    ids = build_api(gw, unique("override"), {"/o": {"POST": {
        "integration": {"type": "HTTP", "integrationHttpMethod": "POST", "uri": backend.url + "/override",
                        "requestTemplates": {"application/json":
                                             '#set($context.requestOverride.header.XTenant = "acme")'
                                             '#set($context.requestOverride.querystring.page = "3")$input.body'}},
        "responses": {"200": {"responseTemplates": {"application/json":
                                                    '#set($r = $input.path(\'$\'))'
                                                    '#set($context.responseOverride.status = 202)'
                                                    '#set($context.responseOverride.header.XSeen = $r.headers.xtenant)'
                                                    '{"page": "$r.query.page"}'}}}}}})
    reply = call("POST", stage_url(shared_broker.aws_url, ids["api"], "test", "/o"), body='{"a": 1}',
                 headers={"Content-Type": "application/json"})
    assert reply.status == 202
    assert reply.headers["xseen"] == "acme"
    assert reply.json() == {"page": "3"}
