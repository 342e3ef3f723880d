"""Limits and flow control in the engine: a destination at its policy's limit makes a
sender wait (and wakes it when there is room) or refuses it; a store at its limit refuses
persistent sends; past the memory limit stored queues keep new messages on disk and
memory-only queues hold their senders."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from broker.engine.limits import ADMITTED, LimitError, Policy, parse_size
from tests.unit.engine_support import MemoryStore, Recorder, advance, make_broker, msg, result_of


def limited(store=None, **kw):
    b = make_broker(store)
    for name, value in kw.items():
        setattr(b, name, value)
    result_of(b.start())
    return b


def test_sizes_read_as_users_write_them():
    assert parse_size("256MiB") == 256 * 1024 * 1024
    assert parse_size("1 GB") == 1024 ** 3 and parse_size("512k") == 512 * 1024
    assert parse_size("0") == 0 and parse_size(4096) == 4096
    with pytest.raises(LimitError):
        parse_size("lots")
    with pytest.raises(LimitError):
        Policy.from_dict({"queue": ">", "max_mesages": 3})


def test_a_sender_waits_at_max_messages_and_is_woken_when_a_consumer_makes_room():
    b = limited(MemoryStore(), policies=[Policy(queue="orders.>", max_messages=2)])
    q = b.create_queue("orders.eu")
    for body in ("a", "b"):
        assert b.admit("queue", "orders.eu", 1, True).ok
        q.enqueue(msg(body, persistent=True))
    waiting = b.admit("queue", "orders.eu", 1, True)
    assert waiting.wait is not None and not waiting.wait.called
    assert b.admit("queue", "other", 1, True).ok, "the policy covers orders.> only"
    assert b.stats()["queues"]["orders.eu"]["producers_blocked"] == 1
    c = Recorder(auto_ack=True, credit=1)
    q.add_consumer(c)
    advance(b, 0)
    assert waiting.wait.called
    assert b.stats()["queues"]["orders.eu"]["producers_blocked"] == 0


def test_send_fail_if_no_space_refuses_and_a_door_that_cannot_wait_is_refused():
    b = limited(MemoryStore(), policies=[Policy(queue="fail", max_bytes=10, send_fail_if_no_space=True),
                                         Policy(queue="sqs", max_messages=1)])
    b.create_queue("fail").enqueue(msg("x" * 8, persistent=True))
    refused = b.admit("queue", "fail", 4, True).refused
    assert refused is not None and refused.resource == "memory" and refused.limit == 10
    b.create_queue("sqs").enqueue(msg("x", persistent=True))
    assert b.admit("queue", "sqs", 1, True, can_wait=False).refused is not None


def test_a_full_store_refuses_persistent_sends_only():
    b = limited(MemoryStore(), store_limit=1000)
    b.store_used = 1000
    refused = b.admit("queue", "q", 10, True).refused
    assert refused is not None and refused.resource == "store"
    assert b.admit("queue", "q", 10, False).ok


def test_a_store_whose_disk_filled_refuses_persistent_sends_and_drops_what_it_could_not_write():
    store = MemoryStore()
    b = limited(store)
    q = b.create_queue("q")
    kept, lost, delayed = (msg(body, persistent=True) for body in ("kept", "lost", "later"))
    for m in (kept, lost):
        q.enqueue(m)
    delayed.visible_at = b.now_ms() + 1000
    q.enqueue(delayed)
    store.full, store.full_bytes = True, 4096
    refused = b.admit("queue", "q", 10, True).refused
    assert refused is not None and refused.resource == "store" and refused.limit == 4096
    assert b.admit("queue", "q", 10, False).ok, "non-persistent sends go on"
    store.refuse([lost.seq, delayed.seq])          # their transaction found the disk full
    assert q.stats()["ready"] == 1 and q.stats()["delayed"] == 0 and q.stats()["in_memory"] == 1
    c = Recorder(auto_ack=True)
    q.add_consumer(c)
    advance(b, 2000)
    assert c.bodies == ["kept"]


def test_past_the_memory_limit_a_stored_queue_keeps_new_messages_on_disk_in_order():
    store = MemoryStore()
    b = limited(store, memory_limit=1000)
    q = b.create_queue("q")
    for i in range(50):
        assert b.admit("queue", "q", 100, False).ok     # a stored queue never holds a sender
        q.enqueue(msg(f"{i:02d}" + "x" * 98, persistent=i % 2 == 0))
    assert b.memory_used <= 1000 and q.ready_count == 50
    c = Recorder(auto_ack=True)
    q.add_consumer(c)
    assert [body[:2] for body in c.bodies] == [f"{i:02d}" for i in range(50)]
    assert store.rows == {} and b.memory_used == 0


def test_a_memory_only_queue_holds_its_senders_at_the_memory_limit():
    b = limited(memory_limit=250)
    t = b.temporary_queue("tmp")
    for _ in range(2):
        assert b.admit("queue", "tmp", 100, False).ok
        t.enqueue(msg("x" * 100))
    waiting = b.admit("queue", "tmp", 100, False).wait
    assert waiting is not None
    t.add_consumer(Recorder(auto_ack=True))
    advance(b, 0)
    assert waiting.called


def test_a_deleted_queue_gives_its_memory_back():
    b = limited(MemoryStore())
    for name in ("a", "b"):
        b.create_queue(name).enqueue(msg("x" * 100, persistent=True))
    t = b.temporary_queue("tmp")
    t.enqueue(msg("y" * 50))
    assert b.memory_used == 250
    b.delete_queue("a")
    b.delete_queue("tmp")
    assert b.memory_used == 100


@settings(max_examples=200, deadline=None)
@given(st.booleans(), st.integers(0, 3), st.integers(0, 3000), st.integers(0, 3000), st.booleans(),
       st.lists(st.tuples(st.sampled_from(["queue", "topic"]), st.sampled_from(["a", "a.b", "c"]),
                          st.booleans()), min_size=1, max_size=4),
       st.integers(0, 2000))
def test_a_send_that_no_limit_applies_to_is_admitted_to_every_destination(
        stored: bool, policies: int, memory_limit: int, memory_used: int, store_full: bool,
        sends: list[tuple[str, str, bool]], size: int) -> None:
    """`unlimited`, which a door asks once for a send to several destinations (and `admit`
    first), never says yes where the rest of `admit` would hold or refuse a send to one."""
    b = limited(MemoryStore() if stored else None, memory_limit=memory_limit,
                policies=[Policy(queue="a.>", topic="a", max_messages=1, max_bytes=100)][:policies])
    b.memory_used = memory_used
    if stored:
        b.store.full = store_full
    for kind, name, persistent in sends:
        if kind == "queue":
            b.create_queue(name).enqueue(msg("x" * 50, persistent=persistent))
    if b.unlimited(size):
        for kind, name, persistent in sends:
            assert b.admit(kind, name, size, persistent) is ADMITTED
        b.unlimited = lambda size: False   # admit's rules without the shortcut
        for kind, name, persistent in sends:
            assert b.admit(kind, name, size, persistent).ok
