"""Custom domain names and their base path mappings.

A domain (kind ``apigateway.domainname``) keeps its mappings with it; the data
plane serves a request whose ``Host`` is the domain by its first path segment
(the base path), or by the ``(none)`` mapping. Certificates are recorded, not
used: TLS is the broker's listener's business (``--aws-listen ssl:...``).
"""

from __future__ import annotations

import copy
from typing import Any

from facades.apigateway import patch
from facades.apigateway.control import Doc, api_doc, member
from facades.apigateway.service import apigateway_model, bad_request, conflict
from facades.apigateway.stages import stage_doc
from facades.apigateway.state import ApiGatewayState, new_id
from facades.aws.service import AwsRequestContext, Params

DOMAIN = "apigateway.domainname"
NO_BASE_PATH = "(none)"


def _domain(state: ApiGatewayState, name: str) -> Doc:
    return member(state.records(DOMAIN), name, "Invalid domain name identifier specified")


def create_domain_name(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    name = params["domainName"].lower()
    if name in state.records(DOMAIN):
        raise conflict("The domain name you provided already exists.")
    domain = {k: copy.deepcopy(v) for k, v in params.items()
              if k in ("certificateName", "certificateArn", "regionalCertificateName", "regionalCertificateArn",
                       "endpointConfiguration", "tags", "securityPolicy", "mutualTlsAuthentication", "policy")}
    domain.update(domainName=name, domainNameId=new_id(), domainNameStatus="AVAILABLE",
                  domainNameArn=f"arn:aws:apigateway:{state.region}::/domainnames/{name}",
                  regionalDomainName=f"d-{new_id()}.execute-api.{state.region}.amazonaws.com",
                  distributionDomainName=f"{new_id(13)}.cloudfront.net")
    domain.setdefault("endpointConfiguration", {"types": ["EDGE"]})
    state.put(DOMAIN, name, {"domain": domain, "mappings": {}})
    return domain


def get_domain_name(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return _domain(state, params["domainName"].lower())["domain"]


def get_domain_names(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return {"items": [d["domain"] for d in state.records(DOMAIN).values()]}


def update_domain_name(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    record = copy.deepcopy(_domain(state, params["domainName"].lower()))
    patch.apply(record["domain"], params.get("patchOperations", []), apigateway_model().shape_for("DomainName"),
                ("certificateName", "certificateArn", "regionalCertificateName", "regionalCertificateArn",
                 "endpointConfiguration", "securityPolicy", "policy"))
    state.put(DOMAIN, record["domain"]["domainName"], record)
    return record["domain"]


def delete_domain_name(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    name = params["domainName"].lower()
    _domain(state, name)
    state.drop(DOMAIN, name)


def _base_path(params: Params) -> str:
    base = params.get("basePath") or NO_BASE_PATH
    if base != NO_BASE_PATH and ("/" in base.strip("/") or not base.strip("/")):
        raise bad_request("Invalid base path: a base path is one path segment")
    return base.strip("/") if base != NO_BASE_PATH else base


def _check_target(state: ApiGatewayState, api_id: str, stage: str | None) -> None:
    doc = api_doc(state, api_id)
    if stage:
        stage_doc(doc, stage)


def create_base_path_mapping(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    record = copy.deepcopy(_domain(state, params["domainName"].lower()))
    base = _base_path(params)
    if base in record["mappings"]:
        raise conflict("Base path already exists for this domain name")
    _check_target(state, params["restApiId"], params.get("stage"))
    mapping: dict[str, Any] = {"basePath": base, "restApiId": params["restApiId"]}
    if params.get("stage"):
        mapping["stage"] = params["stage"]
    record["mappings"][base] = mapping
    state.put(DOMAIN, record["domain"]["domainName"], record)
    return mapping


def _mapping(record: Doc, params: Params) -> Doc:
    return member(record["mappings"], _base_path(params), "Invalid base path mapping identifier specified")


def get_base_path_mapping(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return _mapping(_domain(state, params["domainName"].lower()), params)


def get_base_path_mappings(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return {"items": list(_domain(state, params["domainName"].lower())["mappings"].values())}


def update_base_path_mapping(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    record = copy.deepcopy(_domain(state, params["domainName"].lower()))
    mapping = _mapping(record, params)
    old = mapping["basePath"]
    patch.apply(mapping, params.get("patchOperations", []), apigateway_model().shape_for("BasePathMapping"),
                ("basePath", "restApiId", "stage"))
    mapping["basePath"] = _base_path(mapping)
    _check_target(state, mapping["restApiId"], mapping.get("stage"))
    del record["mappings"][old]
    record["mappings"][mapping["basePath"]] = mapping
    state.put(DOMAIN, record["domain"]["domainName"], record)
    return mapping


def delete_base_path_mapping(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    record = copy.deepcopy(_domain(state, params["domainName"].lower()))
    del record["mappings"][_mapping(record, params)["basePath"]]
    state.put(DOMAIN, record["domain"]["domainName"], record)


def resolve(state: ApiGatewayState, host: str, path: str) -> tuple[str, str, str] | None:
    """(api, stage, path) a request to a custom domain names, or ``None``."""
    record = state.records(DOMAIN).get(host.split(":")[0].lower())
    if record is None:
        return None
    mappings = record["mappings"]
    first, _, rest = path.lstrip("/").partition("/")
    mapping = mappings.get(first)
    tail = "/" + rest
    if mapping is None:
        mapping, tail = mappings.get(NO_BASE_PATH), "/" + path.lstrip("/")
    if mapping is None:
        return None
    stage = mapping.get("stage")
    if not stage:  # no stage in the mapping: the next path segment names it
        stage, _, remainder = tail.lstrip("/").partition("/")
        tail = "/" + remainder
    return mapping["restApiId"], stage, tail
