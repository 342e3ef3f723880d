"""API Gateway (REST APIs, v1) as an :class:`~facades.aws.service.AwsService`.

Its model is botocore's ``apigateway`` (protocol rest-json); its errors are
the model's exception shapes with their HTTP statuses, answered as API
Gateway answers them (``x-amzn-ErrorType`` and a ``message`` body).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from botocore.model import ServiceModel

from facades.aws.errors import COMMON_ERRORS, AwsError, ErrorCatalogue, ErrorSpec, Protocol
from facades.aws.model import shipped_model
from facades.aws.service import AwsService, Handler

NAMESPACE = "com.amazonaws.backplane.controlplane"


@lru_cache(maxsize=1)
def apigateway_model() -> ServiceModel:
    return shipped_model("apigateway")


@lru_cache(maxsize=1)
def apigateway_errors() -> ErrorCatalogue:
    specs = []
    for shape in apigateway_model().error_shapes:
        status = shape.metadata.get("error", {}).get("httpStatusCode", 400)
        specs.append(ErrorSpec(code=shape.name, query_code=shape.name, status=status,
                               sender_fault=status < 500, message="", namespace=NAMESPACE,
                               query_compatible=False))
    return COMMON_ERRORS.merged(ErrorCatalogue(specs))


def bad_request(message: str) -> AwsError:
    return apigateway_errors()("BadRequestException", message)


def not_found(message: str) -> AwsError:
    return apigateway_errors()("NotFoundException", message)


def conflict(message: str) -> AwsError:
    return apigateway_errors()("ConflictException", message)


class ApiGatewayService(AwsService):
    def missing_parameter(self, operation: str, member: str) -> AwsError:
        return bad_request(f"Invalid request input: {member} is required")

    def unimplemented(self, operation: str, protocol: Protocol) -> AwsError:
        return bad_request(f"Operation {operation} is not supported by this endpoint.")


def apigateway_service(handlers: Mapping[str, Handler]) -> ApiGatewayService:
    unknown = set(handlers) - set(apigateway_model().operation_names)
    if unknown:
        raise ValueError(f"not API Gateway operations: {sorted(unknown)}")
    return ApiGatewayService(name="apigateway", json_model=None, query_model=None,
                             errors=apigateway_errors(), handlers=dict(handlers),
                             rest_model=apigateway_model())
