"""ActiveMQ's scheduled delivery (`AMQ_SCHEDULED_DELAY`, `_PERIOD`, `_REPEAT`, `_CRON`), for
STOMP headers and JMS properties alike: a scheduled message becomes one delayed engine
message per delivery; a cron message becomes a job that re-arms itself at each cron time.
As ActiveMQ's SchedulerBroker, a message asks for it with a delay, a period or a cron entry
(even 0: it is then delivered at once), and every delivery carries the job's
`scheduledJobId` and none of the `AMQ_SCHEDULED_*` properties; those stay with the job
(`Message.withheld`), for the scheduler management's BROWSE.

Cron follows ActiveMQ's scheduler (JobSchedulerImpl): the first firing is at the next cron
time plus the delay (or, without one, the period); each firing delivers the message once,
or with a repeat, `repeat + 1` times, the first after the delay (or period) and the others a
period apart; later firings are at the cron times themselves. Times are the broker's local
time, as ActiveMQ's CronParser reads them.
"""
from __future__ import annotations

import base64
import json
from datetime import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping
from weakref import WeakKeyDictionary

from cronsim import CronSim, CronSimError

from broker.engine.message import Message
from broker.engine.queue import Queue
from broker.protocols.activemq.per_broker import PerBroker

if TYPE_CHECKING:
    from broker.engine.broker import Broker

# Times in ms must fit the store's 64-bit columns with room for `now + delay + n * period`:
# a value the database refuses would fail the whole group commit it lands in.
MAX_MS = 2 ** 62
# Each repeat of a scheduled message is stored as a message of its own.
MAX_SCHEDULED_REPEAT = 10000
CRON = "AMQ_SCHEDULED_CRON"
JOB_ID = "scheduledJobId"
NAMES = ("AMQ_SCHEDULED_DELAY", "AMQ_SCHEDULED_PERIOD", "AMQ_SCHEDULED_REPEAT", CRON)
_ASKING = ("AMQ_SCHEDULED_DELAY", "AMQ_SCHEDULED_PERIOD", CRON)
# Carries a cron message's plan from its send to its routing (after a commit, for a
# transacted send); never delivered.
_CRON_PLAN = "activemq.cron-plan"


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
    delay = max(0, int_value(values, "AMQ_SCHEDULED_DELAY", 0))
    period = max(0, int_value(values, "AMQ_SCHEDULED_PERIOD", 0))
    repeat = int_value(values, "AMQ_SCHEDULED_REPEAT", 0)
    if repeat < 0:
        raise BadHeader("AMQ_SCHEDULED_REPEAT below 0 (repeat forever) is not supported")
    if repeat > MAX_SCHEDULED_REPEAT:
        raise BadHeader(f"AMQ_SCHEDULED_REPEAT above {MAX_SCHEDULED_REPEAT} is not supported")
    if (delay if delay > 0 else period) + repeat * period > MAX_MS:    # the last delivery
        raise BadHeader("AMQ_SCHEDULED_DELAY and AMQ_SCHEDULED_PERIOD are out of range")
    return delay, period, repeat


def next_cron_time(cron: str, now_ms: int) -> int:
    """The first time (ms) after `now_ms` that the five-field cron entry names."""
    start = datetime.fromtimestamp(now_ms / 1000).astimezone()
    return int(next(CronSim(cron, start)).timestamp() * 1000)


def cron_entry(values: Mapping[str, object]) -> str:
    """The message's cron entry, checked ("" when it has none)."""
    raw = values.get(CRON) if values else None
    if raw is None:
        return ""
    text = (raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)).strip()
    if text:
        fields = len(text.split())
        if fields != 5:     # ActiveMQ's CronParser: minute hour day-of-month month day-of-week
            raise BadHeader(f"Invalid {CRON} header: {text[:100]}: {fields} fields, not 5")
        try:
            next(CronSim(text, datetime.now().astimezone()))
        except (CronSimError, ValueError, StopIteration) as exc:
            raise BadHeader(f"Invalid {CRON} header: {text[:100]}: {exc}") from None
    return text


def _schedules(values: Mapping[str, object]) -> bool:
    """Whether the message asks to be scheduled: as ActiveMQ's SchedulerBroker, a cron entry,
    a period or a delay (a repeat alone does not; an empty header counts as none)."""
    return any(values.get(name) not in (None, "", b"") for name in _ASKING)


def _withhold(message: Message) -> None:
    """Take the schedule out of the message its consumers get, as ActiveMQ removes it from
    a job's deliveries, and keep it for the scheduler's BROWSE (`shown_schedule`)."""
    props, types = message.properties, message.types or {}
    withheld = {name: [value.decode("latin-1") if isinstance(value, bytes) else value, types.get(name)]
                for name in NAMES if (value := props.get(name)) is not None}
    if withheld:
        message.properties = {k: v for k, v in props.items() if k not in withheld}
        message.types = {k: v for k, v in types.items() if k not in withheld} or None
        message.withheld = withheld


def shown_schedule(message: Message) -> tuple[dict[str, str | bytes], dict[str, str] | None]:
    """The properties and their types as the job's message was sent (schedule included)."""
    if not message.withheld:
        return message.properties, message.types
    types = dict(message.types or {})
    props: dict[str, str | bytes] = dict(message.properties)
    for name, (value, kind) in message.withheld.items():
        props[name] = value
        if kind is not None:
            types[name] = kind
    return props, types or None


def scheduled_copies(message: Message, values: Mapping[str, object], now: int,
                     next_id: Callable[[], str]) -> list[Message]:
    """The message as it is to be delivered: itself, or one copy per delivery, each
    carrying the `scheduledJobId` of the first and none of the schedule; a cron message
    stays one message that `route` turns into a job."""
    if not values or values.keys().isdisjoint(NAMES):
        return [message]  # the common case, on every send
    if JOB_ID in values:
        # A job's own delivery sent on, its schedule set again: as ActiveMQ's scheduler, it
        # goes straight through, not scheduled again.
        return [message]
    delay, period, repeat = scheduling(values)
    cron = cron_entry(values)
    if not _schedules(values):
        return [message]
    _withhold(message)
    if cron:
        message.headers = {**message.headers, _CRON_PLAN: json.dumps([cron, delay, period, repeat])}
        return [message]
    message.headers = {**message.headers, JOB_ID: message.message_id}
    message.job_id = message.message_id
    # As ActiveMQ's JobSchedulerImpl: the first delivery after the delay, or without one
    # after the period; the repeats a period apart.
    first = now + (delay if delay > 0 else period)
    message.visible_at = first if first > now else 0
    copies = [message]
    for i in range(1, repeat + 1 if period > 0 else 1):
        extra = message.copy()
        extra.message_id = next_id()
        extra.headers = {**message.headers, JOB_ID: message.message_id}
        extra.visible_at = first + i * period
        copies.append(extra)
    return copies


# A topic keeps no messages, so a delayed publish waits outside it: as a timer, and for a
# persistent message also as a record of this kind, so it survives a restart.
SCHEDULED_TOPIC_RECORDS = "activemq.scheduled-topic"
# A cron job: its message, destination, plan and next firing (persistent messages only).
CRON_RECORDS = "activemq.scheduled-cron"
_restored: "WeakKeyDictionary[Any, bool]" = WeakKeyDictionary()


@dataclass(eq=False)
class Job:
    """A scheduled delivery waiting outside any queue (a delayed topic message, a cron
    job), as the scheduler management topic lists and removes it."""

    job_id: str
    due: int                   # the next delivery (ms)
    message: Message
    kind: str                  # "queue" or "topic"
    destination: str
    cancel: Callable[[], None]     # removes it for good (its record too)
    cron: bool = False


_waiting: PerBroker[set[Job]] = PerBroker(set)


def waiting_jobs(broker: "Broker") -> list[Job]:
    """The broker's delayed topic messages and cron jobs."""
    return list(_waiting(broker))


def _message_doc(message: Message) -> dict[str, Any]:
    row = message.to_row(0)
    row["body"] = base64.b64encode(message.body).decode()
    return row


def _message_from_doc(doc: dict[str, Any]) -> Message:
    row = dict(doc)
    row["body"] = base64.b64decode(row["body"])
    message = Message.from_row(row)
    # A document written before the schedule was held back and the job named in a field.
    message.job_id = message.headers.get(JOB_ID)
    _withhold(message)
    return message


def route(broker: "Broker", clock: Any, topic: str | None, queue: Queue | None,
          message: Message, now: int | None = None) -> None:
    """Deliver one message to a queue, or publish it to a topic (when its delay is up); a
    cron message starts its job instead. `now`: the time of this reactor turn, if the
    caller has read it already."""
    plan = message.headers.get(_CRON_PLAN)
    if plan is not None:
        message.headers = {k: v for k, v in message.headers.items() if k != _CRON_PLAN}
        message.headers[JOB_ID] = message.job_id = message.message_id
        cron, delay, period, repeat = json.loads(plan)
        target = {"topic": topic} if topic is not None else {"queue": queue.name if queue else ""}
        job = {**target, "cron": cron, "delay": delay, "period": period, "repeat": repeat, "count": 0,
               "next": next_cron_time(cron, broker.now_ms()) + (delay if delay > 0 else period)}
        _CronJob(broker, clock, job, message).arm()
        return
    if topic is None:
        assert queue is not None
        queue.enqueue(message, now)
        return
    if message.visible_at and message.visible_at > broker.now_ms():   # most have no delay
        name = None
        if message.persistent:
            name = f"{message.message_id}@{message.visible_at}"
            broker.put_record(SCHEDULED_TOPIC_RECORDS, name, {"topic": topic, "message": _message_doc(message)})
        _publish_later(broker, clock, topic, message, name)
    else:
        broker.publish(topic, message)


def _publish_later(broker: "Broker", clock: Any, topic: str, message: Message, record: str | None) -> None:
    due = message.visible_at
    message.visible_at = 0
    waiting = _waiting(broker)

    def publish() -> None:
        waiting.discard(entry)
        if record is not None:
            broker.drop_record(SCHEDULED_TOPIC_RECORDS, record)
        broker.publish(topic, message)

    def cancel() -> None:
        waiting.discard(entry)
        if call.active():
            call.cancel()
        if record is not None:
            broker.drop_record(SCHEDULED_TOPIC_RECORDS, record)
    call = clock.callLater(max(0, due - broker.now_ms()) / 1000.0, publish)
    entry = Job(message.headers.get(JOB_ID, message.message_id), due, message, "topic", topic, cancel)
    waiting.add(entry)


class _CronJob:
    """One cron message on one destination: fires at each cron time, then re-arms."""

    def __init__(self, broker: "Broker", clock: Any, job: dict[str, Any], message: Message,
                 record: str | None = None) -> None:
        self.broker, self.clock, self.job, self.message = broker, clock, job, message
        if record is None and message.persistent:
            record = f"{message.message_id}@{job.get('topic', job.get('queue'))}"
        self.record = record
        kind = "topic" if "topic" in job else "queue"
        self.entry = Job(message.headers[JOB_ID], job["next"], message, kind, job[kind], self.cancel,
                         cron=True)
        self.call: Any = None

    def arm(self) -> None:
        if self.record is not None:
            self.broker.put_record(CRON_RECORDS, self.record,
                                   {**self.job, "message": _message_doc(self.message)})
        self.entry.due = self.job["next"]
        _waiting(self.broker).add(self.entry)
        self.call = self.clock.callLater(max(0, self.job["next"] - self.broker.now_ms()) / 1000.0, self.fire)

    def cancel(self) -> None:
        """The job is removed: no more firings, and its record goes."""
        _waiting(self.broker).discard(self.entry)
        if self.call is not None and self.call.active():
            self.call.cancel()
        if self.record is not None:
            self.broker.drop_record(CRON_RECORDS, self.record)

    def fire(self) -> None:
        """Deliver this firing's copies (new ids, scheduledJobId the job's) and re-arm at
        the next cron time; a firing missed while the broker was down happens once now."""
        job, now = self.job, self.broker.now_ms()
        delay, period, repeat = job["delay"], job["period"], job["repeat"]
        first = now + (delay if delay > 0 else period) if repeat else now
        for i in range(repeat + 1):
            job["count"] += 1
            copy = self.message.copy()
            copy.message_id = f"{self.message.message_id}-{job['count']}"
            copy.headers = dict(self.message.headers)
            copy.timestamp = now
            if self.message.expires and self.message.timestamp:
                # The time to live counts from each delivery, as ActiveMQ re-stamps it.
                copy.expires = now + self.message.expires - self.message.timestamp
            at = first + i * period
            copy.visible_at = at if at > now else 0
            if "topic" in job:
                route(self.broker, self.clock, job["topic"], None, copy)
            else:
                queue = self.broker.queue(job["queue"])
                assert queue is not None
                route(self.broker, self.clock, None, queue, copy)
        job["next"] = next_cron_time(job["cron"], now)
        self.arm()


def restore_scheduled(broker: "Broker", clock: Any) -> None:
    """Re-arm the persistent topic messages and cron jobs that were waiting when the
    broker stopped (once per broker, whichever ActiveMQ door starts first)."""
    if _restored.get(broker):
        return
    _restored[broker] = True
    for name, doc in list(broker.records(SCHEDULED_TOPIC_RECORDS).items()):
        _publish_later(broker, clock, doc["topic"], _message_from_doc(doc["message"]), name)
    for name, doc in list(broker.records(CRON_RECORDS).items()):
        job = {k: v for k, v in doc.items() if k != "message"}
        _CronJob(broker, clock, job, _message_from_doc(doc["message"]), name).arm()
