"""The coalescing rules of a store Batch: what one group-committed transaction will write."""
from __future__ import annotations

from hypothesis import given, strategies as st

from broker.store.batch import Batch


def row(seq: int, dest: int = 1, **kw):
    return {"seq": seq, "dest_id": dest, "delivery_count": 0, "visible_at": 0,
            "first_delivery": 0, "body": b"x", **kw}


def test_empty_batch_is_false():
    assert not Batch()


def test_insert_then_delete_never_reaches_disk():
    b = Batch()
    b.insert(row(1))
    b.update(1, {"delivery_count": 1})
    b.delete(1)
    assert not b
    assert b.inserts == {} and b.updates == {} and b.deletes == set()


def test_updates_fold_into_a_pending_insert():
    b = Batch()
    r = row(1)
    b.insert(r)
    b.update(1, {"delivery_count": 1, "visible_at": 500})
    b.update(1, {"visible_at": 900, "first_delivery": 100})
    assert b.updates == {}
    assert b.inserts[1]["delivery_count"] == 1
    assert b.inserts[1]["visible_at"] == 900
    assert b.inserts[1]["first_delivery"] == 100
    assert b.inserts[1]["body"] == b"x"


def test_updates_of_stored_rows_merge():
    b = Batch()
    b.update(7, {"delivery_count": 1, "visible_at": 10})
    b.update(7, {"visible_at": 20})
    assert b.updates == {7: {"delivery_count": 1, "visible_at": 20}}
    assert b.inserts == {} and b


def test_delete_of_a_stored_row_drops_its_pending_update():
    b = Batch()
    b.update(7, {"delivery_count": 2})
    b.delete(7)
    assert b.updates == {} and b.deletes == {7}


def test_delete_of_a_stored_row_alone():
    b = Batch()
    b.delete(3)
    b.delete(3)
    assert b.deletes == {3} and b


def test_mixed_operations_on_many_messages():
    b = Batch()
    for seq in range(1, 6):
        b.insert(row(seq))
    b.delete(2)
    b.update(3, {"delivery_count": 1})
    b.update(10, {"delivery_count": 4})
    b.delete(11)
    assert sorted(b.inserts) == [1, 3, 4, 5]
    assert b.inserts[3]["delivery_count"] == 1
    assert b.updates == {10: {"delivery_count": 4}}
    assert b.deletes == {11}


def test_drop_destination_discards_its_pending_inserts_only():
    b = Batch()
    b.insert(row(1, dest=1))
    b.insert(row(2, dest=2))
    b.insert(row(3, dest=1))
    b.update(3, {"delivery_count": 1})
    b.drop_destination(1)
    assert sorted(b.inserts) == [2]
    assert b.dropped == {1}
    assert b.destination_ops == [("drop", 1)]
    assert b


def test_destination_ops_keep_their_order():
    b = Batch()
    b.put_destination({"id": 1, "name": "q"})
    b.drop_destination(1)
    b.put_destination({"id": 2, "name": "q"})
    assert [op for op, _ in b.destination_ops] == ["put", "drop", "put"]
    assert b.destination_ops[2][1]["id"] == 2


def test_batch_with_only_destination_ops_is_true():
    b = Batch()
    b.put_destination({"id": 1, "name": "q"})
    assert b


def test_absorb_applies_a_later_batch_as_if_its_operations_came_after():
    failed = Batch()
    failed.insert(row(1))
    failed.insert(row(2, dest=2))
    failed.update(9, {"delivery_count": 3})
    later = Batch()
    later.delete(1)                        # acked before the retry: never reaches disk
    later.update(9, {"visible_at": 50})
    later.insert(row(3))
    later.drop_destination(2)              # takes the pending insert of dest 2 with it
    failed.absorb(later)
    assert set(failed.inserts) == {3}
    assert failed.updates == {9: {"delivery_count": 3, "visible_at": 50}}
    assert failed.deletes == set()
    assert failed.destination_ops == [("drop", 2)]


def test_a_record_created_and_dropped_in_one_batch_never_reaches_the_store():
    b = Batch()
    b.put_record("sns-delivery", "d1", "{}", new=True)
    b.put_record("sns-delivery", "d1", '{"attempt":1}')      # still new to the store
    assert b.records == {("sns-delivery", "d1"): ("insert", '{"attempt":1}')}
    b.drop_record("sns-delivery", "d1")
    assert b.records == {} and not b


def test_a_stored_record_changed_then_dropped_is_deleted_and_recreated_replaced():
    b = Batch()
    b.put_record("k", "stored", "1")
    b.drop_record("k", "stored")
    assert b.records == {("k", "stored"): ("delete", None)}
    b.put_record("k", "stored", "2", new=True)               # re-created after the drop
    assert b.records == {("k", "stored"): ("replace", "2")}


def test_absorb_folds_records_as_if_their_changes_came_after():
    failed = Batch()
    failed.put_record("k", "a", "1", new=True)
    failed.drop_record("k", "b")
    later = Batch()
    later.drop_record("k", "a")            # its insert was rolled back: nothing to write
    later.put_record("k", "b", "2", new=True)
    failed.absorb(later)
    assert failed.records == {("k", "b"): ("replace", "2")}

def test_deletes_are_written_as_runs_of_consecutive_seqs():
    b = Batch()
    for seq in (7, 3, 1, 2, 10, 8, 5):
        b.delete(seq)
    assert b.delete_ranges() == [(1, 3), (5, 5), (7, 8), (10, 10)]
    assert Batch().delete_ranges() == []


STATE = ("visible_at", "delivery_count", "first_delivery", "last_delivery")


def test_updates_taking_the_same_values_are_one_group_in_seq_order():
    b = Batch()
    for seq in (12, 10, 11):    # a receive of 3: one lease each, the same values
        b.update(seq, {"delivery_count": 1, "visible_at": 900, "first_delivery": 10, "last_delivery": 10})
    b.update(4, {"visible_at": 0, "delivery_count": 2, "first_delivery": 5, "last_delivery": 8})
    b.update(2, {"visible_at": 0})
    assert b.update_groups(STATE) == {
        (STATE, (900, 1, 10, 10)): [10, 11, 12],
        (STATE, (0, 2, 5, 8)): [4],
        (("visible_at",), (0,)): [2],
    }


@given(st.lists(st.tuples(st.integers(1, 30), st.dictionaries(st.sampled_from(STATE), st.integers(0, 2)))))
def test_update_groups_set_each_row_as_its_own_updates_would(updates):
    b = Batch()
    for seq, values in updates:
        b.update(seq, values)
    # The general rule: each row takes the values of its updates, in the order they came.
    expected: dict[int, dict[str, int]] = {}
    for seq, values in updates:
        expected.setdefault(seq, {}).update(values)
    applied: dict[int, dict[str, int]] = {}
    for (cols, values), seqs in b.update_groups(STATE).items():
        assert seqs == sorted(set(seqs)) and list(cols) == [c for c in STATE if c in cols]
        for seq in seqs:
            assert seq not in applied
            applied[seq] = dict(zip(cols, values))
    assert applied == expected


def test_a_full_database_gets_the_batch_without_its_new_messages_then_what_frees_space():
    b = Batch()
    b.insert(row(5, dest=2))
    b.insert(row(6, dest=3, content_id=9))
    b.contents[9] = b"shared"
    b.update(1, {"delivery_count": 2})
    b.delete(2)
    b.released.add(4)
    b.put_record("sns", "sub", "{}")
    b.drop_record("sns", "gone")
    b.purge(7, [])
    rest, refused = b.split_growth()
    assert sorted(refused) == [(2, 5), (3, 6)]
    assert not rest.inserts and not rest.contents
    assert rest.updates == {1: {"delivery_count": 2}} and rest.deletes == {2}
    assert rest.released == {4, 9}, "a body no row of the batch will name is released"
    frees, later = rest.split_frees()
    assert frees.deletes == {2} and frees.destination_ops == [("purge", (7, [], None))] and not frees.updates
    assert frees.records == {("sns", "gone"): ("delete", None)}
    assert later.updates == {1: {"delivery_count": 2}} and not later.destination_ops
    assert later.records == {("sns", "sub"): ("replace", "{}")}
