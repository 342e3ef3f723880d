"""Deliveries that skip a queue's window: an arrival handed straight to a consumer with
credit when nothing waits before it, and one topic copy shared by every auto-ack
subscriber. The outcome must be what a dispatch pass through the window gives."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.engine.consumer import Lease
from broker.engine.message import Message, State
from broker.engine.settings import QueueSettings
from tests.unit.engine_support import Recorder, advance, check_counts, make_broker, msg, stamped


def _no_window(queue: Any) -> None:
    """Make any use of the queue's window fail the test."""
    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("the message went through the window")
    queue._ready.push = queue._ready.place = refuse


def test_arrival_goes_straight_to_a_free_consumer():
    b = make_broker()
    q = b.queue("q")
    c = Recorder()
    q.add_consumer(c)
    _no_window(q)
    q.enqueue(msg("a"))
    q.enqueue(msg("b"))
    assert c.bodies == ["a", "b"]
    assert [m.delivery_count for m, _ in c.got] == [1, 1]
    assert all(m.state is State.INFLIGHT for m, _ in c.got)
    check_counts(q, ready=0, inflight=2)
    assert b.memory_used == 2
    c.ack_all()
    assert b.memory_used == 0


def test_an_arrival_does_not_overtake_what_is_queued():
    b = make_broker()
    q = b.queue("q")
    c = Recorder(credit=1)
    q.add_consumer(c)
    q.enqueue(msg("a"))
    q.enqueue(msg("b"))            # no credit: queued
    c.ack()                        # credit back: b is delivered by the dispatch
    q.enqueue(msg("c"))            # credit used by b: queued behind nothing else
    assert c.bodies == ["a", "b"]
    c.ack()
    assert c.bodies == ["a", "b", "c"]
    check_counts(q, ready=0, inflight=1)


def test_a_send_made_while_delivering_waits_for_that_delivery():
    b = make_broker()
    q = b.queue("q")
    order: list[str] = []

    class Echo(Recorder):
        def deliver(self, queue: Any, message: Message, lease: Lease | None) -> None:
            order.append("start " + message.body.decode())
            if message.body == b"a":
                queue.enqueue(msg("b"))
            super().deliver(queue, message, lease)
            order.append("end " + message.body.decode())

    c = Echo()
    q.add_consumer(c)
    q.enqueue(msg("a"))
    assert order == ["start a", "end a", "start b", "end b"]
    assert c.bodies == ["a", "b"]


def test_an_expired_arrival_is_not_handed_over():
    b = make_broker()
    q = b.queue("q")
    c = Recorder()
    q.add_consumer(c)
    q.enqueue(stamped(b, "old", expires=b.now_ms() - 1, persistent=True))
    assert c.bodies == []
    assert [m.body for m in b.queue("ActiveMQ.DLQ").browse()] == [b"old"]


def test_a_busy_fifo_group_holds_its_next_message():
    b = make_broker()
    q = b.create_queue("q.fifo", QueueSettings(fifo=True))
    c = Recorder()
    q.add_consumer(c)
    q.enqueue(msg("g1", group_id="g"))
    q.enqueue(msg("g2", group_id="g"))
    q.enqueue(msg("h1", group_id="h"))
    assert c.bodies == ["g1", "h1"]
    c.ack("g1")
    assert c.bodies == ["g1", "h1", "g2"]


def test_delayed_arrival_waits_for_its_time():
    b = make_broker()
    q = b.queue("q")
    c = Recorder()
    q.add_consumer(c)
    q.enqueue(msg("later", visible_at=b.now_ms() + 1000))
    assert c.bodies == []
    advance(b, 1000)
    assert c.bodies == ["later"]


def test_auto_ack_subscribers_share_one_delivered_copy():
    b = make_broker()
    subscribers = [Recorder(f"c{i}", auto_ack=True) for i in range(3)]
    subs = [b.subscribe_topic("t", c) for c in subscribers]
    original = msg("hello", properties={"k": "v"})
    assert b.publish("t", original) == 3
    copies = [c.got[0][0] for c in subscribers]
    assert all(m is copies[0] for m in copies) and copies[0] is not original
    shared = copies[0]
    assert shared.topic == "t" and shared.delivery_count == 1 and shared.state is State.GONE
    assert shared.timestamp and shared.first_delivery == b.now_ms()
    assert original.delivery_count == 0 and original.topic is None
    for sub in subs:
        check_counts(sub.queue, ready=0, inflight=0)
    assert b.memory_used == 0


@pytest.mark.parametrize("other", [
    {"auto_ack": False},                                  # keeps a lease: its own copy
    {"auto_ack": True, "selector": "k = 'v'"},            # sees JMSXDeliveryCount 0
    {"auto_ack": True, "credit": 0},                      # queues it
])
def test_subscribers_that_keep_state_get_their_own_copy(other: dict[str, Any]):
    b = make_broker()
    plain = Recorder("plain", auto_ack=True)
    special = Recorder("special", **other)
    b.subscribe_topic("t", plain)
    sub = b.subscribe_topic("t", special)
    b.publish("t", msg("x", properties={"k": "v"}))
    shared = plain.got[0][0]
    if other.get("credit") == 0:
        assert special.got == []
        check_counts(sub.queue, ready=1)
        special.credit = 1
        sub.queue.dispatch()
    (mine, lease), = special.got
    assert mine is not shared and mine.body == b"x" and mine.topic == "t"
    assert mine.delivery_count == 1
    assert (lease is None) == other["auto_ack"]


def test_the_copies_of_a_publication_share_one_cache_of_encodings():
    b = make_broker()
    fast, lagging = Recorder("fast", auto_ack=True), Recorder("lagging", auto_ack=True, credit=0)
    b.subscribe_topic("t", fast)
    sub = b.subscribe_topic("t", lagging)
    original = msg("x")
    b.publish("t", original)
    lagging.credit = 1
    sub.queue.dispatch()
    ((shared, _),), ((own, _),) = fast.got, lagging.got
    assert own is not shared
    assert shared.encodings == {} and own.encodings is shared.encodings is original.encodings
    alone = msg("y")
    b.unsubscribe_topic(sub)
    b.publish("t", alone)
    assert alone.encodings is None      # one delivery: nothing to share


def test_a_queued_subscription_keeps_its_order():
    b = make_broker()
    c = Recorder(auto_ack=True, credit=1)
    sub = b.subscribe_topic("t", c)
    b.publish("t", msg("1"))
    b.publish("t", msg("2"))       # no credit: queued
    c.credit = 1
    b.publish("t", msg("3"))       # credit, but "2" waits first: "2" goes, "3" waits
    assert c.bodies == ["1", "2"]
    check_counts(sub.queue, ready=1)
    c.credit = 1
    sub.queue.dispatch()
    assert c.bodies == ["1", "2", "3"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.just("send"), st.integers(0, 9), st.sampled_from([None, "g1", "g2"]),
              st.sampled_from([None, "1"])),
    st.tuples(st.just("credit"), st.integers(0, 3)),
    st.tuples(st.just("ack")),
    st.tuples(st.just("expire")),
), max_size=40), st.booleans(), st.booleans(), st.sampled_from([None, "k = '1'"]))
def test_a_single_plain_consumer_gets_what_the_general_dispatch_gives(
        steps: list[tuple[Any, ...]], auto_ack: bool, fifo: bool, selector: str | None):
    """A queue with one consumer picks it without a scan; a consumer with a priority
    (alone as well) goes through the general pick: both get the same messages in the same
    order, with the same delivery state, whatever arrives, expires or is acked between."""
    runs = []
    for priority in (0, 1):
        b = make_broker()
        q = b.queue("q", QueueSettings(fifo=fifo))
        c = Recorder(credit=0, auto_ack=auto_ack, selector=selector, priority=priority)
        q.add_consumer(c)
        assert q._prioritized == bool(priority)
        for i, step in enumerate(steps):
            if step[0] == "send":
                _, priority_of, group, k = step
                q.enqueue(stamped(b, str(i), priority=priority_of, group_id=group,
                                  expires=b.now_ms() + 5 if priority_of == 9 else 0,
                                  properties={} if k is None else {"k": k}))
            elif step[0] == "credit":
                c.credit += step[1]
                q.dispatch()
            elif step[0] == "ack" and c.pending:
                q.ack(c.pending.pop(0))
            elif step[0] == "expire":
                advance(b, 10)
        runs.append(([(m.body, m.priority, m.delivery_count, m.state, lease is None)
                      for m, lease in c.got], q.stats()))
    fast, general = runs
    assert fast == general


def test_a_lease_handed_over_comes_due_at_its_deadline():
    # The deadline of a lease taken during a delivery is timed once the delivery ends, not
    # at the next pass: nothing else happens here before the lease runs out.
    b = make_broker()
    q = b.queue("q")
    c = Recorder(lease_ms=1_000)
    q.add_consumer(c)
    q.enqueue(stamped(b, "a"))
    assert c.bodies == ["a"]
    advance(b, 1_000)
    assert c.bodies == ["a", "a"]
    assert c.got[-1][0].delivery_count == 2
