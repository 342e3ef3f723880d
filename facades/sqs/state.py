"""What the SQS handlers share: the engine, names ↔ URLs/ARNs, and SQS's own bookkeeping
(recently deleted names, purge times, move tasks) that has no place in the engine."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable
from urllib.parse import urlsplit

from broker.engine.broker import Broker
from broker.engine.queue import Queue
from facades.aws.service import AwsRequestContext
from facades.sqs.errors import sqs_error


@dataclass
class SqsState:
    broker: Broker
    region: str
    account: str
    public_url: str = ""
    deleted_at: dict[str, int] = field(default_factory=dict)     # name -> ms
    purged_at: dict[str, int] = field(default_factory=dict)      # name -> ms
    move_tasks: dict[str, Any] = field(default_factory=dict)     # task handle -> MoveTask
    # Whether the request's caller may see a queue (the authorization map's say, set by
    # access.py): listings leave out the others before they are cut into pages.
    visible: Callable[[AwsRequestContext, str], bool] = lambda ctx, name: True

    def now_ms(self) -> int:
        return self.broker.now_ms()

    def region_of(self, ctx: AwsRequestContext) -> str:
        return ctx.region or self.region

    def url(self, ctx: AwsRequestContext, name: str) -> str:
        base = self.public_url.rstrip("/") or ctx.base_url
        return f"{base}/{ctx.account_id}/{name}"

    def arn(self, ctx: AwsRequestContext, name: str) -> str:
        return f"arn:aws:sqs:{self.region_of(ctx)}:{ctx.account_id}:{name}"

    def queue(self, url: str) -> Queue:
        """The queue a QueueUrl names (any host: SDKs build URLs of their own)."""
        queue = self.broker.queue(name_from_url(url), create=False)
        if queue is None:
            raise sqs_error("QueueDoesNotExist")
        return queue

    def queue_by_arn(self, arn: str) -> Queue | None:
        parts = arn.split(":")
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"]:
            return None
        return self.broker.queue(parts[5], create=False)


@lru_cache(maxsize=1024)   # every request names its queue by URL: split each URL once
def name_from_url(url: str) -> str:
    path = urlsplit(url).path if "://" in url else url
    name = path.rstrip("/").rsplit("/", 1)[-1]
    if not name:
        raise sqs_error("QueueDoesNotExist")
    return name


def redrive_target(attributes: dict[str, str]) -> tuple[str, int] | None:
    """(dead-letter queue name, maxReceiveCount) of a RedrivePolicy attribute."""
    raw = attributes.get("RedrivePolicy")
    if not raw:
        return None
    policy = json.loads(raw)
    return str(policy["deadLetterTargetArn"]).rsplit(":", 1)[-1], int(policy["maxReceiveCount"])
