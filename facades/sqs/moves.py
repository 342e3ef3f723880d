"""Message move tasks: redrive messages out of a dead-letter queue, at a bounded rate.

A task moves what the DLQ holds when it starts, back to each message's source queue (or
to DestinationArn), in ticks so a large redrive never blocks the reactor.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import task

from facades.aws.service import AwsRequestContext, Params
from facades.sqs.errors import sqs_error
from facades.sqs.state import SqsState

TICK_S = 0.1
DEFAULT_RATE = 500
MAX_RATE = 500


@dataclass
class MoveTask:
    handle: str
    source: str
    source_arn: str
    destination: str | None
    destination_arn: str | None
    rate: int | None
    to_move: int
    started: int
    status: str = "RUNNING"
    moved: int = 0
    failure: str | None = None
    loop: Any = field(default=None, repr=False)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Status": self.status, "SourceArn": self.source_arn,
                               "ApproximateNumberOfMessagesMoved": self.moved,
                               "ApproximateNumberOfMessagesToMove": self.to_move,
                               "StartedTimestamp": self.started}
        if self.status == "RUNNING":
            out["TaskHandle"] = self.handle
        if self.destination_arn:
            out["DestinationArn"] = self.destination_arn
        if self.rate is not None:
            out["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure:
            out["FailureReason"] = self.failure
        return out


def _tick(state: SqsState, move: MoveTask) -> None:
    source = state.broker.queue(move.source, create=False)
    if source is None:
        move.status, move.failure = "FAILED", "AWS.SimpleQueueService.NonExistentQueue"
        move.loop.stop()
        return
    budget = min(move.to_move - move.moved, int((move.rate or DEFAULT_RATE) * TICK_S) or 1)
    for message in source.take(budget):
        target = move.destination or message.headers.get("dead-letter-source") or ""
        queue = state.broker.queue(target, create=False) if target else None
        if queue is None:
            source.enqueue(message.copy())  # nowhere to go: keep it in the DLQ
            move.status, move.failure = "FAILED", "AWS.SimpleQueueService.NonExistentQueue"
            move.loop.stop()
            return
        copy = message.copy()
        copy.headers = {k: v for k, v in message.headers.items() if k != "dead-letter-source"}
        copy.visible_at = 0
        queue.enqueue(copy)
        move.moved += 1
    if move.moved >= move.to_move or source.ready_count == 0:
        move.status = "COMPLETED"
        move.loop.stop()


def start_message_move_task(state: SqsState, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
    source_arn = params["SourceArn"]
    source = state.queue_by_arn(source_arn)
    if source is None:
        raise sqs_error("ResourceNotFoundException", "The resource that you specified for the SourceArn parameter doesn't exist.")
    if not any(q.settings.dead_letter == source.name for q in state.broker.queues.values()):
        raise sqs_error("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
    destination_arn = params.get("DestinationArn")
    destination = None
    if destination_arn:
        target = state.queue_by_arn(destination_arn)
        if target is None:
            raise sqs_error("ResourceNotFoundException",
                            "The resource that you specified for the DestinationArn parameter doesn't exist.")
        destination = target.name
    rate = params.get("MaxNumberOfMessagesPerSecond")
    if rate is not None and not 1 <= rate <= MAX_RATE:
        raise sqs_error("InvalidParameterValue",
                        f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. "
                        f"Reason: Must be between 1 and {MAX_RATE}.")
    if any(t.source == source.name and t.status == "RUNNING" for t in state.move_tasks.values()):
        raise sqs_error("UnsupportedOperation", "There is already a task running. Only one active task is allowed for a source queue arn at a given time.")
    move = MoveTask(handle=str(uuid.uuid4()), source=source.name, source_arn=source_arn,
                    destination=destination, destination_arn=destination_arn, rate=rate,
                    to_move=source.ready_count, started=state.now_ms())
    state.move_tasks[move.handle] = move
    move.loop = task.LoopingCall(_tick, state, move)
    move.loop.clock = state.broker.clock
    move.loop.start(TICK_S, now=True)
    return {"TaskHandle": move.handle}


def cancel_message_move_task(state: SqsState, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
    move = state.move_tasks.get(params["TaskHandle"])
    if move is None or move.status != "RUNNING":
        raise sqs_error("ResourceNotFoundException", "The task handle that you specified doesn't exist.")
    move.status = "CANCELLED"
    if move.loop.running:
        move.loop.stop()
    return {"ApproximateNumberOfMessagesMoved": move.moved}


def list_message_move_tasks(state: SqsState, ctx: AwsRequestContext, params: Params) -> dict[str, Any]:
    source_arn = params["SourceArn"]
    if state.queue_by_arn(source_arn) is None:
        raise sqs_error("ResourceNotFoundException", "The resource that you specified for the SourceArn parameter doesn't exist.")
    limit = params.get("MaxResults") or 1
    if not 1 <= limit <= 10:
        raise sqs_error("InvalidParameterValue",
                        f"Value {limit} for parameter MaxResults is invalid. Reason: Must be between 1 and 10.")
    tasks = sorted((t for t in state.move_tasks.values() if t.source_arn == source_arn),
                   key=lambda t: t.started, reverse=True)
    return {"Results": [t.describe() for t in tasks[:limit]]}
