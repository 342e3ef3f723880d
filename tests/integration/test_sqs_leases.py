"""SQS leases of a deep queue (more messages than the broker keeps in memory, so leases
past the timeline's bound live on disk only) behave as AWS's: a receive whose answer never
reached its client leaves nothing invisible, and ChangeMessageVisibility's 12-hour limit
counts from the receive, across paging and a restart."""
from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from pathlib import Path
from typing import Iterator

import pytest
from botocore.exceptions import ReadTimeoutError

from tests.conftest import BrokerProcess, broker_on
from tests.integration.sqs_clients import (WAIT, create_queue, expect_error, make_client, queue_attributes,
                                           receive_until, wait_until)

# Starts the MessageRetentionPeriod probes early (see tests/integration/conftest.py).
pytestmark = pytest.mark.usefixtures("sqs_retention_probes")

WINDOW = 4              # --queue-window: leases past the first few live on disk only
MAX_S = 43_200          # SQS's limit: in flight at most 12 hours after the receive


@pytest.fixture(params=["sqlite", "postgresql"])
def deep_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerProcess]:
    with broker_on(request.param, tmp_path, ["--queue-window", str(WINDOW)]) as proc:
        yield proc


@contextlib.contextmanager
def writes_held(store_url: str) -> Iterator[None]:
    """Another connection holds the database's write lock: the broker's commits wait for
    the end of the block (reads go on)."""
    if store_url.startswith("sqlite"):
        conn = sqlite3.connect(store_url.split(":///", 1)[1], isolation_level=None, timeout=WAIT)
        conn.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        conn = psycopg.connect(store_url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=5)
        conn.execute("LOCK TABLE messages IN EXCLUSIVE MODE")
    try:
        yield
    finally:
        conn.rollback()
        conn.close()


def test_a_long_poll_dropped_before_its_answer_leaves_none_of_its_messages_invisible(deep_broker):
    sqs = make_client("json", deep_broker.aws_url)
    url = create_queue(sqs, "deep")
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)])
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10, 14)])
    # The timeline's room goes to leases that end first; the dropped receive's go to disk.
    kept = receive_until(sqs, url, WINDOW, visibility=600)
    impatient = make_client("json", deep_broker.aws_url, read_timeout=2)    # closes its connection then
    with writes_held(deep_broker.store):
        with pytest.raises(ReadTimeoutError):
            impatient.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20,
                                      VisibilityTimeout=900)
        # The answer waited for its leases to be committed; the client went away first.
        abandoned = wait_until(lambda: re.search(r"event=receive_abandoned queue=deep messages=(\d+) on_disk=(\d+)",
                                                 deep_broker.log()), message="the receive abandoned")
    assert int(abandoned[2]) > 0, "some of its leases were on disk only"
    rest = receive_until(sqs, url, 14 - WINDOW, visibility=600)
    assert sorted(m["Body"] for m in kept + rest) == sorted(f"m{i}" for i in range(14))
    assert queue_attributes(sqs, url, "ApproximateNumberOfMessagesNotVisible") == {
        "ApproximateNumberOfMessagesNotVisible": "14"}


def _refused_past_the_limit(sqs, url: str, messages: list[dict], elapsed: float) -> None:
    """Every message, received at least `elapsed` seconds ago, may be kept in flight for
    the rest of the 12 hours, not a second more."""
    over = MAX_S - int(elapsed) + 1
    for m in messages:
        with expect_error(sqs, "InvalidParameterValue") as caught:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=over)
        assert "Total VisibilityTimeout for the message is beyond the limit" in str(caught["error"])
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                      VisibilityTimeout=MAX_S - int(elapsed + WAIT))


def test_the_12_hour_limit_counts_from_the_receive_for_leases_on_disk_and_after_a_restart(deep_broker):
    sqs = make_client("json", deep_broker.aws_url)
    url = create_queue(sqs, "long")
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(2 * WINDOW)])
    got = receive_until(sqs, url, 2 * WINDOW, visibility=600)   # most leases past the timeline's bound
    received = time.monotonic()
    # Time passes: the limit must count it, whether the lease is read back from disk now ...
    time.sleep(3)
    _refused_past_the_limit(sqs, url, got, time.monotonic() - received)
    # ... or after a restart, which reads every lease back from the store.
    deep_broker.restart()
    sqs = make_client("json", deep_broker.aws_url)
    url = sqs.get_queue_url(QueueName="long")["QueueUrl"]
    _refused_past_the_limit(sqs, url, got, time.monotonic() - received)
