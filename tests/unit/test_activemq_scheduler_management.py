"""The scheduler management topic's logic on a fake clock: one job per scheduled send
(a repeating message's copies, a cron job with the deliveries of its firing), its next
delivery for the time range, and removals that stop a cron job and a delayed topic
message for good (records included)."""
from __future__ import annotations

from broker.engine.broker import Broker
from broker.protocols.activemq import destinations as dest
from broker.protocols.activemq.scheduler_management import Request, addressed, manage
from broker.protocols.activemq.scheduling import (CRON_RECORDS, SCHEDULED_TOPIC_RECORDS, route,
                                                  scheduled_copies)
from tests.unit.engine_support import MemoryStore, Recorder, advance, make_broker, msg, result_of

FIVE_MIN = 300_000
REPLY = [dest.Destination("queue", "replies")]


def schedule(b: Broker, body: str, values: dict[str, object], topic: str | None = None,
             queue: str = "jobs") -> str:
    message = msg(body, persistent=True, timestamp=b.now_ms())
    count = iter(range(1, 100))
    for m in scheduled_copies(message, values, b.now_ms(), lambda: f"{message.message_id}-{next(count)}"):
        route(b, b.clock, topic, None if topic else b.queue(queue), m)
    return message.message_id


def ask(b: Broker, action: str, **values: object) -> list[tuple[str, str, str]]:
    """(job id, body, original destination) of what a request sent to the reply queue."""
    sent: list = []
    ids = iter(range(1, 1000))
    result_of(manage(b, Request.read({"AMQ_SCHEDULER_ACTION": action, **values}), REPLY,
                     lambda targets, m: sent.append(m), lambda: f"ID:browse-{next(ids)}"))
    for m in sent:
        assert m.headers["type"] == "Advisory" and not m.persistent and m.message_id.startswith("ID:browse-")
    return [(m.headers["scheduledJobId"], m.body.decode(), m.headers["original-destination"]) for m in sent]


def setup() -> tuple[MemoryStore, Broker, dict[str, str]]:
    store = MemoryStore()
    b = make_broker(store)
    ids = {"delayed": schedule(b, "delayed", {"AMQ_SCHEDULED_DELAY": 60_000}),
           "repeat": schedule(b, "repeat", {"AMQ_SCHEDULED_DELAY": 120_000, "AMQ_SCHEDULED_PERIOD": 1000,
                                            "AMQ_SCHEDULED_REPEAT": 3}),
           "cron": schedule(b, "cron", {"AMQ_SCHEDULED_CRON": "*/5 * * * *", "AMQ_SCHEDULED_DELAY": 1000,
                                        "AMQ_SCHEDULED_PERIOD": 60_000, "AMQ_SCHEDULED_REPEAT": 1}),
           "topic": schedule(b, "topic", {"AMQ_SCHEDULED_DELAY": 180_000}, topic="prices")}
    return store, b, ids


def test_browse_shows_one_message_per_job_in_order_of_next_delivery() -> None:
    _, b, ids = setup()
    got = ask(b, "BROWSE")
    assert sorted(got) == sorted([(ids["delayed"], "delayed", "/queue/jobs"), (ids["repeat"], "repeat", "/queue/jobs"),
                                  (ids["cron"], "cron", "/queue/jobs"), (ids["topic"], "topic", "/topic/prices")])
    now = b.now_ms()
    assert [g[1] for g in ask(b, "BROWSE", ACTION_START_TIME=now + 110_000, ACTION_END_TIME=now + 150_000)] == ["repeat"]
    assert ask(b, "BROWSE", ACTION_START_TIME=now + 121_000, ACTION_END_TIME=now + 150_000) == [], \
        "a repeating job is due when its next copy is"


def test_removing_a_cron_job_stops_its_firings_and_its_waiting_deliveries() -> None:
    store, b, ids = setup()
    # The first firing, at the cron time plus the delay, delivers after the delay again, and
    # once more a minute later.
    fired = (b.now_ms() // FIVE_MIN + 1) * FIVE_MIN + 1000
    advance(b, fired - b.now_ms())
    advance(b, 1500)
    q = b.queue("jobs")
    assert [m.body for m in q.browse()] == [b"delayed", b"cron"]
    ask(b, "REMOVE", scheduledJobId=ids["cron"])
    assert store.records.get(CRON_RECORDS) == {}
    assert ids["cron"] not in [g[0] for g in ask(b, "BROWSE")]
    advance(b, 4 * FIVE_MIN)
    assert [m.body for m in q.browse()].count(b"cron") == 1, "neither the waiting repeat nor later firings came"


def test_remove_all_in_a_range_and_then_all() -> None:
    store, b, ids = setup()
    watcher = Recorder()
    b.subscribe_topic("prices", watcher)
    now = b.now_ms()
    ask(b, "REMOVEALL", ACTION_START_TIME=now + 150_000, ACTION_END_TIME=now + 200_000)
    left = {g[1] for g in ask(b, "BROWSE")}
    assert left == {"delayed", "repeat", "cron"}
    assert store.records.get(SCHEDULED_TOPIC_RECORDS) == {}
    ask(b, "REMOVEALL")
    assert ask(b, "BROWSE") == []
    advance(b, 2 * 3_600_000)
    assert watcher.bodies == [] and b.queue("jobs").browse() == []
    assert not any(r["dest_id"] == b.queue("jobs").dest_id for r in store.rows.values())


def test_the_management_destination_is_matched_by_prefix_in_any_case() -> None:
    assert addressed([dest.Destination("topic", "ActiveMQ.Scheduler.Management")])
    assert addressed([dest.Destination("queue", "activemq.scheduler.management.x")])
    assert not addressed([dest.Destination("topic", "ActiveMQ.Scheduler"), dest.Destination("queue", "")])
