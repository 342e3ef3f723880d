"""Failures the gateway answers itself, as gateway responses."""

from __future__ import annotations

from facades.apigateway.responses import DEFAULT_STATUS


class GatewayError(Exception):
    """Stop the pipeline and answer with gateway response ``response_type``.

    ``message`` becomes ``$context.error.messageString``; ``status`` is the
    type's default unless given (``DEFAULT_4XX``/``DEFAULT_5XX`` need one).
    """

    def __init__(self, response_type: str, message: str, status: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.response_type = response_type
        self.message = message
        default = DEFAULT_STATUS[response_type]
        self.status = status if status is not None else (default or 500)
        self.headers = headers or {}


def missing_token() -> GatewayError:
    return GatewayError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")


def forbidden() -> GatewayError:
    return GatewayError("ACCESS_DENIED", "Forbidden")


def internal() -> GatewayError:
    return GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
