"""Gateway responses: what API Gateway answers when it, not the backend, fails.

Each type has AWS's default status and the default body template
``{"message":$context.error.messageString}``; a REST API may override the
status, headers (e.g. CORS) and templates per type, and ``DEFAULT_4XX`` /
``DEFAULT_5XX`` overrides apply to every type of their class that has no
override of its own.
"""

from __future__ import annotations

from typing import Any

DEFAULT_TEMPLATE = '{"message":$context.error.messageString}'

#: Type -> default status (``None``: the class defaults, which have no status).
DEFAULT_STATUS: dict[str, int | None] = {
    "ACCESS_DENIED": 403,
    "API_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_FAILURE": 500,
    "BAD_REQUEST_PARAMETERS": 400,
    "BAD_REQUEST_BODY": 400,
    "DEFAULT_4XX": None,
    "DEFAULT_5XX": None,
    "EXPIRED_TOKEN": 403,
    "INTEGRATION_FAILURE": 504,
    "INTEGRATION_TIMEOUT": 504,
    "INVALID_API_KEY": 403,
    "INVALID_SIGNATURE": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "QUOTA_EXCEEDED": 429,
    "REQUEST_TOO_LARGE": 413,
    "RESOURCE_NOT_FOUND": 404,
    "THROTTLED": 429,
    "UNAUTHORIZED": 401,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "WAF_FILTERED": 403,
}


def default_response(response_type: str) -> dict[str, Any]:
    """The GatewayResponse document AWS reports for a type nobody customised."""
    doc: dict[str, Any] = {
        "responseType": response_type,
        "defaultResponse": True,
        "responseParameters": {},
        "responseTemplates": {"application/json": DEFAULT_TEMPLATE},
    }
    status = DEFAULT_STATUS[response_type]
    if status is not None:
        doc["statusCode"] = str(status)
    return doc


def effective(response_type: str, overrides: dict[str, dict[str, Any]], status: int) -> dict[str, Any]:
    """The response to send for ``response_type``: its override, else its
    class's (DEFAULT_4XX/5XX) override, else AWS's default."""
    own = overrides.get(response_type)
    if own is not None:
        return {"statusCode": str(status), **own}
    family = overrides.get("DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX")
    base = default_response(response_type)
    base["statusCode"] = str(status)
    if family is not None:
        base["responseParameters"] = family.get("responseParameters", {})
        base["responseTemplates"] = family.get("responseTemplates") or base["responseTemplates"]
    return base
