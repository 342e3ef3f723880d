"""Paged queues: a stored queue keeps only a small window of its head in memory and reads
the rest from the store a page at a time, without changing what is delivered or in which
order. A window of a few messages makes every test cross page boundaries constantly."""
from __future__ import annotations

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from broker.engine.dead_letters import DeadLetterStrategy
from broker.engine.limits import Policy
from broker.engine.paging import NON_PERSISTENT_STRETCH
from tests.unit.engine_support import (PAGED_WINDOW as WINDOW, Recorder, SlowPages, advance, make_broker,
                                       msg, paged, restart, result_of)


def in_memory(queue) -> int:
    return len(queue._held)


def drain(queue, credit: int = 10_000) -> list[str]:
    c = Recorder(credit=credit, auto_ack=True)
    queue.add_consumer(c)
    queue.remove_consumer(c)
    return c.bodies


def ack_everything(consumer: Recorder, store: SlowPages) -> None:
    """Ack what arrives, answering page reads as they come, until the queue is empty."""
    for _ in range(1000):
        consumer.ack_all()
        if not store.waiting:
            return
        store.answer()
    raise AssertionError("the queue never emptied")


# -- order across pages ------------------------------------------------------------------------

def test_a_deep_queue_keeps_a_bounded_window_and_drains_in_priority_then_arrival_order():
    store, b, q = paged()
    sent = [(f"m{i}", (i * 7) % 10) for i in range(60)]
    for body, priority in sent:
        q.enqueue(msg(body, persistent=True, priority=priority))
    assert in_memory(q) <= WINDOW
    assert q.ready_count == 60 and q._ready.paged_out == 60 - len(q._ready)
    expected = [body for body, _ in sorted(sent, key=lambda s: (-s[1], int(s[0][1:])))]
    assert drain(q) == expected
    assert q.ready_count == 0 and store.rows == {}


def test_a_slow_consumer_sees_messages_sent_while_the_backlog_is_on_disk_in_order():
    """Arrivals that rank after the window go to disk only; one that ranks before the
    window's last enters it and pushes the last one out: nothing overtakes anything."""
    store, b, q = paged()
    for i in range(10):
        q.enqueue(msg(f"a{i}", persistent=True))
    c = Recorder(credit=1)
    q.add_consumer(c)
    for i in range(10):
        q.enqueue(msg(f"b{i}", persistent=True))
        if i % 3 == 0:
            q.enqueue(msg(f"urgent{i}", persistent=True, priority=9))
        c.ack()
        assert in_memory(q) <= WINDOW + 1
    c.ack_all()
    # each urgent message comes next after the one in flight when it was sent
    assert c.bodies == ["a0", "urgent0", "a1", "a2", "urgent3", "a3", "a4", "urgent6", "a5", "a6",
                   "urgent9", "a7", "a8", "a9"] + [f"b{i}" for i in range(10)]


def test_non_persistent_messages_beyond_the_window_spill_to_disk_and_do_not_outlive_a_restart():
    for restarted in (False, True):
        store, b, q = paged()
        for i in range(12):
            q.enqueue(msg(f"n{i}", persistent=i % 2 == 0))
        assert in_memory(q) <= WINDOW
        spilled = [r for r in store.rows.values() if r["transient"]]
        assert spilled, "non-persistent messages past the window are written to disk"
        if restarted:
            assert drain(restart(store).queues["q"]) == [f"n{i}" for i in range(0, 12, 2)]
        else:
            assert drain(q) == [f"n{i}" for i in range(12)]
        assert store.rows == {}


def test_non_persistent_messages_stay_in_memory_until_memory_is_short():
    """As ActiveMQ's cursors: a non-persistent stream costs no store writes while memory
    lasts; past the broker's memory limit the excess spills to disk, in order."""
    store, b, q = paged()
    for i in range(40):
        q.enqueue(msg(f"n{i}"))
    assert in_memory(q) == 40 and not store.rows, "nothing of a non-persistent stream was written"
    b.memory_limit = b.memory_used
    for i in range(40, 50):
        q.enqueue(msg(f"n{i}"))
    assert in_memory(q) <= 40 and store.rows, "past the memory limit they spill"
    b.memory_limit = 0
    assert drain(q) == [f"n{i}" for i in range(50)]
    assert store.rows == {}


def test_restart_reads_the_first_page_and_counts_not_every_row():
    store, b, q = paged()
    for i in range(100):
        q.enqueue(msg(f"m{i}", persistent=True, priority=i % 3))
    b2 = restart(store)
    q2 = b2.queues["q"]
    assert in_memory(q2) == WINDOW and q2.ready_count == 100
    assert drain(q2) == [f"m{i}" for p in (2, 1, 0) for i in range(100) if i % 3 == p]


def test_delayed_and_released_messages_go_back_to_their_place_in_a_deep_queue():
    store, b, q = paged()
    now = b.now_ms()
    q.enqueue(msg("late", persistent=True, visible_at=now + 1000))
    for i in range(10):
        q.enqueue(msg(f"m{i}", persistent=True))
    c = Recorder(credit=1)
    q.add_consumer(c)
    assert c.pending_bodies == ["m0"]
    assert c.release()                       # NACK: back at the head
    assert c.pending_bodies == ["m0"]
    c.ack()
    assert c.pending_bodies == ["m1"]
    advance(b, 1000)                         # "late" is due: it ranks first (sent first)
    c.ack()
    assert c.pending_bodies == ["late"]
    c.ack()
    q.remove_consumer(c)
    assert drain(q) == [f"m{i}" for i in range(2, 10)]


def test_a_page_that_answers_late_neither_loses_an_arrival_nor_brings_back_an_acked_message():
    """While a page is read, a high-priority arrival ranks inside the page being read but is
    not in it (its row came too late), and a message acked meanwhile is still in it."""
    store = SlowPages()
    _, b, q = paged(store)
    for i in range(1, 9):
        q.enqueue(msg(f"m{i}", persistent=True))
    c = Recorder(credit=4)
    q.add_consumer(c)
    assert c.pending_bodies == ["m1", "m2", "m3", "m4"] and len(store.waiting) == 1
    for i in range(1, 6):
        q.enqueue(msg(f"u{i}", persistent=True, priority=9))
    store.answer(late=False)                 # the rows of before the u's
    c.ack("m1")
    c.ack("m2")
    assert c.pending_bodies == ["m3", "m4", "u1", "u2"] and len(store.waiting) == 1
    c.ack("m3")                              # acked while the next page is read
    store.answer(late=False)                 # ... whose rows still hold m3
    ack_everything(c, store)
    assert c.bodies == ["m1", "m2", "m3", "m4", "u1", "u2", "u3", "u4", "u5",
                        "m5", "m6", "m7", "m8"]
    assert store.rows == {}


def test_an_arrival_that_ranks_inside_a_page_being_read_is_not_lost():
    store = SlowPages()
    _, b, q = paged(store)
    for i in range(1, 5):
        q.enqueue(msg(f"h{i}", persistent=True, priority=9))
    for i in range(5, 15):
        q.enqueue(msg(f"l{i}", persistent=True, priority=0))
    c = Recorder(credit=3)
    q.add_consumer(c)
    assert c.pending_bodies == ["h1", "h2", "h3"] and len(store.waiting) == 1
    q.enqueue(msg("x", persistent=True, priority=9))   # after the window, before the page's last
    store.answer(late=False)
    ack_everything(c, store)
    assert c.bodies == ["h1", "h2", "h3", "h4", "x"] + [f"l{i}" for i in range(5, 15)]


def test_groups_and_fifo_groups_keep_their_order_across_pages():
    store, b, q = paged(fifo=True)
    for i in range(20):
        q.enqueue(msg(f"{'ab'[i % 2]}{i}", persistent=True, group_id="ab"[i % 2]))
    order: list[str] = []
    for _ in range(30):
        leases = result_of(q.receive(3, 30_000))
        for lease in leases:
            order.append(lease.message.body.decode())
            assert q.ack(lease)
        assert in_memory(q) <= 5 * WINDOW + 2
    assert [x for x in order if x[0] == "a"] == [f"a{i}" for i in range(0, 20, 2)]
    assert [x for x in order if x[0] == "b"] == [f"b{i}" for i in range(1, 20, 2)]


def test_receive_finds_messages_whatever_the_depth():
    store = SlowPages()
    _, b, q = paged(store)
    for i in range(30):
        q.enqueue(msg(f"m{i}", persistent=True))
    got = []
    while len(got) < 30:
        d = q.receive(10, 30_000)        # a short poll
        if not d.called:                  # the head is on its way from disk: it waits for it
            assert store.waiting
            store.answer()
            advance(b, 0)
        leases = result_of(d)
        assert leases, "a short poll on a non-empty queue answered empty"
        for lease in leases:
            got.append(lease.message.body.decode())
            q.ack(lease)
    assert got == [f"m{i}" for i in range(30)]


def test_purge_and_delete_of_a_deep_queue_are_one_statement_each():
    store, b, q = paged()
    for i in range(50):
        q.enqueue(msg(f"m{i}", persistent=True))
    pages = store.pages
    assert q.purge(include_inflight=True) == 50
    assert q.ready_count == 0 and store.rows == {} and store.pages == pages
    for i in range(50):
        q.enqueue(msg(f"m{i}", persistent=True))
    assert b.delete_queue("q")
    assert store.rows == {}


def test_browse_streams_a_deep_queue_a_page_at_a_time_without_taking_anything():
    store, b, q = paged()
    for i in range(25):
        q.enqueue(msg(f"m{i}", persistent=i % 3 != 0, priority=i % 2))
    seen, after = [], None
    while page := result_of(q.browse_page(after, 7)):
        seen += [m.body.decode() for m in page]
        after = page[-1]
    expected = [f"m{i}" for p in (1, 0) for i in range(25) if i % 2 == p]
    assert seen == expected
    assert q.ready_count == 25 and drain(q) == expected


def test_stats_report_depth_window_and_what_is_on_disk():
    store, b, q = paged()
    for i in range(10):
        q.enqueue(msg("x" * 100, persistent=True))
    stats = q.stats()
    assert stats["ready"] == 10 and stats["in_memory"] == WINDOW
    assert stats["paged_out"] == 10 - WINDOW and stats["memory_bytes"] == 100 * WINDOW


# -- a model of the paged queue ---------------------------------------------------------------------

class PagedQueueModel(RuleBasedStateMachine):
    """A paged queue with a tiny window and page reads that answer late (seeing the rows
    of when they were asked, or of when they answer) against a sorted list: every delivery
    is the head of the model, counts agree, memory stays bounded, a restart keeps exactly
    the persistent messages."""

    @initialize(window=st.sampled_from([2, 3, 5]))
    def start(self, window: int) -> None:
        self.window = window
        self.store = SlowPages()
        self.broker = make_broker(self.store, window=window)
        result_of(self.broker.start())
        self.q = self.broker.create_queue("q")
        self.ready: dict[int, tuple[int, str, bool]] = {}   # seq -> (priority, body, persistent)
        self.held: list = []
        self.n = 0

    def _head(self) -> int:
        return min(self.ready, key=lambda s: (-self.ready[s][0], s))

    @rule(priority=st.sampled_from([0, 4, 4, 9]), persistent=st.booleans())
    def send(self, priority: int, persistent: bool) -> None:
        self.n += 1
        m = self.q.enqueue(msg(f"m{self.n}", persistent=persistent, priority=priority))
        self.ready[m.seq] = (priority, m.body.decode(), persistent)

    @rule(priority=st.sampled_from([0, 9]))
    def burst(self, priority: int) -> None:
        for _ in range(self.window + 1):
            self.send(priority, True)

    @precondition(lambda self: self.store.waiting)
    @rule(priority=st.sampled_from([0, 4, 9]), count=st.integers(1, 6))
    def send_while_a_page_is_read(self, priority: int, count: int) -> None:
        for _ in range(count):
            self.send(priority, True)

    @rule()
    def take_one(self) -> None:
        c = Recorder(credit=1)
        self.q.add_consumer(c)
        self.q.remove_consumer(c, release=False)
        if not c.got:
            assert not self.ready or self.store.waiting, "nothing delivered, no page on its way"
            return
        message, lease = c.got[0]
        assert message.seq == self._head(), (message.body, self.ready[self._head()])
        del self.ready[message.seq]
        self.held.append((lease, message.priority))

    @precondition(lambda self: self.held)
    @rule(ack=st.booleans())
    def settle(self, ack: bool) -> None:
        lease, priority = self.held.pop(0)
        m = lease.message
        if ack:
            assert self.q.ack(lease)
        else:
            assert self.q.release(lease)
            self.ready[m.seq] = (priority, m.body.decode(), m.persistent)

    @precondition(lambda self: self.store.waiting)
    @rule(late=st.booleans())
    def page_arrives(self, late: bool) -> None:
        self.store.answer(late)

    @rule()
    def purge(self) -> None:
        self.q.purge(include_inflight=True)
        self.ready.clear()
        self.held.clear()

    @rule()
    def restart(self) -> None:
        self.store.waiting.clear()          # the old process and its reads are gone
        kept = {s: v for s, v in self.ready.items() if v[2]}
        kept.update({lease.message.seq: (p, lease.message.body.decode(), True)
                     for lease, p in self.held if lease.message.persistent})
        self.ready, self.held = kept, []
        self.broker = make_broker(self.store, window=self.window)
        result_of(self.broker.start())
        self.q = self.broker.queues["q"]

    @invariant()
    def counts_agree_and_memory_is_bounded(self):
        assert self.q.ready_count == len(self.ready)
        # Only non-persistent messages may stretch a window, and only while nothing is on disk.
        stretched = self.window * NON_PERSISTENT_STRETCH
        assert sum(1 for m in self.q._ready.messages() if m.stored) <= self.window
        assert len(self.q._ready) <= (stretched if self.q._ready.horizon is None else self.window)
        assert len(self.q._held) <= stretched + len(self.held)

    @invariant()
    def what_is_not_in_memory_ranks_after_the_horizon(self):
        """The window's invariant: a ready message is in memory, or on disk after the
        horizon (where the next page read finds it)."""
        horizon = self.q._ready.horizon
        for seq, (priority, body, _) in self.ready.items():
            if seq not in self.q._held:
                assert horizon is not None and (-priority, seq) > horizon, (body, horizon)

    @invariant()
    def the_store_holds_every_persistent_message(self):
        stored = {s for s, r in self.store.rows.items() if not r["transient"]}
        live = {s for s, v in self.ready.items() if v[2]}
        live |= {lease.message.seq for lease, _ in self.held if lease.message.persistent}
        assert stored == live


TestPagedQueueModel = PagedQueueModel.TestCase
TestPagedQueueModel.settings = settings(max_examples=200, stateful_step_count=60, deadline=None,
                                        derandomize=True, database=None,
                                        suppress_health_check=[HealthCheck.too_slow])


def test_browse_shows_messages_in_flight_in_their_place():
    """As ActiveMQ's browsers, a browse shows what consumers hold unacknowledged (in their
    prefetch buffers too), in delivery order with the rest, from memory and disk."""
    store, b, q = paged()
    for i in range(20):
        q.enqueue(msg(f"m{i}", persistent=True))
    c = Recorder(credit=9)
    q.add_consumer(c)                      # the first nine are in flight
    seen, last = [], None
    while page := result_of(q.browse_page(last, 3)):
        seen += [m.body.decode() for m in page]
        last = page[-1]
    assert seen == [f"m{i}" for i in range(20)]
    for lease in c.pending:                # acknowledged, without taking more
        assert q.ack(lease)
    assert [m.body.decode() for m in result_of(q.browse_page(None, 3))] == ["m9", "m10", "m11"]


def test_retention_deletes_the_backlog_on_disk_without_reading_it():
    store, b, q = paged(retention_ms=60_000)
    for i in range(30):
        q.enqueue(msg(f"old{i}", persistent=True, timestamp=b.now_ms()))
    advance(b, 30_000)
    for i in range(5):
        q.enqueue(msg(f"new{i}", persistent=True, timestamp=b.now_ms()))
    advance(b, 30_000)                        # the first thirty are past their retention
    pages = store.pages
    q.sweep()
    assert q.ready_count == 5, "the expired backlog is gone at once"
    assert store.pages - pages <= 1, "... deleted, not read"
    assert drain(q) == [f"new{i}" for i in range(5)]
    assert q.ready_count == 0 and store.rows == {}


def test_a_selector_consumer_finds_its_messages_deep_in_the_backlog():
    store, b, q = paged()
    for i in range(30):
        color = "red" if i < 20 else "blue"
        q.enqueue(msg(f"{color}{i}", persistent=True, properties={"color": color}))
    blue = Recorder("blue", selector="color = 'blue'")
    q.add_consumer(blue)
    assert blue.bodies == [f"blue{i}" for i in range(20, 30)], "found on disk, in order"
    assert in_memory(q) <= WINDOW + 10
    blue.ack_all()
    assert q.ready_count == 20
    assert drain(q) == [f"red{i}" for i in range(20)]
    assert store.rows == {}


def test_a_selector_scan_that_answers_late_does_not_deliver_an_acked_message_twice():
    """A second selector consumer reads the disk part again from the window on; a message
    the first one acks while that read is on its way is in the rows read, and must not
    be delivered again."""
    store = SlowPages()
    _, b, q = paged(store)
    for i in range(20):
        q.enqueue(msg(f"m{i}", persistent=True, properties={"n": str(i)}, types={"n": "int"}))
    first = Recorder("first", selector="n >= 10", credit=1)
    q.add_consumer(first)
    while store.waiting and not first.pending:
        store.answer()
    assert first.pending_bodies == ["m10"]
    second = Recorder("second", selector="n >= 10", credit=100)
    q.add_consumer(second)                 # its read starts from the window again ...
    assert store.waiting
    first.ack()                            # ... and m10 is acked while it is read
    for _ in range(20):
        if not store.waiting:
            break
        store.answer(late=False)
    assert "m10" not in second.bodies, "an acked message delivered again"
    assert sorted(first.bodies + second.bodies) == sorted(f"m{i}" for i in range(10, 20))


def test_expiry_moves_the_backlog_on_disk_to_the_dead_letter_queue_without_reading_it():
    store, b, q = paged()
    now = b.now_ms()
    for i in range(30):
        q.enqueue(msg(f"old{i}", persistent=True, priority=i % 2, expires=now + 1000))
    for i in range(5):
        q.enqueue(msg(f"new{i}", persistent=True))
    for i in range(5):
        q.enqueue(msg(f"gone{i}", expires=now + 1000))       # non-persistent: dropped
    advance(b, 2000)
    pages = store.pages
    q.sweep()                      # the dead-letter queue is made when a message needs it ...
    q.sweep()                      # ... and the next sweep moves them there
    assert store.pages - pages <= 2, "expired rows are moved, not read"
    dlq = b.queues["ActiveMQ.DLQ"]
    assert dlq.ready_count >= 30 - WINDOW, "moved by the store, from the disk part"
    q.sweep()                                                # the window's head expires as it is reached
    assert drain(q) == [f"new{i}" for i in range(5)]
    dead = Recorder(auto_ack=True, credit=100)
    dlq.add_consumer(dead)
    assert sorted(m.body.decode() for m, _ in dead.got) == sorted(f"old{i}" for i in range(30))
    assert all(m.dead_letter is not None and m.dead_letter.cause == "Message expired"
               and m.dead_letter.name == "q" and m.expires == 0 for m, _ in dead.got)
    assert len(dlq._held) <= WINDOW + 1 and store.rows == {}


def test_the_expiry_sweep_makes_no_dead_letter_queue_when_nothing_expires():
    store, b, q = paged()
    for i in range(20):
        q.enqueue(msg(f"m{i}", persistent=True))
    q.sweep()
    assert "ActiveMQ.DLQ" not in b.queues
    assert drain(q) == [f"m{i}" for i in range(20)]


def test_expiry_on_disk_follows_the_destinations_dead_letter_strategy():
    """The store's move of expired rows goes where `Broker.dead_letter` would send each
    message: an individual strategy's queue, non-persistent rows too when it keeps them."""
    store, b, q = paged()
    b.policies = [Policy(queue="q", dead_letter=DeadLetterStrategy(individual=True, process_non_persistent=True))]
    now = b.now_ms()
    for i in range(20):
        q.enqueue(msg(f"old{i}", persistent=i % 2 == 0, expires=now + 1000))
    q.enqueue(msg("new", persistent=True))
    advance(b, 2000)
    for _ in range(3):
        q.sweep()
    assert "ActiveMQ.DLQ" not in b.queues
    dlq = b.queues["ActiveMQ.DLQ.Queue.q"]
    assert drain(q) == ["new"]
    dead = Recorder(auto_ack=True, credit=100)
    dlq.add_consumer(dead)
    assert sorted(m.body.decode() for m, _ in dead.got) == sorted(f"old{i}" for i in range(20))
    assert all(m.persistent and m.dead_letter.was_persistent == (int(m.body[3:]) % 2 == 0)
               for m, _ in dead.got)


def test_expiry_on_disk_drops_what_a_strategy_that_ignores_expiry_would():
    store, b, q = paged()
    b.policies = [Policy(queue="q", dead_letter=DeadLetterStrategy(process_expired=False))]
    now = b.now_ms()
    for i in range(20):
        q.enqueue(msg(f"old{i}", persistent=True, expires=now + 1000))
    advance(b, 2000)
    for _ in range(3):
        q.sweep()
    assert drain(q) == [] and "ActiveMQ.DLQ" not in b.queues and store.rows == {}
