"""A FIFO topic's deduplication window, kept as engine records so a restart keeps it."""
from __future__ import annotations

from twisted.internet.task import Clock

from broker.engine.broker import Broker
from facades.sns.dedup import DEDUP_KIND, DEDUP_WINDOW_MS, DedupWindow


def test_a_repeat_within_five_minutes_is_the_first_publication_and_its_record_goes_after():
    broker = Broker(None, Clock())
    window = DedupWindow(broker)
    window.remember("t.fifo", "d1", 1_000, "m1", "0001")
    assert window.seen("t.fifo", "d1", 1_000 + DEDUP_WINDOW_MS - 1).message_id == "m1"
    assert window.seen("other.fifo", "d1", 1_000) is None
    assert set(broker.records(DEDUP_KIND)) == {"t.fifo:d1"}
    assert window.seen("t.fifo", "d1", 1_000 + DEDUP_WINDOW_MS) is None
    assert broker.records(DEDUP_KIND) == {}


def test_a_window_read_back_from_records_expires_oldest_first():
    broker = Broker(None, Clock())
    first = DedupWindow(broker)
    first.remember("t.fifo", "late", 2_000, "m2", "0002")
    first.remember("t.fifo", "early:with:colons", 1_000, "m1", "0001")
    again = DedupWindow(broker)
    again.load()
    assert again.seen("t.fifo", "early:with:colons", 1_500).sequence_number == "0001"
    assert again.seen("t.fifo", "early:with:colons", 1_000 + DEDUP_WINDOW_MS) is None
    assert again.seen("t.fifo", "late", 1_000 + DEDUP_WINDOW_MS).message_id == "m2"
    assert set(broker.records(DEDUP_KIND)) == {"t.fifo:late"}
