"""Queue semantics driven straight through the engine: dispatch, credit, leases, long-poll
receive, delays, priority, purge and delete. Time is a `Clock`; nothing touches a socket."""
from __future__ import annotations

from broker.engine.message import State
from broker.engine.settings import QueueSettings
from tests.unit.engine_support import (MemoryStore, Recorder, advance, bodies, check_counts,
                                       make_broker, msg, ready_bodies, result_of)


def fill(queue, *names, **kw):
    return [queue.enqueue(msg(n, **kw)) for n in names]


# -- dispatch between consumers ----------------------------------------------------------------

def test_round_robin_between_consumers():
    b = make_broker()
    q = b.create_queue("q")
    c1, c2, c3 = Recorder("c1"), Recorder("c2"), Recorder("c3")
    for c in (c1, c2, c3):
        q.add_consumer(c)
    fill(q, *"abcdefg")
    assert c1.bodies == ["a", "d", "g"]
    assert c2.bodies == ["b", "e"]
    assert c3.bodies == ["c", "f"]
    check_counts(q, ready=0, inflight=7)


def test_messages_queued_before_consumers_are_shared_out():
    b = make_broker()
    q = b.create_queue("q")
    fill(q, *"abcd")
    check_counts(q, ready=4)
    c1, c2 = Recorder("c1", credit=3), Recorder("c2", credit=3)
    q.add_consumer(c1)
    assert c1.bodies == ["a", "b", "c"]
    q.add_consumer(c2)
    assert c2.bodies == ["d"]
    check_counts(q, ready=0, inflight=4)


def test_credit_limits_what_is_in_flight():
    b = make_broker()
    q = b.create_queue("q")
    c = Recorder(credit=2)
    q.add_consumer(c)
    fill(q, *"abcde")
    assert c.bodies == ["a", "b"]
    check_counts(q, ready=3, inflight=2)
    assert c.ack("a")
    assert c.bodies == ["a", "b", "c"]
    check_counts(q, ready=2, inflight=2)
    c.ack_all()
    assert c.bodies == ["a", "b", "c", "d", "e"]
    c.ack_all()
    check_counts(q, ready=0, inflight=0)


def test_credit_raised_by_the_door_needs_a_dispatch():
    b = make_broker()
    q = b.create_queue("q")
    c = Recorder(credit=0)
    q.add_consumer(c)
    fill(q, "a", "b")
    assert c.got == []
    c.credit = 5          # e.g. the transport drained
    q.dispatch()
    assert c.bodies == ["a", "b"]


def test_zero_credit_consumer_is_skipped_not_waited_for():
    b = make_broker()
    q = b.create_queue("q")
    busy, free = Recorder("busy", credit=0), Recorder("free")
    q.add_consumer(busy)
    q.add_consumer(free)
    fill(q, *"abc")
    assert busy.got == [] and free.bodies == ["a", "b", "c"]


def test_auto_ack_consumer_takes_ownership():
    b = make_broker(MemoryStore())
    q = b.create_queue("q")
    c = Recorder(auto_ack=True)
    q.add_consumer(c)
    m = q.enqueue(msg("a", persistent=True))
    assert c.got == [(m, None)]
    assert m.state is State.GONE and m.delivery_count == 1
    assert b.store.rows == {}
    check_counts(q, ready=0, inflight=0)


# -- leases ------------------------------------------------------------------------------------

def test_ack_deletes_and_stale_ack_is_refused():
    b = make_broker(MemoryStore())
    q = b.create_queue("q")
    c = Recorder()
    q.add_consumer(c)
    q.enqueue(msg("a", persistent=True))
    lease = c.pending[0]
    assert q.is_current(lease) and q.lease_for(lease.message.seq) is lease
    assert c.ack("a")
    assert not q.ack(lease) and not q.release(lease) and not q.extend(lease, 1000)
    assert b.store.rows == {}
    check_counts(q, ready=0, inflight=0)


def test_release_puts_messages_back_at_the_head_in_seq_order():
    b = make_broker()
    q = b.create_queue("q")
    c = Recorder(credit=3)
    q.add_consumer(c)
    fill(q, *"abcde")
    assert c.pending_bodies == ["a", "b", "c"]
    c.credit = 0   # hold the deliveries back while giving messages back
    for name in ("c", "a"):
        lease = c.take(name)
        c.pending.remove(lease)
        assert q.release(lease)
    assert ready_bodies(q) == ["a", "c", "d", "e"]
    check_counts(q, ready=4, inflight=1)
    c.credit = 10
    q.dispatch()
    assert c.bodies == ["a", "b", "c", "a", "c", "d", "e"]
    counts = {m.body: m.delivery_count for m, _ in c.got[3:]}
    assert counts == {b"a": 2, b"c": 2, b"d": 1, b"e": 1}
    assert [m.redelivered for m, _ in c.got[3:]] == [True, True, False, False]


def test_release_with_delay():
    b = make_broker()
    q = b.create_queue("q")
    c = Recorder()
    q.add_consumer(c)
    fill(q, "a")
    c.release("a", delay_ms=2000)
    check_counts(q, ready=0, delayed=1, inflight=0)
    advance(b, 1999)
    assert c.bodies == ["a"]
    advance(b, 1)
    assert c.bodies == ["a", "a"]
    check_counts(q, ready=0, delayed=0, inflight=1)


def test_consumer_leaving_returns_its_messages_in_order():
    b = make_broker()
    q = b.create_queue("q")
    c1, c2 = Recorder("c1", credit=2), Recorder("c2", credit=0)
    q.add_consumer(c1)
    q.add_consumer(c2)
    fill(q, *"abc")
    assert c1.bodies == ["a", "b"]
    q.remove_consumer(c1)
    check_counts(q, ready=3, inflight=0)
    assert not q.ack(c1.pending[0])
    c2.credit = 10
    q.dispatch()
    assert c2.bodies == ["a", "b", "c"]
    assert [m.delivery_count for m, _ in c2.got] == [2, 2, 1]
    check_counts(q, ready=0, inflight=3)


def test_lease_deadline_expires_and_message_is_delivered_again():
    b = make_broker()
    q = b.create_queue("q")
    c = Recorder(lease_ms=30_000)
    q.add_consumer(c)
    fill(q, "a")
    first = c.pending[0]
    assert first.deadline == b.now_ms() + 30_000
    advance(b, 29_999)
    check_counts(q, ready=0, inflight=1)
    advance(b, 1)
    # the visibility timeout ran out: the message came back and went out again
    assert c.bodies == ["a", "a"]
    second = c.got[1][1]
    assert second is not first and second.token != first.token
    assert second.message.delivery_count == 2
    assert not q.ack(first), "a stale lease (old receipt handle) must not ack"
    assert q.ack(second)
    check_counts(q, ready=0, inflight=0)


def test_extend_moves_the_deadline_and_zero_releases():
    b = make_broker()
    q = b.create_queue("q")
    c = Recorder(lease_ms=10_000, credit=1)
    q.add_consumer(c)
    fill(q, "a", "b")
    lease = c.pending[0]
    advance(b, 9_000)
    assert q.extend(lease, 5_000)
    assert lease.deadline == b.now_ms() + 5_000
    assert lease.message.visible_at == lease.deadline
    advance(b, 4_999)
    assert q.is_current(lease) and c.bodies == ["a"]
    advance(b, 1)
    assert not q.is_current(lease)
    check_counts(q, ready=2, inflight=0)   # 'a' is back; the consumer's credit is spent
    c.credit = 1
    q.dispatch()
    assert c.bodies == ["a", "a"]
    lease2 = c.got[-1][1]
    assert q.extend(lease2, 0)
    check_counts(q, ready=2, inflight=0)
    assert ready_bodies(q) == ["a", "b"]


def test_lease_without_deadline_is_held_until_settled():
    b = make_broker()
    q = b.create_queue("q")
    c = Recorder()
    q.add_consumer(c)
    fill(q, "a")
    advance(b, 10 * 86_400_000)
    assert q.is_current(c.pending[0])
    check_counts(q, ready=0, inflight=1)


# -- receive (SQS) ---------------------------------------------------------------------------------

def test_receive_immediate():
    b = make_broker()
    q = b.create_queue("q")
    fill(q, *"abc")
    got = result_of(q.receive(2, 30_000))
    assert bodies(got) == ["a", "b"]
    assert all(lease.deadline == b.now_ms() + 30_000 for lease in got)
    check_counts(q, ready=1, inflight=2)
    assert bodies(result_of(q.receive(10, 30_000))) == ["c"]
    assert result_of(q.receive(10, 30_000)) == []
    assert q.consumer_count == 0 and q._consumers == []


def test_receive_visibility_timeout_counts_receives():
    b = make_broker()
    q = b.create_queue("q")
    fill(q, "a")
    first = result_of(q.receive(1, 1_000))
    assert result_of(q.receive(1, 1_000)) == []
    advance(b, 1_000)
    again = result_of(q.receive(1, 1_000))
    assert bodies(again) == ["a"] and again[0].message.delivery_count == 2
    assert not q.ack(first[0]) and q.ack(again[0])
    check_counts(q, ready=0, inflight=0)


def test_long_poll_answers_as_soon_as_a_message_arrives():
    b = make_broker()
    q = b.create_queue("q")
    d = q.receive(10, 30_000, wait_ms=20_000)
    assert not d.called
    advance(b, 5_000)
    assert not d.called
    q.enqueue(msg("a"))
    q.enqueue(msg("b"))     # same reactor turn: joins the answer
    advance(b, 0)
    assert bodies(result_of(d)) == ["a", "b"]
    assert q._consumers == []
    q.enqueue(msg("c"))
    check_counts(q, ready=1, inflight=2)


def test_long_poll_times_out_empty():
    b = make_broker()
    q = b.create_queue("q")
    d = q.receive(10, 30_000, wait_ms=20_000)
    advance(b, 19_999)
    assert not d.called
    advance(b, 1)
    assert result_of(d) == []
    assert q._consumers == []
    q.enqueue(msg("late"))
    check_counts(q, ready=1, inflight=0)


def test_long_poll_cancel_leaves_later_messages_alone():
    b = make_broker()
    q = b.create_queue("q")
    d = q.receive(10, 30_000, wait_ms=20_000)
    d.cancel()
    assert d.called and q._consumers == []
    q.enqueue(msg("a"))
    check_counts(q, ready=1, inflight=0)
    assert b.clock.getDelayedCalls() == []


def test_long_poll_cancelled_after_taking_messages_gives_them_back():
    b = make_broker()
    q = b.create_queue("q")
    d = q.receive(10, 30_000, wait_ms=20_000)
    q.enqueue(msg("a"))          # taken, but the answer waits for the end of the turn
    d.cancel()                   # ... and the client went away before it
    assert result_of(d) == []
    check_counts(q, ready=1, inflight=0)
    (lease,) = result_of(q.receive(10, 30_000))
    assert lease.message.body == b"a" and lease.message.delivery_count == 2


def test_long_poll_woken_by_a_delayed_message_becoming_visible():
    b = make_broker()
    q = b.create_queue("q")
    q.enqueue(msg("a", visible_at=b.now_ms() + 3_000))
    d = q.receive(10, 30_000, wait_ms=20_000)
    assert not d.called
    advance(b, 3_000)
    assert bodies(result_of(d)) == ["a"]


def test_several_long_polls_each_get_their_own_messages():
    b = make_broker()
    q = b.create_queue("q")
    d1 = q.receive(1, 30_000, wait_ms=20_000)
    d2 = q.receive(1, 30_000, wait_ms=20_000)
    fill(q, "a", "b", "c")
    advance(b, 0)
    assert bodies(result_of(d1)) + bodies(result_of(d2)) == ["a", "b"]
    check_counts(q, ready=1, inflight=2)


def test_receive_mixes_with_push_consumers():
    b = make_broker()
    q = b.create_queue("q")
    c = Recorder(credit=1)
    q.add_consumer(c)
    fill(q, "a", "b", "c")
    assert c.bodies == ["a"]
    assert bodies(result_of(q.receive(10, 1_000))) == ["b", "c"]
    assert q.consumer_count == 1


def test_delete_queue_ends_pending_receives():
    b = make_broker()
    q = b.create_queue("q")
    c = Recorder()
    q.add_consumer(c)
    q.enqueue(msg("a"))
    d = q.receive(10, 30_000, wait_ms=20_000)
    assert b.delete_queue("q")
    assert result_of(d) == []
    assert not q.ack(c.pending[0])
    assert "q" not in b.queues
    assert not b.delete_queue("q")
    assert [call for call in b.clock.getDelayedCalls() if call.active()] == []
    fresh = b.queue("q")
    assert fresh is not q and fresh.ready_count == 0


# -- delays and priority ---------------------------------------------------------------------------

def test_delayed_message_becomes_visible_at_its_time():
    b = make_broker()
    q = b.create_queue("q")
    c = Recorder()
    q.add_consumer(c)
    now = b.now_ms()
    q.enqueue(msg("late", visible_at=now + 5_000))
    q.enqueue(msg("early", visible_at=now + 1_000))
    q.enqueue(msg("now"))
    assert c.bodies == ["now"]
    check_counts(q, ready=0, delayed=2, inflight=1)
    advance(b, 1_000)
    assert c.bodies == ["now", "early"]
    check_counts(q, delayed=1)
    advance(b, 4_000)
    assert c.bodies == ["now", "early", "late"]
    check_counts(q, ready=0, delayed=0, inflight=3)


def test_default_delay_applies_to_messages_without_their_own():
    b = make_broker()
    q = b.create_queue("q", QueueSettings(default_delay_ms=10_000))
    q.enqueue(msg("a"))
    q.enqueue(msg("b", visible_at=b.now_ms() + 2_000))
    check_counts(q, ready=0, delayed=2)
    assert result_of(q.receive(10, 1_000)) == []
    advance(b, 2_000)
    assert bodies(result_of(q.receive(10, 60_000))) == ["b"]
    advance(b, 8_000)
    assert bodies(result_of(q.receive(10, 60_000))) == ["a"]
    check_counts(q, ready=0, delayed=0, inflight=2)


def test_priority_order_then_seq_order():
    b = make_broker()
    q = b.create_queue("q")
    for name, prio in [("l1", 1), ("n1", 4), ("h1", 9), ("n2", 4), ("h2", 9), ("l2", 1)]:
        q.enqueue(msg(name, priority=prio))
    assert ready_bodies(q) == ["h1", "h2", "n1", "n2", "l1", "l2"]
    c = Recorder()
    q.add_consumer(c)
    assert c.bodies == ["h1", "h2", "n1", "n2", "l1", "l2"]


def test_released_high_priority_message_overtakes():
    b = make_broker()
    q = b.create_queue("q")
    c = Recorder(credit=1)
    q.add_consumer(c)
    q.enqueue(msg("hi", priority=9))
    q.enqueue(msg("lo", priority=0))
    c.release("hi")
    assert c.bodies == ["hi", "hi"]


# -- purge -------------------------------------------------------------------------------------------

def test_purge_keeps_in_flight_messages():
    store = MemoryStore()
    b = make_broker(store)
    q = b.create_queue("q")
    c = Recorder(credit=1)
    q.add_consumer(c)
    fill(q, "a", "b", "c", persistent=True)
    q.enqueue(msg("d", persistent=True, visible_at=b.now_ms() + 1_000))
    check_counts(q, ready=2, delayed=1, inflight=1)
    assert q.purge(include_inflight=False) == 3
    check_counts(q, ready=0, delayed=0, inflight=1)
    assert store.bodies(q.dest_id) == [b"a"], "purged messages must leave the store too"
    advance(b, 1_000)
    assert c.bodies == ["a"]
    assert c.ack("a")
    assert store.rows == {}
    q.enqueue(msg("e"))
    assert c.bodies == ["a", "e"]


def test_purge_with_in_flight():
    store = MemoryStore()
    b = make_broker(store)
    q = b.create_queue("q")
    c = Recorder(credit=2)
    q.add_consumer(c)
    fill(q, "a", "b", "c", persistent=True)
    assert q.purge(include_inflight=True) == 3
    check_counts(q, ready=0, delayed=0, inflight=0)
    assert store.rows == {}
    assert not q.ack(c.pending[0])
    c.pending.clear()
    c.credit = 2
    q.enqueue(msg("d"))
    assert c.bodies == ["a", "b", "d"]


def test_purge_then_lease_expiry_does_not_resurrect():
    b = make_broker()
    q = b.create_queue("q")
    fill(q, "a")
    result_of(q.receive(1, 1_000))
    q.purge(include_inflight=True)
    advance(b, 2_000)
    check_counts(q, ready=0, inflight=0)
    assert result_of(q.receive(1, 1_000)) == []


# -- persistence as the engine asks for it ----------------------------------------------------------

def test_only_persistent_messages_reach_the_store():
    store = MemoryStore()
    b = make_broker(store)
    q = b.create_queue("q")
    q.enqueue(msg("p", persistent=True))
    q.enqueue(msg("np", persistent=False))
    assert store.bodies(q.dest_id) == [b"p"]
    assert store.destinations[q.dest_id]["name"] == "q"
    temp = b.temporary_queue("tmp")
    temp.enqueue(msg("p2", persistent=True))
    assert temp.dest_id not in store.destinations
    assert store.bodies(temp.dest_id) == []


def test_lease_state_reaches_the_store():
    store = MemoryStore()
    b = make_broker(store)
    q = b.create_queue("q")
    m = q.enqueue(msg("a", persistent=True))
    (lease,) = result_of(q.receive(1, 30_000))
    row = store.rows[m.seq]
    assert row["delivery_count"] == 1 and row["visible_at"] == b.now_ms() + 30_000
    assert row["first_delivery"] == b.now_ms()
    advance(b, 1_000)
    q.extend(lease, 60_000)
    assert store.rows[m.seq]["visible_at"] == b.now_ms() + 60_000
    q.release(lease)
    assert store.rows[m.seq]["visible_at"] == 0


def test_restart_from_the_store_restores_queue_and_visibility():
    store = MemoryStore()
    b = make_broker(store)
    q = b.create_queue("q", QueueSettings(max_deliveries=5, dead_letter="dlq"), attrs={"k": "v"})
    q.enqueue(msg("ready", persistent=True))
    q.enqueue(msg("leased", persistent=True))
    q.enqueue(msg("gone", persistent=False))
    q.enqueue(msg("delayed", persistent=True, visible_at=b.now_ms() + 50_000))
    q.enqueue(msg("held", persistent=True))
    got = result_of(q.receive(3, 0))        # a lease without deadline ("held" by a STOMP client)
    assert bodies(got) == ["ready", "leased", "gone"]
    q.ack(got[0])
    q.extend(got[1], 20_000)                 # visibility deadline 20 s from now
    # restart
    b2 = make_broker(store)
    b2.clock.advance(b.clock.seconds() - b2.clock.seconds())
    result_of(b2.start())
    q2 = b2.queues["q"]
    assert q2.settings == q.settings and q2.attrs == {"k": "v"}
    # the one whose visibility deadline was running is in flight again, held by nobody
    check_counts(q2, ready=1, delayed=1, inflight=1)
    assert ready_bodies(q2) == ["held"]
    (held,) = result_of(q2.receive(10, 1_000))
    assert held.message.delivery_count == 1   # never delivered before the restart
    assert q2.ack(held)
    advance(b2, 20_000)
    (leased,) = result_of(q2.receive(10, 1_000))
    assert leased.message.body == b"leased" and leased.message.delivery_count == 2
    assert q2.ack(leased)
    advance(b2, 30_000)
    assert bodies(result_of(q2.receive(10, 1_000))) == ["delayed"]
    fresh = q2.enqueue(msg("new", persistent=True))
    assert fresh.seq > max(m.seq for m in (held.message, leased.message))
