"""Topics: fan-out copies, non-durable and durable subscriptions, selectors and noLocal at
publish, wildcards and Virtual Topics."""
from __future__ import annotations

import pytest

from broker.engine.broker import DestinationError
from broker.engine.selector import parse
from broker.engine.topic import is_wildcard, matches
from tests.unit.engine_support import (MemoryStore, Recorder, check_counts, make_broker, msg,
                                       ready_bodies, result_of)


def test_each_subscriber_gets_its_own_copy():
    b = make_broker()
    c1, c2 = Recorder("c1"), Recorder("c2")
    s1 = b.subscribe_topic("t", c1)
    s2 = b.subscribe_topic("t", c2)
    original = msg("hello", properties={"k": "v"})
    assert b.publish("t", original) == 2
    (m1, l1), (m2, l2) = c1.got[0], c2.got[0]
    assert m1 is not m2 and m1 is not original
    assert m1.body == m2.body == b"hello" and m1.properties == {"k": "v"}
    assert m1.topic == "t" and m1.delivery_count == 1
    assert s1.queue.ack(l1)
    assert s2.queue.is_current(l2)     # one subscriber's ack does not touch the other's copy
    check_counts(s2.queue, ready=0, inflight=1)


def test_non_durable_subscriber_sees_only_what_is_published_while_subscribed():
    b = make_broker()
    assert b.publish("t", msg("before")) == 0
    c = Recorder(credit=1)
    sub = b.subscribe_topic("t", c)
    b.publish("t", msg("during1"))
    b.publish("t", msg("during2"))     # buffered in its subscription queue
    assert c.bodies == ["during1"]
    check_counts(sub.queue, ready=1, inflight=1)
    b.unsubscribe_topic(sub)
    assert b.publish("t", msg("after")) == 0
    assert c.bodies == ["during1"]
    assert b.topics["t"].subscriptions == []


def test_auto_ack_topic_subscriber():
    b = make_broker()
    c = Recorder(auto_ack=True)
    sub = b.subscribe_topic("t", c)
    for i in range(3):
        b.publish("t", msg(str(i)))
    assert c.bodies == ["0", "1", "2"]
    check_counts(sub.queue, ready=0, inflight=0)


def test_durable_subscription_keeps_messages_while_offline():
    store = MemoryStore()
    b = make_broker(store)
    sq = b.durable_subscription("client1", "sub1", "news", None, False, origin=None)
    c = Recorder()
    sq.add_consumer(c)
    b.publish("news", msg("online", persistent=True))
    c.ack_all()
    sq.remove_consumer(c)
    assert sq.consumer_count == 0
    b.publish("news", msg("offline1", persistent=True))
    b.publish("news", msg("offline2", persistent=False))
    check_counts(sq, ready=2)
    assert store.bodies(sq.dest_id) == [b"offline1"]     # only the persistent one is stored
    again = b.durable_subscription("client1", "sub1", "news", None, False, origin=None)
    assert again is sq
    c2 = Recorder()
    again.add_consumer(c2)
    assert c2.bodies == ["offline1", "offline2"]


def test_durable_subscription_survives_a_restart():
    store = MemoryStore()
    b = make_broker(store)
    b.durable_subscription("c", "s", "news", parse("kind = 'x'"), False, None)
    b.publish("news", msg("kept", persistent=True, properties={"kind": "x"}))
    b.publish("news", msg("filtered", persistent=True, properties={"kind": "y"}))
    b.publish("news", msg("volatile", persistent=False, properties={"kind": "x"}))
    b2 = make_broker(store)
    result_of(b2.start())
    sq = b2.durables["c:s"]
    assert ready_bodies(sq) == ["kept"]
    assert sq.browse()[0].topic == "news"      # the STOMP door renders it as destination
    b2.publish("news", msg("later", properties={"kind": "x"}))
    b2.publish("news", msg("later-y", properties={"kind": "y"}))
    assert ready_bodies(sq) == ["kept", "later"]
    assert b2.durable_subscription("c", "s", "news", parse("kind = 'x'"), False, None) is sq


def test_durable_subscription_recreated_when_its_selector_changes():
    b = make_broker(MemoryStore())
    sq = b.durable_subscription("c", "s", "news", None, False, None)
    b.publish("news", msg("old"))
    sq2 = b.durable_subscription("c", "s", "news", parse("a = 1"), False, None)
    assert sq2 is not sq and sq2.ready_count == 0
    b.publish("news", msg("no"))
    b.publish("news", msg("yes", properties={"a": "1"}, types={"a": "int"}))
    assert ready_bodies(sq2) == ["yes"]
    assert sq.ready_count == 1, "the dropped subscription queue gets nothing more"
    assert len(b.topics["news"].subscriptions) == 1


def test_durable_wildcard_subscription_recreated_leaves_no_stale_attachment():
    b = make_broker()
    sq = b.durable_subscription("c", "s", "news.>", None, False, None)
    sq2 = b.durable_subscription("c", "s", "news.>", parse("a = 1"), False, None)
    b.publish("news.sport", msg("x", properties={"a": "1"}, types={"a": "int"}))
    assert ready_bodies(sq2) == ["x"]
    assert sq.ready_count == 0, "the dropped subscription must not be fed by new topics"


def test_drop_durable():
    b = make_broker(MemoryStore())
    sq = b.durable_subscription("c", "s", "news", None, False, None)
    c = Recorder()
    sq.add_consumer(c)
    with pytest.raises(DestinationError):
        b.drop_durable("c", "s")
    sq.remove_consumer(c)
    assert b.drop_durable("c", "s")
    assert not b.drop_durable("c", "s")
    assert "c:s" not in b.durables
    assert sq.dest_id not in b.store.destinations
    assert b.publish("news", msg("x")) == 0


def test_subscription_selector_applies_at_publish():
    b = make_broker()
    red = Recorder("red")
    sub = b.subscribe_topic("t", red, selector=parse("color = 'red'"))
    assert b.publish("t", msg("r", properties={"color": "red"})) == 1
    assert b.publish("t", msg("b", properties={"color": "blue"})) == 0
    assert red.bodies == ["r"]
    check_counts(sub.queue, ready=0, inflight=1)


def test_no_local_drops_own_messages():
    b = make_broker()
    me, other = object(), object()
    c = Recorder()
    b.subscribe_topic("t", c, no_local=True, origin=me)
    plain = Recorder("plain")
    b.subscribe_topic("t", plain, origin=me)
    b.publish("t", msg("mine", origin=me))
    b.publish("t", msg("theirs", origin=other))
    b.publish("t", msg("anonymous"))
    assert c.bodies == ["theirs", "anonymous"]
    assert plain.bodies == ["mine", "theirs", "anonymous"]


def test_durable_no_local_uses_the_current_connection():
    b = make_broker()
    conn1, conn2 = object(), object()
    sq = b.durable_subscription("c", "s", "t", None, True, conn1)
    b.publish("t", msg("from1", origin=conn1))
    b.durable_subscription("c", "s", "t", None, True, conn2)
    b.publish("t", msg("from1-again", origin=conn1))
    b.publish("t", msg("from2", origin=conn2))
    assert ready_bodies(sq) == ["from1-again"]


# -- wildcards ----------------------------------------------------------------------------

@pytest.mark.parametrize("pattern,name,expected", [
    ("a.*", "a.b", True),
    ("a.*", "a.b.c", False),
    ("a.*", "a", False),
    ("a.>", "a", True),
    ("a.>", "a.b", True),
    ("a.>", "a.b.c", True),
    ("a.>", "ab", False),
    ("a.>", "b.a", False),
    (">", "x.y", True),
    ("*.b", "a.b", True),
    ("*.b", "a.c", False),
    ("a.*.c", "a.x.c", True),
    ("a.*.c", "a.x.y.c", False),
    ("a.b", "a.b", True),
    ("a.b", "a.b.c", False),
])
def test_wildcard_matching(pattern, name, expected):
    assert matches(pattern, name) is expected


def test_is_wildcard():
    assert is_wildcard("a.*") and is_wildcard("a.>") and is_wildcard(">")
    assert not is_wildcard("a.b") and not is_wildcard("a*b")


def test_wildcard_subscription_sees_existing_and_future_topics():
    b = make_broker()
    b.topic("a.old")
    star, deep = Recorder("star"), Recorder("deep")
    b.subscribe_topic("a.*", star)
    b.subscribe_topic("a.>", deep)
    for name in ("a", "a.old", "a.new", "a.new.x", "b.new"):
        b.publish(name, msg(name))
    assert star.bodies == ["a.old", "a.new"]
    assert deep.bodies == ["a", "a.old", "a.new", "a.new.x"]
    assert [m.topic for m, _ in deep.got] == ["a", "a.old", "a.new", "a.new.x"]


def test_wildcard_unsubscribe_detaches_everywhere():
    b = make_broker()
    c = Recorder()
    sub = b.subscribe_topic("a.>", c)
    b.publish("a.x", msg("1"))
    b.unsubscribe_topic(sub)
    assert b.publish("a.x", msg("2")) == 0
    assert b.publish("a.y", msg("3")) == 0
    assert c.bodies == ["1"]


# -- Virtual Topics -------------------------------------------------------------------------

def test_virtual_topic_feeds_consumer_queues():
    b = make_broker(MemoryStore())
    qa = b.create_queue("Consumer.A.VirtualTopic.Orders")
    qb = b.create_queue("Consumer.B.VirtualTopic.Orders")
    other = b.create_queue("Consumer.A.VirtualTopic.OrdersX")
    not_a_consumer = b.create_queue("VirtualTopic.Orders")
    deeper = b.create_queue("Consumer.A.B.VirtualTopic.Orders")
    subscriber = Recorder("topic-sub")
    b.subscribe_topic("VirtualTopic.Orders", subscriber)
    assert b.publish("VirtualTopic.Orders", msg("o1", persistent=True)) == 3
    assert ready_bodies(qa) == ["o1"] and ready_bodies(qb) == ["o1"]
    assert subscriber.bodies == ["o1"]
    assert other.ready_count == not_a_consumer.ready_count == deeper.ready_count == 0
    assert b.store.bodies(qa.dest_id) == [b"o1"] and b.store.bodies(qb.dest_id) == [b"o1"]
    # consumers of one consumer queue compete
    w1, w2 = Recorder("w1"), Recorder("w2")
    qa.add_consumer(w1)
    qa.add_consumer(w2)
    b.publish("VirtualTopic.Orders", msg("o2"))
    b.publish("VirtualTopic.Orders", msg("o3"))
    assert sorted(w1.bodies + w2.bodies) == ["o1", "o2", "o3"] and w1.got and w2.got
    assert ready_bodies(qb) == ["o1", "o2", "o3"]
    copies = [m for m, _ in w1.got + w2.got] + qb.browse()
    assert len({id(m) for m in copies}) == 6


def test_virtual_topic_with_dotted_name():
    b = make_broker()
    q = b.create_queue("Consumer.X.VirtualTopic.a.b")
    assert b.publish("VirtualTopic.a.b", msg("m")) == 1
    assert b.publish("VirtualTopic.b", msg("n")) == 0
    assert ready_bodies(q) == ["m"]


def test_delete_queue_of_a_durable_subscription_detaches_it():
    b = make_broker()
    sq = b.durable_subscription("c", "s", "t", None, False, None)
    assert b.delete_queue("c:s")
    assert b.publish("t", msg("x")) == 0
    assert sq.ready_count == 0


def test_has_subscribers_sees_exact_and_wildcard_subscriptions_without_making_topics():
    b = make_broker()
    assert not b.has_subscribers("a.b")
    sub = b.subscribe_topic("a.>", Recorder())
    assert b.has_subscribers("a.b") and "a.b" not in b.topics
    b.unsubscribe_topic(sub)
    b.subscribe_topic("c", Recorder())
    assert b.has_subscribers("c") and not b.has_subscribers("a.b")


def test_durable_subscription_keeps_whether_its_selector_converts_strings():
    """OpenWire's typed selector and STOMP's converting one of the same text are different
    selectors (ActiveMQ tells them apart by its STOMP prefix); a restart keeps which one a
    subscription has."""
    store = MemoryStore()
    b = make_broker(store)
    typed = b.durable_subscription("c", "s", "news", parse("n > 1", convert_strings=False), False, None)
    b2 = make_broker(store)
    result_of(b2.start())
    b2.publish("news", msg("string", properties={"n": "2"}))
    b2.publish("news", msg("int", properties={"n": "2"}, types={"n": "int"}))
    assert ready_bodies(b2.durables["c:s"]) == ["int"]
    assert b2.durable_subscription("c", "s", "news", parse("n > 1", convert_strings=False),
                                   False, None) is b2.durables["c:s"]
    converting = b2.durable_subscription("c", "s", "news", parse("n > 1"), False, None)
    assert converting.dest_id != typed.dest_id and converting.ready_count == 0


def test_a_converting_durable_subscription_taken_up_by_a_typed_selector_keeps_its_messages():
    """Subscriptions stored before typed and converting selectors were told apart all
    converted, OpenWire ones included: a typed selector of the same text takes one up as it
    is, and it stops converting, also after a restart."""
    store = MemoryStore()
    b = make_broker(store)
    sq = b.durable_subscription("c", "s", "news", parse("n > 1"), False, None)
    b.publish("news", msg("kept", persistent=True, properties={"n": "2"}, types={"n": "int"}))
    again = b.durable_subscription("c", "s", "news", parse("n > 1", convert_strings=False), False, None)
    assert again is sq and ready_bodies(sq) == ["kept"]
    b.publish("news", msg("string", properties={"n": "2"}))
    assert ready_bodies(sq) == ["kept"]
    b2 = make_broker(store)
    result_of(b2.start())
    b2.publish("news", msg("string", properties={"n": "2"}))
    assert ready_bodies(b2.durables["c:s"]) == ["kept"]
