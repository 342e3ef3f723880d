"""API Gateway control plane with boto3's `apigateway` client: every definition built call by
call (as Terraform and CDK deploy) with Get/Update/Delete, AWS's errors as modeled exceptions,
OpenAPI/Swagger import and export (a document exported by AWS imports unchanged), and
definitions that survive a restart."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import BrokerProcess, unique
from tests.integration.apigw_support import apigw_client, build_api, call, lambda_uri, stage_url

AWS_EXPORT = Path(__file__).parent / "data" / "apigw_petstore_oas30.json"

MOCK = {"integration": {"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}},
        "responses": {"200": {"responseTemplates": {"application/json": '{"ok": true}'}}}}


@pytest.fixture(scope="module")
def gw(shared_broker: BrokerProcess) -> Any:
    return apigw_client(shared_broker.aws_url)


def test_rest_api_lifecycle_and_errors(gw: Any) -> None:
    api = gw.create_rest_api(name=unique("life"), description="first", binaryMediaTypes=["image/png"],
                             tags={"team": "a"})
    assert len(api["id"]) == 10 and api["id"].isalnum() and api["id"].islower()
    assert api["apiKeySource"] == "HEADER" and api["endpointConfiguration"] == {"types": ["EDGE"]}
    assert api["id"] in [a["id"] for a in gw.get_rest_apis()["items"]]
    updated = gw.update_rest_api(restApiId=api["id"], patchOperations=[
        {"op": "replace", "path": "/description", "value": "second"},
        {"op": "add", "path": "/binaryMediaTypes/application~1octet-stream"},
        {"op": "remove", "path": "/binaryMediaTypes/image~1png"},
        {"op": "replace", "path": "/apiKeySource", "value": "AUTHORIZER"}])
    assert updated["description"] == "second"
    assert updated["binaryMediaTypes"] == ["application/octet-stream"]
    assert gw.get_rest_api(restApiId=api["id"])["apiKeySource"] == "AUTHORIZER"
    with pytest.raises(gw.exceptions.BadRequestException) as bad:
        gw.update_rest_api(restApiId=api["id"], patchOperations=[{"op": "replace", "path": "/id", "value": "x"}])
    assert "/id" in str(bad.value)
    assert bad.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    gw.delete_rest_api(restApiId=api["id"])
    with pytest.raises(gw.exceptions.NotFoundException) as missing:
        gw.get_rest_api(restApiId=api["id"])
    assert missing.value.response["Error"]["Message"] == f"Invalid API identifier specified 000000000000:{api['id']}"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_call_by_call_definitions_get_update_delete(gw: Any) -> None:
    api = gw.create_rest_api(name=unique("calls"))
    api_id, root = api["id"], api["rootResourceId"]
    pets = gw.create_resource(restApiId=api_id, parentId=root, pathPart="pets")
    assert pets["path"] == "/pets"
    with pytest.raises(gw.exceptions.ConflictException):
        gw.create_resource(restApiId=api_id, parentId=root, pathPart="pets")
    one = gw.create_resource(restApiId=api_id, parentId=pets["id"], pathPart="{petId}")
    assert one["path"] == "/pets/{petId}"
    renamed = gw.update_resource(restApiId=api_id, resourceId=pets["id"],
                                 patchOperations=[{"op": "replace", "path": "/pathPart", "value": "animals"}])
    assert renamed["path"] == "/animals"
    assert gw.get_resource(restApiId=api_id, resourceId=one["id"])["path"] == "/animals/{petId}"
    validator = gw.create_request_validator(restApiId=api_id, name="body", validateRequestBody=True)
    model = gw.create_model(restApiId=api_id, name="Pet", contentType="application/json",
                            schema=json.dumps({"type": "object"}))
    with pytest.raises(gw.exceptions.ConflictException):
        gw.create_model(restApiId=api_id, name="Pet", contentType="application/json", schema="{}")
    for bad_schema in ("{not json", '{"type": 5}'):
        with pytest.raises(gw.exceptions.BadRequestException, match="Invalid model schema"):
            gw.create_model(restApiId=api_id, name="Bad", contentType="application/json", schema=bad_schema)
    authorizer = gw.create_authorizer(restApiId=api_id, name="auth", type="TOKEN",
                                      authorizerUri=lambda_uri("auth"),
                                      identitySource="method.request.header.Authorization")
    method = gw.put_method(restApiId=api_id, resourceId=one["id"], httpMethod="GET", authorizationType="CUSTOM",
                           authorizerId=authorizer["id"], requestValidatorId=validator["id"],
                           requestModels={"application/json": model["name"]},
                           requestParameters={"method.request.path.petId": True})
    assert method["httpMethod"] == "GET" and method["apiKeyRequired"] is False
    with pytest.raises(gw.exceptions.ConflictException):
        gw.put_method(restApiId=api_id, resourceId=one["id"], httpMethod="GET", authorizationType="NONE")
    integration = gw.put_integration(restApiId=api_id, resourceId=one["id"], httpMethod="GET", type="HTTP",
                                     integrationHttpMethod="GET", uri="http://127.0.0.1:9/pets/{petId}",
                                     requestParameters={"integration.request.path.petId": "method.request.path.petId"})
    assert integration["httpMethod"] == "GET" and integration["passthroughBehavior"] == "WHEN_NO_MATCH"
    assert integration["timeoutInMillis"] == 29000
    with pytest.raises(gw.exceptions.BadRequestException):
        gw.put_integration(restApiId=api_id, resourceId=one["id"], httpMethod="GET", type="HTTP",
                           integrationHttpMethod="GET", uri="http://x", timeoutInMillis=60000)
    gw.put_method_response(restApiId=api_id, resourceId=one["id"], httpMethod="GET", statusCode="200",
                           responseParameters={"method.response.header.X-Id": False})
    gw.put_integration_response(restApiId=api_id, resourceId=one["id"], httpMethod="GET", statusCode="200",
                                responseParameters={"method.response.header.X-Id": "integration.response.header.X-Id"})
    patched = gw.update_integration(restApiId=api_id, resourceId=one["id"], httpMethod="GET", patchOperations=[
        {"op": "replace", "path": "/timeoutInMillis", "value": "5000"},
        {"op": "add", "path": "/requestTemplates/application~1json", "value": '{"id": "$input.params(\'petId\')"}'}])
    assert patched["timeoutInMillis"] == 5000
    assert patched["requestTemplates"] == {"application/json": '{"id": "$input.params(\'petId\')"}'}
    got = gw.get_method(restApiId=api_id, resourceId=one["id"], httpMethod="GET")
    assert got["methodIntegration"]["integrationResponses"]["200"]["responseParameters"] == {
        "method.response.header.X-Id": "integration.response.header.X-Id"}
    assert got["methodResponses"]["200"]["responseParameters"] == {"method.response.header.X-Id": False}
    gw.update_method(restApiId=api_id, resourceId=one["id"], httpMethod="GET",
                     patchOperations=[{"op": "replace", "path": "/apiKeyRequired", "value": "true"}])
    assert gw.get_method(restApiId=api_id, resourceId=one["id"], httpMethod="GET")["apiKeyRequired"] is True
    response = gw.put_gateway_response(restApiId=api_id, responseType="DEFAULT_4XX",
                                       responseParameters={"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"})
    assert response["defaultResponse"] is False
    all_responses = {r["responseType"]: r for r in gw.get_gateway_responses(restApiId=api_id)["items"]}
    assert all_responses["THROTTLED"]["statusCode"] == "429" and all_responses["THROTTLED"]["defaultResponse"]
    assert sorted(m["name"] for m in gw.get_models(restApiId=api_id)["items"]) == ["Empty", "Error", "Pet"]
    assert gw.get_authorizers(restApiId=api_id)["items"][0]["identitySource"] == "method.request.header.Authorization"
    deployment = gw.create_deployment(restApiId=api_id, stageName="dev", description="v1")
    assert deployment["apiSummary"] == {"/animals/{petId}": {"GET": {"authorizationType": "CUSTOM",
                                                                     "apiKeyRequired": True}}}
    with pytest.raises(gw.exceptions.BadRequestException):
        gw.delete_deployment(restApiId=api_id, deploymentId=deployment["id"])  # a stage uses it
    stage = gw.update_stage(restApiId=api_id, stageName="dev", patchOperations=[
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "100"},
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "50"},
        {"op": "replace", "path": "/~1animals~1{petId}/GET/caching/enabled", "value": "true"},
        {"op": "replace", "path": "/*/*/logging/loglevel", "value": "INFO"},
        {"op": "replace", "path": "/variables/backend", "value": "blue"},
        {"op": "replace", "path": "/accessLogSettings/format", "value": "$context.requestId"}])
    assert stage["methodSettings"]["*/*"] == {"throttlingRateLimit": 100.0, "throttlingBurstLimit": 50,
                                             "loggingLevel": "INFO"}
    assert stage["methodSettings"]["animals/{petId}/GET"] == {"cachingEnabled": True}
    assert stage["variables"] == {"backend": "blue"}
    with pytest.raises(gw.exceptions.BadRequestException) as bad:
        gw.update_stage(restApiId=api_id, stageName="dev",
                        patchOperations=[{"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "fast"}])
    assert "/*/*/throttling/rateLimit" in str(bad.value)
    with pytest.raises(gw.exceptions.ConflictException):
        gw.create_stage(restApiId=api_id, stageName="dev", deploymentId=deployment["id"])
    second = gw.create_stage(restApiId=api_id, stageName="qa", deploymentId=deployment["id"], variables={"a": "b"})
    assert second["variables"] == {"a": "b"}
    assert {s["stageName"] for s in gw.get_stages(restApiId=api_id)["item"]} == {"dev", "qa"}
    gw.delete_stage(restApiId=api_id, stageName="qa")
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.get_stage(restApiId=api_id, stageName="qa")
    gw.delete_integration_response(restApiId=api_id, resourceId=one["id"], httpMethod="GET", statusCode="200")
    gw.delete_method_response(restApiId=api_id, resourceId=one["id"], httpMethod="GET", statusCode="200")
    gw.delete_integration(restApiId=api_id, resourceId=one["id"], httpMethod="GET")
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.get_integration(restApiId=api_id, resourceId=one["id"], httpMethod="GET")
    gw.delete_method(restApiId=api_id, resourceId=one["id"], httpMethod="GET")
    gw.delete_resource(restApiId=api_id, resourceId=pets["id"])
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.get_resource(restApiId=api_id, resourceId=one["id"])  # children go with their parent
    for kind, call_ in (("model", lambda: gw.delete_model(restApiId=api_id, modelName="Pet")),
                        ("validator", lambda: gw.delete_request_validator(restApiId=api_id,
                                                                          requestValidatorId=validator["id"])),
                        ("authorizer", lambda: gw.delete_authorizer(restApiId=api_id, authorizerId=authorizer["id"]))):
        call_()
        with pytest.raises(gw.exceptions.NotFoundException):
            call_()


def test_api_keys_and_usage_plans(gw: Any) -> None:
    ids = build_api(gw, unique("plans"), {"/x": {"GET": MOCK}})
    key = gw.create_api_key(name=unique("key"), enabled=True)
    assert len(key["value"]) == 40
    assert "value" not in gw.get_api_key(apiKey=key["id"])
    assert gw.get_api_key(apiKey=key["id"], includeValue=True)["value"] == key["value"]
    plan = gw.create_usage_plan(name="gold", apiStages=[{"apiId": ids["api"], "stage": "test"}],
                                throttle={"burstLimit": 10, "rateLimit": 5.0},
                                quota={"limit": 1000, "period": "MONTH"})
    with pytest.raises(gw.exceptions.BadRequestException):
        gw.create_usage_plan(name="bad", apiStages=[{"apiId": ids["api"], "stage": "nostage"}])
    plan_key = gw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    assert plan_key["id"] == key["id"] and plan_key["type"] == "API_KEY"
    assert [k["id"] for k in gw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == [key["id"]]
    updated = gw.update_usage_plan(usagePlanId=plan["id"], patchOperations=[
        {"op": "replace", "path": "/throttle/rateLimit", "value": "20"},
        {"op": "replace", "path": "/quota/limit", "value": "50"}])
    assert updated["throttle"] == {"burstLimit": 10, "rateLimit": 20.0}
    assert updated["quota"]["limit"] == 50
    assert [p["id"] for p in gw.get_usage_plans(keyId=key["id"])["items"]] == [plan["id"]]
    gw.delete_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"])
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.get_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"])
    csv_body = f"Name,Key,Description,Enabled,UsagePlanIds\nimported,{'i' * 24},from csv,true,{plan['id']}\n"
    imported = gw.import_api_keys(body=csv_body.encode(), format="csv")
    assert len(imported["ids"]) == 1
    assert gw.get_api_key(apiKey=imported["ids"][0], includeValue=True)["value"] == "i" * 24
    assert imported["ids"][0] in [k["id"] for k in gw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]]
    with pytest.raises(gw.exceptions.BadRequestException):
        gw.import_api_keys(body=b"Name,Key\nshort,abc\n", format="csv")  # keys have at least 20 characters
    gw.delete_usage_plan(usagePlanId=plan["id"])
    gw.delete_api_key(apiKey=key["id"])
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.get_api_key(apiKey=key["id"])


def test_an_aws_export_imports_unchanged_and_exports_again(gw: Any, shared_broker: BrokerProcess) -> None:
    document = AWS_EXPORT.read_bytes()
    api = gw.import_rest_api(body=document)
    assert api["name"] == "PetStore"
    assert api["binaryMediaTypes"] == ["image/png", "image/jpeg"]
    assert json.loads(api["policy"])["Statement"][0]["Action"] == "execute-api:Invoke"
    resources = {r["path"]: r for r in gw.get_resources(restApiId=api["id"], embed=["methods"])["items"]}
    assert set(resources) == {"/", "/pets", "/pets/{petId}", "/health", "/{proxy+}"}
    post = resources["/pets"]["resourceMethods"]["POST"]
    assert post["authorizationType"] == "CUSTOM" and post["apiKeyRequired"] is True
    assert post["requestModels"] == {"application/json": "NewPet"}
    assert post["methodIntegration"]["timeoutInMillis"] == 10000
    validators = {v["id"]: v for v in gw.get_request_validators(restApiId=api["id"])["items"]}
    assert validators[post["requestValidatorId"]]["name"] == "body-only"
    get = resources["/pets"]["resourceMethods"]["GET"]
    assert get["requestParameters"] == {"method.request.querystring.page": False,
                                        "method.request.querystring.type": False}
    assert get["methodIntegration"]["integrationResponses"]["200"]["responseParameters"] == {
        "method.response.header.Access-Control-Allow-Origin": "'*'"}
    proxy = resources["/{proxy+}"]["resourceMethods"]["ANY"]["methodIntegration"]
    assert proxy["type"] == "HTTP_PROXY" and proxy["cacheKeyParameters"] == ["method.request.path.proxy"]
    authorizer = gw.get_authorizers(restApiId=api["id"])["items"][0]
    assert authorizer["name"] == "token-authorizer" and authorizer["type"] == "TOKEN"
    assert authorizer["identitySource"] == "method.request.header.Authorization"
    new_pet = json.loads(gw.get_model(restApiId=api["id"], modelName="NewPet")["schema"])
    assert new_pet["properties"]["type"]["$ref"] == (
        f"https://apigateway.amazonaws.com/restapis/{api['id']}/models/PetType")
    unauthorized = gw.get_gateway_response(restApiId=api["id"], responseType="UNAUTHORIZED")
    assert unauthorized["responseParameters"] == {"gatewayresponse.header.WWW-Authenticate": "'Bearer'"}
    gw.create_deployment(restApiId=api["id"], stageName="prod")
    # The exported policy names the API's ARN on AWS, so it lets nobody in here ...
    health = stage_url(shared_broker.aws_url, api["id"], "prod", "/health")
    denied = call("GET", health)
    assert denied.status == 403 and denied.headers["access-control-allow-origin"] == "*"  # DEFAULT_4XX
    gw.update_rest_api(restApiId=api["id"], patchOperations=[{"op": "remove", "path": "/policy"}])
    gw.create_deployment(restApiId=api["id"], stageName="prod")
    assert call("GET", health).json() == {"status": "ok", "stage": "prod"}
    # ... and what it exports imports again into an equivalent API.
    exported = gw.get_export(restApiId=api["id"], stageName="prod", exportType="oas30",
                             parameters={"extensions": "integrations,authorizers,apigateway"},
                             accepts="application/json")
    assert exported["contentType"] == "application/json"
    again = json.loads(exported["body"].read())
    original = json.loads(document)
    assert set(again["paths"]) == set(original["paths"])
    assert again["paths"]["/pets"]["get"]["x-amazon-apigateway-integration"] == \
        original["paths"]["/pets"]["get"]["x-amazon-apigateway-integration"]
    assert again["x-amazon-apigateway-request-validators"] == original["x-amazon-apigateway-request-validators"]
    assert again["components"]["schemas"] == original["components"]["schemas"]
    assert again["components"]["securitySchemes"]["token-authorizer"] == \
        original["components"]["securitySchemes"]["token-authorizer"]
    copy = gw.import_rest_api(body=json.dumps(again).encode())
    copied = {r["path"] for r in gw.get_resources(restApiId=copy["id"])["items"]}
    assert copied == set(resources)
    swagger = gw.get_export(restApiId=api["id"], stageName="prod", exportType="swagger",
                            parameters={"extensions": "integrations"}, accepts="application/yaml")
    swagger_doc = yaml.safe_load(swagger["body"].read())
    assert swagger_doc["swagger"] == "2.0" and swagger_doc["basePath"] == "/prod"
    assert gw.import_rest_api(body=yaml.safe_dump(swagger_doc).encode())["name"] == "PetStore"


def test_swagger_import_and_put_rest_api_modes(gw: Any, shared_broker: BrokerProcess) -> None:
    swagger = {
        "swagger": "2.0", "info": {"title": unique("sw"), "version": "1"},
        "definitions": {"Msg": {"type": "object", "required": ["text"]}},
        "paths": {"/msg": {"post": {
            "consumes": ["application/json"],
            "parameters": [{"in": "body", "name": "Msg", "required": True, "schema": {"$ref": "#/definitions/Msg"}}],
            "responses": {"200": {"description": "ok"}},
            "x-amazon-apigateway-request-validator": "all",
            "x-amazon-apigateway-integration": {
                "type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'},
                "responses": {"default": {"statusCode": "200",
                                          "responseTemplates": {"application/json": '{"v": 1}'}}}}}}},
        "x-amazon-apigateway-request-validators": {"all": {"validateRequestBody": True,
                                                            "validateRequestParameters": True}},
    }
    api = gw.import_rest_api(body=json.dumps(swagger).encode())
    gw.create_deployment(restApiId=api["id"], stageName="s")
    url = stage_url(shared_broker.aws_url, api["id"], "s", "/msg")
    assert call("POST", url, body='{"text": "hi"}', headers={"Content-Type": "application/json"}).json() == {"v": 1}
    assert call("POST", url, body='{}', headers={"Content-Type": "application/json"}).status == 400
    oas3_yaml = """
openapi: 3.0.1
info: {title: iam-yaml}
paths:
  /signed:
    get:
      security: [{sigv4: []}]
      x-amazon-apigateway-integration: {type: mock, requestTemplates: {application/json: '{"statusCode": 200}'}}
  /legacy:
    get:
      x-amazon-apigateway-auth: {type: aws_iam}
      x-amazon-apigateway-integration: {type: mock}
components:
  securitySchemes:
    sigv4: {type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4}
"""
    iam = gw.import_rest_api(body=oas3_yaml.encode())
    methods = {r["path"]: r["resourceMethods"]["GET"]["authorizationType"]
               for r in gw.get_resources(restApiId=iam["id"], embed=["methods"])["items"] if r["path"] != "/"}
    assert methods == {"/signed": "AWS_IAM", "/legacy": "AWS_IAM"}
    gw.create_deployment(restApiId=iam["id"], stageName="s")
    exported = json.loads(gw.get_export(restApiId=iam["id"], stageName="s", exportType="oas30")["body"].read())
    assert exported["paths"]["/signed"]["get"]["security"] == [{"sigv4": []}]
    assert exported["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    merged = dict(swagger, paths={"/other": {"get": {"responses": {"200": {"description": "ok"}},
                                                     "x-amazon-apigateway-integration": {
                                                         "type": "mock", "requestTemplates": {
                                                             "application/json": '{"statusCode": 200}'}}}}})
    gw.put_rest_api(restApiId=api["id"], mode="merge", body=json.dumps(merged).encode())
    assert {r["path"] for r in gw.get_resources(restApiId=api["id"])["items"]} == {"/", "/msg", "/other"}
    gw.put_rest_api(restApiId=api["id"], mode="overwrite", body=json.dumps(merged).encode())
    assert {r["path"] for r in gw.get_resources(restApiId=api["id"])["items"]} == {"/", "/other"}


@pytest.mark.parametrize("document, path", [
    ({"openapi": "3.0.1", "info": {"title": "t"}, "paths": {"/a": {"get": {
        "x-amazon-apigateway-integration": {"type": "mock", "bogusField": 1}}}}},
     "$.paths['/a'].get.x-amazon-apigateway-integration.bogusField"),
    ({"openapi": "3.0.1", "info": {"title": "t"}, "x-amazon-apigateway-unknown-thing": {}},
     "$.x-amazon-apigateway-unknown-thing"),
    ({"openapi": "3.0.1", "info": {"title": "t"}, "paths": {"/a": {"get": {
        "x-amazon-apigateway-integration": {"type": "http", "httpMethod": "GET", "uri": "http://x",
                                            "responses": {"default": {"responseTemplates": {}}}}}}}},
     "$.paths['/a'].get.x-amazon-apigateway-integration.responses.default"),
    ({"openapi": "3.0.1", "info": {"title": "t"}, "x-amazon-apigateway-gateway-responses": {"NOT_A_TYPE": {}}},
     "$.x-amazon-apigateway-gateway-responses.NOT_A_TYPE"),
    ({"openapi": "3.0.1", "info": {"title": "t"}, "components": {"schemas": {"Bad": {"type": 5}}}},
     "$.components.schemas.Bad"),
])
def test_malformed_definitions_name_the_json_path(gw: Any, document: dict[str, Any], path: str) -> None:
    with pytest.raises(gw.exceptions.BadRequestException) as bad:
        gw.import_rest_api(body=json.dumps(document).encode())
    assert path in bad.value.response["Error"]["Message"]


def test_not_openapi_is_refused(gw: Any) -> None:
    for body in (b"not json or yaml: [", b'{"hello": "world"}', b"[1, 2]"):
        with pytest.raises(gw.exceptions.BadRequestException):
            gw.import_rest_api(body=body)


def test_definitions_survive_a_crash(broker: BrokerProcess) -> None:
    gw = apigw_client(broker.aws_url)
    ids = build_api(gw, unique("durable"), {"/a/{b}": {"GET": MOCK}})
    gw.update_stage(restApiId=ids["api"], stageName="test",
                    patchOperations=[{"op": "replace", "path": "/variables/v", "value": "1"}])
    key = gw.create_api_key(name="k", enabled=True)
    plan = gw.create_usage_plan(name="p", apiStages=[{"apiId": ids["api"], "stage": "test"}])
    broker.restart(hard=True)
    gw = apigw_client(broker.aws_url)
    assert gw.get_rest_api(restApiId=ids["api"])["name"].startswith("durable")
    assert gw.get_stage(restApiId=ids["api"], stageName="test")["variables"] == {"v": "1"}
    assert gw.get_api_key(apiKey=key["id"])["name"] == "k"
    assert gw.get_usage_plan(usagePlanId=plan["id"])["name"] == "p"
    assert call("GET", stage_url(broker.aws_url, ids["api"], "test", "/a/1")).json() == {"ok": True}


def test_tags_by_arn_and_account(gw: Any) -> None:
    ids = build_api(gw, unique("tags"), {"/t": {"GET": MOCK}})
    api_arn = f"arn:aws:apigateway:us-east-1::/restapis/{ids['api']}"
    stage_arn = f"{api_arn}/stages/test"
    gw.tag_resource(resourceArn=api_arn, tags={"team": "a", "env": "dev"})
    gw.tag_resource(resourceArn=stage_arn, tags={"tier": "1"})
    gw.untag_resource(resourceArn=api_arn, tagKeys=["env"])
    assert gw.get_tags(resourceArn=api_arn)["tags"] == {"team": "a"}
    assert gw.get_rest_api(restApiId=ids["api"])["tags"] == {"team": "a"}
    assert gw.get_stage(restApiId=ids["api"], stageName="test")["tags"] == {"tier": "1"}
    key = gw.create_api_key(name="tagged")
    gw.tag_resource(resourceArn=f"arn:aws:apigateway:us-east-1::/apikeys/{key['id']}", tags={"k": "v"})
    assert gw.get_api_key(apiKey=key["id"])["tags"] == {"k": "v"}
    with pytest.raises(gw.exceptions.BadRequestException):
        gw.get_tags(resourceArn="arn:aws:sqs:us-east-1:000000000000:q")
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.get_tags(resourceArn="arn:aws:apigateway:us-east-1::/restapis/nope123456")
    assert gw.get_account()["throttleSettings"] == {"burstLimit": 5000, "rateLimit": 10000.0}
    role = "arn:aws:iam::000000000000:role/apigw-cloudwatch"
    updated = gw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
    assert updated["cloudwatchRoleArn"] == role and gw.get_account()["cloudwatchRoleArn"] == role


def test_test_invoke_method_runs_the_current_definition(gw: Any) -> None:
    api = gw.create_rest_api(name=unique("testinvoke"))
    resource = gw.create_resource(restApiId=api["id"], parentId=api["rootResourceId"], pathPart="{name}")
    gw.put_method(restApiId=api["id"], resourceId=resource["id"], httpMethod="POST", authorizationType="NONE",
                  apiKeyRequired=True)
    gw.put_integration(restApiId=api["id"], resourceId=resource["id"], httpMethod="POST", type="MOCK",
                       requestTemplates={"application/json": '{"statusCode": 200}'})
    gw.put_integration_response(restApiId=api["id"], resourceId=resource["id"], httpMethod="POST", statusCode="200",
                                responseTemplates={"application/json":
                                                   '{"name": "$input.params(\'name\')", "q": "$input.params(\'q\')", '
                                                   '"v": "$stageVariables.v"}'})
    result = gw.test_invoke_method(restApiId=api["id"], resourceId=resource["id"], httpMethod="POST",
                                   pathWithQueryString="/ann?q=1", body="{}", stageVariables={"v": "x"},
                                   headers={"Content-Type": "application/json"})
    assert result["status"] == 200
    assert json.loads(result["body"]) == {"name": "ann", "q": "1", "v": "x"}
    assert "Method completed with status: 200" in result["log"]
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.test_invoke_method(restApiId=api["id"], resourceId=resource["id"], httpMethod="GET")


def test_signed_requests_are_verified(store_url: str, tmp_path: Path) -> None:
    import boto3

    proc = BrokerProcess(store_url, tmp_path, extra=["--aws-credentials", "AKIDGW:SECRETGW"]).start()
    try:
        def client(secret: str) -> Any:
            return boto3.client("apigateway", endpoint_url=proc.aws_url, region_name="us-east-1",
                                aws_access_key_id="AKIDGW", aws_secret_access_key=secret)
        good = client("SECRETGW")
        api = good.create_rest_api(name="signed api")
        arn = f"arn:aws:apigateway:us-east-1::/restapis/{api['id']}"  # an encoded path segment, signed
        good.tag_resource(resourceArn=arn, tags={"a": "b c"})
        assert good.get_tags(resourceArn=arn)["tags"] == {"a": "b c"}
        with pytest.raises(Exception) as refused:
            client("WRONG").get_rest_apis()
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        # AWS_IAM methods: the caller signs for execute-api.
        ids = build_api(good, unique("iam"), {"/me": {"GET": {
            "method": {"authorizationType": "AWS_IAM"},
            "integration": MOCK["integration"],
            "responses": {"200": {"responseTemplates": {"application/json":
                                                        '{"caller": "$context.identity.caller"}'}}}}}})
        url = stage_url(proc.aws_url, ids["api"], "test", "/me")
        assert call("GET", url).status == 403
        assert call("GET", url).json() == {"message": "Missing Authentication Token"}
        assert call("GET", url, headers=_signed("GET", url, "SECRETGW")).json() == {"caller": "AKIDGW"}
        forged = call("GET", url, headers=_signed("GET", url, "WRONG"))
        assert forged.status == 403
        assert forged.json()["message"].startswith("The request signature we calculated does not match")
    finally:
        proc.kill()


def _signed(method: str, url: str, secret: str) -> dict[str, str]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url)
    SigV4Auth(Credentials("AKIDGW", secret), "execute-api", "us-east-1").add_auth(request)
    return dict(request.headers.items())
