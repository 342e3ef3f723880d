"""ActiveMQ's scheduler management topic through STOMP (stomp.py): headers with the JMS
property names, `reply-to` for BROWSE, a RECEIPT once the jobs are removed for good; and the
rights it needs: write and admin on the management topic, write on the reply destination."""
from __future__ import annotations

import time
from typing import Iterator

import pytest

from tests.conftest import BrokerProcess, unique
from tests.integration.security_support import MAP, USERS, config_text, module_broker
from tests.integration.stomp_client import RawStomp, connect

MANAGEMENT = "/topic/ActiveMQ.Scheduler.Management"
HOUR = 3_600_000


def _browse(client, reply: str, **headers: str) -> list:
    client.send_sync(MANAGEMENT, "", AMQ_SCHEDULER_ACTION="BROWSE", **{"reply-to": reply}, **headers)
    return client.everything()


def test_browse_remove_and_remove_all_in_a_range(broker: BrokerProcess) -> None:
    q, reply = "/queue/" + unique(), "/queue/" + unique("reply")
    client = connect(broker.stomp_port)
    try:
        client.subscribe_sync(reply, "replies")
        client.send_sync(q, "in an hour", persistent="true", AMQ_SCHEDULED_DELAY=HOUR)
        client.send_sync(q, "in two hours", persistent="true", AMQ_SCHEDULED_DELAY=2 * HOUR,
                         AMQ_SCHEDULED_PERIOD=1000, AMQ_SCHEDULED_REPEAT=3)
        client.send_sync(q, "each new year", persistent="true", AMQ_SCHEDULED_CRON="0 0 1 1 *")
        mine = [m for m in _browse(client, reply) if m.headers.get("original-destination") == q]
        assert sorted(m.body for m in mine) == ["each new year", "in an hour", "in two hours"]
        for m in mine:
            assert m.headers["type"] == "Advisory" and m.headers.get("persistent") != "true"
            assert m.headers["scheduledJobId"] != m.headers["message-id"]
        jobs = {m.body: m.headers["scheduledJobId"] for m in mine}
        # Each copy shows the job's schedule, as the JMS-sent ones do.
        shown = {m.body: {k: v for k, v in m.headers.items() if k.startswith("AMQ_SCHEDULED_")} for m in mine}
        assert shown == {"in an hour": {"AMQ_SCHEDULED_DELAY": str(HOUR)},
                         "in two hours": {"AMQ_SCHEDULED_DELAY": str(2 * HOUR), "AMQ_SCHEDULED_PERIOD": "1000",
                                          "AMQ_SCHEDULED_REPEAT": "3"},
                         "each new year": {"AMQ_SCHEDULED_CRON": "0 0 1 1 *"}}

        client.send_sync(MANAGEMENT, "", AMQ_SCHEDULER_ACTION="REMOVE", scheduledJobId=jobs["in an hour"])
        now = int(time.time() * 1000)
        client.send_sync(MANAGEMENT, "", AMQ_SCHEDULER_ACTION="REMOVEALL",
                         ACTION_START_TIME=now + HOUR + HOUR // 2, ACTION_END_TIME=now + 2 * HOUR + HOUR // 2)
        left = [m.body for m in _browse(client, reply) if m.headers.get("original-destination") == q]
        assert left == ["each new year"]
        ranged = _browse(client, reply, ACTION_START_TIME=now, ACTION_END_TIME=now + 2 * HOUR)
        assert [m.body for m in ranged if m.headers.get("original-destination") == q] == []
    finally:
        client.close()
    broker.restart(hard=True)
    client = connect(broker.stomp_port)
    try:
        client.subscribe_sync(reply, "replies")
        left = [m for m in _browse(client, reply) if m.headers.get("original-destination") == q]
        assert [(m.body, m.headers.get("AMQ_SCHEDULED_CRON")) for m in left] == [("each new year", "0 0 1 1 *")]
        client.send_sync(MANAGEMENT, "", AMQ_SCHEDULER_ACTION="REMOVEALL")
        assert _browse(client, reply) == []
    finally:
        client.close()


def test_a_bad_time_range_is_an_error(broker: BrokerProcess) -> None:
    with RawStomp(broker.stomp_port) as c:
        c.connect("1.2")
        frame = c.roundtrip("SEND", {"destination": MANAGEMENT, "AMQ_SCHEDULER_ACTION": "BROWSE",
                                     "ACTION_START_TIME": "soon", "ACTION_END_TIME": "1"})
        assert frame.command == "ERROR"
        assert frame.headers["message"] == "Invalid ACTION_START_TIME header: soon"


# -- rights ----------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def secure(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    rules = [*MAP, {"topic": "ActiveMQ.Scheduler.>", "read": ["admins"], "write": ["admins", "producers"],
                    "admin": ["admins"]}]
    yield from module_broker(request, tmp_path_factory, config_text(authorization=rules))


def _ask(port: int, user: str, reply: str) -> object:
    with RawStomp(port) as c:
        c.connect("1.2", login=user, passcode=USERS[user][0])
        return c.roundtrip("SEND", {"destination": MANAGEMENT, "AMQ_SCHEDULER_ACTION": "BROWSE",
                                    "reply-to": reply})


def test_management_needs_admin_on_the_topic_and_write_on_the_reply(secure: BrokerProcess) -> None:
    refused = _ask(secure.stomp_port, "orders-app", "/queue/orders.replies")   # write, no admin
    assert refused.command == "ERROR" and b"SecurityException" in refused.body
    allowed = _ask(secure.stomp_port, "admin", "/queue/open." + unique())
    assert allowed.command == "RECEIPT"
    refused = _ask(secure.stomp_port, "admin", "/queue/elsewhere")               # no write there
    assert refused.command == "ERROR" and b"SecurityException" in refused.body


def test_jobs_on_disk_only_are_listed_and_removed(store_url: str, tmp_path) -> None:
    """A queue keeping 4 messages in memory: most delayed messages wait on disk only, and are
    listed and removed there (read back from SQLite or PostgreSQL by time)."""
    broker = BrokerProcess(store_url, tmp_path, extra=["--queue-window", "4"]).start()
    q, reply = "/queue/" + unique(), "/queue/" + unique("reply")
    try:
        client = connect(broker.stomp_port)
        client.subscribe_sync(reply, "replies")
        for i in range(30):
            client.send_sync(q, f"m{i}", persistent="true", AMQ_SCHEDULED_DELAY=HOUR + i * 60_000)
        assert sorted(m.body for m in _browse(client, reply)) == sorted(f"m{i}" for i in range(30))
        now = int(time.time() * 1000)
        # m10..m19 (and no other: the range is well inside the minutes between them)
        client.send_sync(MANAGEMENT, "", AMQ_SCHEDULER_ACTION="REMOVEALL",
                         ACTION_START_TIME=now + HOUR + 9 * 60_000 + 30_000,
                         ACTION_END_TIME=now + HOUR + 19 * 60_000 + 30_000)
        kept = sorted(f"m{i}" for i in [*range(10), *range(20, 30)])
        assert sorted(m.body for m in _browse(client, reply)) == kept
        client.close()
        broker.restart(hard=True)
        client = connect(broker.stomp_port)
        client.subscribe_sync(reply, "replies")
        browsed = {m.body: m.headers for m in _browse(client, reply)}
        assert sorted(browsed) == kept
        assert browsed["m29"]["AMQ_SCHEDULED_DELAY"] == str(HOUR + 29 * 60_000)
        # A job on disk only, removed by its id (found through the store's job index).
        client.send_sync(MANAGEMENT, "", AMQ_SCHEDULER_ACTION="REMOVE", scheduledJobId=browsed["m25"]["scheduledJobId"])
        assert sorted(m.body for m in _browse(client, reply)) == [k for k in kept if k != "m25"]
        client.close()
    finally:
        broker.kill()
