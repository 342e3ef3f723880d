"""Expiry, retention, redelivery limits and dead-lettering, driven through the engine."""
from __future__ import annotations

from broker.engine.dead_letters import DLQ_NAME
from broker.engine.message import State
from broker.engine.settings import QueueSettings
from tests.unit.engine_support import (MemoryStore, Recorder, advance, bodies, check_counts,
                                       make_broker, msg, ready_bodies, result_of, stamped)


# -- expiry (JMS expiration / STOMP expires) ---------------------------------------------------

def test_expired_persistent_message_goes_to_activemq_dlq():
    store = MemoryStore()
    b = make_broker(store)
    q = b.create_queue("orders")
    expires = b.now_ms() + 1_000
    m = q.enqueue(stamped(b, "old", persistent=True, expires=expires, headers={"type": "t"}))
    q.enqueue(stamped(b, "fresh", persistent=True, expires=b.now_ms() + 60_000))
    advance(b, 1_000)
    c = Recorder()
    q.add_consumer(c)
    assert c.bodies == ["fresh"]
    check_counts(q, ready=0, inflight=1)
    assert m.state is State.GONE
    assert store.bodies(q.dest_id) == [b"fresh"]
    dlq = b.queues[DLQ_NAME]
    (dead,) = dlq.browse()
    assert dead.body == b"old" and dead.message_id == m.message_id and dead.persistent
    assert (dead.dead_letter.kind, dead.dead_letter.name) == ("queue", "orders")
    assert dead.dead_letter.expires == expires and dead.dead_letter.cause == "Message expired"
    assert dead.headers["type"] == "t"
    assert dead.expires == 0, "a dead letter must not expire again"
    assert store.bodies(dlq.dest_id) == [b"old"]
    check_counts(dlq, ready=1)


def test_expired_non_persistent_message_is_dropped():
    b = make_broker()
    q = b.create_queue("q")
    q.enqueue(stamped(b, "np", expires=b.now_ms() + 10))
    advance(b, 10)
    result = result_of(q.receive(10, 1_000))
    assert result == []
    assert DLQ_NAME not in b.queues
    check_counts(q, ready=0, inflight=0)


def test_message_expiring_while_delayed_is_never_delivered():
    b = make_broker()
    q = b.create_queue("q")
    now = b.now_ms()
    q.enqueue(stamped(b, "x", visible_at=now + 5_000, expires=now + 1_000))
    c = Recorder()
    q.add_consumer(c)
    advance(b, 5_000)
    assert c.got == []
    check_counts(q, ready=0, delayed=0, inflight=0)


def test_expiry_on_a_durable_subscription_names_the_topic():
    b = make_broker(MemoryStore())
    sq = b.durable_subscription("cid", "sub", "prices", None, False, None)
    b.publish("prices", stamped(b, "p", persistent=True, expires=b.now_ms() + 5))
    advance(b, 5)
    sq.add_consumer(Recorder())
    (dead,) = b.queues[DLQ_NAME].browse()
    assert (dead.dead_letter.kind, dead.dead_letter.name) == ("topic", "prices")


def test_expired_message_in_a_queue_with_its_own_dlq_does_not_expire_again():
    b = make_broker()
    q = b.create_queue("q", QueueSettings(dead_letter="q-dlq"))
    q.enqueue(stamped(b, "np", expires=b.now_ms() + 5))
    advance(b, 5)
    assert result_of(q.receive(10, 1_000)) == []
    dlq = b.queues["q-dlq"]
    got = result_of(dlq.receive(10, 1_000))
    assert bodies(got) == ["np"]


def test_message_dying_in_the_dlq_does_not_loop():
    b = make_broker()
    dlq = b.create_queue(DLQ_NAME)
    dlq.enqueue(stamped(b, "x", persistent=True, expires=b.now_ms() + 5))
    advance(b, 5)
    assert result_of(dlq.receive(10, 1_000)) == []
    check_counts(dlq, ready=0, inflight=0)


# -- retention (SQS MessageRetentionPeriod) ------------------------------------------------------

def test_retention_deletes_old_messages_without_dead_lettering():
    store = MemoryStore()
    b = make_broker(store)
    q = b.create_queue("q", QueueSettings(retention_ms=60_000, dead_letter="dlq"))
    q.enqueue(stamped(b, "old", persistent=True))
    advance(b, 30_000)
    q.enqueue(stamped(b, "young", persistent=True))
    advance(b, 30_000)
    assert bodies(result_of(q.receive(10, 1_000))) == ["young"]
    assert "dlq" not in b.queues and DLQ_NAME not in b.queues
    assert store.bodies(q.dest_id) == [b"young"]
    check_counts(q, ready=0, inflight=1)


def test_retention_counts_from_the_first_send_even_after_receives():
    b = make_broker()
    q = b.create_queue("q", QueueSettings(retention_ms=60_000))
    q.enqueue(stamped(b, "a"))
    result_of(q.receive(1, 50_000))
    advance(b, 60_000)      # visibility ends after the retention period
    assert result_of(q.receive(10, 1_000)) == []
    check_counts(q, ready=0, inflight=0)


# -- redelivery limit (RedrivePolicy maxReceiveCount, ActiveMQ redelivery policy) -------------------

def test_max_deliveries_moves_to_dlq_on_the_delivery_that_exceeds_it():
    store = MemoryStore()
    b = make_broker(store)
    q = b.create_queue("q", QueueSettings(max_deliveries=2, dead_letter="q-dlq"))
    q.enqueue(stamped(b, "poison", persistent=True, group_id=None))
    q.enqueue(stamped(b, "ok", persistent=True))
    for receive in (1, 2):
        got = result_of(q.receive(1, 1_000))
        assert bodies(got) == ["poison"] and got[0].message.delivery_count == receive
        advance(b, 1_000)   # visibility timeout: counts as a receive
    got = result_of(q.receive(1, 1_000))
    assert bodies(got) == ["ok"]
    dlq = b.queues["q-dlq"]
    (dead,) = dlq.browse()
    assert dead.body == b"poison"
    assert dead.delivery_count == 2, "SQS keeps ApproximateReceiveCount in the DLQ"
    assert dead.headers["dead-letter-source"] == "q" and dead.dead_letter.name == "q"
    assert store.bodies(q.dest_id) == [b"ok"] and store.bodies(dlq.dest_id) == [b"poison"]
    check_counts(q, ready=0, inflight=1)
    check_counts(dlq, ready=1)


def test_max_deliveries_counts_nacks_and_disconnects_alike():
    b = make_broker()
    q = b.create_queue("q", QueueSettings(max_deliveries=3, dead_letter="dlq"))
    q.enqueue(msg("m"))
    c1 = Recorder("c1")
    q.add_consumer(c1)
    assert c1.release()                       # NACK
    q.remove_consumer(c1)                     # disconnect with it unacked
    (lease,) = result_of(q.receive(1, 10))    # SQS receive
    assert lease.message.delivery_count == 3
    advance(b, 10)
    # the move happens at the next delivery attempt
    assert result_of(q.receive(1, 10)) == []
    assert b.queues["dlq"].ready_count == 1
    check_counts(q, ready=0, inflight=0)


def test_dead_letter_poison_ack():
    b = make_broker(MemoryStore())
    q = b.create_queue("q")
    c = Recorder()
    q.add_consumer(c)
    q.enqueue(stamped(b, "bad", persistent=True))
    lease = c.pending[0]
    assert q.dead_letter(lease, "Delivery poisoned by the client (NACK)")
    assert not q.ack(lease) and not q.dead_letter(lease, "again")
    (dead,) = b.queues[DLQ_NAME].browse()
    assert dead.dead_letter.cause == "Delivery poisoned by the client (NACK)"
    assert (dead.dead_letter.kind, dead.dead_letter.name) == ("queue", "q")
    assert b.store.bodies(q.dest_id) == []
    check_counts(q, ready=0, inflight=0)


def test_dead_letter_non_persistent_is_dropped_without_own_dlq():
    b = make_broker()
    q = b.create_queue("q")
    (lease,) = result_of((q.enqueue(msg("np")), q.receive(1, 1_000))[1])
    assert q.dead_letter(lease, "poison")
    assert DLQ_NAME not in b.queues


def test_dead_letter_to_itself_does_not_loop():
    b = make_broker()
    q = b.create_queue("q", QueueSettings(max_deliveries=1, dead_letter="q"))
    q.enqueue(msg("m"))
    (lease,) = result_of(q.receive(1, 10))
    advance(b, 10)
    assert result_of(q.receive(1, 10)) == []
    check_counts(q, ready=0, inflight=0)


def test_dlq_of_dlq_chain_settles():
    b = make_broker()
    q = b.create_queue("q", QueueSettings(max_deliveries=1, dead_letter="d1"))
    b.create_queue("d1", QueueSettings(max_deliveries=1, dead_letter="d2"))
    q.enqueue(msg("m"))
    result_of(q.receive(1, 10))
    advance(b, 10)
    assert result_of(q.receive(1, 10)) == []
    # the copy keeps its receive count, so it moves on at its next delivery attempt
    assert result_of(b.queues["d1"].receive(1, 10)) == []
    assert ready_bodies(b.queues["d2"]) == ["m"]


def test_expiry_on_a_non_durable_subscription_names_the_topic_published_on():
    b = make_broker()
    c = Recorder(credit=0)
    b.subscribe_topic("prices.>", c)
    b.publish("prices.eu", stamped(b, "p", persistent=True, expires=b.now_ms() + 5))
    advance(b, 5)
    c.credit = 1
    for sub in b.topics["prices.eu"].subscriptions:
        sub.queue.dispatch()
    assert c.got == []
    (dead,) = b.queues[DLQ_NAME].browse()
    assert (dead.dead_letter.kind, dead.dead_letter.name) == ("topic", "prices.eu")


def test_retention_counts_from_acceptance_when_the_door_set_no_timestamp():
    b = make_broker()
    q = b.create_queue("q", QueueSettings(retention_ms=60_000))
    m = q.enqueue(msg("no timestamp"))
    assert m.timestamp == b.now_ms()
    assert bodies(result_of(q.receive(10, 1_000))) == ["no timestamp"]


def test_retention_ends_messages_on_an_idle_queue_too():
    store = MemoryStore()
    b = make_broker(store)
    b.start()
    q = b.create_queue("idle", QueueSettings(retention_ms=60_000))
    q.enqueue(stamped(b, "old", persistent=True))
    advance(b, 30_000)
    q.enqueue(stamped(b, "young", persistent=True))
    advance(b, 31_000)  # nobody receives: the broker's sweep ends "old" on its own
    check_counts(q, ready=1)
    assert store.bodies(q.dest_id) == [b"young"]
    b.stop()


def test_dead_letter_facts_survive_a_restart():
    store = MemoryStore()
    b = make_broker(store)
    q = b.create_queue("orders")
    q.enqueue(stamped(b, "old", persistent=True, expires=b.now_ms() + 5))
    advance(b, 5)
    q.sweep()
    b2 = make_broker(store)
    result_of(b2.start())
    (dead,) = b2.queues[DLQ_NAME].browse()
    assert dead.dead_letter is not None
    assert (dead.dead_letter.kind, dead.dead_letter.name, dead.dead_letter.cause) == \
        ("queue", "orders", "Message expired")
