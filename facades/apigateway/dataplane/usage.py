"""API keys and usage plans at request time: key checks, plan throttles, quotas.

Usage counts are kept per plan and key, per day (kind ``apigateway.usage``);
each counted call rewrites its small record in the broker's group commit, so
quotas survive a restart, even a crash.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from facades.apigateway.dataplane.errors import GatewayError
from facades.apigateway.keys import USAGE_PLAN_KEY, day, period_start
from facades.apigateway.state import API_KEY, USAGE, USAGE_PLAN, ApiGatewayState


#: Days of counts kept: a month's quota and GetUsage's 90-day window.
_KEPT_DAYS = 92


class UsagePlans:
    def __init__(self, state: ApiGatewayState, clock: Callable[[], float]) -> None:
        self._state = state
        self._clock = clock
        self._index: dict[str, Any] | None = None
        self._counts: dict[str, dict[str, Any]] = {}

    def invalidate(self) -> None:
        """Keys or plans changed: rebuild the index, re-read counters from the store
        (UpdateUsage may have rewritten them)."""
        self._index = None
        self._counts.clear()

    def _build(self) -> dict[str, Any]:
        keys_by_value = {k["value"]: k for k in self._state.records(API_KEY).values()}
        plans_by_stage: dict[tuple[str, str, str], dict[str, Any]] = {}
        plan_keys = self._state.records(USAGE_PLAN_KEY)
        for name in plan_keys:
            plan_id, _, key_id = name.partition("/")
            plan = self._state.records(USAGE_PLAN).get(plan_id)
            if plan is None:
                continue
            for api_stage in plan.get("apiStages", []):
                plans_by_stage[(api_stage.get("apiId", ""), api_stage.get("stage", ""), key_id)] = plan
        self._index = {"keys": keys_by_value, "plans": plans_by_stage}
        return self._index

    def check_key(self, value: str | None, api_id: str, stage: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The enabled key with this value and its usage plan for the stage, or 403."""
        index = self._index or self._build()
        key = index["keys"].get(value or "")
        if key is None or not key.get("enabled"):
            raise GatewayError("INVALID_API_KEY", "Forbidden")
        plan = index["plans"].get((api_id, stage, key["id"]))
        if plan is None:
            raise GatewayError("INVALID_API_KEY", "Forbidden")
        return key, plan

    def limits(self, plan: dict[str, Any], api_id: str, stage: str, resource_path: str,
               http_method: str) -> tuple[str, float, int] | None:
        """(bucket scope, rate, burst) for the plan at this method, if it sets any: a method
        throttle has a bucket of its own, the plan's throttle one shared by the other methods."""
        for api_stage in plan.get("apiStages", []):
            if (api_stage.get("apiId"), api_stage.get("stage")) == (api_id, stage):
                key = f"{resource_path}/{http_method}"
                method = (api_stage.get("throttle") or {}).get(key)
                if method:
                    return (f"{api_id}/{stage}{key}", float(method.get("rateLimit", 0)),
                            int(method.get("burstLimit", 0)))
        throttle = plan.get("throttle")
        if throttle:
            return "plan", float(throttle.get("rateLimit", 0)), int(throttle.get("burstLimit", 0))
        return None

    def count(self, plan: dict[str, Any], key_id: str) -> None:
        """Count one call against the plan's quota, or 429 Limit Exceeded."""
        quota = plan.get("quota")
        name = f"{plan['id']}/{key_id}"
        record = self._counts.get(name)
        if record is None:
            record = self._counts[name] = copy.deepcopy(self._state.records(USAGE).get(name, {"days": {}}))
        now = self._clock()
        today = day(now)
        if quota and quota.get("limit") is not None:
            start = period_start(quota.get("period", "DAY"), now)
            used = sum(n for d, n in record["days"].items() if d >= start)
            if used >= quota["limit"]:
                raise GatewayError("QUOTA_EXCEEDED", "Limit Exceeded")
        record["days"][today] = record["days"].get(today, 0) + 1
        oldest = day(now - _KEPT_DAYS * 86400)
        for stale in [d for d in record["days"] if d < oldest]:
            del record["days"][stale]
        self._state.put_quiet(USAGE, name, {"days": dict(record["days"])})
