"""Fixtures of the integration tests that are not per test module (and `jms`, the compiled
Java JMS programs).

`sqs_retention_probes`: SQS's smallest MessageRetentionPeriod is 60 s, so checking that
messages expire needs a message a minute old. Every SQS test module asks for this fixture
(`pytestmark`), so whichever runs first starts a broker per database and sends the probes, and
`test_sqs_timers.py::test_zz_message_retention_period_expires_messages` finds them old enough
by the time it runs instead of waiting a minute per database. The same broker (a window of
DEEP_WINDOW messages per queue) holds a deep queue of DEEP probes, most of them on disk only,
for `test_zz_retention_deletes_a_deep_backlog_on_disk`.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Iterator

import pytest

from tests.conftest import BrokerProcess, drop_pg_schema, make_pg_schema, pg_available
from tests.integration.sqs_clients import DEEP, DEEP_WINDOW, RETENTION, create_queue, make_client

if TYPE_CHECKING:
    from tests.integration.jms import JmsPrograms


@pytest.fixture(scope="session")
def sqs_retention_probes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Per database: a broker with a queue of MessageRetentionPeriod 60 holding one message
    (and a default queue holding another), one of the same retention holding DEEP messages,
    and when they were sent."""
    probes: dict[str, dict] = {}
    brokers: list[BrokerProcess] = []
    schemas: list[str] = []
    try:
        for db in ("sqlite", "postgresql"):
            workdir = tmp_path_factory.mktemp(f"retention-{db}")
            if db == "sqlite":
                store = f"sqlite:///{workdir}/mqgate.db"
            else:
                try:
                    pg_available()
                except pytest.skip.Exception:
                    continue                     # the test for it skips (or fails in CI) itself
                schema, store = make_pg_schema()
                schemas.append(schema)
            proc = BrokerProcess(store, workdir, ["--queue-window", str(DEEP_WINDOW)]).start()
            brokers.append(proc)
            client = make_client("json", proc.aws_url)
            url = create_queue(client, "short-lived", MessageRetentionPeriod=RETENTION)
            keeper = create_queue(client, "long-lived")
            client.send_message(QueueUrl=url, MessageBody="short-lived")
            client.send_message(QueueUrl=keeper, MessageBody="long-lived")
            deep = create_queue(client, "deep-short-lived", MessageRetentionPeriod=RETENTION)
            sent_at = time.monotonic()
            for first in range(0, DEEP, 10):
                client.send_message_batch(QueueUrl=deep, Entries=[
                    {"Id": str(i), "MessageBody": f"old-{i}"} for i in range(first, first + 10)])
            probes[db] = {"client": client, "url": url, "keeper": keeper, "deep": deep, "sent_at": sent_at}
        yield probes
    finally:
        for proc in brokers:
            proc.kill()
        for schema in schemas:
            drop_pg_schema(schema)


@pytest.fixture(scope="session")
def jms(tmp_path_factory: pytest.TempPathFactory) -> "JmsPrograms":
    """The Java JMS test programs, compiled once per session (skipped without a JDK)."""
    from tests.integration.jms import compile_programs, require_java

    require_java()
    return compile_programs(tmp_path_factory.mktemp("java"))
