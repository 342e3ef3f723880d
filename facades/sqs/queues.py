"""SQS actions on queues: create, find, list, delete, attributes, purge, tags, permissions."""
from __future__ import annotations

import json
from typing import Any

from broker.engine.queue import Queue
from facades.aws.policy import grant
from facades.aws.service import AwsRequestContext, Params
from facades.sqs import queue_attributes as qa
from facades.sqs.errors import sqs_error
from facades.sqs.state import SqsState, redrive_target
from facades.sqs.validation import (is_fifo_request, validate_attribute_names,
                                    validate_max_results, validate_queue_attributes,
                                    validate_queue_name)

RECREATE_WAIT_MS = 60_000
PURGE_INTERVAL_MS = 60_000
MAX_TAGS = 50
PERMISSION_ACTIONS = frozenset({"*", "SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility",
                                "GetQueueAttributes", "GetQueueUrl", "ListDeadLetterSourceQueues",
                                "PurgeQueue", "ListQueueTags"})
# SQS's policy quota: a statement names at most this many actions.
MAX_STATEMENT_ACTIONS = 7
# Actions only a queue's owner may call: AddPermission cannot grant them.
OWNER_ACTIONS = frozenset({"AddPermission", "CreateQueue", "DeleteQueue", "RemovePermission",
                           "SetQueueAttributes", "TagQueue", "UntagQueue"})


def _check_dead_letter_target(state: SqsState, attributes: dict[str, str]) -> None:
    target = redrive_target(attributes)
    if target is not None and state.broker.queue(target[0], create=False) is None:
        raise sqs_error("InvalidParameterValue",
                        f"Value {attributes['RedrivePolicy']} for parameter RedrivePolicy is invalid. "
                        "Reason: Dead letter target does not exist.")


def create_queue(state: SqsState, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
    name: str = params["QueueName"]
    attributes: dict[str, str] = dict(params.get("Attributes") or {})
    fifo = is_fifo_request(attributes)
    validate_queue_name(name, fifo=fifo)
    given, attributes = attributes, validate_queue_attributes(attributes, fifo=fifo, creating=True)
    tags = dict(params.get("tags") or {})
    existing = state.broker.queue(name, create=False)
    if existing is not None:
        current = qa.stored(existing)
        # FifoQueue is compared too: a STOMP-made queue may have a FIFO queue's name.
        differing = next((k for k, v in attributes.items() if current.get(k) != v), None)
        if differing is not None:
            raise sqs_error("QueueNameExists",
                            f"A queue already exists with the same name and a different value for attribute {differing}")
        return {"QueueUrl": state.url(ctx, name)}
    deleted = state.deleted_at.get(name)
    if deleted is not None and state.now_ms() - deleted < RECREATE_WAIT_MS:
        raise sqs_error("QueueDeletedRecently")
    _check_dead_letter_target(state, given)
    attributes.pop("FifoQueue", None)
    state.broker.create_queue(name, settings=qa.settings_for(attributes, fifo),
                              attrs={"sqs": attributes, "tags": tags})
    return {"QueueUrl": state.url(ctx, name)}


def get_queue_url(state: SqsState, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
    name = params["QueueName"]
    if state.broker.queue(name, create=False) is None:
        raise sqs_error("QueueDoesNotExist")
    return {"QueueUrl": state.url(ctx, name)}


def _page(names: list[str], params: Params) -> tuple[list[str], str | None]:
    max_results = params.get("MaxResults")
    validate_max_results(max_results)
    token = params.get("NextToken")
    if token:
        names = [n for n in names if n > token]
    if max_results is None:
        return names[:1000], None
    page = names[:max_results]
    return page, page[-1] if len(names) > max_results else None


def list_queues(state: SqsState, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
    prefix = params.get("QueueNamePrefix") or ""
    names = sorted(n for n, q in state.broker.queues.items()
                   if n.startswith(prefix) and q.durable and state.visible(ctx, n))
    page, token = _page(names, params)
    out: dict[str, Any] = {}
    if page:
        out["QueueUrls"] = [state.url(ctx, n) for n in page]
    if token:
        out["NextToken"] = token
    return out


def delete_queue(state: SqsState, ctx: AwsRequestContext, params: Params) -> None:
    queue = state.queue(params["QueueUrl"])
    state.broker.delete_queue(queue.name)
    state.deleted_at[queue.name] = state.now_ms()
    return None


def get_queue_attributes(state: SqsState, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
    queue = state.queue(params["QueueUrl"])
    names = list(params.get("AttributeNames") or [])
    validate_attribute_names(names)
    selected = qa.select(queue, state.arn(ctx, queue.name), names)
    return {"Attributes": selected} if selected else {}


def set_queue_attributes(state: SqsState, ctx: AwsRequestContext, params: Params) -> None:
    queue = state.queue(params["QueueUrl"])
    attributes: dict[str, str] = dict(params.get("Attributes") or {})
    fifo = qa.is_fifo(queue)
    kept = validate_queue_attributes(attributes, fifo=fifo, creating=False)
    _check_dead_letter_target(state, attributes)
    attributes = kept
    own = {**queue.attrs.get("sqs", {}), **attributes}
    own = {k: v for k, v in own.items() if v != "" or k not in ("RedrivePolicy", "Policy", "RedriveAllowPolicy")}
    state.broker.update_queue(queue, settings=qa.settings_for(own, fifo), attrs={**queue.attrs, "sqs": own})
    return None


def purge_queue(state: SqsState, ctx: AwsRequestContext, params: Params) -> None:
    queue = state.queue(params["QueueUrl"])
    now = state.now_ms()
    last = state.purged_at.get(queue.name)
    if last is not None and now - last < PURGE_INTERVAL_MS:
        raise sqs_error("PurgeQueueInProgress",
                        f"Only one PurgeQueue operation on {queue.name} is allowed every 60 seconds.")
    state.purged_at[queue.name] = now
    queue.purge(include_inflight=True)
    return None


def _missing(parameter: str) -> Exception:
    """SQS's answer to a required list or map sent empty (the Query protocol leaves it out)."""
    return sqs_error("MissingParameter", f"The request must contain the parameter {parameter}.")


def tag_queue(state: SqsState, ctx: AwsRequestContext, params: Params) -> None:
    queue = state.queue(params["QueueUrl"])
    added = params.get("Tags") or {}
    if not added:
        raise _missing("Tags")
    tags = {**queue.attrs.get("tags", {}), **added}
    if len(tags) > MAX_TAGS:
        raise sqs_error("InvalidParameterValue", f"Too many tags added for queue {queue.name}.")
    state.broker.update_queue(queue, attrs={**queue.attrs, "tags": tags})
    return None


def untag_queue(state: SqsState, ctx: AwsRequestContext, params: Params) -> None:
    queue = state.queue(params["QueueUrl"])
    remove = set(params.get("TagKeys") or [])
    if not remove:
        raise _missing("TagKeys")
    tags = {k: v for k, v in queue.attrs.get("tags", {}).items() if k not in remove}
    state.broker.update_queue(queue, attrs={**queue.attrs, "tags": tags})
    return None


def list_queue_tags(state: SqsState, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
    queue = state.queue(params["QueueUrl"])
    tags = queue.attrs.get("tags", {})
    return {"Tags": dict(tags)} if tags else {}


def list_dead_letter_source_queues(state: SqsState, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
    queue = state.queue(params["QueueUrl"])
    names = sorted(n for n, q in state.broker.queues.items()
                   if q.settings.dead_letter == queue.name and state.visible(ctx, n))
    page, token = _page(names, params)
    out: dict[str, Any] = {"queueUrls": [state.url(ctx, n) for n in page]}
    if token:
        out["NextToken"] = token
    return out


def _policy(state: SqsState, ctx: AwsRequestContext, queue: Queue) -> dict[str, Any]:
    """The queue's policy, or the one SQS starts when AddPermission finds none."""
    raw = queue.attrs.get("sqs", {}).get("Policy")
    if raw:
        return json.loads(raw)
    return {"Version": "2012-10-17", "Id": f"{state.arn(ctx, queue.name)}/SQSDefaultPolicy", "Statement": []}



def add_permission(state: SqsState, ctx: AwsRequestContext, params: Params) -> None:
    queue = state.queue(params["QueueUrl"])
    label = params["Label"]
    accounts, actions = params.get("AWSAccountIds") or [], params.get("Actions") or []
    if not accounts or not actions:
        raise _missing("AWSAccountIds" if not accounts else "Actions")
    for action in actions:
        if action not in PERMISSION_ACTIONS:
            reason = ("Only the queue owner is allowed to invoke this action." if action in OWNER_ACTIONS
                      else "Please refer to the appropriate WSDL for a list of valid actions.")
            raise sqs_error("InvalidParameterValue",
                            f"Value SQS:{action} for parameter ActionName is invalid. Reason: {reason}")
    if len(actions) > MAX_STATEMENT_ACTIONS:
        raise sqs_error("OverLimit", f"{len(actions)} Actions were found, maximum allowed is {MAX_STATEMENT_ACTIONS}.")
    policy = _policy(state, ctx, queue)
    if any(s.get("Sid") == label for s in policy["Statement"]):
        raise sqs_error("InvalidParameterValue",
                        f"Value {label} for parameter Label is invalid. Reason: Already exists.")
    policy["Statement"].append(grant(label, accounts, "SQS", actions, state.arn(ctx, queue.name)))
    _store_policy(state, queue, policy)
    return None


def remove_permission(state: SqsState, ctx: AwsRequestContext, params: Params) -> None:
    queue = state.queue(params["QueueUrl"])
    label = params["Label"]
    policy = _policy(state, ctx, queue)
    kept = [s for s in policy["Statement"] if s.get("Sid") != label]
    if len(kept) == len(policy["Statement"]):
        raise sqs_error("InvalidParameterValue",
                        f"Value {label} for parameter Label is invalid. Reason: can't find label.")
    policy["Statement"] = kept
    _store_policy(state, queue, policy if kept else None)
    return None


def _store_policy(state: SqsState, queue: Queue, policy: dict[str, Any] | None) -> None:
    own = dict(queue.attrs.get("sqs", {}))
    if policy is None:
        own.pop("Policy", None)
    else:
        own["Policy"] = json.dumps(policy, separators=(",", ":"))
    state.broker.update_queue(queue, attrs={**queue.attrs, "sqs": own})
