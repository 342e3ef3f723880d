"""AMQ_SCHEDULED_CRON as ActiveMQ's scheduler runs it, on a fake clock: the first firing at
the next cron time plus the delay, later ones at the cron times, a repeat delivering
`repeat + 1` copies a period apart at each firing, and jobs that survive a restart."""
from __future__ import annotations

import re

import pytest

from broker.engine.broker import Broker
from broker.engine.message import Message
from broker.protocols.activemq.scheduling import (CRON_RECORDS, MAX_MS, BadHeader, restore_scheduled,
                                                  route, scheduled_copies, scheduling)
from broker.protocols.stomp.convert import message_from_send
from tests.unit.engine_support import MemoryStore, Recorder, advance, make_broker, msg, result_of

# START_MS (engine_support) is 22:13:20 UTC; every-five-minutes entries are at :15, :20...
FIVE_MIN = 300_000


def next_five(ms: int) -> int:
    return (ms // FIVE_MIN + 1) * FIVE_MIN


def send(broker: Broker, values: dict[str, object], queue: str = "jobs", persistent: bool = False) -> Message:
    message = msg("tick", persistent=persistent, timestamp=broker.now_ms())
    copies = scheduled_copies(message, values, broker.now_ms(), lambda: "unused")
    assert copies == [message]
    route(broker, broker.clock, None, broker.queue(queue), message)
    return message


def delivered(broker: Broker, queue: str = "jobs") -> list[tuple[str, int]]:
    """(message id, visible_at) of what the queue holds, ready or waiting."""
    q = broker.queue(queue)
    waiting = [m for m in q._timeline.messages() if m.visible_at > broker.now_ms()]
    return sorted((m.message_id, m.visible_at) for m in [*q.browse(), *waiting])


def test_a_cron_message_is_delivered_at_each_cron_time() -> None:
    b = make_broker()
    first = next_five(b.now_ms())
    original = send(b, {"AMQ_SCHEDULED_CRON": "*/5 * * * *"})
    assert delivered(b) == []
    advance(b, first - b.now_ms())
    assert [m.message_id for m in b.queue("jobs").browse()] == [f"{original.message_id}-1"]
    assert b.queue("jobs").browse()[0].headers["scheduledJobId"] == original.message_id
    advance(b, FIVE_MIN)
    assert [m.message_id for m in b.queue("jobs").browse()] == [f"{original.message_id}-{i}" for i in (1, 2)]


def test_cron_with_delay_period_and_repeat_delivers_a_burst_at_each_firing() -> None:
    b = make_broker()
    cron_time = next_five(b.now_ms())
    original = send(b, {"AMQ_SCHEDULED_CRON": "*/5 * * * *", "AMQ_SCHEDULED_DELAY": "1000",
                        "AMQ_SCHEDULED_PERIOD": "500", "AMQ_SCHEDULED_REPEAT": "2"})
    fired = cron_time + 1000                       # the first firing waits for the delay too
    advance(b, fired - b.now_ms())
    ids = [f"{original.message_id}-{i}" for i in (1, 2, 3)]
    assert delivered(b) == list(zip(ids, (fired + 1000, fired + 1500, fired + 2000)))
    advance(b, 2000)
    assert b.queue("jobs").ready_count == 3
    later = cron_time + FIVE_MIN                   # later firings are at the cron times themselves
    advance(b, later - b.now_ms())
    assert [v for _, v in delivered(b)[3:]] == [later + 1000, later + 1500, later + 2000]


def test_a_persistent_cron_job_survives_a_restart_and_a_missed_firing_happens_once() -> None:
    store = MemoryStore()
    b = make_broker(store)
    original = send(b, {"AMQ_SCHEDULED_CRON": "*/5 * * * *"}, persistent=True)
    assert list(store.records[CRON_RECORDS]) == [f"{original.message_id}@jobs"]
    b2 = make_broker(store)
    advance(b2, 3 * FIVE_MIN)                      # down over two cron times
    result_of(b2.start())
    restore_scheduled(b2, b2.clock)
    advance(b2, 0)
    assert [m.message_id for m in b2.queue("jobs").browse()] == [f"{original.message_id}-1"]
    advance(b2, next_five(b2.now_ms()) - b2.now_ms())
    assert b2.queue("jobs").ready_count == 2
    assert store.records[CRON_RECORDS][f"{original.message_id}@jobs"]["count"] == 2


def test_a_topic_cron_job_publishes_at_each_firing() -> None:
    b = make_broker()
    watcher = Recorder()
    b.subscribe_topic("prices", watcher)
    message = msg("tick", timestamp=b.now_ms())
    scheduled_copies(message, {"AMQ_SCHEDULED_CRON": "*/5 * * * *"}, b.now_ms(), lambda: "unused")
    route(b, b.clock, "prices", None, message)
    advance(b, next_five(b.now_ms()) - b.now_ms())
    assert watcher.bodies == ["tick"]


def test_a_bad_cron_entry_is_refused_and_a_good_one_is_held_back_from_deliveries() -> None:
    b = make_broker()
    for entry in ("every minute", "* * * * * *", "61 * * * *", "0 0 31 2 *"):
        with pytest.raises(BadHeader, match=re.escape(f"Invalid AMQ_SCHEDULED_CRON header: {entry}:")):
            scheduled_copies(msg("x"), {"AMQ_SCHEDULED_CRON": entry}, b.now_ms(), lambda: "unused")
    headers = {"destination": "/queue/jobs", "AMQ_SCHEDULED_CRON": "* * * * *"}
    message = message_from_send(headers, b"x", "ID:1", b.now_ms())
    [job] = scheduled_copies(message, headers, b.now_ms(), lambda: "unused")
    assert "AMQ_SCHEDULED_CRON" not in job.properties
    assert job.withheld == {"AMQ_SCHEDULED_CRON": ["* * * * *", None]}


def test_a_schedule_whose_last_delivery_falls_past_the_stores_range_is_refused() -> None:
    # Without a delay the first delivery comes after the period, so the last one after
    # (repeat + 1) periods: the store's 64-bit times must hold it.
    for values in ({"AMQ_SCHEDULED_PERIOD": str(MAX_MS), "AMQ_SCHEDULED_REPEAT": "1"},
                   {"AMQ_SCHEDULED_DELAY": str(MAX_MS), "AMQ_SCHEDULED_PERIOD": "1", "AMQ_SCHEDULED_REPEAT": "1"}):
        with pytest.raises(BadHeader, match="out of range"):
            scheduling(values)
    assert scheduling({"AMQ_SCHEDULED_PERIOD": str(MAX_MS // 2), "AMQ_SCHEDULED_REPEAT": "1"}) == (0, MAX_MS // 2, 1)
