"""Request validation: required parameters and JSON Schema draft 4 models.

Models reference each other by their API Gateway URLs
(``https://apigateway.amazonaws.com/restapis/{api}/models/{name}``); those
are resolved against the deployment's models with ``referencing``.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from facades.apigateway.dataplane.errors import GatewayError
from facades.apigateway.dataplane.invocation import Invocation
from facades.apigateway.dataplane.mapping import request_value

MODEL_URL = "https://apigateway.amazonaws.com/restapis/{api}/models/{name}"


class Models:
    """Compiled validators for one deployment's models."""

    def __init__(self, api_id: str, models: dict[str, dict[str, Any]]) -> None:
        self._api_id = api_id
        self._schemas: dict[str, Any] = {}
        for name, model in models.items():
            try:
                self._schemas[name] = json.loads(model.get("schema") or "{}")
            except ValueError:
                self._schemas[name] = {}
        resources = [(MODEL_URL.format(api=api_id, name=n), Resource.from_contents(s, default_specification=DRAFT4))
                     for n, s in self._schemas.items() if isinstance(s, (dict, bool))]
        self._registry: Registry = Registry().with_resources(resources)
        self._validators: dict[str, Draft4Validator] = {}

    def validator(self, name: str) -> Draft4Validator | None:
        if name not in self._schemas:
            return None
        found = self._validators.get(name)
        if found is None:
            found = self._validators[name] = Draft4Validator(self._schemas[name], registry=self._registry)
        return found


def check(inv: Invocation, method: dict[str, Any], validator: dict[str, Any] | None, models: Models,
          stage_variables: dict[str, str]) -> None:
    if validator is None:
        return
    if validator.get("validateRequestParameters"):
        missing = [name.split(".", 3)[-1] for name, required in (method.get("requestParameters") or {}).items()
                   if required and request_value(name, inv, stage_variables) in (None, "")]
        if missing:
            raise GatewayError("BAD_REQUEST_PARAMETERS",
                               f"Missing required request parameters: [{', '.join(missing)}]")
    if validator.get("validateRequestBody"):
        request_models = method.get("requestModels") or {}
        name = request_models.get(inv.content_type) or request_models.get("$default")
        if name is None or name == "Empty":
            return
        compiled = models.validator(name)
        if compiled is None:
            return
        try:
            document = json.loads(inv.body) if inv.body.strip() else None
        except ValueError:
            raise GatewayError("BAD_REQUEST_BODY", "Invalid request body") from None
        if not compiled.is_valid(document):
            raise GatewayError("BAD_REQUEST_BODY", "Invalid request body")
