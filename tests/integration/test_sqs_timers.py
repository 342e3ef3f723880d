"""SQS behaviour in time, against the real clock:
visibility timeouts and their expiry, ChangeMessageVisibility(+Batch), receipt handles per
receive, long polling, DelaySeconds and MessageRetentionPeriod.

Timers are kept at 1-2 s and every wait is bounded."""
from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.conftest import pg_available, unique
from tests.integration.sqs_clients import (DEEP, PROTOCOLS, RETENTION, create_queue, expect_error, make_client,
                                           queue_attributes, receive, receive_until, sqs_client, wait_until)

# Starts the MessageRetentionPeriod probes early (see tests/integration/conftest.py).
pytestmark = pytest.mark.usefixtures("sqs_retention_probes")


@pytest.fixture(params=PROTOCOLS)
def sqs(request: pytest.FixtureRequest, shared_broker):
    return sqs_client(request.param, shared_broker.aws_url)


@pytest.fixture
def url(sqs) -> str:
    return create_queue(sqs, unique("t"))


@pytest.fixture
def engine_sqs(shared_broker):
    """For timing that does not depend on the wire protocol: the JSON client only."""
    return sqs_client("json", shared_broker.aws_url)


class Timed:
    def __enter__(self) -> "Timed":
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.elapsed = time.monotonic() - self.start


# ---------------------------------------------------------------------------------------------
# visibility
# ---------------------------------------------------------------------------------------------
def test_visibility_timeout_expiry_redelivers_with_higher_receive_count(sqs, url):
    sqs.send_message(QueueUrl=url, MessageBody="lease")
    [first] = receive(sqs, url, visibility=1)
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    assert receive(sqs, url) == []                      # in flight: invisible
    with Timed() as t:
        [second] = receive(sqs, url, wait=2)
    assert t.elapsed < 1.9                              # long poll ends as soon as it is visible
    assert second["MessageId"] == first["MessageId"]
    assert second["Body"] == "lease"
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    assert second["ReceiptHandle"] != first["ReceiptHandle"]


def test_queue_visibility_timeout_applies(engine_sqs):
    url = create_queue(engine_sqs, unique("vt"), VisibilityTimeout=1)
    engine_sqs.send_message(QueueUrl=url, MessageBody="q")
    t0 = time.monotonic()
    [first] = receive(engine_sqs, url)
    assert receive(engine_sqs, url) == []
    [again] = receive_until(engine_sqs, url, 1, timeout=5)
    assert time.monotonic() - t0 >= 0.8
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_receipt_handles_change_per_receive(sqs, url):
    sqs.send_message(QueueUrl=url, MessageBody="handles")
    handles = [receive(sqs, url, visibility=0)[0]["ReceiptHandle"] for _ in range(3)]
    assert len(set(handles)) == 3
    [last] = receive(sqs, url)
    assert last["Attributes"]["ApproximateReceiveCount"] == "4"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=last["ReceiptHandle"])    # the latest handle deletes
    assert receive(sqs, url, visibility=0) == []


def test_deleted_message_does_not_come_back(engine_sqs):
    url = create_queue(engine_sqs, unique("t"))
    engine_sqs.send_message(QueueUrl=url, MessageBody="gone")
    [msg] = receive(engine_sqs, url, visibility=1)
    engine_sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    assert receive(engine_sqs, url, wait=2) == []


def test_change_message_visibility(sqs, url):
    sqs.send_message(QueueUrl=url, MessageBody="cmv")
    [msg] = receive(sqs, url, visibility=30)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=0)
    [back] = receive(sqs, url, visibility=1)
    assert back["Attributes"]["ApproximateReceiveCount"] == "2"
    # extend: stays invisible past its original 1 s
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=back["ReceiptHandle"], VisibilityTimeout=3)
    assert receive(sqs, url, wait=2) == []
    [third] = receive_until(sqs, url, 1, timeout=5)
    assert third["Attributes"]["ApproximateReceiveCount"] == "3"


def test_change_message_visibility_errors(sqs, url):
    sqs.send_message(QueueUrl=url, MessageBody="cmv")
    [msg] = receive(sqs, url, visibility=30)
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=43201)
    with expect_error(sqs, "InvalidParameterValue"):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=-1)
    with expect_error(sqs, "ReceiptHandleIsInvalid", 400, "ReceiptHandleIsInvalid"):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="not-a-handle", VisibilityTimeout=5)


def test_change_message_visibility_of_a_deleted_message(sqs, url):
    sqs.send_message(QueueUrl=url, MessageBody="deleted")
    [msg] = receive(sqs, url, visibility=30)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    with expect_error(sqs, "InvalidParameterValue") as caught:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=5)
    assert caught["error"].response["Error"]["Message"] == (
        f"Value {msg['ReceiptHandle']} for parameter ReceiptHandle is invalid. Reason: Message does not exist "
        "or is not available for visibility timeout change.")


def test_change_message_visibility_batch(sqs, url):
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    got = receive_until(sqs, url, 3, visibility=30)
    by_body = {m["Body"]: m for m in got}
    result = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "now", "ReceiptHandle": by_body["m0"]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "now2", "ReceiptHandle": by_body["m1"]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "toolong", "ReceiptHandle": by_body["m2"]["ReceiptHandle"], "VisibilityTimeout": 43201},
        {"Id": "bogus", "ReceiptHandle": "not-a-handle", "VisibilityTimeout": 0},
    ])
    assert sorted(r["Id"] for r in result["Successful"]) == ["now", "now2"]
    failed = {f["Id"]: f for f in result["Failed"]}
    assert set(failed) == {"toolong", "bogus"}
    assert failed["toolong"]["Code"] == "InvalidParameterValue"
    assert failed["bogus"]["Code"] == "ReceiptHandleIsInvalid"
    assert all(f["SenderFault"] is True for f in failed.values())
    assert sorted(m["Body"] for m in receive_until(sqs, url, 2)) == ["m0", "m1"]
    assert receive(sqs, url) == []                     # m2 kept its 30 s


def test_change_message_visibility_batch_errors(sqs, url):
    with expect_error(sqs, "AWS.SimpleQueueService.EmptyBatchRequest", 400, "EmptyBatchRequest"):
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=[])
    with expect_error(sqs, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400,
                      "TooManyEntriesInBatchRequest"):
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": "h", "VisibilityTimeout": 1} for i in range(11)])
    with expect_error(sqs, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, "BatchEntryIdsNotDistinct"):
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": "x", "ReceiptHandle": "h1", "VisibilityTimeout": 1},
            {"Id": "x", "ReceiptHandle": "h2", "VisibilityTimeout": 1}])


# ---------------------------------------------------------------------------------------------
# long polling
# ---------------------------------------------------------------------------------------------
def test_long_poll_returns_empty_after_wait_time(engine_sqs):
    url = create_queue(engine_sqs, unique("t"))
    with Timed() as t:
        assert receive(engine_sqs, url, wait=2) == []
    assert 1.9 <= t.elapsed < 4.0


def test_short_poll_returns_at_once(engine_sqs):
    url = create_queue(engine_sqs, unique("t"))
    with Timed() as t:
        assert receive(engine_sqs, url, wait=0) == []
    assert t.elapsed < 1.0


def test_queue_receive_wait_time_is_the_default(engine_sqs):
    url = create_queue(engine_sqs, unique("lp"), ReceiveMessageWaitTimeSeconds=1)
    with Timed() as t:
        assert engine_sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    assert 0.9 <= t.elapsed < 3.0
    with Timed() as t:                                 # an explicit 0 overrides it
        assert engine_sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []
    assert t.elapsed < 0.9


def _receive_in_thread(client, url: str, wait: int) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run() -> None:
        start = time.monotonic()
        try:
            out["messages"] = receive(client, url, wait=wait)
        except Exception as exc:       # reported by the test
            out["error"] = exc
        out["elapsed"] = time.monotonic() - start

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_long_poll_returns_as_soon_as_a_message_arrives(sqs, url, shared_broker):
    protocol = "query" if sqs.meta.service_model.protocol == "query" else "json"
    poller = make_client(protocol, shared_broker.aws_url)     # its own connection pool
    thread, out = _receive_in_thread(poller, url, wait=2)
    time.sleep(0.3)
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    thread.join(5)
    assert "error" not in out, out.get("error")
    assert [m["Body"] for m in out["messages"]] == ["wake up"]
    assert out["elapsed"] < 1.3, out["elapsed"]


def test_concurrent_long_polls_each_get_one_message(engine_sqs, shared_broker):
    url = create_queue(engine_sqs, unique("t"))
    pollers = [_receive_in_thread(make_client("json", shared_broker.aws_url), url, wait=2) for _ in range(3)]
    time.sleep(0.3)
    engine_sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    bodies = []
    for thread, out in pollers:
        thread.join(5)
        assert "error" not in out, out.get("error")
        bodies += [m["Body"] for m in out["messages"]]
    assert sorted(bodies) == ["m0", "m1", "m2"]         # no message twice


def test_a_long_poll_behind_a_fifo_group_in_flight_gets_its_next_message_once_a_batch_deletes_it(
        engine_sqs, shared_broker):
    # The batch's acks make one dispatch between them: the group they free still reaches
    # the long poll waiting for it, at once.
    url = engine_sqs.create_queue(QueueName=unique("t") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for body in ("g1", "g2"):
        engine_sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="G", MessageDeduplicationId=body)
    [head] = receive(engine_sqs, url, max_messages=1, visibility=30)
    thread, out = _receive_in_thread(make_client("json", shared_broker.aws_url), url, wait=3)
    time.sleep(0.3)
    engine_sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "0", "ReceiptHandle": head["ReceiptHandle"]}])
    thread.join(5)
    assert "error" not in out, out.get("error")
    assert [m["Body"] for m in out["messages"]] == ["g2"]
    assert out["elapsed"] < 2.0, out["elapsed"]


# ---------------------------------------------------------------------------------------------
# DelaySeconds
# ---------------------------------------------------------------------------------------------
def test_message_delay_seconds(engine_sqs):
    url = create_queue(engine_sqs, unique("t"))
    attrs_before = int(time.time())
    engine_sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=1)
    t0 = time.monotonic()
    assert receive(engine_sqs, url) == []
    assert queue_attributes(engine_sqs, url, "ApproximateNumberOfMessagesDelayed")["ApproximateNumberOfMessagesDelayed"] == "1"
    [msg] = receive(engine_sqs, url, wait=2)
    assert time.monotonic() - t0 >= 0.8
    assert msg["Body"] == "delayed"
    assert int(msg["Attributes"]["SentTimestamp"]) >= attrs_before * 1000 - 1000


def test_queue_delay_seconds_and_message_override(engine_sqs):
    url = create_queue(engine_sqs, unique("delay"), DelaySeconds=1)
    engine_sqs.send_message(QueueUrl=url, MessageBody="queue-delayed")
    engine_sqs.send_message(QueueUrl=url, MessageBody="immediate", DelaySeconds=0)
    t0 = time.monotonic()
    assert [m["Body"] for m in receive(engine_sqs, url)] == ["immediate"]
    [msg] = receive(engine_sqs, url, wait=2)
    assert msg["Body"] == "queue-delayed"
    assert time.monotonic() - t0 >= 0.8


def test_batch_entry_delay(engine_sqs):
    url = create_queue(engine_sqs, unique("t"))
    engine_sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "now"}, {"Id": "b", "MessageBody": "later", "DelaySeconds": 1}])
    assert [m["Body"] for m in receive(engine_sqs, url)] == ["now"]
    assert [m["Body"] for m in receive(engine_sqs, url, wait=2)] == ["later"]


# ---------------------------------------------------------------------------------------------
# MessageRetentionPeriod (probes sent when the first SQS module started; see conftest.py)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_zz_message_retention_period_expires_messages(sqs_retention_probes, db):
    if db == "postgresql":
        pg_available()
    probe = sqs_retention_probes[db]
    client, url = probe["client"], probe["url"]
    assert queue_attributes(client, url, "MessageRetentionPeriod")["MessageRetentionPeriod"] == str(RETENTION)
    if time.monotonic() < probe["sent_at"] + RETENTION - 2:
        assert queue_attributes(client, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "1"
    wait_for = probe["sent_at"] + RETENTION + 1.5 - time.monotonic()
    if wait_for > 0:
        time.sleep(wait_for)
    assert receive(client, url) == []
    assert queue_attributes(client, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"
    # the default 4 days kept the other one
    assert [m["Body"] for m in receive(client, probe["keeper"])] == ["long-lived"]


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_zz_retention_deletes_a_deep_backlog_on_disk(sqs_retention_probes, db):
    """A queue of DEEP messages past their retention, most on disk behind the window, with
    fresh messages behind them: the old ones are deleted in the store (gone from the
    count, never received), the fresh ones stay."""
    if db == "postgresql":
        pg_available()
    probe = sqs_retention_probes[db]
    client, url = probe["client"], probe["deep"]
    # Fresh messages go behind the old ones on disk, young enough to outlive the check.
    halfway = probe["sent_at"] + RETENTION / 2 - time.monotonic()
    if halfway > 0:
        time.sleep(halfway)
    fresh = [f"fresh-{i}" for i in range(20)]
    client.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(fresh[:10])])
    client.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(fresh[10:])])
    if time.monotonic() < probe["sent_at"] + RETENTION - 2:
        assert queue_attributes(client, url, "ApproximateNumberOfMessages") == {
            "ApproximateNumberOfMessages": str(DEEP + len(fresh))}
    expired = probe["sent_at"] + RETENTION + 1 - time.monotonic()
    if expired > 0:
        time.sleep(expired)
    # The sweep runs every second.
    wait_until(lambda: queue_attributes(client, url, "ApproximateNumberOfMessages") == {
        "ApproximateNumberOfMessages": str(len(fresh))}, interval=0.2)
    got = receive_until(client, url, len(fresh))
    assert sorted(m["Body"] for m in got) == sorted(fresh)
    assert receive(client, url) == []
