"""Every API Gateway operation the facade promises is served by a handler."""
from facades.apigateway.facade import implemented_actions
from facades.apigateway.service import apigateway_model


def test_every_promised_operation_is_implemented() -> None:
    crud = [f"{verb}{noun}" for noun in ("Resource", "Method", "MethodResponse", "Integration",
                                         "IntegrationResponse", "Model", "RequestValidator", "Authorizer",
                                         "GatewayResponse", "Deployment", "Stage", "ApiKey", "UsagePlan",
                                         "RestApi", "DomainName", "BasePathMapping")
            for verb in ("Get", "Update", "Delete")]
    wanted = set(crud) | {
        "CreateRestApi", "GetRestApis", "ImportRestApi", "PutRestApi", "GetExport", "CreateResource",
        "GetResources", "PutMethod", "PutMethodResponse", "PutIntegration", "PutIntegrationResponse",
        "CreateModel", "GetModels", "CreateRequestValidator", "GetRequestValidators", "CreateAuthorizer",
        "GetAuthorizers", "PutGatewayResponse", "GetGatewayResponses", "CreateDeployment", "GetDeployments",
        "CreateStage", "GetStages", "FlushStageCache", "FlushStageAuthorizersCache", "CreateApiKey", "GetApiKeys",
        "CreateUsagePlan", "GetUsagePlans", "CreateUsagePlanKey", "GetUsagePlanKey", "GetUsagePlanKeys",
        "DeleteUsagePlanKey", "GetUsage", "UpdateUsage", "TestInvokeMethod", "TagResource", "UntagResource",
        "GetTags", "GetAccount", "CreateDomainName", "GetDomainNames", "CreateBasePathMapping",
        "GetBasePathMappings"}
    assert wanted <= set(implemented_actions()) <= set(apigateway_model().operation_names)
