"""A full database or disk, on SQLite and PostgreSQL: the new persistent messages of the
transaction that found it full are refused (STOMP ERROR with ActiveMQ's text, OpenWire
ResourceAllocationException, SQS and SNS ServiceUnavailable), acks and deletes still commit, and sends go on once there is room.

SQLite is capped with `sqlite_max_size` (PRAGMA max_page_count: the same SQLITE_FULL a full
disk gives); PostgreSQL gets a trigger in the test's schema that raises disk_full (SQLSTATE
53100) while a flag says so."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import pytest_twisted
from botocore.exceptions import ClientError
from twisted.internet import reactor, task

from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import Struct
from broker.store.store import Store, StoreFull
from tests.conftest import BrokerProcess, unique
from tests.integration.limits_support import running, stomp
from tests.integration.openwire_raw import RawClient
from tests.integration.sns_clients import queue_with_arn, sns_client
from tests.integration.sqs_clients import create_queue, make_client
from tests.integration.stomp_client import RawStomp
from tests.integration.test_store import dest_row, message_row, sql

SQLITE_CAP = "1MiB"
BIG = 64 * 1024
PG_DISK_FULL = """
CREATE TABLE disk_state (full_now BOOLEAN NOT NULL);
INSERT INTO disk_state VALUES (false);
CREATE FUNCTION refuse_when_full() RETURNS trigger AS $$
BEGIN
  IF (SELECT full_now FROM disk_state) THEN
    RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER refuse_when_full BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_when_full();
"""


class Disk:
    """Fills the database up and gives the room back: SQLite up to its cap, PostgreSQL by
    the disk_full trigger (installed once the broker made its tables)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")

    def install(self) -> None:
        if not self.sqlite:
            sql(self.url, PG_DISK_FULL)

    def set_full(self, full: bool) -> None:
        assert not self.sqlite
        sql(self.url, f"UPDATE disk_state SET full_now = {'true' if full else 'false'}")


def sqlite_cap(url: str) -> list[str]:
    return ["--sqlite-max-size", SQLITE_CAP] if url.startswith("sqlite") else []


@pytest_twisted.inlineCallbacks
def test_a_full_database_refuses_the_new_messages_and_commits_the_acks_of_the_same_transaction(store_url):
    disk = Disk(store_url)
    store = Store(store_url, reactor, max_size=1024 * 1024 if disk.sqlite else 0)
    yield store.open()
    disk.install()
    refused: list[tuple[int, int]] = []
    store.on_refused = refused.extend
    store.put_destination(dest_row(1, "q"))
    store.insert(message_row(1))
    store.insert(message_row(2))
    yield store.committed()
    filler = 1000
    if disk.sqlite:
        while not store.full:       # big messages until the file is at its cap
            assert filler < 1100, "the database never filled up"
            filler += 1
            store.insert(message_row(filler, body=b"f" * BIG))
            try:
                yield store.committed()
            except StoreFull:
                pass
    else:
        disk.set_full(True)
    refused.clear()
    store.delete(1)                                     # an ack and a send, one transaction
    store.insert(message_row(3, body=b"n" * BIG))
    ack, send = store.committed(refusable=False), store.committed()
    yield ack
    with pytest.raises(StoreFull) as caught:
        yield send
    assert caught.value.used > 0
    assert refused == [(1, 3)] and store.full
    assert sql(store_url, "SELECT seq FROM messages WHERE seq < 1000 ORDER BY seq") == [(2,)]
    # Room again: the fillers acked (SQLite reuses their pages) or the disk grown (PostgreSQL).
    if disk.sqlite:
        for seq in range(1001, filler + 1):
            store.delete(seq)
        yield store.committed()
    else:
        disk.set_full(False)
    yield task.deferLater(reactor, 1.2, lambda: None)
    assert not store.full, "new messages are tried again after a while"
    store.insert(message_row(4, body=b"a" * BIG))
    yield store.committed()
    assert sql(store_url, "SELECT seq FROM messages WHERE seq < 1000 ORDER BY seq") == [(2,), (4,)]
    yield store.close()


@pytest.fixture
def capped_broker(store_url: str, tmp_path: Path) -> Iterator[BrokerProcess]:
    with running(store_url, tmp_path, sqlite_cap(store_url)) as proc:
        Disk(store_url).install()
        yield proc


def fill_until_refused(disk: Disk, producer: RawStomp, queue: str) -> tuple[int, Any]:
    """Persistent sends with receipts until one is refused; (accepted, the ERROR frame)."""
    if not disk.sqlite:
        for i in range(3):
            assert producer.roundtrip("SEND", {"destination": queue, "persistent": "true"},
                                      f"m{i}".encode() + b"." * BIG).command == "RECEIPT"
        disk.set_full(True)
        return 3, producer.roundtrip("SEND", {"destination": queue, "persistent": "true"}, b"x" * BIG)
    for i in range(200):
        frame = producer.roundtrip("SEND", {"destination": queue, "persistent": "true"},
                                   f"m{i}".encode() + b"." * BIG)
        if frame.command == "ERROR":
            return i, frame
    raise AssertionError("the database never filled up")


def test_a_full_store_refuses_persistent_sends_in_activemqs_words_and_keeps_serving(capped_broker, store_url):
    disk = Disk(store_url)
    queue = "/queue/" + unique()
    sns = sns_client(capped_broker.aws_url)
    topic = sns.create_topic(Name=unique("t"))["TopicArn"]
    _, subscriber = queue_with_arn(capped_broker.aws_url, unique("sub"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=subscriber)
    producer = stomp(capped_broker.stomp_port)
    accepted, error = fill_until_refused(disk, producer, queue)
    assert error.command == "ERROR"
    assert error.headers["message"].startswith("Persistent store is Full, 100% of ")
    assert f"to prevent flooding queue://{queue[len('/queue/'):]}" in error.headers["message"]
    assert error.body.decode().startswith("javax.jms.ResourceAllocationException: ")
    # The connection stays open; SQS refuses as AWS does when it is unavailable.
    sqs = make_client("json", capped_broker.aws_url)
    url = create_queue(sqs, unique("sqs"))
    with pytest.raises(ClientError) as caught:
        # as big as the refused sends, so it does not fit however long after the refusal it comes
        sqs.send_message(QueueUrl=url, MessageBody="w" * BIG)
    assert caught.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    with pytest.raises(ClientError) as caught:
        sns.publish(TopicArn=topic, Message="x" * BIG)      # its copy for the SQS queue is refused
    assert caught.value.response["Error"]["Code"] == "ServiceUnavailable"
    # A JMS producer's persistent send gets ActiveMQ's exception.
    jms = RawClient(capped_broker.openwire_port)
    jms.open()
    jms_queue = unique("jms")
    sent = jms.send_text(jms_queue, "j" * BIG, 1)
    answer = jms.read_until(s.EXCEPTION_RESPONSE, timeout=10)
    assert answer.correlation_id == sent
    kind, text = tuple(answer.exception)[:2]
    assert kind == "javax.jms.ResourceAllocationException"
    assert text.startswith("Persistent store is Full, 100% of ") and f"queue://{jms_queue}" in text
    jms.close()
    # Consumers and acks go on: every accepted message is there, the refused one is not.
    consumer = stomp(capped_broker.stomp_port)
    consumer.send("SUBSCRIBE", {"destination": queue, "id": "1", "ack": "client-individual"})
    got = [consumer.expect("MESSAGE") for _ in range(accepted)]
    assert [m.body.split(b".")[0].decode() for m in got] == [f"m{i}" for i in range(accepted)]
    for m in got:
        assert consumer.roundtrip("ACK", {"id": m.headers["ack"]}).command == "RECEIPT"
    consumer.nothing(wait=0.5)
    if not disk.sqlite:
        disk.set_full(False)
    # Room again (SQLite reuses the acked messages' pages): sends are accepted once more.
    deadline = time.monotonic() + 10
    while True:
        frame = producer.roundtrip("SEND", {"destination": queue, "persistent": "true"}, b"after")
        if frame.command == "RECEIPT":
            break
        assert time.monotonic() < deadline, frame.headers
        time.sleep(0.3)
    assert consumer.expect("MESSAGE").body == b"after"
    # Nothing committed was lost and nothing acked comes back after a restart.
    producer.roundtrip("SEND", {"destination": queue, "persistent": "true"}, b"kept")
    capped_broker.restart()
    consumer = stomp(capped_broker.stomp_port)
    consumer.send("SUBSCRIBE", {"destination": queue, "id": "1", "ack": "auto"})
    assert [consumer.expect("MESSAGE").body for _ in range(2)] == [b"after", b"kept"]
    consumer.nothing(wait=0.5)


@pytest.mark.parametrize("transacted", [False, True], ids=["plain", "transaction"])
def test_a_persistent_send_without_a_receipt_is_told_when_the_full_store_refuses_it(capped_broker, store_url,
                                                                                    transacted):
    """Nothing asked for a receipt, yet the store refused what was sent: the producer gets
    ActiveMQ's ERROR (no receipt-id) instead of losing the message silently, and the
    connection keeps serving."""
    disk = Disk(store_url)
    queue = "/queue/" + unique()
    producer = stomp(capped_broker.stomp_port)
    if not disk.sqlite:
        assert producer.roundtrip("SEND", {"destination": queue, "persistent": "true"}, b"m0").command == "RECEIPT"
        disk.set_full(True)
    headers = {"destination": queue, "persistent": "true"}
    if transacted:
        producer.send("BEGIN", {"transaction": "tx1"})
        headers["transaction"] = "tx1"
    sends = 1 if not disk.sqlite else 40         # 40 × 64 KiB cannot fit under the 1 MiB cap
    for i in range(sends):
        producer.send("SEND", headers, f"n{i}".encode() + b"." * BIG)
    if transacted:
        producer.send("COMMIT", {"transaction": "tx1"})
    error = producer.expect("ERROR", timeout=20)
    assert error.headers["message"].startswith("Persistent store is Full, 100% of "), error.headers
    assert "receipt-id" not in error.headers
    assert error.body.decode().startswith("javax.jms.ResourceAllocationException: ")
    # Still serving: a non-persistent send is taken and answered (after the ERRORs of any
    # later transaction the full store refused too).
    producer.send("SEND", {"destination": queue + ".other", "receipt": "alive"}, b"np")
    for _ in range(sends + 1):
        frame = producer.recv()
        if frame.command == "RECEIPT":
            break
        assert frame.headers["message"].startswith("Persistent store is Full, "), frame
    assert frame.headers.get("receipt-id") == "alive"


def test_a_jms_async_send_is_told_by_a_connection_error_when_the_full_store_refuses_it(capped_broker, store_url):
    """An async persistent send wants no response, yet the store refused it: the JMS client
    gets ActiveMQ's ConnectionError (its ExceptionListener hears of it) instead of losing
    the message silently, and the connection keeps serving."""
    disk = Disk(store_url)
    queue = unique("jms-async")
    jms = RawClient(capped_broker.openwire_port)
    jms.open()
    if not disk.sqlite:
        jms.send_text(queue, "first", 1)
        assert jms.read_until(s.RESPONSE, timeout=10) is not None
        disk.set_full(True)
    sends = 1 if not disk.sqlite else 40         # 40 × 64 KiB cannot fit under the 1 MiB cap
    for i in range(sends):
        jms.send_text(queue, f"n{i}" + "." * BIG, 10 + i, rr=False)
    error = jms.read_until(s.CONNECTION_ERROR, timeout=20)
    kind, text = tuple(error.exception)[:2]
    assert kind == "javax.jms.ResourceAllocationException"
    assert text.startswith("Persistent store is Full, 100% of ") and f"queue://{queue}" in text
    # Still serving: a new session is answered.
    sent = jms.command(s.SESSION_INFO, session_id=Struct(s.SESSION_ID, connection_id=jms.conn, value=2))
    assert jms.read_until(s.RESPONSE, timeout=10).correlation_id == sent
    jms.close()
