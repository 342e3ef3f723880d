"""A randomized check of one queue against what must hold whatever the order of events:
every message accepted is in exactly one place (ready, delayed, in flight, acked, purged,
dead-lettered, or lost in a restart because it was not persistent), the counters agree,
the store holds exactly the live persistent messages, and a FIFO group delivers in order
to one holder at a time (one receive may take several of a group, as SQS's does)."""
from __future__ import annotations

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from broker.engine.message import State
from broker.engine.settings import QueueSettings
from tests.unit.engine_support import MemoryStore, Recorder, check_counts, make_broker, msg, result_of


class QueueModel(RuleBasedStateMachine):
    @initialize(fifo=st.booleans(), max_deliveries=st.sampled_from([0, 3]),
                default_delay=st.sampled_from([0, 0, 700]), retention=st.sampled_from([0, 0, 4_000]))
    def start(self, fifo: bool, max_deliveries: int, default_delay: int, retention: int) -> None:
        self.store = MemoryStore()
        self.broker = make_broker(self.store)
        self.settings = QueueSettings(fifo=fifo, max_deliveries=max_deliveries,
                                      dead_letter="dlq" if max_deliveries else "",
                                      default_delay_ms=default_delay, retention_ms=retention)
        self.q = self.broker.create_queue("q", self.settings)
        self.consumers: list[Recorder] = []
        self.every_consumer: list[Recorder] = []
        self.received: list = []         # leases handed out by receive()
        self.polls: list = []            # pending long polls
        self.sent: dict[str, bool] = {}  # body -> persistent
        self.may_vanish: dict[str, int] = {}  # body -> when expiry/retention may remove it
        self.acked: set[str] = set()
        self.purged: set[str] = set()
        self.lost: set[str] = set()
        self.n = 0

    # -- events ------------------------------------------------------------------------
    @rule(persistent=st.booleans(), priority=st.sampled_from([0, 4, 9]),
          group=st.sampled_from([None, "a", "b"]), delay=st.sampled_from([0, 0, 0, 1_500]),
          ttl=st.sampled_from([0, 0, 0, 1_000]))
    def send(self, persistent, priority, group, delay, ttl):
        self.n += 1
        name = f"m{self.n}"
        if self.settings.fifo:
            priority, delay = 4, 0   # SQS FIFO: no priority, no per-message delay
        now = self.broker.now_ms()
        visible_at = now + delay if delay else 0
        expires = now + ttl if ttl else 0
        self.q.enqueue(msg(name, persistent=persistent, priority=priority, group_id=group,
                           visible_at=visible_at, expires=expires, timestamp=now))
        self.sent[name] = persistent
        if self.settings.retention_ms:
            self.may_vanish[name] = now + self.settings.retention_ms
        if expires and not persistent and not self.settings.dead_letter:
            self.may_vanish[name] = min(expires, self.may_vanish.get(name, expires))

    @rule(credit=st.integers(1, 3), lease_ms=st.sampled_from([0, 2_000]),
          auto_ack=st.booleans(), selector=st.sampled_from([None, None, "JMSPriority > 4"]),
          kind=st.sampled_from(["plain", "plain", "exclusive", "priority"]))
    def add_consumer(self, credit, lease_ms, auto_ack, selector, kind):
        c = Recorder(f"c{len(self.consumers)}", credit=credit, lease_ms=lease_ms, auto_ack=auto_ack,
                     selector=selector, exclusive=kind == "exclusive",
                     priority=5 if kind == "priority" else 0)
        self.consumers.append(c)
        self.every_consumer.append(c)
        self.q.add_consumer(c)

    def _auto_acked(self) -> set[str]:
        return {m.body.decode() for c in self.every_consumer for m, lease in c.got if lease is None}

    @precondition(lambda self: self.consumers)
    @rule(data=st.data())
    def remove_consumer(self, data):
        c = data.draw(st.sampled_from(self.consumers))
        self.consumers.remove(c)
        self.q.remove_consumer(c)

    @precondition(lambda self: any(c.pending for c in self.consumers))
    @rule(data=st.data(), settle=st.sampled_from(["ack", "release", "dead"]))
    def settle_pushed(self, data, settle):
        c = data.draw(st.sampled_from([c for c in self.consumers if c.pending]))
        lease = data.draw(st.sampled_from(c.pending))
        c.pending.remove(lease)
        c.credit += 1
        self._settle(lease, settle)

    def _settle(self, lease, settle):
        body = lease.message.body.decode()
        current = self.q.is_current(lease)
        if settle == "ack":
            assert self.q.ack(lease) is current
            if current:
                self.acked.add(body)
        elif settle == "release":
            assert self.q.release(lease) is current
        else:
            assert self.q.dead_letter(lease, "poison") is current
            if current and not lease.message.persistent and not self.settings.dead_letter:
                self.lost.add(body)   # ActiveMQ drops a non-persistent dead letter

    @rule(n=st.integers(1, 3), lease_ms=st.sampled_from([1_000, 3_000]))
    def receive(self, n, lease_ms):
        self.received += result_of(self.q.receive(n, lease_ms))

    @rule(n=st.integers(1, 3), lease_ms=st.sampled_from([1_000, 3_000]))
    def long_poll(self, n, lease_ms):
        d = self.q.receive(n, lease_ms, wait_ms=2_000)
        d.addCallback(self.received.extend)
        self.polls.append(d)

    @precondition(lambda self: any(not d.called for d in self.polls))
    @rule(data=st.data())
    def cancel_poll(self, data):
        data.draw(st.sampled_from([d for d in self.polls if not d.called])).cancel()

    @precondition(lambda self: self.received)
    @rule(data=st.data(), settle=st.sampled_from(["ack", "release", "extend"]))
    def settle_received(self, data, settle):
        lease = data.draw(st.sampled_from(self.received))
        self.received.remove(lease)
        if settle == "extend":
            current = self.q.is_current(lease)
            assert self.q.extend(lease, 2_500) is current
            if current:
                self.received.append(lease)
        else:
            self._settle(lease, settle)

    @rule(ms=st.sampled_from([0, 500, 1_000, 3_000]))
    def advance(self, ms):
        self.broker.clock.advance(ms / 1000)

    @rule(include_inflight=st.booleans())
    def purge(self, include_inflight):
        before = self._live(self.q)
        count = self.q.purge(include_inflight)
        after = self._live(self.q)
        assert count == len(before) - len(after)
        self.purged |= before - after

    @rule()
    def restart(self):
        for c in self.consumers:
            c.credit = 0   # the old connections are gone
        live = set().union(*(self._live(q) for q in self.broker.queues.values()))
        self.lost |= {b for b in live if not self.sent[b]}
        now = self.broker.clock.seconds()
        self.broker = make_broker(self.store)
        self.broker.clock.advance(now - self.broker.clock.seconds())
        result_of(self.broker.start())
        self.q = self.broker.queues["q"]
        self.consumers, self.received, self.polls = [], [], []

    # -- what must hold -------------------------------------------------------------------
    @staticmethod
    def _messages(queue):
        if queue is None:
            return []
        ready = queue.browse()
        delayed = [m for m in queue._timeline.messages() if m.state is State.DELAYED]
        inflight = [lease.message for lease in queue._inflight.values()]
        return ready + delayed + inflight

    def _live(self, queue) -> set[str]:
        return {m.body.decode() for m in self._messages(queue)}

    @invariant()
    def counters_agree(self):
        for queue in self.broker.queues.values():
            check_counts(queue)

    @invariant()
    def every_message_is_in_exactly_one_place(self):
        places = [self._messages(q) for q in self.broker.queues.values()]
        places += [self.acked | self._auto_acked(), self.purged, self.lost]
        names = [m.body.decode() if hasattr(m, "body") else m for place in places for m in place]
        dupes = {n for n in names if names.count(n) > 1}
        assert not dupes, f"in two places at once: {dupes}"
        now = self.broker.now_ms()
        missing = {n for n in set(self.sent) - set(names) if self.may_vanish.get(n, now + 1) > now}
        assert not missing, f"lost: {missing}"

    @invariant()
    def store_holds_the_live_persistent_messages(self):
        for queue in self.broker.queues.values():
            live = {m.seq for m in self._messages(queue) if m.persistent}
            stored = {s for s, r in self.store.rows.items() if r["dest_id"] == queue.dest_id}
            assert stored == live
            for m in self._messages(queue):
                if m.persistent:
                    assert self.store.rows[m.seq]["delivery_count"] == m.delivery_count

    @invariant()
    def fifo_groups_deliver_in_order_to_one_holder(self):
        if not self.settings.fifo:
            return
        leases = list(self.q._inflight.values())
        for group in ("a", "b"):
            held = [lease for lease in leases if lease.message.group_id == group]
            holders = {id(lease.consumer) for lease in held}
            assert len(holders) <= 1, f"group {group} is in flight to {len(holders)} holders"
            if held:
                # A message never delivered waits behind the group's deliveries; one given
                # back (released, its lease over) may wait behind later ones still held.
                last = max(lease.message.seq for lease in held)
                waiting = [m for m in self._messages(self.q) if m.group_id == group
                           and m.state is not State.INFLIGHT and not m.delivery_count]
                assert all(m.seq > last for m in waiting), \
                    f"group {group}: a message delivered before an earlier one of its group"


TestQueueModel = QueueModel.TestCase
TestQueueModel.settings = settings(max_examples=60, stateful_step_count=40, deadline=None,
                                   derandomize=True, database=None,
                                   suppress_health_check=[HealthCheck.too_slow])
