"""The account's API Gateway settings: AWS's fixed defaults and the recorded CloudWatch role."""

from __future__ import annotations

import copy
from typing import Any

from facades.apigateway import patch
from facades.apigateway.service import apigateway_model
from facades.apigateway.state import ApiGatewayState
from facades.aws.service import AwsRequestContext, Params

ACCOUNT = "apigateway.account"


def get_account(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
    """AWS's defaults (the account-level throttle the data plane applies) and the
    CloudWatch role, which is recorded (Terraform's ``aws_api_gateway_account`` sets it)."""
    return {"throttleSettings": {"burstLimit": 5000, "rateLimit": 10000.0}, "features": ["UsagePlans"],
            "apiKeyVersion": "4", **state.records(ACCOUNT).get("account", {})}


def update_account(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
    settings = copy.deepcopy(state.records(ACCOUNT).get("account", {}))
    patch.apply(settings, params.get("patchOperations", []), apigateway_model().shape_for("Account"),
                ("cloudwatchRoleArn",))
    state.put(ACCOUNT, "account", settings)
    return get_account(state, ctx, params)
