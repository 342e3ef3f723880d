"""The writer's hot statements (compiled once, run on the raw DBAPI cursor with positional
parameters) against SQLAlchemy Core's own statements, on SQLite and PostgreSQL: whatever
rows, leases and acks the batches hold, the table ends the same either way."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from broker.store.batch import Batch
from broker.store.schema import MESSAGE_STATE_COLUMNS, messages
from broker.store.store import Store, StoreError, _raw_statements

BIG = st.integers(-2**62, 2**62)
# PostgreSQL text holds no NUL, and no lone surrogate encodes.
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=12)


@st.composite
def message_rows(draw: Any) -> list[dict[str, Any]]:
    seqs = draw(st.lists(st.integers(1, 2**62), min_size=1, max_size=80, unique=True))
    return [{"seq": seq, "dest_id": draw(st.integers(1, 3)), "message_id": draw(TEXT),
             "body": draw(st.binary(max_size=40)), "priority": draw(st.integers(0, 9)),
             "timestamp": draw(BIG), "expires": draw(BIG), "visible_at": draw(BIG),
             "delivery_count": draw(st.integers(0, 2**31 - 1)), "first_delivery": draw(BIG),
             "last_delivery": draw(BIG), "group_id": draw(st.none() | TEXT), "dedup_id": draw(st.none() | TEXT),
             "attrs": draw(TEXT), "transient": draw(st.integers(0, 1)), "content_id": draw(st.none() | BIG),
             "job_id": draw(st.none() | TEXT), "body_md5": draw(st.none() | TEXT)} for seq in seqs]


# A lease's values, drawn from few so that many rows share them (one statement per group).
STATES = st.dictionaries(st.sampled_from(MESSAGE_STATE_COLUMNS), st.integers(0, 3), min_size=1)


def _table(store: Store) -> list[tuple[Any, ...]]:
    return store._transaction(lambda conn: [tuple(r) for r in conn.execute(
        select(messages).order_by(messages.c.seq))])


def _clear(store: Store) -> None:
    store._transaction(lambda conn: conn.execute(delete(messages)))


def _core(store: Store, fn: Any) -> list[tuple[Any, ...]]:
    store._transaction(fn)
    return _table(store)


def test_the_writers_statements_write_what_sqlalchemy_core_writes(store_url: str) -> None:
    store = Store(store_url, reactor=None)
    store._open_blocking(0, 10)
    try:
        @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(rows=message_rows(), data=st.data())
        def check(rows: list[dict[str, Any]], data: Any) -> None:
            seqs = [r["seq"] for r in rows]
            leases = data.draw(st.dictionaries(st.sampled_from(seqs), STATES))
            acks = data.draw(st.sets(st.sampled_from(seqs)))
            batches = [Batch(), Batch(), Batch()]
            for row in rows:
                batches[0].insert(dict(row))
            for seq, values in leases.items():
                batches[1].update(seq, dict(values))
            for seq in acks:
                batches[2].delete(seq)
            core = [lambda conn: conn.execute(messages.insert(), rows),
                    lambda conn: [conn.execute(update(messages).where(messages.c.seq == seq).values(values))
                                  for seq, values in leases.items()],
                    lambda conn: [conn.execute(delete(messages).where(messages.c.seq == seq)) for seq in acks]]
            _clear(store)
            written = []
            for batch in batches:
                store._write_blocking(batch)
                written.append(_table(store))
            _clear(store)
            assert [_core(store, step) for step in core] == written
        check()
    finally:
        store._drop_connection()
        assert store._engine is not None
        store._engine.dispose()


def test_hot_statements_take_positional_parameters_on_either_driver() -> None:
    # psycopg's default cursor would rewrite named parameters on every call of a statement
    # too long for its cache; its RawCursor takes $1, $2, ... as they are.
    import psycopg

    compiled, cursor = _raw_statements(postgresql.psycopg.dialect())
    assert compiled.paramstyle == "numeric_dollar" and cursor is psycopg.RawCursor
    assert _raw_statements(sqlite.pysqlite.dialect())[0].paramstyle == "qmark"
    with pytest.raises(StoreError, match="unsupported database driver"):
        _raw_statements(postgresql.psycopg2.dialect())
