"""API Gateway definitions, kept as broker records.

One record per REST API (kind ``apigateway.restapi``) holds everything that
belongs to it: the API itself, its resource tree with methods and
integrations, models, request validators, authorizers, gateway responses and
stages. A deployment (``apigateway.deployment``, named ``api/deployment``)
is an immutable snapshot of the API's definitions, which is what stages
serve. API keys, usage plans and usage counters have kinds of their own,
since they are not owned by one API. Every change rewrites its record in the
broker's group commit, so definitions survive a restart.
"""

from __future__ import annotations

import copy
import secrets
import string
from typing import Any, Callable

from broker.engine.broker import Broker

API = "apigateway.restapi"
DEPLOYMENT = "apigateway.deployment"
API_KEY = "apigateway.apikey"
USAGE_PLAN = "apigateway.usageplan"
USAGE = "apigateway.usage"

_ID_ALPHABET = string.ascii_lowercase + string.digits
_KEY_ALPHABET = string.ascii_letters + string.digits

#: The parts of an API document a deployment freezes.
SNAPSHOT_PARTS = ("api", "resources", "models", "validators", "authorizers", "gatewayResponses")


def new_id(length: int = 10) -> str:
    """An identifier as API Gateway makes them: 10 lower-case alphanumerics."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_key_value() -> str:
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(40))


class ApiGatewayState:
    """The definitions, in memory and in the store, and change listeners."""

    def __init__(self, broker: Broker, region: str, account: str, now: Callable[[], float]) -> None:
        self.broker = broker
        self.region = region
        self.account = account
        self.now = now
        self._listeners: list[Callable[[str], None]] = []

    # -- REST APIs -------------------------------------------------------

    def apis(self) -> dict[str, dict[str, Any]]:
        return self.broker.records(API)

    def api(self, api_id: str) -> dict[str, Any] | None:
        return self.broker.records(API).get(api_id)

    def save_api(self, doc: dict[str, Any]) -> None:
        api_id = doc["api"]["id"]
        self.broker.put_record(API, api_id, doc)
        self._changed(api_id)

    def drop_api(self, api_id: str) -> None:
        self.broker.drop_record(API, api_id)
        for name in [n for n in self.broker.records(DEPLOYMENT) if n.startswith(api_id + "/")]:
            self.broker.drop_record(DEPLOYMENT, name)
        self._changed(api_id)

    # -- deployments -----------------------------------------------------

    def deployment(self, api_id: str, deployment_id: str) -> dict[str, Any] | None:
        return self.broker.records(DEPLOYMENT).get(f"{api_id}/{deployment_id}")

    def deployments(self, api_id: str) -> list[dict[str, Any]]:
        prefix = api_id + "/"
        return [d for n, d in self.broker.records(DEPLOYMENT).items() if n.startswith(prefix)]

    def save_deployment(self, api_id: str, doc: dict[str, Any]) -> None:
        self.broker.put_record(DEPLOYMENT, f"{api_id}/{doc['deployment']['id']}", doc)

    def drop_deployment(self, api_id: str, deployment_id: str) -> None:
        self.broker.drop_record(DEPLOYMENT, f"{api_id}/{deployment_id}")

    @staticmethod
    def snapshot(doc: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy({part: doc.get(part, {}) for part in SNAPSHOT_PARTS})

    # -- keys, plans, usage ----------------------------------------------

    def records(self, kind: str) -> dict[str, Any]:
        return self.broker.records(kind)

    def put(self, kind: str, name: str, doc: Any) -> None:
        self.broker.put_record(kind, name, doc)
        self._changed("*")

    def drop(self, kind: str, name: str) -> None:
        self.broker.drop_record(kind, name)
        self._changed("*")

    def put_quiet(self, kind: str, name: str, doc: Any) -> None:
        """Store a document the data plane itself keeps (usage counters): no listeners."""
        self.broker.put_record(kind, name, doc)

    # -- change notification ---------------------------------------------

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(api_id)`` (``"*"`` for keys and plans) after each change,
        so the data plane drops what it compiled from the old definitions."""
        self._listeners.append(listener)

    def _changed(self, api_id: str) -> None:
        for listener in self._listeners:
            listener(api_id)
