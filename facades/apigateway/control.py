"""Control-plane operations on REST APIs and everything inside them.

Handlers take the shared :class:`ApiGatewayState`, the request context and
the typed params, and return the output shape's members. Documents are kept
in the output shapes' own form, so a Get returns what was stored.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import SchemaError

from facades.apigateway import patch
from facades.apigateway.responses import DEFAULT_STATUS, default_response
from facades.apigateway.service import apigateway_model, bad_request, conflict, not_found
from facades.apigateway.state import ApiGatewayState, new_id
from facades.aws.service import AwsRequestContext, Params

Doc = dict[str, Any]

_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY"})
_INTEGRATION_TYPES = frozenset({"HTTP", "HTTP_PROXY", "AWS", "AWS_PROXY", "MOCK"})


def _shape(name: str) -> Any:
    return apigateway_model().shape_for(name)


def _pick(params: Params, *names: str) -> Doc:
    return {n: copy.deepcopy(params[n]) for n in names if n in params}


def _items(docs: Any) -> Doc:
    return {"items": list(docs)}


# -- lookups ------------------------------------------------------------------


def api_doc(state: ApiGatewayState, api_id: str) -> Doc:
    doc = state.api(api_id)
    if doc is None:
        raise not_found(f"Invalid API identifier specified {state.account}:{api_id}")
    return doc


def resource_doc(doc: Doc, resource_id: str) -> Doc:
    resource = doc["resources"].get(resource_id)
    if resource is None:
        raise not_found("Invalid Resource identifier specified")
    return resource


def method_doc(doc: Doc, resource_id: str, http_method: str) -> Doc:
    method = resource_doc(doc, resource_id).get("resourceMethods", {}).get(http_method.upper())
    if method is None:
        raise not_found("Invalid Method identifier specified")
    return method


def integration_doc(doc: Doc, resource_id: str, http_method: str) -> Doc:
    integration = method_doc(doc, resource_id, http_method).get("methodIntegration")
    if integration is None:
        raise not_found("Invalid Integration identifier specified")
    return integration


def member(container: Doc, key: str, message: str) -> Doc:
    """``container[key]``, or ``NotFoundException`` with AWS's ``message``."""
    found = container.get(key)
    if found is None:
        raise not_found(message)
    return found


# -- REST APIs ------------------------------------------------------------------


def new_api_doc(state: ApiGatewayState, params: Params) -> Doc:
    api_id, root_id = new_id(), new_id()
    api = _pick(params, "name", "description", "version", "binaryMediaTypes", "minimumCompressionSize",
                "policy", "tags", "disableExecuteApiEndpoint")
    api.update(id=api_id, createdDate=state.now(), rootResourceId=root_id,
               apiKeySource=params.get("apiKeySource", "HEADER"),
               endpointConfiguration=params.get("endpointConfiguration", {"types": ["EDGE"]}))
    api.setdefault("disableExecuteApiEndpoint", False)
    return {"api": api, "resources": {root_id: {"id": root_id, "path": "/"}}, "models": {},
            "validators": {}, "authorizers": {}, "gatewayResponses": {}, "stages": {}}


#: The models every REST API created with CreateRestApi starts with, as on AWS.
_DEFAULT_MODELS = (
    ("Empty", "This is a default empty schema model",
     {"$schema": "http://json-schema.org/draft-04/schema#", "title": "Empty Schema", "type": "object"}),
    ("Error", "This is a default error schema model",
     {"$schema": "http://json-schema.org/draft-04/schema#", "title": "Error Schema", "type": "object",
      "properties": {"message": {"type": "string"}}}),
)


def create_rest_api(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    if not params.get("name"):
        raise bad_request("Invalid request input: name is required")
    doc = new_api_doc(state, params)
    for name, description, schema in _DEFAULT_MODELS:
        doc["models"][name] = {"id": new_id(), "name": name, "description": description,
                               "contentType": "application/json", "schema": json.dumps(schema, indent=2)}
    source_id = params.get("cloneFrom")
    if source_id:
        source = api_doc(state, source_id)
        for part in ("resources", "models", "validators", "authorizers", "gatewayResponses"):
            doc[part] = copy.deepcopy(source[part])
        doc["api"]["rootResourceId"] = source["api"]["rootResourceId"]
    state.save_api(doc)
    return doc["api"]


def get_rest_apis(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return _items(d["api"] for d in state.apis().values())


def get_rest_api(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return api_doc(state, params["restApiId"])["api"]


_API_WRITABLE = ("name", "description", "version", "binaryMediaTypes", "minimumCompressionSize",
                 "apiKeySource", "endpointConfiguration", "policy", "disableExecuteApiEndpoint")


def update_rest_api(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    patch.apply(doc["api"], params.get("patchOperations", []), _shape("RestApi"), _API_WRITABLE)
    state.save_api(doc)
    return doc["api"]


def delete_rest_api(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    api_doc(state, params["restApiId"])
    state.drop_api(params["restApiId"])


# -- resources ------------------------------------------------------------------


def _recompute_paths(doc: Doc) -> None:
    resources = doc["resources"]

    def path_of(resource: Doc, depth: int = 0) -> str:
        parent = resources.get(resource.get("parentId", ""))
        if parent is None or depth > len(resources):
            return "/"
        base = path_of(parent, depth + 1)
        return base.rstrip("/") + "/" + resource["pathPart"]

    for resource in resources.values():
        resource["path"] = path_of(resource)


def _check_path_part(doc: Doc, parent_id: str, path_part: str, own_id: str | None = None) -> None:
    if not path_part or "/" in path_part:
        raise bad_request("Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace.")
    for other in doc["resources"].values():
        if other.get("parentId") == parent_id and other.get("pathPart") == path_part and other["id"] != own_id:
            raise conflict(f"Another resource with the same parent already has this name: {path_part}")


def add_resource(doc: Doc, parent_id: str, path_part: str) -> Doc:
    resource_doc(doc, parent_id)
    _check_path_part(doc, parent_id, path_part)
    resource = {"id": new_id(), "parentId": parent_id, "pathPart": path_part}
    doc["resources"][resource["id"]] = resource
    _recompute_paths(doc)
    return resource


def create_resource(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    resource = add_resource(doc, params["parentId"], params["pathPart"])
    state.save_api(doc)
    return resource


def _resource_view(resource: Doc, embed_methods: bool) -> Doc:
    if embed_methods or not resource.get("resourceMethods"):
        return resource
    return {**resource, "resourceMethods": {m: {} for m in resource["resourceMethods"]}}


def get_resource(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    resource = resource_doc(api_doc(state, params["restApiId"]), params["resourceId"])
    return _resource_view(resource, "methods" in params.get("embed", []))


def get_resources(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = api_doc(state, params["restApiId"])
    embed = "methods" in params.get("embed", [])
    ordered = sorted(doc["resources"].values(), key=lambda r: r["path"])
    return _items(_resource_view(r, embed) for r in ordered)


def update_resource(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    resource = resource_doc(doc, params["resourceId"])
    if resource["id"] == doc["api"]["rootResourceId"]:
        raise bad_request("Root resource cannot be updated")
    patch.apply(resource, params.get("patchOperations", []), _shape("Resource"), ("pathPart", "parentId"))
    resource_doc(doc, resource["parentId"])
    _check_path_part(doc, resource["parentId"], resource["pathPart"], resource["id"])
    _recompute_paths(doc)
    state.save_api(doc)
    return resource


def delete_resource(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    target = resource_doc(doc, params["resourceId"])
    if target["id"] == doc["api"]["rootResourceId"]:
        raise bad_request("Cannot delete root resource")
    doomed = {target["id"]}
    grown = True
    while grown:
        before = len(doomed)
        doomed |= {r["id"] for r in doc["resources"].values() if r.get("parentId") in doomed}
        grown = len(doomed) > before
    for resource_id in doomed:
        del doc["resources"][resource_id]
    state.save_api(doc)


# -- methods and their responses ----------------------------------------------


def set_method(doc: Doc, resource_id: str, http_method: str, params: Params) -> Doc:
    http_method = http_method.upper()
    if http_method not in _HTTP_METHODS:
        raise bad_request("Invalid HttpMethod specified. Valid options are GET,PUT,POST,DELETE,PATCH,OPTIONS,HEAD,ANY")
    resource = resource_doc(doc, resource_id)
    authorization = params.get("authorizationType", "NONE")
    if authorization not in ("NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"):
        raise bad_request(f"Invalid authorization type specified: {authorization}. "
                          "Valid values are NONE, AWS_IAM, CUSTOM, COGNITO_USER_POOLS")
    if authorization in ("CUSTOM", "COGNITO_USER_POOLS"):
        if params.get("authorizerId") not in doc["authorizers"]:
            raise bad_request("Invalid authorizer ID specified. Setting the authorization type to CUSTOM or COGNITO_USER_POOLS requires a valid authorizer.")
    validator = params.get("requestValidatorId")
    if validator and validator not in doc["validators"]:
        raise bad_request("Invalid Request Validator identifier specified")
    method = _pick(params, "authorizerId", "requestValidatorId", "operationName", "requestParameters",
                   "requestModels", "authorizationScopes")
    method.update(httpMethod=http_method, authorizationType=authorization,
                  apiKeyRequired=bool(params.get("apiKeyRequired", False)))
    resource.setdefault("resourceMethods", {})[http_method] = method
    return method


def put_method(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    existing = resource_doc(doc, params["resourceId"]).get("resourceMethods", {})
    if params["httpMethod"].upper() in existing:
        raise conflict("Method already exists for this resource")
    method = set_method(doc, params["resourceId"], params["httpMethod"], params)
    state.save_api(doc)
    return method


def get_method(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return method_doc(api_doc(state, params["restApiId"]), params["resourceId"], params["httpMethod"])


_METHOD_WRITABLE = ("authorizationType", "authorizerId", "apiKeyRequired", "requestValidatorId",
                    "operationName", "requestParameters", "requestModels", "authorizationScopes")


def update_method(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    method = method_doc(doc, params["resourceId"], params["httpMethod"])
    patch.apply(method, params.get("patchOperations", []), _shape("Method"), _METHOD_WRITABLE)
    state.save_api(doc)
    return method


def delete_method(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    method_doc(doc, params["resourceId"], params["httpMethod"])
    del resource_doc(doc, params["resourceId"])["resourceMethods"][params["httpMethod"].upper()]
    state.save_api(doc)


def _status_code(params: Params) -> str:
    code = str(params["statusCode"])
    if not (code.isdigit() and len(code) == 3 and code[0] in "12345"):
        raise bad_request("Invalid status code specified")
    return code


def put_method_response(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    method = method_doc(doc, params["resourceId"], params["httpMethod"])
    response = {"statusCode": _status_code(params), **_pick(params, "responseParameters", "responseModels")}
    method.setdefault("methodResponses", {})[response["statusCode"]] = response
    state.save_api(doc)
    return response


def _method_response(doc: Doc, params: Params) -> Doc:
    method = method_doc(doc, params["resourceId"], params["httpMethod"])
    return member(method.get("methodResponses", {}), str(params["statusCode"]),
                   "Invalid Response status code specified")


def get_method_response(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return _method_response(api_doc(state, params["restApiId"]), params)


def update_method_response(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    response = _method_response(doc, params)
    patch.apply(response, params.get("patchOperations", []), _shape("MethodResponse"),
                ("responseParameters", "responseModels"))
    state.save_api(doc)
    return response


def delete_method_response(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    _method_response(doc, params)
    del method_doc(doc, params["resourceId"], params["httpMethod"])["methodResponses"][str(params["statusCode"])]
    state.save_api(doc)


# -- integrations ---------------------------------------------------------------


def check_integration(integration: Doc) -> None:
    kind = integration.get("type")
    if kind not in _INTEGRATION_TYPES:
        raise bad_request(f"Invalid integration type specified: {kind}")
    if kind != "MOCK":
        if not integration.get("uri"):
            raise bad_request("Invalid URI specified")
        if not integration.get("httpMethod"):
            raise bad_request("Enumeration value for HttpMethod must be non-empty")
    if kind in ("HTTP", "HTTP_PROXY") and not integration["uri"].startswith(("http://", "https://")):
        raise bad_request("Invalid HTTP endpoint specified for URI")
    if kind in ("AWS", "AWS_PROXY") and not integration["uri"].startswith("arn:aws:apigateway:"):
        raise bad_request("AWS ARN for integration must contain path or action")
    if kind == "AWS_PROXY" and ":lambda:path/" not in integration["uri"]:
        raise bad_request("Integrations of type 'AWS_PROXY' currently only supports Lambda function and Firehose stream invocations.")
    timeout = integration.get("timeoutInMillis", 29000)
    if not 50 <= timeout <= 29000:
        raise bad_request("Timeout should be between 50 ms and 29000 ms")
    if integration.get("passthroughBehavior", "WHEN_NO_MATCH") not in ("WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER"):
        raise bad_request("Invalid passthrough behavior specified. Must be one of WHEN_NO_MATCH, WHEN_NO_TEMPLATES, NEVER")


def set_integration(doc: Doc, resource_id: str, http_method: str, params: Params) -> Doc:
    method = method_doc(doc, resource_id, http_method)
    integration = _pick(params, "type", "uri", "connectionType", "connectionId", "credentials",
                        "requestParameters", "requestTemplates", "contentHandling", "tlsConfig")
    if "integrationHttpMethod" in params:
        integration["httpMethod"] = params["integrationHttpMethod"].upper()
    integration["passthroughBehavior"] = params.get("passthroughBehavior", "WHEN_NO_MATCH")
    integration["timeoutInMillis"] = params.get("timeoutInMillis", 29000)
    integration["cacheNamespace"] = params.get("cacheNamespace", resource_id)
    integration["cacheKeyParameters"] = list(params.get("cacheKeyParameters", []))
    integration.setdefault("connectionType", "INTERNET")
    check_integration(integration)
    method["methodIntegration"] = integration
    return integration


def put_integration(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    integration = set_integration(doc, params["resourceId"], params["httpMethod"], params)
    state.save_api(doc)
    return integration


def get_integration(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return integration_doc(api_doc(state, params["restApiId"]), params["resourceId"], params["httpMethod"])


_INTEGRATION_WRITABLE = ("httpMethod", "uri", "credentials", "requestParameters", "requestTemplates",
                         "passthroughBehavior", "contentHandling", "timeoutInMillis", "cacheNamespace",
                         "cacheKeyParameters", "connectionType", "connectionId", "tlsConfig")


def update_integration(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    integration = integration_doc(doc, params["resourceId"], params["httpMethod"])
    patch.apply(integration, params.get("patchOperations", []), _shape("Integration"), _INTEGRATION_WRITABLE)
    check_integration(integration)
    state.save_api(doc)
    return integration


def delete_integration(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    integration_doc(doc, params["resourceId"], params["httpMethod"])
    del method_doc(doc, params["resourceId"], params["httpMethod"])["methodIntegration"]
    state.save_api(doc)


def put_integration_response(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    integration = integration_doc(doc, params["resourceId"], params["httpMethod"])
    response = {"statusCode": _status_code(params),
                **_pick(params, "selectionPattern", "responseParameters", "responseTemplates", "contentHandling")}
    integration.setdefault("integrationResponses", {})[response["statusCode"]] = response
    state.save_api(doc)
    return response


def _integration_response(doc: Doc, params: Params) -> Doc:
    integration = integration_doc(doc, params["resourceId"], params["httpMethod"])
    return member(integration.get("integrationResponses", {}), str(params["statusCode"]),
                   "Invalid Response status code specified")


def get_integration_response(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return _integration_response(api_doc(state, params["restApiId"]), params)


def update_integration_response(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    response = _integration_response(doc, params)
    patch.apply(response, params.get("patchOperations", []), _shape("IntegrationResponse"),
                ("selectionPattern", "responseParameters", "responseTemplates", "contentHandling"))
    state.save_api(doc)
    return response


def delete_integration_response(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    _integration_response(doc, params)
    del integration_doc(doc, params["resourceId"], params["httpMethod"])["integrationResponses"][str(params["statusCode"])]
    state.save_api(doc)


# -- models, validators, authorizers, gateway responses -----------------------


def check_schema(schema: str | None) -> None:
    """A model's schema must be a JSON Schema (draft 4) document, as AWS checks on write."""
    if schema is None:
        return
    try:
        Draft4Validator.check_schema(json.loads(schema))
    except (ValueError, SchemaError) as error:
        raise bad_request(f"Invalid model specified: Validation Result: warnings : [], errors : "
                          f"[Invalid model schema specified: {str(error).splitlines()[0]}]") from None


def create_model(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    if params["name"] in doc["models"]:
        raise conflict("Model name already exists for this REST API")
    if not params["name"].isalnum():
        raise bad_request("Model name must be alphanumeric")
    check_schema(params.get("schema"))
    model = {"id": new_id(), **_pick(params, "name", "description", "schema", "contentType")}
    doc["models"][model["name"]] = model
    state.save_api(doc)
    return model


def _model(doc: Doc, name: str) -> Doc:
    return member(doc["models"], name, f"Invalid model name specified: {name}")


def get_model(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return _model(api_doc(state, params["restApiId"]), params["modelName"])


def get_models(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return _items(api_doc(state, params["restApiId"])["models"].values())


def update_model(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    model = _model(doc, params["modelName"])
    patch.apply(model, params.get("patchOperations", []), _shape("Model"), ("schema", "description"))
    check_schema(model.get("schema"))
    state.save_api(doc)
    return model


def delete_model(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    _model(doc, params["modelName"])
    del doc["models"][params["modelName"]]
    state.save_api(doc)


def create_request_validator(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    validator = {"id": new_id(6), "name": params.get("name", ""),
                 "validateRequestBody": bool(params.get("validateRequestBody", False)),
                 "validateRequestParameters": bool(params.get("validateRequestParameters", False))}
    doc["validators"][validator["id"]] = validator
    state.save_api(doc)
    return validator


def _validator(doc: Doc, validator_id: str) -> Doc:
    return member(doc["validators"], validator_id, "Invalid Request Validator identifier specified")


def get_request_validator(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return _validator(api_doc(state, params["restApiId"]), params["requestValidatorId"])


def get_request_validators(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return _items(api_doc(state, params["restApiId"])["validators"].values())


def update_request_validator(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    validator = _validator(doc, params["requestValidatorId"])
    patch.apply(validator, params.get("patchOperations", []), _shape("RequestValidator"),
                ("name", "validateRequestBody", "validateRequestParameters"))
    state.save_api(doc)
    return validator


def delete_request_validator(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    _validator(doc, params["requestValidatorId"])
    del doc["validators"][params["requestValidatorId"]]
    state.save_api(doc)


_AUTHORIZER_FIELDS = ("name", "type", "providerARNs", "authType", "authorizerUri", "authorizerCredentials",
                      "identitySource", "identityValidationExpression", "authorizerResultTtlInSeconds")


def check_authorizer(authorizer: Doc) -> None:
    kind = authorizer.get("type")
    if kind not in ("TOKEN", "REQUEST", "COGNITO_USER_POOLS"):
        raise bad_request(f"Invalid authorizer type specified: {kind}")
    if kind == "COGNITO_USER_POOLS" and not authorizer.get("providerARNs"):
        raise bad_request("ProviderARNs need to be specified for COGNITO_USER_POOLS authorizer")
    if kind in ("TOKEN", "REQUEST") and not authorizer.get("authorizerUri"):
        raise bad_request("Authorizer URI must be specified for a TOKEN or REQUEST authorizer")
    if not 0 <= authorizer.get("authorizerResultTtlInSeconds", 300) <= 3600:
        raise bad_request("Authorizer result TTL must be between 0 and 3600 seconds")


def create_authorizer(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    authorizer = {"id": new_id(6), **_pick(params, *_AUTHORIZER_FIELDS)}
    authorizer.setdefault("authorizerResultTtlInSeconds", 300)
    if authorizer.get("type") == "TOKEN":
        authorizer.setdefault("identitySource", "method.request.header.Authorization")
    check_authorizer(authorizer)
    doc["authorizers"][authorizer["id"]] = authorizer
    state.save_api(doc)
    return authorizer


def _authorizer(doc: Doc, authorizer_id: str) -> Doc:
    return member(doc["authorizers"], authorizer_id, "Invalid Authorizer identifier specified")


def get_authorizer(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return _authorizer(api_doc(state, params["restApiId"]), params["authorizerId"])


def get_authorizers(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return _items(api_doc(state, params["restApiId"])["authorizers"].values())


def update_authorizer(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    authorizer = _authorizer(doc, params["authorizerId"])
    patch.apply(authorizer, params.get("patchOperations", []), _shape("Authorizer"), _AUTHORIZER_FIELDS)
    check_authorizer(authorizer)
    state.save_api(doc)
    return authorizer


def delete_authorizer(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    _authorizer(doc, params["authorizerId"])
    del doc["authorizers"][params["authorizerId"]]
    state.save_api(doc)


def _response_type(params: Params) -> str:
    kind = params["responseType"]
    if kind not in DEFAULT_STATUS:
        raise bad_request(f"Invalid response type specified: {kind}")
    return kind


def put_gateway_response(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    kind = _response_type(params)
    response = {"responseType": kind, "defaultResponse": False,
                **_pick(params, "statusCode", "responseParameters", "responseTemplates")}
    doc["gatewayResponses"][kind] = response
    state.save_api(doc)
    return response


def get_gateway_response(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = api_doc(state, params["restApiId"])
    kind = _response_type(params)
    return doc["gatewayResponses"].get(kind) or default_response(kind)


def get_gateway_responses(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = api_doc(state, params["restApiId"])
    return _items(doc["gatewayResponses"].get(k) or default_response(k) for k in DEFAULT_STATUS)


def update_gateway_response(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    kind = _response_type(params)
    response = doc["gatewayResponses"].get(kind) or {**default_response(kind), "defaultResponse": False}
    patch.apply(response, params.get("patchOperations", []), _shape("GatewayResponse"),
                ("statusCode", "responseParameters", "responseTemplates"))
    doc["gatewayResponses"][kind] = response
    state.save_api(doc)
    return response


def delete_gateway_response(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    kind = _response_type(params)
    if kind not in doc["gatewayResponses"]:
        raise not_found("Invalid Gateway Response identifier specified")
    del doc["gatewayResponses"][kind]
    state.save_api(doc)
