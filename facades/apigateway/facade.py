"""The API Gateway facade: control-plane operations and the data plane, on the AWS port."""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from twisted.internet.defer import Deferred

from broker.config import Config
from broker.engine.broker import Broker
from facades.apigateway import account, control, domains, keys, openapi, stages, tags
from facades.apigateway.service import ApiGatewayService, apigateway_service
from facades.apigateway.state import ApiGatewayState
from facades.aws.sigv4 import SigV4Verifier

_ACTIONS: dict[str, Callable[..., Any]] = {
    "CreateRestApi": control.create_rest_api,
    "GetRestApis": control.get_rest_apis,
    "GetRestApi": control.get_rest_api,
    "UpdateRestApi": control.update_rest_api,
    "DeleteRestApi": control.delete_rest_api,
    "ImportRestApi": openapi.import_rest_api,
    "PutRestApi": openapi.put_rest_api,
    "GetExport": openapi.get_export,
    "CreateResource": control.create_resource,
    "GetResource": control.get_resource,
    "GetResources": control.get_resources,
    "UpdateResource": control.update_resource,
    "DeleteResource": control.delete_resource,
    "PutMethod": control.put_method,
    "GetMethod": control.get_method,
    "UpdateMethod": control.update_method,
    "DeleteMethod": control.delete_method,
    "PutMethodResponse": control.put_method_response,
    "GetMethodResponse": control.get_method_response,
    "UpdateMethodResponse": control.update_method_response,
    "DeleteMethodResponse": control.delete_method_response,
    "PutIntegration": control.put_integration,
    "GetIntegration": control.get_integration,
    "UpdateIntegration": control.update_integration,
    "DeleteIntegration": control.delete_integration,
    "PutIntegrationResponse": control.put_integration_response,
    "GetIntegrationResponse": control.get_integration_response,
    "UpdateIntegrationResponse": control.update_integration_response,
    "DeleteIntegrationResponse": control.delete_integration_response,
    "CreateModel": control.create_model,
    "GetModel": control.get_model,
    "GetModels": control.get_models,
    "UpdateModel": control.update_model,
    "DeleteModel": control.delete_model,
    "CreateRequestValidator": control.create_request_validator,
    "GetRequestValidator": control.get_request_validator,
    "GetRequestValidators": control.get_request_validators,
    "UpdateRequestValidator": control.update_request_validator,
    "DeleteRequestValidator": control.delete_request_validator,
    "CreateAuthorizer": control.create_authorizer,
    "GetAuthorizer": control.get_authorizer,
    "GetAuthorizers": control.get_authorizers,
    "UpdateAuthorizer": control.update_authorizer,
    "DeleteAuthorizer": control.delete_authorizer,
    "PutGatewayResponse": control.put_gateway_response,
    "GetGatewayResponse": control.get_gateway_response,
    "GetGatewayResponses": control.get_gateway_responses,
    "UpdateGatewayResponse": control.update_gateway_response,
    "DeleteGatewayResponse": control.delete_gateway_response,
    "CreateDeployment": stages.create_deployment,
    "GetDeployment": stages.get_deployment,
    "GetDeployments": stages.get_deployments,
    "UpdateDeployment": stages.update_deployment,
    "DeleteDeployment": stages.delete_deployment,
    "CreateStage": stages.create_stage,
    "GetStage": stages.get_stage,
    "GetStages": stages.get_stages,
    "UpdateStage": stages.update_stage,
    "DeleteStage": stages.delete_stage,
    "CreateApiKey": keys.create_api_key,
    "ImportApiKeys": keys.import_api_keys,
    "GetApiKey": keys.get_api_key,
    "GetApiKeys": keys.get_api_keys,
    "UpdateApiKey": keys.update_api_key,
    "DeleteApiKey": keys.delete_api_key,
    "CreateUsagePlan": keys.create_usage_plan,
    "GetUsagePlan": keys.get_usage_plan,
    "GetUsagePlans": keys.get_usage_plans,
    "UpdateUsagePlan": keys.update_usage_plan,
    "DeleteUsagePlan": keys.delete_usage_plan,
    "CreateUsagePlanKey": keys.create_usage_plan_key,
    "GetUsagePlanKey": keys.get_usage_plan_key,
    "GetUsagePlanKeys": keys.get_usage_plan_keys,
    "DeleteUsagePlanKey": keys.delete_usage_plan_key,
    "GetUsage": keys.get_usage,
    "UpdateUsage": keys.update_usage,
    "TagResource": tags.tag_resource,
    "UntagResource": tags.untag_resource,
    "GetTags": tags.get_tags,
    "GetAccount": account.get_account,
    "UpdateAccount": account.update_account,
    "CreateDomainName": domains.create_domain_name,
    "GetDomainName": domains.get_domain_name,
    "GetDomainNames": domains.get_domain_names,
    "UpdateDomainName": domains.update_domain_name,
    "DeleteDomainName": domains.delete_domain_name,
    "CreateBasePathMapping": domains.create_base_path_mapping,
    "GetBasePathMapping": domains.get_base_path_mapping,
    "GetBasePathMappings": domains.get_base_path_mappings,
    "UpdateBasePathMapping": domains.update_base_path_mapping,
    "DeleteBasePathMapping": domains.delete_base_path_mapping,
}

#: Operations whose handler the data plane supplies (they act on its caches, or run a request).
_DATA_PLANE_ACTIONS = ("FlushStageCache", "FlushStageAuthorizersCache", "TestInvokeMethod")


def implemented_actions() -> list[str]:
    return [*_ACTIONS, *_DATA_PLANE_ACTIONS]


def _durable(state: ApiGatewayState, handler: Callable[..., Any]) -> Callable[..., Any]:
    """A changing operation answers once its change is committed, as AWS answers once a
    definition is stored: an acknowledged definition survives even a crash."""
    def answer_when_committed(ctx: Any, params: Any) -> Any:
        result = handler(state, ctx, params)
        return state.broker.committed().addCallback(lambda _: result)
    return answer_when_committed


def build_service(state: ApiGatewayState, flush_cache: Callable[[str, str], None],
                  flush_authorizers: Callable[[str, str], None],
                  test_invoke: Callable[[dict[str, Any]], Any]) -> ApiGatewayService:
    handlers = {name: (partial(fn, state) if name.startswith("Get") else _durable(state, fn))
                for name, fn in _ACTIONS.items()}
    handlers["FlushStageCache"] = partial(stages.flusher(flush_cache), state)
    handlers["FlushStageAuthorizersCache"] = partial(stages.flusher(flush_authorizers), state)
    handlers["TestInvokeMethod"] = lambda ctx, params: Deferred.fromCoroutine(test_invoke(params))
    return apigateway_service(handlers)


class ApiGateway:
    """The control plane (a service for the port's dispatcher) and the data plane's front route."""

    def __init__(self, service: ApiGatewayService, gateway: Any) -> None:
        self.service = service
        self.gateway = gateway
        self.route = gateway.route
        self.max_body_size = gateway.max_body_size

    def connect(self, dispatcher: Any, acting_as: Callable[[str | None], Any]) -> None:
        self.gateway.connect(dispatcher, acting_as)


def build(broker: Broker, config: Config, reactor: Any, verifier: SigV4Verifier) -> ApiGateway:
    """`verifier`: the AWS port's own, so AWS_IAM methods know the same keys as every door."""
    from facades.apigateway.dataplane.authorizers import parse_jwks_setting
    from facades.apigateway.dataplane.gateway import Gateway

    state = ApiGatewayState(broker, config.region, config.account, now=reactor.seconds)
    gateway = Gateway(state, reactor, reactor.seconds, verifier, lambda_endpoint=config.lambda_endpoint,
                      jwks=parse_jwks_setting(config.jwks))
    return ApiGateway(build_service(state, gateway.flush_cache, gateway.flush_authorizers, gateway.test_invoke),
                      gateway)
