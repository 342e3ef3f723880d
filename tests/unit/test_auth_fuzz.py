"""Whatever a config file holds, loading users and the map either works or is a ConfigError
(a message for the operator), never a crash."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from broker.auth.authorization import READ, Target, load_map
from broker.auth.directory import load_directory
from broker.config import Config, ConfigError

KEYS = ["name", "password", "password_hash", "groups", "access_keys", "subject", "id", "secret",
        "queue", "topic", "temp", "read", "write", "admin", "anonymous", "anonymous_groups", "x"]
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.sampled_from([">", "*", "a.>", "$argon2id$x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=12)
tables = st.lists(st.dictionaries(st.sampled_from(KEYS), values, max_size=5) | values, max_size=4)


@settings(max_examples=300, deadline=None)
@given(tables)
def test_any_authorization_table_loads_or_is_a_config_error(raw):
    try:
        m = load_map(raw)
    except ConfigError:
        return
    m.allows(READ, Target("queue", "a.b"), frozenset({"g"}))


@settings(max_examples=300, deadline=None)
@given(tables, st.dictionaries(st.sampled_from(KEYS), values, max_size=3))
def test_any_users_table_loads_or_is_a_config_error(users, auth):
    try:
        load_directory(Config(users=users, auth=auth))   # type: ignore[arg-type]
    except ConfigError:
        pass
