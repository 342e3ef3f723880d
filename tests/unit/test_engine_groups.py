"""Message groups (SQS FIFO and JMS), deduplication, selectors and consumer priority/exclusivity."""
from __future__ import annotations

from broker.engine.settings import QueueSettings
from tests.unit.engine_support import (MemoryStore, Recorder, advance, bodies, check_counts,
                                       make_broker, msg, ready_bodies, result_of, stamped)

FIFO = QueueSettings(fifo=True, dedup_window_ms=300_000)


def grouped(queue, spec):
    """spec like 'a1 a2 b1': group = first letter."""
    for name in spec.split():
        queue.enqueue(msg(name, group_id=name[0], dedup_id=name))


# -- SQS FIFO --------------------------------------------------------------------------------

def test_fifo_group_is_blocked_while_a_message_is_in_flight():
    b = make_broker()
    q = b.create_queue("q.fifo", FIFO)
    grouped(q, "a1 a2 b1 a3 b2 c1")
    a1, a2 = got = result_of(q.receive(2, 30_000))
    assert bodies(got) == ["a1", "a2"]          # a free group's messages, in order
    others = result_of(q.receive(10, 30_000))
    assert bodies(others) == ["b1", "b2", "c1"]   # a3 waits behind its group, the others flow
    check_counts(q, ready=1, inflight=5)
    assert result_of(q.receive(10, 30_000)) == []
    assert q.ack(a1)
    assert result_of(q.receive(10, 30_000)) == []  # a2 still holds the group
    assert q.ack(a2)
    assert bodies(result_of(q.receive(10, 30_000))) == ["a3"]
    check_counts(q, ready=0, inflight=4)


def test_fifo_redelivers_the_group_head_before_the_rest():
    b = make_broker()
    q = b.create_queue("q.fifo", FIFO)
    grouped(q, "a1 a2 a3")
    (a1,) = result_of(q.receive(1, 1_000))
    advance(b, 1_000)                      # visibility timeout
    (again,) = result_of(q.receive(1, 1_000))
    assert again.message.body == b"a1" and again.message.delivery_count == 2
    assert q.release(again)                # ChangeMessageVisibility 0
    (third,) = result_of(q.receive(1, 1_000))
    assert third.message.body == b"a1"
    assert q.ack(third)
    order = []
    while True:
        got = result_of(q.receive(10, 1_000))
        if not got:
            break
        order += bodies(got)
        for lease in got:
            q.ack(lease)
    assert order == ["a2", "a3"]
    check_counts(q, ready=0, delayed=0, inflight=0)


def test_fifo_strict_order_per_group_with_a_push_consumer():
    b = make_broker()
    q = b.create_queue("q.fifo", FIFO)
    c = Recorder()
    q.add_consumer(c)
    grouped(q, "a1 b1 a2 b2 a3")
    assert c.bodies == ["a1", "b1"]
    c.ack("b1")
    assert c.bodies == ["a1", "b1", "b2"]
    c.release("a1")
    assert c.bodies == ["a1", "b1", "b2", "a1"]
    c.ack("a1")
    c.ack("b2")
    c.ack("a2")
    assert c.bodies == ["a1", "b1", "b2", "a1", "a2", "a3"]
    c.ack_all()
    check_counts(q, ready=0, inflight=0)


def test_fifo_consumer_leaving_unblocks_and_keeps_order():
    b = make_broker()
    q = b.create_queue("q.fifo", FIFO)
    c1 = Recorder("c1")
    q.add_consumer(c1)
    grouped(q, "a1 a2")
    q.remove_consumer(c1)
    check_counts(q, ready=2, inflight=0)
    assert bodies(result_of(q.receive(10, 1_000))) == ["a1", "a2"]


def test_fifo_messages_without_a_group_are_not_blocked():
    b = make_broker()
    q = b.create_queue("q.fifo", QueueSettings(fifo=True))
    q.enqueue(msg("x"))
    q.enqueue(msg("y"))
    assert bodies(result_of(q.receive(10, 1_000))) == ["x", "y"]


def test_fifo_purge_while_group_in_flight():
    b = make_broker()
    q = b.create_queue("q.fifo", FIFO)
    grouped(q, "a1 a2 a3")
    (a1,) = result_of(q.receive(1, 1_000))
    assert q.purge(include_inflight=False) == 2
    check_counts(q, ready=0, inflight=1)
    assert q.ack(a1)
    grouped(q, "a4")
    assert bodies(result_of(q.receive(10, 1_000))) == ["a4"]


def test_fifo_max_deliveries_moves_the_head_and_unblocks_the_group():
    b = make_broker()
    q = b.create_queue("q.fifo", QueueSettings(fifo=True, max_deliveries=1, dead_letter="dlq.fifo"))
    grouped(q, "a1 a2")
    result_of(q.receive(1, 1_000))
    advance(b, 1_000)
    assert bodies(result_of(q.receive(10, 1_000))) == ["a2"]
    assert ready_bodies(b.queues["dlq.fifo"]) == ["a1"]


# -- deduplication -----------------------------------------------------------------------------

def test_dedup_within_the_window():
    b = make_broker()
    q = b.create_queue("q.fifo", FIFO)
    first = q.enqueue(msg("one", group_id="g", dedup_id="d1"))
    again = q.enqueue(msg("one again", group_id="g", dedup_id="d1"))
    assert again is first
    check_counts(q, ready=1)
    (lease,) = result_of(q.receive(10, 1_000))
    q.ack(lease)
    advance(b, 299_999)
    assert q.enqueue(msg("still dup", group_id="g", dedup_id="d1")) is first
    check_counts(q, ready=0, inflight=0)
    advance(b, 1)
    later = q.enqueue(msg("new", group_id="g", dedup_id="d1"))
    assert later is not first
    assert ready_bodies(q) == ["new"]


def test_dedup_distinct_ids_and_disabled_window():
    b = make_broker()
    q = b.create_queue("q.fifo", FIFO)
    q.enqueue(msg("a", group_id="g", dedup_id="1"))
    q.enqueue(msg("b", group_id="g", dedup_id="2"))
    plain = b.create_queue("plain")
    plain.enqueue(msg("a", dedup_id="1"))
    plain.enqueue(msg("a", dedup_id="1"))
    check_counts(q, ready=2)
    check_counts(plain, ready=2)


def test_dedup_window_expiry_is_per_entry():
    b = make_broker()
    q = b.create_queue("q.fifo", QueueSettings(fifo=True, dedup_window_ms=1_000))
    q.enqueue(msg("a", group_id="g", dedup_id="A"))
    advance(b, 600)
    q.enqueue(msg("b", group_id="g", dedup_id="B"))
    advance(b, 400)
    assert q.enqueue(msg("a2", group_id="g", dedup_id="A")).body == b"a2"
    assert q.enqueue(msg("b2", group_id="g", dedup_id="B")).body == b"b"


# -- JMS message groups ----------------------------------------------------------------------------

def test_jms_groups_are_pinned_to_one_consumer():
    b = make_broker()
    q = b.create_queue("q")
    c1, c2 = Recorder("c1"), Recorder("c2")
    q.add_consumer(c1)
    q.add_consumer(c2)
    for name in "A1 B1 A2 B2 A3 B3 A4".split():
        q.enqueue(msg(name, group_id=name[0]))
    assert c1.bodies == ["A1", "A2", "A3", "A4"]
    assert c2.bodies == ["B1", "B2", "B3"]
    check_counts(q, ready=0, inflight=7)


def test_jms_group_waits_for_its_busy_owner_while_others_flow():
    b = make_broker()
    q = b.create_queue("q")
    c1, c2 = Recorder("c1", credit=1), Recorder("c2", credit=5)
    q.add_consumer(c1)
    q.add_consumer(c2)
    for name in "A1 A2 X1 A3 X2".split():
        q.enqueue(msg(name, group_id=name[0]))
    assert c1.bodies == ["A1"]
    assert c2.bodies == ["X1", "X2"]
    check_counts(q, ready=2, inflight=3)
    c1.ack("A1")
    assert c1.bodies == ["A1", "A2"]
    c1.ack("A2")
    assert c1.bodies == ["A1", "A2", "A3"]


def test_jms_group_reassigned_when_its_consumer_leaves():
    b = make_broker()
    q = b.create_queue("q")
    c1, c2 = Recorder("c1"), Recorder("c2")
    q.add_consumer(c1)
    q.add_consumer(c2)
    for name in "A1 B1 A2".split():
        q.enqueue(msg(name, group_id=name[0]))
    assert c1.bodies == ["A1", "A2"]
    q.remove_consumer(c1)
    assert c2.bodies == ["B1", "A1", "A2"]
    q.enqueue(msg("A3", group_id="A"))
    c3 = Recorder("c3")
    q.add_consumer(c3)
    q.enqueue(msg("A4", group_id="A"))
    assert c2.bodies[-2:] == ["A3", "A4"] and c3.got == []
    check_counts(q, ready=0, inflight=5)


def test_jms_group_not_pinned_to_an_sqs_receive():
    b = make_broker()
    q = b.create_queue("q")
    q.enqueue(msg("A1", group_id="A"))
    (lease,) = result_of(q.receive(1, 1_000))
    q.ack(lease)
    c = Recorder()
    q.add_consumer(c)
    q.enqueue(msg("A2", group_id="A"))
    assert c.bodies == ["A2"]


# -- selectors on queue consumers -------------------------------------------------------------------

def test_selector_skips_non_matching_messages_without_losing_them():
    b = make_broker()
    q = b.create_queue("q")
    red = Recorder("red", selector="color = 'red'")
    q.add_consumer(red)
    for i, color in enumerate(["blue", "red", "green", "red", "blue"]):
        q.enqueue(msg(f"{color}{i}", properties={"color": color}))
    assert red.bodies == ["red1", "red3"]
    assert ready_bodies(q) == ["blue0", "green2", "blue4"]
    check_counts(q, ready=3, inflight=2)
    anyone = Recorder("any")
    q.add_consumer(anyone)
    assert anyone.bodies == ["blue0", "green2", "blue4"]
    check_counts(q, ready=0, inflight=5)


def test_selector_on_typed_properties_and_headers():
    b = make_broker()
    q = b.create_queue("q")
    c = Recorder(selector="size > 10 AND JMSPriority >= 5")
    q.add_consumer(c)
    q.enqueue(msg("small", properties={"size": "5"}, types={"size": "Number"}, priority=9))
    q.enqueue(msg("big-low", properties={"size": "50"}, types={"size": "Number"}, priority=1))
    q.enqueue(msg("big-high", properties={"size": "50"}, types={"size": "Number"}, priority=9))
    assert c.bodies == ["big-high"]
    check_counts(q, ready=2, inflight=1)


def test_selector_consumers_compete_round_robin_among_matches():
    b = make_broker()
    q = b.create_queue("q")
    r1 = Recorder("r1", selector="color = 'red'")
    r2 = Recorder("r2", selector="color = 'red'")
    g = Recorder("g", selector="color = 'green'")
    for c in (r1, r2, g):
        q.add_consumer(c)
    for i, color in enumerate(["red", "red", "green", "red"]):
        q.enqueue(msg(f"{color}{i}", properties={"color": color}))
    assert (r1.bodies, r2.bodies, g.bodies) == (["red0", "red3"], ["red1"], ["green2"])


# -- exclusive and priority consumers -----------------------------------------------------------

def test_exclusive_consumer_gets_everything_until_it_leaves():
    b = make_broker()
    q = b.create_queue("q")
    plain = Recorder("plain")
    excl = Recorder("excl", exclusive=True, credit=2)
    q.add_consumer(plain)
    q.add_consumer(excl)
    for name in "abcd":
        q.enqueue(msg(name))
    assert excl.bodies == ["a", "b"] and plain.got == []
    check_counts(q, ready=2, inflight=2)
    q.remove_consumer(excl)
    assert plain.bodies == ["a", "b", "c", "d"]


def test_first_exclusive_consumer_wins():
    b = make_broker()
    q = b.create_queue("q")
    e1, e2 = Recorder("e1", exclusive=True), Recorder("e2", exclusive=True)
    q.add_consumer(e1)
    q.add_consumer(e2)
    q.enqueue(msg("a"))
    q.enqueue(msg("b"))
    assert e1.bodies == ["a", "b"] and e2.got == []


def test_higher_priority_consumer_served_first_while_it_has_credit():
    b = make_broker()
    q = b.create_queue("q")
    low = Recorder("low", priority=0)
    high = Recorder("high", priority=5, credit=2)
    q.add_consumer(low)
    q.add_consumer(high)
    for name in "abcd":
        q.enqueue(msg(name))
    assert high.bodies == ["a", "b"] and low.bodies == ["c", "d"]
    high.ack("a")
    q.enqueue(msg("e"))
    assert high.bodies == ["a", "b", "e"]


def test_consumer_priority_falls_back_after_the_high_one_leaves():
    b = make_broker()
    q = b.create_queue("q")
    low, high = Recorder("low", priority=1), Recorder("high", priority=9)
    q.add_consumer(high)
    q.add_consumer(low)
    q.enqueue(msg("a"))
    q.remove_consumer(high)
    q.enqueue(msg("b"))
    assert high.bodies == ["a"] and low.bodies == ["a", "b"]


def test_dedup_window_and_fifo_order_survive_a_restart():
    store = MemoryStore()
    b = make_broker(store)
    q = b.create_queue("q.fifo", FIFO)
    for name in ("a1", "a2", "a3"):
        q.enqueue(stamped(b, name, persistent=True, group_id="a", dedup_id=name))
    (a1,) = result_of(q.receive(1, 30_000))
    b2 = make_broker(store)
    b2.clock.advance(b.clock.seconds() - b2.clock.seconds() + 10)
    result_of(b2.start())
    q2 = b2.queues["q.fifo"]
    assert q2.enqueue(stamped(b2, "dup", persistent=True, group_id="a", dedup_id="a2")).body == b"a2"
    check_counts(q2, ready=2, inflight=1)
    # a1's visibility is still running: the group stays blocked behind it
    assert result_of(q2.receive(10, 30_000)) == []
    advance(b2, 20_000)
    got = result_of(q2.receive(1, 30_000))
    assert bodies(got) == ["a1"] and got[0].message.delivery_count == 2
    advance(b2, 300_000)
    assert q2.enqueue(stamped(b2, "new", persistent=True, group_id="b", dedup_id="a2")).body == b"new"
