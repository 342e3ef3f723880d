"""ActiveMQ's scheduler management destination (`ActiveMQ.Scheduler.Management`), for the
STOMP and OpenWire doors alike, as ActiveMQ's SchedulerBroker handles a send to it.

A message sent there is not delivered: its `AMQ_SCHEDULER_ACTION` property (header) says
what to do with the scheduled jobs. `BROWSE` sends a copy of each job's message to the
message's reply-to destination (non-persistent, JMSType `Advisory`, a new message id, the
job's destination as original destination, `scheduledJobId` set); `REMOVE` removes the job
named by `scheduledJobId`; `REMOVEALL` removes every job. `ACTION_START_TIME` and
`ACTION_END_TIME` (ms), when both are given, limit BROWSE and REMOVEALL to the jobs whose
next delivery falls between them.

A job is what one scheduled send made: a delayed message, the repeats of a repeating one
(its copies share the `scheduledJobId`), a cron job and the deliveries of its current firing
still waiting for their delay. Its next delivery is the earliest of these. Delayed messages
live in their queues (the engine lists and cancels them); delayed topic messages and cron
jobs in `scheduling`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from twisted.internet import defer

from broker.engine import scheduled
from broker.engine.message import Message
from broker.protocols.activemq import destinations as dest
from broker.protocols.activemq.scheduling import JOB_ID, int_value, shown_schedule, waiting_jobs

if TYPE_CHECKING:
    from broker.engine.broker import Broker

DESTINATION = "ActiveMQ.Scheduler.Management"
ACTION = "AMQ_SCHEDULER_ACTION"
BROWSE, REMOVE, REMOVEALL = "BROWSE", "REMOVE", "REMOVEALL"
START_TIME, END_TIME = "ACTION_START_TIME", "ACTION_END_TIME"
_PREFIX = DESTINATION.lower()
_LENGTH = len(_PREFIX)


def addressed(targets: list[dest.Destination]) -> bool:
    """Whether a send goes to the management destination: as ActiveMQ, whose destination
    name (a composite's whole name) starts with it, in any case. Asked on every send: most
    names fail the first test."""
    name = targets[0].name if targets else ""
    return name[:1] in "Aa" and name[:_LENGTH].lower() == _PREFIX


@dataclass
class _Scheduled:
    """One job: what of it waits, and how to take each part away."""

    job_id: str
    # (rank, due, message, destination `/queue/x`, remove): rank 0 for a cron job itself.
    parts: list[tuple[int, int, Message, str, Callable[[], Any]]] = field(default_factory=list)

    @property
    def due(self) -> int:
        return min(p[1] for p in self.parts)

    def shown(self) -> tuple[Message, str]:
        """The message a BROWSE shows for the job and its destination: a cron job's own
        message, else the next one due."""
        _, _, message, destination, _ = min(self.parts, key=lambda p: p[:2])
        return message, destination

    def remove(self) -> None:
        for part in self.parts:
            part[4]()


def _text(values: Mapping[str, object], name: str) -> str | None:
    raw = values.get(name)
    if raw is None:
        return None
    return raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)


@defer.inlineCallbacks
def _jobs(broker: "Broker", job_id: str | None = None) -> Any:
    """Every scheduled job, by job id; with `job_id`, that job only (its deliveries on disk
    found by the store's job index, not by reading every waiting row)."""
    jobs: dict[str, _Scheduled] = {}

    def add(job_id: str, rank: int, due: int, message: Message, destination: str,
            remove: Callable[[], Any]) -> None:
        jobs.setdefault(job_id, _Scheduled(job_id)).parts.append((rank, due, message, destination, remove))

    entries = yield (scheduled.delayed(broker) if job_id is None else scheduled.of_job(broker, job_id))
    for entry in entries:
        if entry.message.job_id is not None:
            add(entry.message.job_id, 1, entry.due, entry.message, f"/queue/{entry.queue.name}",
                lambda e=entry: scheduled.cancel(e))
    for job in waiting_jobs(broker):
        if job_id is None or job.job_id == job_id:
            add(job.job_id, 0 if job.cron else 1, job.due, job.message, f"/{job.kind}/{job.destination}",
                job.cancel)
    return jobs


def _browse_copy(job: _Scheduled, message_id: str, now: int) -> Message:
    """The job's message as it was sent (its schedule too), as ActiveMQ's BROWSE shows it."""
    message, destination = job.shown()
    copy = message.copy()
    copy.message_id = message_id
    copy.persistent = False
    copy.visible_at = 0
    copy.timestamp = copy.timestamp or now
    copy.topic = None
    copy.dead_letter = None
    copy.content_id = 0
    copy.job_id = copy.withheld = None
    copy.properties, copy.types = shown_schedule(message)
    copy.headers = {**message.headers, JOB_ID: job.job_id, "type": "Advisory",
                    "original-destination": destination}
    return copy


@dataclass(frozen=True)
class Request:
    """What a message to the management destination asks."""

    action: str | None
    job_id: str | None
    start: int | None
    end: int | None

    @classmethod
    def read(cls, values: Mapping[str, object]) -> "Request":
        """From the message's properties (JMS) or headers (STOMP); BadHeader for a time
        that is not a number."""
        start = end = None
        if values.get(START_TIME) is not None and values.get(END_TIME) is not None:
            start, end = int_value(values, START_TIME, 0), int_value(values, END_TIME, 0)
        return cls(_text(values, ACTION), _text(values, JOB_ID), start, end)

    def in_range(self, job: _Scheduled) -> bool:
        return self.start is None or self.end is None or self.start <= job.due <= self.end


@defer.inlineCallbacks
def manage(broker: "Broker", request: Request, reply_to: list[dest.Destination] | None,
           send: Callable[[list[dest.Destination], Message], None],
           next_id: Callable[[], str]) -> Any:
    """Carry out the request (a Deferred that fires once it is done, the removals written
    to the store's current batch): BROWSE sends through `send` with ids from `next_id`."""
    if request.action not in (BROWSE, REMOVE, REMOVEALL):
        return None
    if request.action == REMOVE and request.job_id is None:
        return None
    jobs: dict[str, _Scheduled] = yield _jobs(broker, request.job_id if request.action == REMOVE else None)
    if request.action == BROWSE and reply_to:
        now = broker.now_ms()
        for job in sorted(jobs.values(), key=lambda j: (j.due, j.job_id)):
            if request.in_range(job):
                send(reply_to, _browse_copy(job, next_id(), now))
    elif request.action == REMOVE:
        found = jobs.get(request.job_id)
        if found is not None:
            found.remove()
    elif request.action == REMOVEALL:
        for job in jobs.values():
            if request.in_range(job):
                job.remove()
    return None

