"""SQS queue attributes: defaults, what the engine enforces of them, and the read-only
ones computed from the queue's live state."""
from __future__ import annotations

from typing import Any

from broker.engine.queue import Queue
from broker.engine.settings import QueueSettings
from facades.sqs.state import redrive_target

DEDUP_WINDOW_MS = 5 * 60 * 1000

DEFAULTS = {
    "VisibilityTimeout": "30",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "DelaySeconds": "0",
    "ReceiveMessageWaitTimeSeconds": "0",
    "SqsManagedSseEnabled": "true",
}
FIFO_DEFAULTS = {
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}
COMPUTED = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp",
            "QueueArn")
# The order AWS lists them in for AttributeNames=All.
ALL_NAMES = ("QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp",
             "VisibilityTimeout", "MaximumMessageSize", "MessageRetentionPeriod", "DelaySeconds",
             "ReceiveMessageWaitTimeSeconds", "Policy", "RedrivePolicy", "RedriveAllowPolicy",
             "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled",
             "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")


def stored(queue: Queue) -> dict[str, str]:
    """The settable attributes of a queue, defaults filled in (STOMP-made queues too)."""
    own: dict[str, str] = queue.attrs.get("sqs", {})
    base = dict(DEFAULTS)
    if is_fifo(queue):
        base.update(FIFO_DEFAULTS)
    base.update(own)
    return base


def is_fifo(queue: Queue) -> bool:
    return queue.settings.fifo


def settings_for(attributes: dict[str, str], fifo: bool) -> QueueSettings:
    """What the engine must enforce for these attributes."""
    target = redrive_target(attributes)
    return QueueSettings(
        fifo=fifo,
        default_delay_ms=int(attributes.get("DelaySeconds", "0")) * 1000,
        retention_ms=int(attributes.get("MessageRetentionPeriod", DEFAULTS["MessageRetentionPeriod"])) * 1000,
        max_deliveries=target[1] if target else 0,
        dead_letter=target[0] if target else "",
        dedup_window_ms=DEDUP_WINDOW_MS if fifo else 0,
    )


def computed(queue: Queue, arn: str) -> dict[str, str]:
    return {
        "QueueArn": arn,
        "ApproximateNumberOfMessages": str(queue.ready_count),
        "ApproximateNumberOfMessagesNotVisible": str(queue.inflight_count),
        "ApproximateNumberOfMessagesDelayed": str(queue.delayed_count),
        "CreatedTimestamp": str(queue.created_at // 1000),
        "LastModifiedTimestamp": str(queue.modified_at // 1000),
    }


def select(queue: Queue, arn: str, names: list[str]) -> dict[str, Any]:
    """GetQueueAttributes: the named attributes (or all), in AWS's order."""
    values = {**stored(queue), **computed(queue, arn)}
    wanted = set(ALL_NAMES) if "All" in names else set(names)
    return {n: values[n] for n in ALL_NAMES if n in wanted and n in values}
