"""ActiveMQ's scheduled delivery (`AMQ_SCHEDULED_DELAY`, `_PERIOD`, `_REPEAT`), for STOMP
headers and JMS properties alike: a scheduled message becomes one delayed engine message per
delivery."""
from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Callable, Mapping
from weakref import WeakKeyDictionary

from broker.engine.message import Message
from broker.engine.queue import Queue

if TYPE_CHECKING:
    from broker.engine.broker import Broker

# Times in ms must fit the store's 64-bit columns with room for `now + delay + n * period`:
# a value the database refuses would fail the whole group commit it lands in.
MAX_MS = 2 ** 62
# Each repeat of a scheduled message is stored as a message of its own.
MAX_SCHEDULED_REPEAT = 10000
NAMES = ("AMQ_SCHEDULED_DELAY", "AMQ_SCHEDULED_PERIOD", "AMQ_SCHEDULED_REPEAT")


class BadHeader(ValueError):
    pass


def int_value(values: Mapping[str, object], name: str, default: int, low: int = -MAX_MS,
              high: int = MAX_MS) -> int:
    raw = values.get(name)
    if raw is None or raw == "":
        return default
    text = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    try:
        value = int(text)
    except ValueError:
        raise BadHeader(f"Invalid {name} header: {text[:100]}") from None
    if not low <= value <= high:
        raise BadHeader(f"Invalid {name} header: {text[:100]} is out of range")
    return value


def scheduling(values: Mapping[str, object]) -> tuple[int, int, int]:
    """Delay, period and repeat; values of 0 or less mean "not set", as in ActiveMQ, except
    a negative repeat (repeat forever), which is refused."""
    if not values or values.keys().isdisjoint(NAMES):
        return 0, 0, 0  # the common case, on every send
    delay = max(0, int_value(values, "AMQ_SCHEDULED_DELAY", 0))
    period = max(0, int_value(values, "AMQ_SCHEDULED_PERIOD", 0))
    repeat = int_value(values, "AMQ_SCHEDULED_REPEAT", 0)
    if repeat < 0:
        raise BadHeader("AMQ_SCHEDULED_REPEAT below 0 (repeat forever) is not supported")
    if repeat > MAX_SCHEDULED_REPEAT:
        raise BadHeader(f"AMQ_SCHEDULED_REPEAT above {MAX_SCHEDULED_REPEAT} is not supported")
    if delay + repeat * period > MAX_MS:
        raise BadHeader("AMQ_SCHEDULED_DELAY and AMQ_SCHEDULED_PERIOD are out of range")
    return delay, period, repeat


def scheduled_copies(message: Message, values: Mapping[str, object], now: int,
                     next_id: Callable[[], str]) -> list[Message]:
    """The message as it is to be delivered: itself, or one delayed copy per delivery,
    each carrying the `scheduledJobId` of the first."""
    delay, period, repeat = scheduling(values)
    if delay <= 0 and not (period > 0 and repeat > 0):
        return [message]
    message.headers["scheduledJobId"] = message.message_id
    message.visible_at = now + delay if delay > 0 else 0
    copies = [message]
    for i in range(1, repeat + 1 if period > 0 else 1):
        extra = message.copy()
        extra.message_id = next_id()
        extra.headers = {**message.headers, "scheduledJobId": message.message_id}
        extra.visible_at = now + delay + i * period
        copies.append(extra)
    return copies


# A topic keeps no messages, so a delayed publish waits outside it: as a timer, and for a
# persistent message also as a record of this kind, so it survives a restart.
SCHEDULED_TOPIC_RECORDS = "activemq.scheduled-topic"
_restored: "WeakKeyDictionary[Any, bool]" = WeakKeyDictionary()


def route(broker: "Broker", clock: Any, topic: str | None, queue: Queue | None,
          message: Message) -> None:
    """Deliver one message to a queue, or publish it to a topic (when its delay is up)."""
    if topic is None:
        assert queue is not None
        queue.enqueue(message)
        return
    if message.visible_at > broker.now_ms():
        name = None
        if message.persistent:
            name = f"{message.message_id}@{message.visible_at}"
            row = message.to_row(0)
            row["body"] = base64.b64encode(message.body).decode()
            broker.put_record(SCHEDULED_TOPIC_RECORDS, name, {"topic": topic, "message": row})
        _publish_later(broker, clock, topic, message, name)
    else:
        broker.publish(topic, message)


def _publish_later(broker: "Broker", clock: Any, topic: str, message: Message, record: str | None) -> None:
    delay = max(0, message.visible_at - broker.now_ms()) / 1000.0
    message.visible_at = 0

    def publish() -> None:
        if record is not None:
            broker.drop_record(SCHEDULED_TOPIC_RECORDS, record)
        broker.publish(topic, message)
    clock.callLater(delay, publish)


def restore_scheduled_topics(broker: "Broker", clock: Any) -> None:
    """Re-arm the persistent topic messages that were waiting when the broker stopped
    (once per broker, whichever ActiveMQ door starts first)."""
    if _restored.get(broker):
        return
    _restored[broker] = True
    for name, doc in list(broker.records(SCHEDULED_TOPIC_RECORDS).items()):
        row = dict(doc["message"])
        row["body"] = base64.b64decode(row["body"])
        _publish_later(broker, clock, doc["topic"], Message.from_row(row), name)
