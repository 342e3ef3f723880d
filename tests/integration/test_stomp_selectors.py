"""JMS selectors on STOMP subscriptions."""
from __future__ import annotations

import pytest

from tests.conftest import unique
from tests.integration.stomp_client import RawStomp, connect

# (headers of each message, selector, indexes of the messages it picks)
MESSAGES = [
    {"color": "red", "n": "10", "price": "-2.5", "name": "apple"},
    {"color": "blue", "n": "5", "price": "3", "name": "banana"},
    {"color": "red", "n": "7", "name": "cherry", "flag": "true"},
    {"n": "abc", "name": "date"},
]
CASES = [
    ("color = 'red'", [0, 2]),
    ("color <> 'red'", [1]),
    ("n > 6", [0, 2]),
    ("n >= 5 AND n < 10", [1, 2]),
    ("n = 5 OR color = 'red'", [0, 1, 2]),
    ("NOT (color = 'red')", [1]),
    ("price < 0", []),            # "-2.5" converted to the literal's type: an integer fails
    ("price < 0.0", [0]),         # ... a float works
    ("n BETWEEN 6 AND 10", [0, 2]),
    ("name LIKE 'b%'", [1]),
    ("name LIKE '_pple'", [0]),
    ("name NOT LIKE '%e%'", [1]),
    ("name IN ('apple', 'date')", [0, 3]),
    ("color IS NULL", [3]),
    ("color IS NOT NULL", [0, 1, 2]),
    ("flag = 'true'", [2]),
    ("(color = 'red' AND n > 8) OR name = 'date'", [0, 3]),
    ("JMSPriority = 4", [0, 1, 2, 3]),
]


@pytest.mark.parametrize("selector, picked", CASES, ids=[c[0] for c in CASES])
def test_selector_on_queue(shared_broker, selector, picked):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    client = connect(port)
    try:
        for i, headers in enumerate(MESSAGES):
            client.send(q, str(i), headers=headers)
        client.sync()
        client.subscribe_sync(q, "sel", selector=selector)
        assert sorted(int(m.body) for m in client.everything()) == picked
        # what did not match is still there for others
        client.subscribe_sync(q, "rest")
        rest = sorted(int(m.body) for m in client.everything())
        assert rest == [i for i in range(len(MESSAGES)) if i not in picked]
    finally:
        client.close()


def test_selector_on_jms_headers(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    client = connect(port)
    try:
        client.send(q, "a", headers={"correlation-id": "c-1", "type": "T1", "priority": "8"})
        client.send(q, "b", headers={"correlation-id": "c-2", "type": "T2", "persistent": "true"})
        client.sync()
        client.subscribe_sync(q, "s1", selector="JMSCorrelationID = 'c-1' AND JMSType = 'T1' AND JMSPriority > 5")
        assert [m.body for m in client.everything()] == ["a"]
        client.subscribe_sync(q, "s2", selector="JMSDeliveryMode = 'PERSISTENT'")
        assert [m.body for m in client.everything()] == ["b"]
    finally:
        client.close()


def test_selector_on_topic(shared_broker):
    port = shared_broker.stomp_port
    t = "/topic/" + unique()
    red, allc = connect(port), connect(port)
    try:
        red.subscribe_sync(t, "r", selector="color = 'red'")
        allc.subscribe_sync(t, "a")
        for color in ("red", "blue", "red"):
            allc.send(t, color, headers={"color": color})
        allc.sync()
        assert [m.body for m in red.exactly(2)] == ["red", "red"]
        assert [m.body for m in allc.exactly(3)] == ["red", "blue", "red"]
    finally:
        red.close()
        allc.close()


def test_consumers_with_different_selectors_share_a_queue(shared_broker):
    port = shared_broker.stomp_port
    q = "/queue/" + unique()
    red, blue = connect(port), connect(port)
    try:
        red.subscribe_sync(q, "r", selector="color = 'red'")
        blue.subscribe_sync(q, "b", selector="color = 'blue'")
        for i in range(10):
            red.send(q, str(i), headers={"color": "red" if i % 2 else "blue"})
        red.sync()
        assert sorted(int(m.body) for m in red.listener.take(5)) == [1, 3, 5, 7, 9]
        assert sorted(int(m.body) for m in blue.listener.take(5)) == [0, 2, 4, 6, 8]
    finally:
        red.close()
        blue.close()


@pytest.mark.parametrize("selector", ["color = ", "color == 'x'", "AND", "color IN ()",
                                      "name LIKE 5", "'unterminated"])
def test_invalid_selector_is_a_non_fatal_error(shared_broker, selector):
    q = "/queue/" + unique()
    with RawStomp(shared_broker.stomp_port) as c:
        c.connect("1.2")
        err = c.roundtrip("SUBSCRIBE", {"destination": q, "id": "s", "selector": selector})
        assert err.command == "ERROR"
        # ActiveMQ's message is the selector; the body names the exception and the fault
        assert err.headers["message"] == selector
        assert err.body.startswith(b"javax.jms.InvalidSelectorException: invalid selector")
        # no subscription was made: the same id can be used again
        assert c.roundtrip("SUBSCRIBE", {"destination": q, "id": "s"}).command == "RECEIPT"
