"""Paged delays and leases: what waits for a time (delayed and scheduled messages, SQS
visibility deadlines) keeps only the next ones to come due in memory; the rest waits in
the store, read back in time order ahead of its time, and a lease deep in flight is
found by its seq (an SQS receipt handle). A window of a few messages makes every test
cross page boundaries constantly."""
from __future__ import annotations

import random

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from broker.engine.paging import NON_PERSISTENT_STRETCH
from tests.unit.engine_support import (PAGED_WINDOW as WINDOW, MemoryStore, Recorder, advance, make_broker,
                                       msg, paged, restart, result_of)


def receive(q, count: int, lease_ms: int):
    return result_of(q.receive(count, lease_ms))


def test_many_delayed_messages_keep_a_bounded_timeline_and_come_due_in_time_order():
    store, b, q = paged()
    rnd = random.Random(7)
    now = b.now_ms()
    due = {}
    for i in range(200):
        delay = rnd.randrange(1, 100) * 1000
        m = q.enqueue(msg(f"m{i}", persistent=True, visible_at=now + delay))
        due[m.body.decode()] = (now + delay, m.seq)
    assert len(q._held) <= WINDOW, "a delayed backlog is not held in memory"
    assert q.delayed_count == 200 and q.stats()["timed_out"] == 200 - WINDOW
    c = Recorder(auto_ack=True, credit=10_000)
    q.add_consumer(c)
    seen = 0
    for _ in range(100):
        advance(b, 1000)
        for body in c.bodies[seen:]:
            assert due[body][0] <= b.now_ms(), "delivered before its time"
        seen = len(c.bodies)
        assert len(q._held) <= 2 * WINDOW
    assert c.bodies == sorted(due, key=lambda body: due[body]), "in order of due time, then arrival"
    assert q.delayed_count == 0 and store.rows == {}


def test_a_drain_acking_before_the_deadlines_leaves_the_timeline_no_bigger():
    # Leases settled early leave stale entries in the timeline's heap, dropped once they
    # reach its top as the next leases are timed: a long drain (SQS receive 10 + delete 10)
    # within one visibility timeout must not pile them up.
    _, b, q = paged(window=1000)
    for _ in range(300):
        for i in range(10):
            q.enqueue(msg(f"m{i}", persistent=True))
        leases = receive(q, 10, 30_000)
        assert len(leases) == 10
        for lease in leases:
            assert q.ack(lease)
    assert len(q._timeline.items) <= 20 and len(q._timeline) == 0


def test_delayed_messages_join_a_deep_ready_queue_in_their_place():
    store, b, q = paged()
    now = b.now_ms()
    for i in range(20):
        q.enqueue(msg(f"late{i}", persistent=True, priority=9, visible_at=now + 5000 + i))
    for i in range(20):
        q.enqueue(msg(f"m{i}", persistent=True))
    advance(b, 6000)
    c = Recorder(auto_ack=True, credit=10_000)
    q.add_consumer(c)
    assert c.bodies == [f"late{i}" for i in range(20)] + [f"m{i}" for i in range(20)]


def test_in_flight_leases_beyond_the_bound_live_on_disk_and_are_settled_from_any_depth():
    store, b, q = paged()
    for i in range(50):
        q.enqueue(msg(f"m{i}", persistent=True))
    leases = receive(q, 50, 30_000)
    assert len(leases) == 50
    assert q.inflight_count == 50
    assert len(q._inflight) <= WINDOW and len(q._held) <= 2 * WINDOW, "leases are not all held"
    seqs = [lease.message.seq for lease in leases]
    for seq in seqs[::2]:                                  # delete every other one, any depth
        lease = result_of(q.find_lease(seq))
        assert lease is not None and q.ack(lease)
    for seq in seqs[1:10:2]:                               # hold five of them longer
        lease = result_of(q.find_lease(seq))
        assert q.extend(lease, 120_000)
    assert q.inflight_count == 25 and q.ready_count == 0
    assert len(q._held) <= 2 * WINDOW
    advance(b, 31_000)                                     # the other twenty come back, in order
    assert q.ready_count == 20 and q.inflight_count == 5
    c = Recorder(auto_ack=True, credit=10_000)
    q.add_consumer(c)
    assert c.bodies == [f"m{i}" for i in range(11, 50, 2)]
    assert result_of(q.find_lease(seqs[0])) is None, "a deleted message has no lease"
    advance(b, 90_000)
    assert c.bodies[20:] == [f"m{i}" for i in range(1, 10, 2)]
    assert store.rows == {}


def test_delayed_messages_and_deep_leases_survive_a_restart_and_stay_bounded():
    store, b, q = paged()
    now = b.now_ms()
    for i in range(30):
        q.enqueue(msg(f"d{i}", persistent=True, visible_at=now + 10_000 + i))
    for i in range(30):
        q.enqueue(msg(f"m{i}", persistent=True))
    leases = receive(q, 20, 30_000)
    b2 = restart(store)
    q2 = b2.queues["q"]
    assert (q2.ready_count, q2.delayed_count, q2.inflight_count) == (10, 30, 20)
    assert len(q2._held) <= 2 * WINDOW + WINDOW
    lease = result_of(q2.find_lease(leases[-1].message.seq))   # a handle from before the restart
    assert lease is not None and q2.ack(lease)
    advance(b2, 31_000)
    c = Recorder(auto_ack=True, credit=10_000)
    q2.add_consumer(c)
    assert c.bodies == [f"d{i}" for i in range(30)] + [f"m{i}" for i in range(19)] + \
        [f"m{i}" for i in range(20, 30)]


def test_non_persistent_delayed_messages_spill_and_do_not_outlive_a_restart():
    store, b, q = paged()
    for round in range(2):
        now = b.now_ms()
        for i in range(20):
            q.enqueue(msg(f"n{i}", visible_at=now + 1000 + i))
        assert len(q._held) <= WINDOW and len(store.rows) == 20 - WINDOW
        if round:
            break
        advance(b, 2000)
        c = Recorder(auto_ack=True, credit=100)
        q.add_consumer(c)
        assert c.bodies == [f"n{i}" for i in range(20)]
        q.remove_consumer(c)
    b2 = restart(store)
    assert b2.queues["q"].delayed_count == 0 and store.rows == {}


def test_purge_drops_delayed_messages_on_disk_and_keeps_deep_leases():
    store, b, q = paged()
    now = b.now_ms()
    for i in range(20):
        q.enqueue(msg(f"m{i}", persistent=True))
    leases = receive(q, 20, 30_000)
    for i in range(20):
        q.enqueue(msg(f"d{i}", persistent=True, visible_at=now + 5000))
    assert q.purge(include_inflight=False) == 20
    assert (q.delayed_count, q.inflight_count) == (0, 20)
    assert len(store.rows) == 20
    lease = result_of(q.find_lease(leases[-1].message.seq))
    assert lease is not None and q.ack(lease)
    assert q.purge(include_inflight=True) == 19
    assert store.rows == {} and q.inflight_count == 0


def test_a_fifo_group_blocked_by_a_lease_stays_blocked_however_many_are_in_flight():
    store, b, q = paged(fifo=True)
    for i in range(2):
        for g in range(10):
            q.enqueue(msg(f"g{g}-{i}", persistent=True, group_id=f"g{g}"))
    first = receive(q, 10, 30_000)        # every group's head (the receive is then full)
    assert sorted(lease.message.body.decode() for lease in first) == [f"g{g}-0" for g in range(10)]
    assert receive(q, 10, 30_000) == [], "every group has a message in flight"
    lease = result_of(q.find_lease(first[3].message.seq))
    assert q.ack(lease)
    assert [lease.message.body.decode() for lease in receive(q, 10, 30_000)] == ["g3-1"]


# -- a model of delays and leases over the paged queue ---------------------------------------

class PagedTimelineModel(RuleBasedStateMachine):
    """Delays, leases with deadlines, settling by seq and restarts over a queue with a tiny
    window, against a model of each message's state: every receive gets the model's head
    among what is due, counts agree, memory stays bounded."""

    @initialize(window=st.sampled_from([2, 3, 5]))
    def start(self, window: int) -> None:
        self.window = window
        self.store = MemoryStore()
        self.broker = make_broker(self.store, window=window)
        result_of(self.broker.start())
        self.q = self.broker.create_queue("q")
        # seq -> [priority, body, persistent, time, leased]: due at `time` (0: ready), or
        # in flight until `time` when leased.
        self.model: dict[int, list] = {}
        self.n = 0

    def _now(self) -> int:
        return self.broker.now_ms()

    def _ready(self) -> list[int]:
        now = self._now()
        return [s for s, v in self.model.items() if v[3] <= now]

    @rule(priority=st.sampled_from([0, 4, 9]), delay=st.sampled_from([0, 0, 1000, 2500, 7000]),
          persistent=st.booleans())
    def send(self, priority: int, delay: int, persistent: bool) -> None:
        self.n += 1
        due = self._now() + delay if delay else 0
        m = self.q.enqueue(msg(f"m{self.n}", persistent=persistent, priority=priority, visible_at=due))
        self.model[m.seq] = [priority, m.body.decode(), persistent, due, False]

    @rule(lease_ms=st.sampled_from([1000, 3000, 9000]), count=st.integers(1, 3))
    def receive(self, lease_ms: int, count: int) -> None:
        got = result_of(self.q.receive(count, lease_ms))
        for lease in got:
            ready = self._ready()
            assert ready, "delivered while nothing is due"
            head = min(ready, key=lambda s: (-self.model[s][0], s))
            assert lease.message.seq == head, (lease.message.body, self.model[head][1])
            self.model[head][3:] = [self._now() + lease_ms, True]
        if len(got) < count:
            assert not self._ready(), "something due was not delivered"

    @precondition(lambda self: any(v[4] and v[3] > self._now() for v in self.model.values()))
    @rule(data=st.data(), action=st.sampled_from(["ack", "release", "extend"]))
    def settle(self, data, action: str) -> None:
        now = self._now()
        seq = data.draw(st.sampled_from(sorted(s for s, v in self.model.items() if v[4] and v[3] > now)))
        lease = result_of(self.q.find_lease(seq))
        assert lease is not None and lease.message.seq == seq
        if action == "ack":
            assert self.q.ack(lease)
            del self.model[seq]
        elif action == "release":
            assert self.q.release(lease)
            self.model[seq][3:] = [0, False]
        else:
            assert self.q.extend(lease, 4000)
            self.model[seq][3] = now + 4000

    @rule(ms=st.sampled_from([500, 1000, 3000]))
    def wait(self, ms: int) -> None:
        advance(self.broker, ms)
        now = self._now()
        for v in self.model.values():
            if v[3] <= now:
                v[3:] = [0, False]            # due, or its lease ran out: ready

    @rule()
    def restart(self) -> None:
        now = self._now()
        self.model = {s: v for s, v in self.model.items() if v[2]}
        self.broker = make_broker(self.store, window=self.window)
        advance(self.broker, now - self.broker.now_ms())     # the new process starts at the same time
        result_of(self.broker.start())
        self.q = self.broker.queues["q"]

    @invariant()
    def counts_agree_and_memory_is_bounded(self):
        now = self._now()
        ready = sum(1 for v in self.model.values() if v[3] <= now)
        delayed = sum(1 for v in self.model.values() if v[3] > now and not v[4])
        leased = sum(1 for v in self.model.values() if v[3] > now and v[4])
        assert (self.q.ready_count, self.q.delayed_count, self.q.inflight_count) == (ready, delayed, leased)
        # Non-persistent ready messages may stretch the window while nothing is on disk.
        assert sum(1 for m in self.q._held.values() if m.stored) <= 2 * self.window
        assert len(self.q._held) <= (NON_PERSISTENT_STRETCH + 1) * self.window

    @invariant()
    def the_store_holds_every_persistent_message(self):
        stored = {s for s, r in self.store.rows.items() if not r["transient"]}
        assert stored == {s for s, v in self.model.items() if v[2]}


TestPagedTimelineModel = PagedTimelineModel.TestCase
TestPagedTimelineModel.settings = settings(max_examples=150, stateful_step_count=50, deadline=None,
                                           derandomize=True, database=None,
                                           suppress_health_check=[HealthCheck.too_slow])


def test_a_long_poll_abandoned_gives_back_the_leases_it_took_on_disk_too():
    store, b, q = paged()
    held = receive(q, 10, 60_000)                          # nothing yet: an empty answer
    assert held == []
    for i in range(WINDOW):
        q.enqueue(msg(f"early{i}", persistent=True))
    assert len(receive(q, WINDOW, 60_000)) == WINDOW       # the timeline's room, taken first
    d = q.receive(10, 600_000, wait_ms=20_000)
    for i in range(10):                                    # taken, the answer waits for the turn's end
        q.enqueue(msg(f"m{i}", persistent=True))
    assert q.inflight_count == WINDOW + 10 and q._timeline.out_leases == 10
    d.cancel()                                             # ... and the client went away first
    assert q.inflight_count == WINDOW and q.ready_count == 10
    again = receive(q, 10, 30_000)
    assert [lease.message.body.decode() for lease in again] == [f"m{i}" for i in range(10)]


def test_leases_given_back_after_the_answer_was_built_are_visible_again_wherever_they_are():
    store, b, q = paged()
    for i in range(3 * WINDOW):
        q.enqueue(msg(f"m{i}", persistent=True))
    first = receive(q, WINDOW, 60_000)
    lost = receive(q, WINDOW, 600_000)                    # past the timeline's bound: on disk only
    assert q._timeline.out_leases == WINDOW
    q.give_back(lost + first[:1])
    assert q.inflight_count == WINDOW - 1 and q.ready_count == 2 * WINDOW + 1
    got = receive(q, 3 * WINDOW, 30_000)
    assert sorted(lease.message.body.decode() for lease in got) == sorted(
        [f"m{i}" for i in range(WINDOW, 3 * WINDOW)] + ["m0"])


def test_a_lease_read_back_from_disk_or_after_a_restart_started_when_it_was_received():
    store, b, q = paged()
    for i in range(2 * WINDOW):
        q.enqueue(msg(f"m{i}", persistent=True))
    received_at = b.now_ms()
    leases = receive(q, 2 * WINDOW, 600_000)
    deep = leases[-1].message.seq
    assert q.lease_for(deep) is None, "the last lease lives on disk only"
    advance(b, 5_000)
    assert result_of(q.find_lease(deep)).started == received_at
    b2 = restart(store)
    advance(b2, 5_000)
    q2 = b2.queues["q"]
    assert {result_of(q2.find_lease(lease.message.seq)).started for lease in leases} == {received_at}
