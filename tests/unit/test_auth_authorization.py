"""ActiveMQ's authorization map semantics: wildcard entries, unions, default deny, `*`."""
from __future__ import annotations

import pytest

from broker.auth.authorization import CREATE, READ, WRITE, Target, load_map
from broker.config import ConfigError

MAP = load_map([
    {"queue": ">", "read": "admins", "write": "admins", "admin": "admins"},
    {"queue": "USERS.>", "read": "users", "write": "users", "admin": "users"},
    {"queue": "GUEST.>", "read": "guests", "write": "guests,users", "admin": "guests,users"},
    {"queue": "orders.*.eu", "read": ["eu"]},
    {"topic": "events.>", "write": ["*"]},
])


@pytest.mark.parametrize("op, kind, name, groups, allowed", [
    (READ, "queue", "USERS.a", {"users"}, True),
    (READ, "queue", "USERS", {"users"}, True),              # a.> matches a
    (READ, "queue", "USERS.a.b.c", {"users"}, True),
    (READ, "queue", "USERSX", {"users"}, False),
    (READ, "queue", "USERS.a", {"admins"}, True),           # union with ">"
    (WRITE, "queue", "GUEST.x", {"users"}, True),
    (READ, "queue", "GUEST.x", {"users"}, False),
    (READ, "queue", "orders.1.eu", {"eu"}, True),
    (READ, "queue", "orders.1.2.eu", {"eu"}, False),        # * is one level
    (READ, "topic", "USERS.a", {"users"}, False),           # queue entries do not cover topics
    (WRITE, "topic", "events.x", {"nobody-in-particular"}, True),   # "*" is everyone
    (WRITE, "topic", "events.x", set(), True),
    (READ, "topic", "events.x", {"admins"}, False),         # no read entry for it: default deny
    (CREATE, "topic", "other", {"admins"}, False),
])
def test_wildcard_entries(op, kind, name, groups, allowed):
    assert MAP.allows(op, Target(kind, name), frozenset(groups)) is allowed


def test_no_map_allows_everything():
    empty = load_map([])
    assert not empty.configured
    assert empty.allows(WRITE, Target("queue", "anything"), frozenset())


def test_temporary_destinations_are_open_unless_a_temp_entry_says_otherwise():
    target = Target("queue", "ID:x:1:replies", temporary=True)
    assert MAP.allows(CREATE, target, frozenset())
    strict = load_map([{"temp": True, "read": ["apps"], "write": ["apps"], "admin": ["apps"]},
                       {"queue": ">", "read": "*"}])
    assert not strict.allows(WRITE, target, frozenset({"users"}))
    assert strict.allows(WRITE, target, frozenset({"apps"}))


def test_composite_pattern_is_an_entry_per_part():
    m = load_map([{"queue": "a.>,b", "read": ["g"]}])
    assert m.allows(READ, Target("queue", "a.x"), frozenset({"g"}))
    assert m.allows(READ, Target("queue", "b"), frozenset({"g"}))


def test_target_names_are_activemqs_qualified_names():
    assert str(Target("queue", "orders")) == "queue://orders"
    assert str(Target("topic", "t")) == "topic://t"
    assert str(Target("queue", "ID:a:1", temporary=True)) == "temp-queue://ID:a:1"


@pytest.mark.parametrize("entry", [
    {"read": ["x"]},                                    # no destination
    {"queue": "a", "topic": "b"},                       # two
    {"queue": "a", "reed": ["x"]},                      # typo
    {"queue": "", "read": ["x"]},
    {"queue": "a", "read": [1]},
])
def test_bad_entries_are_refused(entry):
    with pytest.raises(ConfigError):
        load_map([entry])
