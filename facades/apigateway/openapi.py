"""OpenAPI 3.0 / Swagger 2.0 in and out, with the ``x-amazon-apigateway-*`` extensions.

Import reads documents as ``aws apigateway get-export --extensions
integrations,authorizers,apigateway`` writes them (and as people write them
by hand); export writes them the same way from a stage's deployment, so an
export imports unchanged. A malformed document or an unknown extension is
``BadRequestException`` naming the JSON path of the offending value.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import yaml

from facades.apigateway import control
from facades.apigateway.control import Doc, api_doc
from facades.apigateway.responses import DEFAULT_STATUS
from facades.apigateway.service import bad_request
from facades.apigateway.stages import stage_doc
from facades.apigateway.state import ApiGatewayState, new_id
from facades.aws.service import AwsRequestContext, Params

EXT = "x-amazon-apigateway-"
MODEL_URL = "https://apigateway.amazonaws.com/restapis/{api}/models/{name}"
_MODEL_URL_RE = re.compile(r"https://apigateway\.amazonaws\.com/restapis/[^/]+/models/([^/\"]+)")
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
ANY_METHOD = EXT + "any-method"

#: Extensions understood at each level of the document; any other
#: ``x-amazon-apigateway-*`` key there is refused.
_ROOT_EXTENSIONS = {"api-key-source", "binary-media-types", "request-validators", "request-validator",
                    "gateway-responses", "policy", "minimum-compression-size", "endpoint-configuration",
                    "documentation", "tag-value", "importexport-version", "disable-execute-api-endpoint"}
_OPERATION_EXTENSIONS = {"integration", "request-validator", "auth", "api-key-source"}
_INTEGRATION_KEYS = {"type", "httpMethod", "uri", "connectionType", "connectionId", "credentials",
                     "requestParameters", "requestTemplates", "passthroughBehavior", "contentHandling",
                     "timeoutInMillis", "cacheNamespace", "cacheKeyParameters", "responses", "tlsConfig",
                     "integrationTarget", "responseTransferMode"}
_INTEGRATION_RESPONSE_KEYS = {"statusCode", "responseParameters", "responseTemplates", "contentHandling"}
_AUTHORIZER_KEYS = {"type", "authorizerUri", "authorizerCredentials", "identitySource",
                    "identityValidationExpression", "authorizerResultTtlInSeconds", "providerARNs"}


def _invalid(path: str, reason: str) -> Exception:
    return bad_request(f"Invalid OpenAPI input: {reason} at '{path}'")


def _expect(value: Any, kind: type | tuple[type, ...], path: str) -> Any:
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise _invalid(path, f"expected {names.replace('dict', 'object').replace('str', 'string')}")
    return value


def _check_extensions(node: Doc, allowed: set[str], path: str) -> None:
    for key in node:
        if isinstance(key, str) and key.startswith(EXT) and key[len(EXT):] not in allowed:
            raise _invalid(f"{path}.{key}", f"unsupported extension {key}")


def parse_document(body: bytes) -> Doc:
    """The OpenAPI document in a request body (JSON or YAML)."""
    try:
        text = body.decode("utf-8")
        document = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
        raise bad_request(f"Invalid OpenAPI input: the definition is neither valid JSON nor YAML ({error})") from None
    if not isinstance(document, dict):
        raise bad_request("Invalid OpenAPI input: the definition must be an object")
    if not (str(document.get("openapi", "")).startswith("3.") or str(document.get("swagger", "")) == "2.0"):
        raise bad_request("Invalid OpenAPI input: only OpenAPI 3.0 ('openapi: 3.0.x') and Swagger 2.0 "
                          "('swagger: \"2.0\"') are supported")
    return document


# -- import -------------------------------------------------------------------------


class _Importer:
    def __init__(self, state: ApiGatewayState, doc: Doc, document: Doc) -> None:
        self.state = state
        self.doc = doc
        self.document = document
        self.oas3 = "openapi" in document
        self.api_id = doc["api"]["id"]

    def run(self) -> None:
        document = self.document
        _check_extensions(document, _ROOT_EXTENSIONS, "$")
        info = _expect(document.get("info", {}), dict, "$.info")
        api = self.doc["api"]
        if "title" in info:
            api["name"] = str(info["title"])
        if not api.get("name"):
            raise _invalid("$.info.title", "the API needs a title")
        for source, target in (("description", "description"), ("version", "version")):
            if source in info:
                api[target] = str(info[source])
        if EXT + "api-key-source" in document:
            source = document[EXT + "api-key-source"]
            if source not in ("HEADER", "AUTHORIZER"):
                raise _invalid(f"$.{EXT}api-key-source", "must be HEADER or AUTHORIZER")
            api["apiKeySource"] = source
        if EXT + "binary-media-types" in document:
            api["binaryMediaTypes"] = list(_expect(document[EXT + "binary-media-types"], list,
                                                   f"$.{EXT}binary-media-types"))
        if EXT + "policy" in document:
            policy = document[EXT + "policy"]
            api["policy"] = policy if isinstance(policy, str) else json.dumps(policy)
        if EXT + "minimum-compression-size" in document:
            api["minimumCompressionSize"] = int(document[EXT + "minimum-compression-size"])
        self._models()
        self._validators()
        self._authorizers()
        self._gateway_responses()
        self._paths()

    def _models(self) -> None:
        schemas = (self.document.get("components", {}) or {}).get("schemas", {}) if self.oas3 \
            else self.document.get("definitions", {})
        base = "$.components.schemas" if self.oas3 else "$.definitions"
        for name, schema in _expect(schemas or {}, dict, base).items():
            _expect(schema, dict, f"{base}.{name}")
            existing = self.doc["models"].get(name, {})
            text = json.dumps(self._aws_refs(schema))
            try:
                control.check_schema(text)
            except Exception as error:
                raise _invalid(f"{base}.{name}", str(error)) from None
            self.doc["models"][name] = {"id": existing.get("id", new_id()), "name": name,
                                        "contentType": "application/json", "schema": text}

    def _aws_refs(self, schema: Any) -> Any:
        """Local ``$ref``s rewritten to the model URLs API Gateway stores."""
        if isinstance(schema, dict):
            out = {}
            for key, value in schema.items():
                if key == "$ref" and isinstance(value, str) and value.startswith("#/"):
                    name = value.rsplit("/", 1)[-1]
                    out[key] = MODEL_URL.format(api=self.api_id, name=name)
                else:
                    out[key] = self._aws_refs(value)
            return out
        if isinstance(schema, list):
            return [self._aws_refs(v) for v in schema]
        return schema

    def _validators(self) -> None:
        key = EXT + "request-validators"
        self.validator_ids = {v["name"]: v["id"] for v in self.doc["validators"].values()}
        for name, spec in _expect(self.document.get(key, {}), dict, f"$.{key}").items():
            _expect(spec, dict, f"$.{key}.{name}")
            for field in spec:
                if field not in ("validateRequestBody", "validateRequestParameters"):
                    raise _invalid(f"$.{key}.{name}.{field}", f"unknown property {field}")
            validator_id = self.validator_ids.get(name) or new_id(6)
            self.doc["validators"][validator_id] = {
                "id": validator_id, "name": name,
                "validateRequestBody": bool(spec.get("validateRequestBody", False)),
                "validateRequestParameters": bool(spec.get("validateRequestParameters", False))}
            self.validator_ids[name] = validator_id
        default = self.document.get(EXT + "request-validator")
        if default is not None and default not in self.validator_ids:
            raise _invalid(f"$.{EXT}request-validator", f"unknown request validator {default}")
        self.default_validator = default

    def _authorizers(self) -> None:
        if self.oas3:
            schemes = (self.document.get("components", {}) or {}).get("securitySchemes", {}) or {}
            base = "$.components.securitySchemes"
        else:
            schemes = self.document.get("securityDefinitions", {}) or {}
            base = "$.securityDefinitions"
        self.authorizer_ids = {a["name"]: a["id"] for a in self.doc["authorizers"].values()}
        self.api_key_schemes: set[str] = set()
        self.iam_schemes: set[str] = set()
        self.authorizer_types: dict[str, str] = {}
        for name, scheme in _expect(schemes, dict, base).items():
            path = f"{base}.{name}"
            _expect(scheme, dict, path)
            _check_extensions(scheme, {"authorizer", "authtype"}, path)
            spec = scheme.get(EXT + "authorizer")
            if spec is None:
                if str(scheme.get(EXT + "authtype", "")).lower() == "awssigv4":
                    self.iam_schemes.add(name)
                elif scheme.get("type") == "apiKey":
                    self.api_key_schemes.add(name)
                continue
            _expect(spec, dict, f"{path}.{EXT}authorizer")
            for field in spec:
                if field not in _AUTHORIZER_KEYS:
                    raise _invalid(f"{path}.{EXT}authorizer.{field}", f"unknown property {field}")
            kind = str(spec.get("type", "")).upper()
            authorizer_id = self.authorizer_ids.get(name) or new_id(6)
            authorizer = {"id": authorizer_id, "name": name, "type": kind,
                          "authType": scheme.get(EXT + "authtype", "custom")}
            for field in _AUTHORIZER_KEYS - {"type"}:
                if field in spec:
                    authorizer[field] = spec[field]
            if kind == "TOKEN" and "identitySource" not in authorizer and scheme.get("in") == "header":
                authorizer["identitySource"] = f"method.request.header.{scheme.get('name', 'Authorization')}"
            authorizer.setdefault("authorizerResultTtlInSeconds", 300)
            try:
                control.check_authorizer(authorizer)
            except Exception as error:
                raise _invalid(f"{path}.{EXT}authorizer", str(error)) from None
            self.doc["authorizers"][authorizer_id] = authorizer
            self.authorizer_ids[name] = authorizer_id
            self.authorizer_types[name] = "COGNITO_USER_POOLS" if kind == "COGNITO_USER_POOLS" else "CUSTOM"

    def _gateway_responses(self) -> None:
        key = EXT + "gateway-responses"
        for kind, spec in _expect(self.document.get(key, {}), dict, f"$.{key}").items():
            path = f"$.{key}.{kind}"
            if kind not in DEFAULT_STATUS:
                raise _invalid(path, f"unknown gateway response type {kind}")
            _expect(spec, dict, path)
            response = {"responseType": kind, "defaultResponse": False}
            for field in ("statusCode", "responseParameters", "responseTemplates"):
                if field in spec:
                    response[field] = str(spec[field]) if field == "statusCode" else spec[field]
            self.doc["gatewayResponses"][kind] = response

    def _resource_for(self, path: str) -> Doc:
        by_path = {r["path"]: r for r in self.doc["resources"].values()}
        root = self.doc["resources"][self.doc["api"]["rootResourceId"]]
        current = root
        for part in [p for p in path.split("/") if p]:
            wanted = current["path"].rstrip("/") + "/" + part
            found = by_path.get(wanted)
            if found is None:
                found = control.add_resource(self.doc, current["id"], part)
                by_path[wanted] = found
            current = found
        return current

    def _paths(self) -> None:
        paths = _expect(self.document.get("paths", {}) or {}, dict, "$.paths")
        for path, item in paths.items():
            base = f"$.paths['{path}']"
            if not str(path).startswith("/"):
                raise _invalid(base, "paths must start with '/'")
            _expect(item, dict, base)
            _check_extensions(item, {"any-method"}, base)
            resource = self._resource_for(path)
            shared = item.get("parameters", [])
            for key, operation in item.items():
                if key in _HTTP_METHODS or key == ANY_METHOD:
                    method = "ANY" if key == ANY_METHOD else key.upper()
                    self._operation(resource, method, _expect(operation, dict, f"{base}.{key}"), shared,
                                    f"{base}.{key}")

    def _operation(self, resource: Doc, http_method: str, operation: Doc, shared: list[Any], path: str) -> None:
        _check_extensions(operation, _OPERATION_EXTENSIONS, path)
        params: Params = {"authorizationType": "NONE"}
        if "operationId" in operation:
            params["operationName"] = str(operation["operationId"])
        request_parameters: dict[str, bool] = {}
        request_models: dict[str, str] = {}
        for index, parameter in enumerate([*shared, *operation.get("parameters", [])]):
            _expect(parameter, dict, f"{path}.parameters[{index}]")
            where = {"path": "path", "query": "querystring", "header": "header"}.get(parameter.get("in", ""))
            if where is not None:
                request_parameters[f"method.request.{where}.{parameter.get('name')}"] = bool(parameter.get("required", False))
            elif parameter.get("in") == "body" and isinstance(parameter.get("schema"), dict):
                model = self._model_name(parameter["schema"])
                if model:
                    for content_type in operation.get("consumes", self.document.get("consumes", ["application/json"])):
                        request_models[content_type] = model
        body = operation.get("requestBody")
        if isinstance(body, dict):
            for content_type, media in (body.get("content") or {}).items():
                model = self._model_name((media or {}).get("schema") or {})
                if model:
                    request_models[content_type] = model
        if request_parameters:
            params["requestParameters"] = request_parameters
        if request_models:
            params["requestModels"] = request_models
        for requirement in operation.get("security", self.document.get("security", [])) or []:
            for scheme, scopes in _expect(requirement, dict, f"{path}.security").items():
                if scheme in self.api_key_schemes:
                    params["apiKeyRequired"] = True
                elif scheme in self.iam_schemes:
                    params["authorizationType"] = "AWS_IAM"
                elif scheme in self.authorizer_ids:
                    params["authorizationType"] = self.authorizer_types[scheme]
                    params["authorizerId"] = self.authorizer_ids[scheme]
                    if scopes:
                        params["authorizationScopes"] = list(scopes)
        auth = operation.get(EXT + "auth")
        if auth is not None:
            kind = str(_expect(auth, dict, f"{path}.{EXT}auth").get("type", "")).upper()
            if kind not in ("AWS_IAM", "NONE"):
                raise _invalid(f"{path}.{EXT}auth.type", "must be aws_iam or none")
            params["authorizationType"] = kind
        validator = operation.get(EXT + "request-validator", self.default_validator)
        if validator is not None:
            if validator not in self.validator_ids:
                raise _invalid(f"{path}.{EXT}request-validator", f"unknown request validator {validator}")
            params["requestValidatorId"] = self.validator_ids[validator]
        method = control.set_method(self.doc, resource["id"], http_method, params)
        for status, response in (operation.get("responses") or {}).items():
            if not str(status).isdigit():
                continue
            method_response: Doc = {"statusCode": str(status)}
            headers = (response or {}).get("headers") or {}
            if headers:
                method_response["responseParameters"] = {f"method.response.header.{h}": False for h in headers}
            models = {}
            for content_type, media in ((response or {}).get("content") or {}).items():
                name = self._model_name((media or {}).get("schema") or {})
                if name:
                    models[content_type] = name
            if not self.oas3 and isinstance((response or {}).get("schema"), dict):
                name = self._model_name(response["schema"])
                if name:
                    models["application/json"] = name
            if models:
                method_response["responseModels"] = models
            method.setdefault("methodResponses", {})[str(status)] = method_response
        integration = operation.get(EXT + "integration")
        if integration is not None:
            self._integration(resource, http_method, _expect(integration, dict, f"{path}.{EXT}integration"),
                              f"{path}.{EXT}integration")

    def _model_name(self, schema: Doc) -> str | None:
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name not in self.doc["models"]:
                raise _invalid(ref, f"unknown model {name}")
            return name
        return None

    def _integration(self, resource: Doc, http_method: str, spec: Doc, path: str) -> None:
        for field in spec:
            if field not in _INTEGRATION_KEYS:
                raise _invalid(f"{path}.{field}", f"unknown property {field}")
        params: Params = {k: copy.deepcopy(v) for k, v in spec.items() if k not in ("responses", "httpMethod")}
        params["type"] = str(spec.get("type", "")).upper()
        if "httpMethod" in spec:
            params["integrationHttpMethod"] = str(spec["httpMethod"])
        if "passthroughBehavior" in spec:
            params["passthroughBehavior"] = str(spec["passthroughBehavior"]).upper()
        if "timeoutInMillis" in spec:
            params["timeoutInMillis"] = int(spec["timeoutInMillis"])
        try:
            integration = control.set_integration(self.doc, resource["id"], http_method, params)
        except Exception as error:
            raise _invalid(path, str(error)) from None
        responses = _expect(spec.get("responses", {}), dict, f"{path}.responses")
        for pattern, response in responses.items():
            _expect(response, dict, f"{path}.responses.{pattern}")
            for field in response:
                if field not in _INTEGRATION_RESPONSE_KEYS:
                    raise _invalid(f"{path}.responses.{pattern}.{field}", f"unknown property {field}")
            if "statusCode" not in response:
                raise _invalid(f"{path}.responses.{pattern}", "statusCode is required")
            entry = {"statusCode": str(response["statusCode"]),
                     **{k: response[k] for k in ("responseParameters", "responseTemplates", "contentHandling")
                        if k in response}}
            if pattern != "default":
                entry["selectionPattern"] = pattern
            integration.setdefault("integrationResponses", {})[entry["statusCode"]] = entry


def _fresh_definitions(doc: Doc) -> None:
    root = doc["api"]["rootResourceId"]
    doc["resources"] = {root: {"id": root, "path": "/"}}
    for part in ("models", "validators", "authorizers", "gatewayResponses"):
        doc[part] = {}


def import_rest_api(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    document = parse_document(params["body"])
    settings = params.get("parameters", {})
    doc = control.new_api_doc(state, {})
    endpoint = settings.get("endpointConfigurationTypes")
    if endpoint:
        if endpoint not in ("EDGE", "REGIONAL", "PRIVATE"):
            raise bad_request(f"Invalid endpoint configuration type: {endpoint}")
        doc["api"]["endpointConfiguration"] = {"types": [endpoint]}
    _Importer(state, doc, document).run()
    state.save_api(doc)
    return doc["api"]


def put_rest_api(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    document = parse_document(params["body"])
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    mode = params.get("mode", "merge")
    if mode not in ("merge", "overwrite"):
        raise bad_request("Invalid mode specified. Must be merge or overwrite")
    if mode == "overwrite":
        _fresh_definitions(doc)
        for field in ("description", "binaryMediaTypes", "policy", "version"):
            doc["api"].pop(field, None)
    _Importer(state, doc, document).run()
    state.save_api(doc)
    return doc["api"]


# -- export -------------------------------------------------------------------------


class _Exporter:
    def __init__(self, state: ApiGatewayState, api_id: str, stage: Doc, snapshot: Doc, oas3: bool,
                 extensions: set[str]) -> None:
        self.state = state
        self.api_id = api_id
        self.stage = stage
        self.snapshot = snapshot
        self.oas3 = oas3
        self.integrations = bool(extensions & {"integrations", "apigateway"})
        self.authorizers = bool(extensions & {"authorizers", "apigateway"})
        self.apigateway = "apigateway" in extensions
        self.ref_base = "#/components/schemas/" if oas3 else "#/definitions/"

    def _local_refs(self, schema: Any) -> Any:
        if isinstance(schema, dict):
            return {k: (self.ref_base + _MODEL_URL_RE.fullmatch(v).group(1)
                        if k == "$ref" and isinstance(v, str) and _MODEL_URL_RE.fullmatch(v) else self._local_refs(v))
                    for k, v in schema.items()}
        if isinstance(schema, list):
            return [self._local_refs(v) for v in schema]
        return schema

    def run(self) -> Doc:
        api = self.snapshot["api"]
        info = {"title": api.get("name", ""), "version": api.get("version") or "1.0"}
        if api.get("description"):
            info["description"] = api["description"]
        host = f"{self.api_id}.execute-api.{self.state.region}.amazonaws.com"
        out: Doc
        if self.oas3:
            out = {"openapi": "3.0.1", "info": info,
                   "servers": [{"url": f"https://{host}/{{basePath}}",
                                "variables": {"basePath": {"default": self.stage["stageName"]}}}]}
        else:
            out = {"swagger": "2.0", "info": info, "host": host, "basePath": f"/{self.stage['stageName']}",
                   "schemes": ["https"]}
        out["paths"] = self._paths()
        models = {name: self._local_refs(json.loads(m.get("schema") or "{}"))
                  for name, m in self.snapshot["models"].items()}
        schemes = self._security_schemes()
        if self.oas3:
            components: Doc = {}
            if models:
                components["schemas"] = models
            if schemes:
                components["securitySchemes"] = schemes
            if components:
                out["components"] = components
        else:
            if models:
                out["definitions"] = models
            if schemes:
                out["securityDefinitions"] = schemes
        if self.apigateway:
            self._api_extensions(out, api)
        return out

    def _api_extensions(self, out: Doc, api: Doc) -> None:
        if api.get("apiKeySource") and api["apiKeySource"] != "HEADER":
            out[EXT + "api-key-source"] = api["apiKeySource"]
        if api.get("binaryMediaTypes"):
            out[EXT + "binary-media-types"] = api["binaryMediaTypes"]
        if api.get("policy"):
            out[EXT + "policy"] = json.loads(api["policy"])
        if self.snapshot["validators"]:
            out[EXT + "request-validators"] = {
                v["name"]: {"validateRequestBody": v["validateRequestBody"],
                            "validateRequestParameters": v["validateRequestParameters"]}
                for v in self.snapshot["validators"].values()}
        if self.snapshot["gatewayResponses"]:
            out[EXT + "gateway-responses"] = {
                kind: {k: v for k, v in r.items() if k in ("statusCode", "responseParameters", "responseTemplates")}
                for kind, r in self.snapshot["gatewayResponses"].items()}

    def _any_method(self, test: Any) -> bool:
        return any(test(m) for r in self.snapshot["resources"].values() for m in r.get("resourceMethods", {}).values())

    def _security_schemes(self) -> Doc:
        schemes: Doc = {}
        if self._any_method(lambda m: m.get("apiKeyRequired")):
            schemes["api_key"] = {"type": "apiKey", "name": "x-api-key", "in": "header"}
        if self._any_method(lambda m: m.get("authorizationType") == "AWS_IAM"):
            schemes["sigv4"] = {"type": "apiKey", "name": "Authorization", "in": "header",
                                EXT + "authtype": "awsSigv4"}
        for authorizer in self.snapshot["authorizers"].values():
            source = authorizer.get("identitySource", "method.request.header.Authorization")
            header = source.split(",")[0].rsplit(".", 1)[-1] if source.startswith("method.request.header.") else "Unused"
            scheme: Doc = {"type": "apiKey", "name": header, "in": "header",
                           EXT + "authtype": authorizer.get("authType", "custom")}
            if self.authorizers:
                spec = {"type": authorizer["type"].lower(),
                        **{k: authorizer[k] for k in sorted(_AUTHORIZER_KEYS - {"type"}) if k in authorizer}}
                if authorizer["type"] == "TOKEN" and source == f"method.request.header.{header}":
                    del spec["identitySource"]  # the scheme's header says it, as AWS writes it
                scheme[EXT + "authorizer"] = spec
            schemes[authorizer["name"]] = scheme
        return schemes

    def _paths(self) -> Doc:
        paths: Doc = {}
        validators = {v["id"]: v["name"] for v in self.snapshot["validators"].values()}
        authorizers = {a["id"]: a["name"] for a in self.snapshot["authorizers"].values()}
        for resource in sorted(self.snapshot["resources"].values(), key=lambda r: r["path"]):
            methods = resource.get("resourceMethods", {})
            if not methods:
                continue
            item = paths.setdefault(resource["path"], {})
            for name, method in sorted(methods.items()):
                key = ANY_METHOD if name == "ANY" else name.lower()
                item[key] = self._operation(method, validators, authorizers)
        return paths

    def _operation(self, method: Doc, validators: dict[str, str], authorizers: dict[str, str]) -> Doc:
        operation: Doc = {}
        if method.get("operationName"):
            operation["operationId"] = method["operationName"]
        parameters = []
        for name, required in sorted((method.get("requestParameters") or {}).items()):
            parts = name.split(".", 3)
            if len(parts) == 4:
                where = {"path": "path", "querystring": "query", "header": "header"}.get(parts[2])
                if where:
                    parameter = {"name": parts[3], "in": where, "required": bool(required) or where == "path"}
                    if self.oas3:
                        parameter["schema"] = {"type": "string"}
                    else:
                        parameter["type"] = "string"
                    parameters.append(parameter)
        models = method.get("requestModels") or {}
        if models and not self.oas3:
            first = next(iter(models.values()))
            parameters.append({"in": "body", "name": first, "required": True,
                               "schema": {"$ref": self.ref_base + first}})
        if parameters:
            operation["parameters"] = parameters
        if models and self.oas3:
            operation["requestBody"] = {"content": {ct: {"schema": {"$ref": self.ref_base + m}}
                                                    for ct, m in models.items()}, "required": True}
        responses: Doc = {}
        for status, response in sorted((method.get("methodResponses") or {}).items()):
            entry: Doc = {"description": f"{status} response"}
            headers = {p.rsplit(".", 1)[-1]: ({"schema": {"type": "string"}} if self.oas3 else {"type": "string"})
                       for p in (response.get("responseParameters") or {})}
            if headers:
                entry["headers"] = headers
            response_models = response.get("responseModels") or {}
            if response_models:
                if self.oas3:
                    entry["content"] = {ct: {"schema": {"$ref": self.ref_base + m}} for ct, m in response_models.items()}
                else:
                    entry["schema"] = {"$ref": self.ref_base + next(iter(response_models.values()))}
            responses[status] = entry
        operation["responses"] = responses
        security = []
        if method.get("authorizerId") in authorizers:
            security.append({authorizers[method["authorizerId"]]: list(method.get("authorizationScopes", []))})
        if method.get("authorizationType") == "AWS_IAM":
            security.append({"sigv4": []})
        if method.get("apiKeyRequired"):
            security.append({"api_key": []})
        if security:
            operation["security"] = security
        if self.apigateway and method.get("requestValidatorId") in validators:
            operation[EXT + "request-validator"] = validators[method["requestValidatorId"]]
        integration = method.get("methodIntegration")
        if self.integrations and integration is not None:
            operation[EXT + "integration"] = self._integration(integration)
        return operation

    @staticmethod
    def _integration(integration: Doc) -> Doc:
        # Defaults are left out, and the cache namespace is written only with cache keys,
        # as AWS writes its exports.
        defaults = {"connectionType": "INTERNET", "timeoutInMillis": 29000}
        out: Doc = {k: copy.deepcopy(v) for k, v in integration.items()
                    if k in _INTEGRATION_KEYS and k != "cacheNamespace" and v not in (None, [], {})
                    and defaults.get(k) != v}
        if integration.get("cacheKeyParameters"):
            out["cacheNamespace"] = integration.get("cacheNamespace")
        out["type"] = integration["type"].lower()
        out["passthroughBehavior"] = integration.get("passthroughBehavior", "WHEN_NO_MATCH").lower()
        responses = {}
        for status, response in (integration.get("integrationResponses") or {}).items():
            key = response.get("selectionPattern") or "default"
            responses[key] = {"statusCode": status,
                              **{k: response[k] for k in ("responseParameters", "responseTemplates", "contentHandling")
                                 if k in response}}
        if responses:
            out["responses"] = responses
        return out


def get_export(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = api_doc(state, params["restApiId"])
    stage = stage_doc(doc, params["stageName"])
    export_type = params["exportType"]
    if export_type not in ("oas30", "swagger"):
        raise bad_request(f"Invalid export type specified: {export_type}. Must be oas30 or swagger")
    deployment = state.deployment(params["restApiId"], stage["deploymentId"])
    snapshot = deployment["snapshot"] if deployment else state.snapshot(doc)
    extensions = {e.strip() for e in params.get("parameters", {}).get("extensions", "").split(",") if e.strip()}
    document = _Exporter(state, params["restApiId"], stage, snapshot, export_type == "oas30", extensions).run()
    accepts = params.get("accepts") or "application/json"
    if "yaml" in accepts:
        body, content_type = yaml.safe_dump(document, sort_keys=False).encode(), "application/yaml"
    else:
        body, content_type = json.dumps(document, indent=2).encode(), "application/json"
    filename = f"{export_type}_{params['restApiId']}_{params['stageName']}"
    return {"contentType": content_type, "body": body,
            "contentDisposition": f'attachment; filename="{filename}.{"yaml" if "yaml" in content_type else "json"}"'}
