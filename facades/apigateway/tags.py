"""Tags by resource ARN (``arn:aws:apigateway:{region}::/restapis/{id}[/stages/{name}]``,
``.../apikeys/{id}``, ``.../usageplans/{id}``)."""

from __future__ import annotations

import copy
import re
from typing import Callable

from facades.apigateway.control import Doc, api_doc
from facades.apigateway.service import bad_request, not_found
from facades.apigateway.stages import stage_doc
from facades.apigateway.state import API_KEY, USAGE_PLAN, ApiGatewayState
from facades.aws.service import AwsRequestContext, Params

_ARN = re.compile(r"arn:aws:apigateway:[^:]*::/(restapis/([^/]+)(?:/stages/([^/]+))?|apikeys/([^/]+)|usageplans/([^/]+))")


def _tagged(state: ApiGatewayState, arn: str) -> tuple[Doc, Callable[[Doc], None]]:
    """The tagged document (a copy) and how to store it back."""
    match = _ARN.fullmatch(arn)
    if match is None:
        raise bad_request(f"Invalid ARN specified in the request: {arn}")
    _, api_id, stage_name, key_id, plan_id = match.groups()
    if api_id is not None:
        doc = copy.deepcopy(api_doc(state, api_id))
        target = stage_doc(doc, stage_name) if stage_name else doc["api"]
        return target, lambda _: state.save_api(doc)
    kind, name = (API_KEY, key_id) if key_id is not None else (USAGE_PLAN, plan_id)
    found = state.records(kind).get(name)
    if found is None:
        raise not_found("Invalid resource identifier specified")
    target = copy.deepcopy(found)
    return target, lambda changed: state.put(kind, name, changed)


def tag_resource(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    target, save = _tagged(state, params["resourceArn"])
    target.setdefault("tags", {}).update(params.get("tags", {}))
    save(target)


def untag_resource(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    target, save = _tagged(state, params["resourceArn"])
    for key in params.get("tagKeys", []):
        target.get("tags", {}).pop(key, None)
    save(target)


def get_tags(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    target, _ = _tagged(state, params["resourceArn"])
    return {"tags": target.get("tags", {})}
