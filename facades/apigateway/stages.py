"""Deployments (frozen snapshots of an API) and the stages that serve them."""

from __future__ import annotations

import copy
from typing import Callable

from facades.apigateway import patch
from facades.apigateway.control import Doc, api_doc
from facades.apigateway.service import apigateway_model, bad_request, conflict, not_found
from facades.apigateway.state import ApiGatewayState, new_id
from facades.aws.service import AwsRequestContext, Params

#: ``/{resource}/{method}/{group}/{setting}`` -> MethodSetting member.
METHOD_SETTINGS = {
    ("throttling", "rateLimit"): "throttlingRateLimit",
    ("throttling", "burstLimit"): "throttlingBurstLimit",
    ("caching", "enabled"): "cachingEnabled",
    ("caching", "ttlInSeconds"): "cacheTtlInSeconds",
    ("caching", "dataEncrypted"): "cacheDataEncrypted",
    ("caching", "requireAuthorizationForCacheControl"): "requireAuthorizationForCacheControl",
    ("caching", "unauthorizedCacheControlHeaderStrategy"): "unauthorizedCacheControlHeaderStrategy",
    ("logging", "loglevel"): "loggingLevel",
    ("logging", "dataTrace"): "dataTraceEnabled",
    ("metrics", "enabled"): "metricsEnabled",
}

#: Method settings with bounds: cache TTLs up to an hour, no negative throttles.
_SETTING_RANGES = {"cacheTtlInSeconds": (0, 3600), "throttlingRateLimit": (0.0, 1e9),
                   "throttlingBurstLimit": (0, 1_000_000_000)}

_STAGE_WRITABLE = ("description", "deploymentId", "cacheClusterEnabled", "cacheClusterSize", "variables",
                   "accessLogSettings", "tracingEnabled", "clientCertificateId", "documentationVersion")

_CACHE_SIZES = ("0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237")


def _method_summary(snapshot: Doc) -> Doc:
    summary: Doc = {}
    for resource in snapshot["resources"].values():
        for name, method in resource.get("resourceMethods", {}).items():
            summary.setdefault(resource["path"], {})[name] = {
                "authorizationType": method.get("authorizationType", "NONE"),
                "apiKeyRequired": bool(method.get("apiKeyRequired")),
            }
    return summary


def _check_deployable(doc: Doc) -> None:
    methods = [m for r in doc["resources"].values() for m in r.get("resourceMethods", {}).values()]
    if not methods:
        raise bad_request("The REST API doesn't contain any methods")
    if any("methodIntegration" not in m for m in methods):
        raise bad_request("No integration defined for method")


def new_stage(state: ApiGatewayState, name: str, deployment_id: str, params: Params) -> Doc:
    stage = {k: copy.deepcopy(params[k]) for k in ("description", "cacheClusterEnabled", "cacheClusterSize",
                                                    "variables", "tracingEnabled", "tags") if k in params}
    now = state.now()
    stage.update(stageName=name, deploymentId=deployment_id, createdDate=now, lastUpdatedDate=now)
    stage.setdefault("cacheClusterEnabled", False)
    stage.setdefault("tracingEnabled", False)
    stage["methodSettings"] = {}
    _cache_status(stage)
    return stage


def _cache_status(stage: Doc) -> None:
    if stage.get("cacheClusterEnabled"):
        stage.setdefault("cacheClusterSize", "0.5")
        if stage["cacheClusterSize"] not in _CACHE_SIZES:
            raise bad_request(f"Invalid cache cluster size specified: {stage['cacheClusterSize']}")
        stage["cacheClusterStatus"] = "AVAILABLE"
    else:
        stage["cacheClusterStatus"] = "NOT_AVAILABLE"


def create_deployment(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    _check_deployable(doc)
    snapshot = state.snapshot(doc)
    deployment = {"id": new_id(6), "createdDate": state.now(), "apiSummary": _method_summary(snapshot)}
    if "description" in params:
        deployment["description"] = params["description"]
    state.save_deployment(doc["api"]["id"], {"deployment": deployment, "snapshot": snapshot})
    name = params.get("stageName")
    if name:
        stage = doc["stages"].get(name)
        if stage is None:
            stage_params = {k: params[k] for k in ("cacheClusterEnabled", "cacheClusterSize", "variables",
                                                    "tracingEnabled") if k in params}
            if "stageDescription" in params:
                stage_params["description"] = params["stageDescription"]
            doc["stages"][name] = new_stage(state, name, deployment["id"], stage_params)
        else:
            stage["deploymentId"] = deployment["id"]
            stage.setdefault("variables", {}).update(params.get("variables", {}))
            stage["lastUpdatedDate"] = state.now()
        state.save_api(doc)
    return deployment


def _deployment(state: ApiGatewayState, api_id: str, deployment_id: str) -> Doc:
    found = state.deployment(api_id, deployment_id)
    if found is None:
        raise not_found("Invalid Deployment identifier specified")
    return found


def get_deployment(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    api_doc(state, params["restApiId"])
    return _deployment(state, params["restApiId"], params["deploymentId"])["deployment"]


def get_deployments(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    api_doc(state, params["restApiId"])
    docs = sorted((d["deployment"] for d in state.deployments(params["restApiId"])), key=lambda d: d["createdDate"])
    return {"items": docs}


def update_deployment(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    api_doc(state, params["restApiId"])
    found = copy.deepcopy(_deployment(state, params["restApiId"], params["deploymentId"]))
    patch.apply(found["deployment"], params.get("patchOperations", []),
                apigateway_model().shape_for("Deployment"), ("description",))
    state.save_deployment(params["restApiId"], found)
    return found["deployment"]


def delete_deployment(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    doc = api_doc(state, params["restApiId"])
    _deployment(state, params["restApiId"], params["deploymentId"])
    if any(s["deploymentId"] == params["deploymentId"] for s in doc["stages"].values()):
        raise bad_request("Active stages pointing to this deployment must be moved or deleted")
    state.drop_deployment(params["restApiId"], params["deploymentId"])


def create_stage(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    name = params["stageName"]
    if name in doc["stages"]:
        raise conflict("Stage already exists")
    _deployment(state, params["restApiId"], params["deploymentId"])
    stage = new_stage(state, name, params["deploymentId"], params)
    doc["stages"][name] = stage
    state.save_api(doc)
    return stage


def stage_doc(doc: Doc, name: str) -> Doc:
    stage = doc["stages"].get(name)
    if stage is None:
        raise not_found("Invalid Stage identifier specified")
    return stage


def get_stage(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return stage_doc(api_doc(state, params["restApiId"]), params["stageName"])


def get_stages(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    stages = api_doc(state, params["restApiId"])["stages"].values()
    wanted = params.get("deploymentId")
    return {"item": [s for s in stages if wanted is None or s["deploymentId"] == wanted]}


def method_setting_key(resource_path: str, http_method: str) -> str:
    """The ``methodSettings`` key of a method: ``pets/GET``, or ``*/*`` for all."""
    return f"{resource_path.lstrip('/') if resource_path != '*' else '*'}/{http_method}"


def _method_setting_ops(stage: Doc, operations: list[Doc]) -> list[Doc]:
    """Apply the ``/{resource}/{method}/{group}/{name}`` operations; return the rest."""
    setting_shape = apigateway_model().shape_for("MethodSetting")
    rest = []
    for operation in operations:
        parts = patch.split(operation.get("path", ""))
        if len(parts) == 4 and (parts[2], parts[3]) in METHOD_SETTINGS:
            key = method_setting_key(parts[0], parts[1])
            member = METHOD_SETTINGS[(parts[2], parts[3])]
            settings = stage.setdefault("methodSettings", {}).setdefault(key, {})
            if operation.get("op") == "remove":
                settings.pop(member, None)
            else:
                value = patch.coerce(setting_shape.members[member], operation.get("value"), operation["path"])
                low, high = _SETTING_RANGES.get(member, (None, None))
                if low is not None and not low <= value <= high:
                    raise bad_request(f"Invalid value '{operation.get('value')}' for path '{operation['path']}': "
                                      f"must be between {low:g} and {high:g}")
                settings[member] = value
        elif len(parts) == 2 and operation.get("op") == "remove" and parts[0] != "variables":
            stage.get("methodSettings", {}).pop(method_setting_key(parts[0], parts[1]), None)
        else:
            rest.append(operation)
    return rest


def update_stage(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    stage = stage_doc(doc, params["stageName"])
    remaining = _method_setting_ops(stage, list(params.get("patchOperations", [])))
    patch.apply(stage, remaining, apigateway_model().shape_for("Stage"), _STAGE_WRITABLE)
    _deployment(state, params["restApiId"], stage["deploymentId"])
    _cache_status(stage)
    stage["lastUpdatedDate"] = state.now()
    state.save_api(doc)
    return stage


def delete_stage(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    doc = copy.deepcopy(api_doc(state, params["restApiId"]))
    stage_doc(doc, params["stageName"])
    del doc["stages"][params["stageName"]]
    state.save_api(doc)


def flusher(flush: Callable[[str, str], None]) -> Callable[[ApiGatewayState, AwsRequestContext, Params], None]:
    """A FlushStage*Cache handler that empties one of the data plane's caches."""
    def flush_stage_cache(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
        stage_doc(api_doc(state, params["restApiId"]), params["stageName"])
        flush(params["restApiId"], params["stageName"])
    return flush_stage_cache

