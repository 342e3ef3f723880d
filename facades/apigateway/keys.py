"""API keys, usage plans, their keys, and usage (quota) counters."""

from __future__ import annotations

import copy
import csv
import datetime
import io
from typing import Any

from facades.apigateway import patch
from facades.apigateway.control import Doc, api_doc, member
from facades.apigateway.service import apigateway_model, bad_request, conflict, not_found
from facades.apigateway.state import API_KEY, USAGE, USAGE_PLAN, ApiGatewayState, new_id, new_key_value
from facades.aws.errors import AwsError
from facades.aws.service import AwsRequestContext, Params

USAGE_PLAN_KEY = "apigateway.usageplankey"

_PERIODS = ("DAY", "WEEK", "MONTH")


def _shape(name: str) -> Any:
    return apigateway_model().shape_for(name)


# -- API keys -------------------------------------------------------------------


def create_api_key(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    value = params.get("value") or new_key_value()
    if len(value) < 20:
        raise bad_request("API Key value should be at least 20 characters")
    if any(k["value"] == value for k in state.records(API_KEY).values()):
        raise conflict("API Key already exists")
    now = state.now()
    key = {"id": new_id(), "value": value, "name": params.get("name", ""), "enabled": bool(params.get("enabled", False)),
           "createdDate": now, "lastUpdatedDate": now,
           "stageKeys": [f"{s['restApiId']}/{s['stageName']}" for s in params.get("stageKeys", [])]}
    for name in ("description", "customerId", "tags"):
        if name in params:
            key[name] = params[name]
    state.put(API_KEY, key["id"], key)
    return key


def import_api_keys(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    """CSV as AWS takes it: a header row naming ``key``, ``name``, ``description``,
    ``enabled`` and ``usageplanIds`` (any order and case), one key per row."""
    if params.get("format", "csv") != "csv":
        raise bad_request("Invalid format specified. Must be csv")
    try:
        rows = list(csv.reader(io.StringIO(params["body"].decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error):
        raise bad_request("Invalid API keys file: not UTF-8 CSV") from None
    if not rows:
        raise bad_request("Invalid API keys file: no header row")
    header = [h.strip().lower() for h in rows[0]]
    if "key" not in header:
        raise bad_request("Invalid API keys file: the header must name a Key column")
    ids = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        fields = dict(zip(header, (cell.strip() for cell in row)))
        try:
            key = create_api_key(state, ctx, {"value": fields.get("key", ""), "name": fields.get("name", ""),
                                              "description": fields.get("description", ""),
                                              "enabled": fields.get("enabled", "true").lower() == "true"})
            for plan_id in filter(None, (p.strip() for p in fields.get("usageplanids", "").split(":"))):
                create_usage_plan_key(state, ctx, {"usagePlanId": plan_id, "keyId": key["id"], "keyType": "API_KEY"})
        except AwsError as error:
            raise bad_request(f"Invalid API keys file: row {number}: {error}") from None
        ids.append(key["id"])
    return {"ids": ids, "warnings": []}


def _key(state: ApiGatewayState, key_id: str) -> Doc:
    return member(state.records(API_KEY), key_id, "Invalid API Key identifier specified")


def _shown(key: Doc, include_value: bool) -> Doc:
    return key if include_value else {k: v for k, v in key.items() if k != "value"}


def get_api_key(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return _shown(_key(state, params["apiKey"]), bool(params.get("includeValue")))


def get_api_keys(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    prefix = params.get("nameQuery", "")
    keys = [k for k in state.records(API_KEY).values() if k.get("name", "").startswith(prefix)]
    return {"items": [_shown(k, bool(params.get("includeValues"))) for k in keys]}


def update_api_key(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    key = copy.deepcopy(_key(state, params["apiKey"]))
    patch.apply(key, params.get("patchOperations", []), _shape("ApiKey"),
                ("name", "description", "enabled", "customerId", "stageKeys"))
    key["lastUpdatedDate"] = state.now()
    state.put(API_KEY, key["id"], key)
    return key


def delete_api_key(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    _key(state, params["apiKey"])
    state.drop(API_KEY, params["apiKey"])
    for name in [n for n in state.records(USAGE_PLAN_KEY) if n.endswith("/" + params["apiKey"])]:
        state.drop(USAGE_PLAN_KEY, name)


# -- usage plans ------------------------------------------------------------------


def _check_plan(state: ApiGatewayState, plan: Doc) -> None:
    for api_stage in plan.get("apiStages", []):
        doc = api_doc(state, api_stage.get("apiId", ""))
        if api_stage.get("stage") not in doc["stages"]:
            raise bad_request(f"API Stage not found: {api_stage.get('apiId')}:{api_stage.get('stage')}")
    quota = plan.get("quota")
    if quota is not None and quota.get("period") not in _PERIODS:
        raise bad_request("Invalid quota period specified. Must be one of DAY, WEEK, MONTH")


def create_usage_plan(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    plan = {"id": new_id(6), "name": params["name"], "apiStages": copy.deepcopy(params.get("apiStages", []))}
    for name in ("description", "throttle", "quota", "tags"):
        if name in params:
            plan[name] = copy.deepcopy(params[name])
    _check_plan(state, plan)
    state.put(USAGE_PLAN, plan["id"], plan)
    return plan


def _plan(state: ApiGatewayState, plan_id: str) -> Doc:
    return member(state.records(USAGE_PLAN), plan_id, "Invalid Usage Plan ID specified")


def get_usage_plan(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return _plan(state, params["usagePlanId"])


def get_usage_plans(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    plans = list(state.records(USAGE_PLAN).values())
    key_id = params.get("keyId")
    if key_id:
        plans = [p for p in plans if f"{p['id']}/{key_id}" in state.records(USAGE_PLAN_KEY)]
    return {"items": plans}


def update_usage_plan(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    plan = copy.deepcopy(_plan(state, params["usagePlanId"]))
    operations = []
    for operation in params.get("patchOperations", []):
        parts = patch.split(operation.get("path", ""))
        if parts[:1] == ["apiStages"] and len(parts) == 1 and operation.get("op") in ("add", "remove"):
            api_id, _, stage = str(operation.get("value", "")).partition(":")
            entry = {"apiId": api_id, "stage": stage}
            stages = plan.setdefault("apiStages", [])
            if operation["op"] == "add":
                stages.append(entry)
            else:
                plan["apiStages"] = [s for s in stages if (s["apiId"], s["stage"]) != (api_id, stage)]
        else:
            operations.append(operation)
    patch.apply(plan, operations, _shape("UsagePlan"), ("name", "description", "throttle", "quota", "productCode"))
    _check_plan(state, plan)
    state.put(USAGE_PLAN, plan["id"], plan)
    return plan


def delete_usage_plan(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    _plan(state, params["usagePlanId"])
    state.drop(USAGE_PLAN, params["usagePlanId"])
    prefix = params["usagePlanId"] + "/"
    for kind in (USAGE_PLAN_KEY, USAGE):
        for name in [n for n in state.records(kind) if n.startswith(prefix)]:
            state.drop(kind, name)


def create_usage_plan_key(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    _plan(state, params["usagePlanId"])
    if params["keyType"] != "API_KEY":
        raise bad_request("Invalid key type specified. Must be API_KEY")
    key = _key(state, params["keyId"])
    name = f"{params['usagePlanId']}/{key['id']}"
    if name in state.records(USAGE_PLAN_KEY):
        raise conflict("Usage Plan Key already exists")
    plan_key = {"id": key["id"], "type": "API_KEY", "value": key["value"], "name": key.get("name", "")}
    state.put(USAGE_PLAN_KEY, name, plan_key)
    return plan_key


def _plan_key(state: ApiGatewayState, plan_id: str, key_id: str) -> Doc:
    _plan(state, plan_id)
    found = state.records(USAGE_PLAN_KEY).get(f"{plan_id}/{key_id}")
    if found is None:
        raise not_found("Invalid Usage Plan Key identifier specified")
    return found


def get_usage_plan_key(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    return _plan_key(state, params["usagePlanId"], params["keyId"])


def get_usage_plan_keys(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    _plan(state, params["usagePlanId"])
    prefix = params["usagePlanId"] + "/"
    return {"items": [k for n, k in state.records(USAGE_PLAN_KEY).items() if n.startswith(prefix)]}


def delete_usage_plan_key(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> None:
    _plan_key(state, params["usagePlanId"], params["keyId"])
    state.drop(USAGE_PLAN_KEY, f"{params['usagePlanId']}/{params['keyId']}")


# -- usage ------------------------------------------------------------------------


def day(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc).strftime("%Y-%m-%d")


def period_start(period: str, timestamp: float) -> str:
    """First day of the quota period holding ``timestamp`` (weeks start on Monday, UTC)."""
    date = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc).date()
    if period == "WEEK":
        date -= datetime.timedelta(days=date.weekday())
    elif period == "MONTH":
        date = date.replace(day=1)
    return date.isoformat()


def _days(start: str, end: str) -> list[str]:
    try:
        first, last = datetime.date.fromisoformat(start), datetime.date.fromisoformat(end)
    except ValueError:
        raise bad_request("Invalid date format: dates must be YYYY-MM-DD") from None
    if last < first or (last - first).days > 90:
        raise bad_request("The usage data period is invalid: endDate must follow startDate within 90 days")
    return [(first + datetime.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def get_usage(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    plan = _plan(state, params["usagePlanId"])
    if "startDate" not in params or "endDate" not in params:
        raise bad_request("Invalid request input: startDate and endDate are required")
    days = _days(params["startDate"], params["endDate"])
    limit = plan.get("quota", {}).get("limit")
    prefix = plan["id"] + "/"
    items: dict[str, list[list[int]]] = {}
    for name, plan_key in state.records(USAGE_PLAN_KEY).items():
        if not name.startswith(prefix) or params.get("keyId") not in (None, plan_key["id"]):
            continue
        counts = state.records(USAGE).get(name, {}).get("days", {})
        used_so_far = 0
        rows = []
        for d in days:
            used = counts.get(d, 0)
            used_so_far += used
            rows.append([used, (limit - used_so_far) if limit is not None else 0])
        items[plan_key["id"]] = rows
    return {"usagePlanId": plan["id"], "startDate": params["startDate"], "endDate": params["endDate"],
            "items": items}


def update_usage(state: ApiGatewayState, ctx: AwsRequestContext, params: Params) -> Doc:
    """``replace /remaining`` grants a key more (or fewer) calls in the current period."""
    plan = _plan(state, params["usagePlanId"])
    name = f"{plan['id']}/{params['keyId']}"
    _plan_key(state, plan["id"], params["keyId"])
    quota = plan.get("quota")
    if quota is None:
        raise bad_request("Usage plan has no quota")
    record = copy.deepcopy(state.records(USAGE).get(name, {"days": {}}))
    for operation in params.get("patchOperations", []):
        if operation.get("path") != "/remaining" or operation.get("op") != "replace":
            raise patch.invalid_path(operation.get("op", ""), operation.get("path", ""), ["/remaining"])
        remaining = patch.coerce(_shape("QuotaSettings").members["limit"], operation.get("value"), "/remaining")
        now = state.now()
        start = period_start(quota["period"], now)
        used_before = sum(n for d, n in record["days"].items() if start <= d < day(now))
        record["days"][day(now)] = max(0, quota["limit"] - remaining - used_before)
    state.put(USAGE, name, record)
    return get_usage(state, ctx, {"usagePlanId": plan["id"], "keyId": params["keyId"],
                                  "startDate": day(state.now()), "endDate": day(state.now())})
