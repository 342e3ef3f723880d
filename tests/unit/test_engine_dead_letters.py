"""Dead-letter strategies per destination policy, as ActiveMQ's deadLetterStrategy:
individual and shared DLQs, prefixes and suffixes, DLQ topics, non-persistent and
expired messages, and an expiry for dead letters."""
from __future__ import annotations

import pytest

from broker.engine.broker import Broker
from broker.engine.dead_letters import DeadLetterStrategy, individual_by_prefix
from broker.engine.limits import LimitError, Policy
from broker.engine.message import DeadLetter
from broker.engine.queue import EXPIRED_CAUSE
from broker.protocols.activemq.dead_letters import dead_letter_headers
from tests.unit.engine_support import Recorder, advance, make_broker, stamped


def policies(broker: Broker, *entries: Policy) -> Broker:
    broker.policies = list(entries)
    return broker


def poison(broker: Broker, queue: str, persistent: bool = True, **kw: object) -> None:
    """Send a message to `queue` and give it up at once."""
    broker.send_to_queue(queue, stamped(broker, "dead", persistent=persistent, **kw))
    c = Recorder()
    broker.queue(queue).add_consumer(c)
    assert broker.queue(queue).dead_letter(c.take("dead"), "poisoned")


def held(broker: Broker, name: str) -> list[str]:
    queue = broker.queue(name, create=False)
    return [] if queue is None else [m.body.decode() for m in queue.browse()]


def test_individual_strategy_names_each_queues_dlq_and_others_keep_the_shared_one() -> None:
    b = policies(make_broker(), Policy(queue="orders.>", dead_letter=DeadLetterStrategy(individual=True)))
    poison(b, "orders.eu")
    poison(b, "other")
    assert held(b, "ActiveMQ.DLQ.Queue.orders.eu") == ["dead"]
    assert held(b, "ActiveMQ.DLQ") == ["dead"]
    dead = b.queue("ActiveMQ.DLQ.Queue.orders.eu").browse()[0]
    assert (dead.dead_letter.kind, dead.dead_letter.name, dead.dead_letter.cause) == ("queue", "orders.eu", "poisoned")


def test_suffixes_and_a_dlq_topic_for_topic_messages() -> None:
    strategy = DeadLetterStrategy(individual=True, queue_prefix="DLQ.", queue_suffix=".dead",
                                  topic_prefix="TDLQ.", use_queue_for_topic_messages=False)
    b = policies(make_broker(), Policy(queue=">", topic=">", dead_letter=strategy))
    poison(b, "q1")
    assert held(b, "DLQ.q1.dead") == ["dead"]
    watcher, subscriber = Recorder("w"), Recorder("s")
    b.subscribe_topic("TDLQ.prices", watcher)
    sub = b.subscribe_topic("prices", subscriber)
    b.publish("prices", stamped(b, "tick", persistent=True))
    assert sub.queue.dead_letter(subscriber.take("tick"), "poisoned")
    assert watcher.bodies == ["tick"]
    assert watcher.got[0][0].dead_letter.kind == "topic"


def test_shared_strategy_with_a_named_queue() -> None:
    b = policies(make_broker(), Policy(queue="a.>", dead_letter=DeadLetterStrategy(dead_letter_queue="A.DLQ")))
    poison(b, "a.1")
    assert held(b, "A.DLQ") == ["dead"]
    assert held(b, "ActiveMQ.DLQ") == []


def test_non_persistent_messages_are_dropped_unless_the_strategy_keeps_them() -> None:
    keep = DeadLetterStrategy(process_non_persistent=True)
    b = policies(make_broker(), Policy(queue="keep.>", dead_letter=keep))
    poison(b, "drop.1", persistent=False)
    assert held(b, "ActiveMQ.DLQ") == []
    poison(b, "keep.1", persistent=False)
    dead = b.queue("ActiveMQ.DLQ").browse()[0]
    assert dead.persistent
    assert dead_letter_headers(dead.dead_letter)["originalDeliveryMode"] == "NON_PERSISTENT"
    assert "originalDeliveryMode" not in dead_letter_headers(DeadLetter("queue", "x", "c", 0))


def test_expired_messages_are_dropped_when_the_strategy_does_not_process_them() -> None:
    b = policies(make_broker(), Policy(queue="quiet.>", dead_letter=DeadLetterStrategy(process_expired=False)))
    for name in ("quiet.1", "loud.1"):
        b.send_to_queue(name, stamped(b, "old", persistent=True, expires=b.now_ms() + 10))
    advance(b, 20)
    for name in ("quiet.1", "loud.1"):
        b.queue(name).sweep()
    assert held(b, "ActiveMQ.DLQ") == ["old"]
    assert b.queue("ActiveMQ.DLQ").browse()[0].dead_letter.name == "loud.1"


def test_dead_letters_expire_after_the_strategys_expiration_and_are_then_dropped() -> None:
    b = policies(make_broker(), Policy(queue=">", dead_letter=DeadLetterStrategy(individual=True, expiration=1000)))
    poison(b, "short")
    dlq = b.queue("ActiveMQ.DLQ.Queue.short")
    assert dlq.browse()[0].expires == b.now_ms() + 1000
    advance(b, 1500)
    dlq.sweep()
    assert held(b, "ActiveMQ.DLQ.Queue.short") == []
    assert b.queue("ActiveMQ.DLQ.Queue.ActiveMQ.DLQ.Queue.short", create=False) is None
    assert b.queue("ActiveMQ.DLQ", create=False) is None


def test_a_message_is_never_sent_to_a_dlq_that_is_its_own_destination() -> None:
    b = make_broker()
    poison(b, "ActiveMQ.DLQ")
    assert held(b, "ActiveMQ.DLQ") == []


def test_the_broker_wide_prefix_still_names_individual_queues() -> None:
    b = make_broker()
    b.dead_letter_strategy = individual_by_prefix("DLQ.")
    poison(b, "legacy")
    assert held(b, "DLQ.legacy") == ["dead"]
    assert individual_by_prefix("") == DeadLetterStrategy()


def test_policy_tables_read_the_strategy_and_refuse_what_they_do_not_know() -> None:
    p = Policy.from_dict({"queue": ">", "dead_letter": {"strategy": "individual", "queue_prefix": "DLQ.",
                                                         "process_non_persistent": True, "expiration": 60000}})
    assert p.dead_letter == DeadLetterStrategy(individual=True, queue_prefix="DLQ.", process_non_persistent=True,
                                               expiration=60000)
    assert p.dead_letter.target("queue", "x") == ("queue", "DLQ.x")
    assert p.dead_letter.target("topic", "t") == ("queue", "ActiveMQ.DLQ.Topic.t")
    for bad in ({"strategy": "discarding"}, {"queue_prefx": "x"}, {"expiration": -1},
                {"process_expired": "no"}):
        with pytest.raises(LimitError):
            Policy.from_dict({"queue": ">", "dead_letter": bad})


def test_listeners_hear_of_each_expiry_and_dead_letter_and_whether_it_moved() -> None:
    b = policies(make_broker(), Policy(queue="quiet.>", dead_letter=DeadLetterStrategy(process_expired=False)))
    heard: list[tuple[str, str, bool, bool, str]] = []
    b.dead_letter_listeners.append(
        lambda facts, m, moved: heard.append((facts.name, facts.cause, facts.was_persistent, moved, m.body.decode())))
    for name, persistent in (("quiet.1", True), ("loud.1", True), ("loud.2", False)):
        b.send_to_queue(name, stamped(b, name, persistent=persistent, expires=b.now_ms() + 10))
    advance(b, 20)
    for name in ("quiet.1", "loud.1", "loud.2"):
        b.queue(name).sweep()
    poison(b, "loud.3")
    assert heard == [("quiet.1", EXPIRED_CAUSE, True, False, "quiet.1"), ("loud.1", EXPIRED_CAUSE, True, True, "loud.1"),
                     ("loud.2", EXPIRED_CAUSE, False, False, "loud.2"), ("loud.3", "poisoned", True, True, "dead")]
