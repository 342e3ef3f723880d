"""Delayed messages listed and cancelled from outside their queue (the scheduler management
topic's engine side): those in memory and those on disk only, read back page by page; a
cancelled one never comes due, its row is gone, and the queue's counters stay true."""
from __future__ import annotations

import random

import pytest

from broker.engine import scheduled
from tests.unit.engine_support import MemoryStore, Recorder, advance, check_counts, msg, paged, restart, result_of


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduled, "PAGE", 3)


def listed(b) -> dict[str, int]:
    return {e.message.body.decode(): e.due for e in result_of(scheduled.delayed(b))}


def test_every_delayed_message_is_listed_once_wherever_it_waits():
    store, b, q = paged()
    now = b.now_ms()
    due = {f"m{i}": now + (i % 7 + 1) * 1000 + i for i in range(30)}
    for body, at in due.items():
        q.enqueue(msg(body, persistent=True, visible_at=at))
    q.enqueue(msg("ready now", persistent=True))
    assert q._timeline.out_delayed > 0, "part of the backlog is on disk only"
    assert listed(b) == due


def test_cancelled_messages_never_come_due_and_leave_the_store():
    store, b, q = paged()
    now = b.now_ms()
    rnd = random.Random(3)
    due = {f"m{i}": now + rnd.randrange(1, 60) * 1000 for i in range(40)}
    for body, at in due.items():
        q.enqueue(msg(body, persistent=True, visible_at=at))
    entries = result_of(scheduled.delayed(b))
    gone = {e.message.body.decode() for e in entries[::3]}
    assert all(scheduled.cancel(e) for e in entries[::3])
    assert not any(scheduled.cancel(e) for e in entries[::3]), "cancelled twice"
    check_counts(q, delayed=40 - len(gone))
    assert listed(b) == {k: v for k, v in due.items() if k not in gone}
    c = Recorder(auto_ack=True, credit=10_000)
    q.add_consumer(c)
    advance(b, 61_000)
    assert sorted(c.bodies) == sorted(set(due) - gone)
    assert store.rows == {}
    check_counts(q, delayed=0)


def test_a_message_that_came_due_is_not_cancelled():
    store, b, q = paged()
    q.enqueue(msg("soon", persistent=True, visible_at=b.now_ms() + 1000))
    entries = result_of(scheduled.delayed(b))
    advance(b, 1500)
    assert not scheduled.cancel(entries[0])
    assert [m.body for m in q.browse()] == [b"soon"]


def test_a_cancelled_message_stays_cancelled_after_a_restart():
    store = MemoryStore()
    _, b, q = paged(store)
    now = b.now_ms()
    for i in range(12):
        q.enqueue(msg(f"m{i}", persistent=True, visible_at=now + 1000 * (i + 1)))
    for entry in result_of(scheduled.delayed(b)):
        if entry.message.body in (b"m0", b"m11"):
            assert scheduled.cancel(entry)
    b2 = restart(store)
    assert sorted(listed(b2)) == sorted(f"m{i}" for i in range(1, 11))
    check_counts(b2.queue("q"), delayed=10)


def test_one_job_is_found_by_its_id_without_reading_the_other_waiting_rows():
    store, b, q = paged()
    now = b.now_ms()
    for i in range(30):
        q.enqueue(msg(f"other{i}", persistent=True, visible_at=now + 1000 + i))
    # The job's three deliveries: one early enough to be in memory, two on disk only.
    for body, at in (("job0", now + 500), ("job1", now + 50_000), ("job2", now + 60_000)):
        q.enqueue(msg(body, persistent=True, visible_at=at, job_id="ID:job"))
    assert q._timeline.out_delayed > 0, "part of the backlog is on disk only"
    pages = store.timed_pages
    entries = result_of(scheduled.of_job(b, "ID:job"))
    assert sorted(e.message.body.decode() for e in entries) == ["job0", "job1", "job2"]
    assert store.timed_pages == pages and store.job_reads == 1
    assert all(scheduled.cancel(e) for e in entries)
    assert result_of(scheduled.of_job(b, "ID:job")) == []
    check_counts(q, delayed=30)
    assert not any(r["job_id"] for r in store.rows.values())
