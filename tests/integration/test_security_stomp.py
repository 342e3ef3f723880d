"""STOMP through the portal and the authorization map: logins, read/write/create rights by
wildcard entries, ActiveMQ's ERROR texts, transactions, and that a refused frame changes
nothing while the connection (and the broker) keep serving."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.conftest import BrokerProcess, unique
from tests.integration.security_support import USERS, config_text, module_broker
from tests.integration.stomp_client import RawStomp, connect


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def secure(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    yield from module_broker(request, tmp_path_factory, config_text())


def login(c: RawStomp, user: str, **headers: str):
    return c.connect("1.2", login=user, passcode=USERS[user][0], **headers)


def refused(c: RawStomp, command: str, headers: dict[str, str], body: str = "") -> str:
    """The ERROR answering a frame sent with a receipt; the connection must stay open."""
    frame = c.roundtrip(command, headers, body)
    assert frame.command == "ERROR", frame
    assert frame.headers["content-type"] == "text/plain" and b"SecurityException" in frame.body
    return frame.headers["message"]


def create_queue(port: int, name: str) -> None:
    """The admin creates `name` by subscribing to it once."""
    with RawStomp(port) as c:
        login(c, "admin")
        assert c.roundtrip("SUBSCRIBE", {"destination": f"/queue/{name}", "id": "s"}).command == "RECEIPT"


# -- logins ---------------------------------------------------------------------------------
@pytest.mark.parametrize("headers, name", [
    ({}, "null"),
    ({"login": "orders-app", "passcode": "wrong"}, "orders-app"),
    ({"login": "reader", "passcode": "wrong"}, "reader"),          # plain-password user
    ({"login": "nobody", "passcode": "orders-pw"}, "nobody"),
    ({"login": "orders-app"}, "orders-app"),
])
def test_bad_login_gets_activemqs_error_and_is_closed(secure, headers, name):
    with RawStomp(secure.stomp_port) as c:
        c.send("CONNECT", {"accept-version": "1.2", "host": "localhost", "receipt": "c1", **headers})
        frames = c.wait_closed()
        assert [f.command for f in frames] == ["ERROR"]
        assert frames[0].headers["message"] == f"User name [{name}] or password is invalid."
        assert frames[0].headers["receipt-id"] == "c1"
    # the broker keeps serving
    with RawStomp(secure.stomp_port) as c:
        assert login(c, "reader").headers["version"] == "1.2"


@pytest.mark.parametrize("user", sorted(USERS))
def test_right_password_connects(secure, user):
    with RawStomp(secure.stomp_port) as c:
        assert login(c, user, receipt="in").headers["receipt-id"] == "in"


def test_frames_sent_with_the_connect_wait_for_the_login(secure):
    """A client may pipeline frames behind CONNECT while the password hash is verified."""
    q = f"/queue/open.{unique('pipe')}"
    with RawStomp(secure.stomp_port) as c:
        c.send_raw(b"CONNECT\naccept-version:1.2\nhost:x\nlogin:orders-app\npasscode:orders-pw\n\n\0"
                   + f"SUBSCRIBE\ndestination:{q}\nid:s\n\n\0".encode()
                   + f"SEND\ndestination:{q}\nreceipt:r\n\npiped\0".encode())
        frames = [c.recv(), c.recv(), c.recv()]
        assert frames[0].command == "CONNECTED"
        assert sorted(f.command for f in frames[1:]) == ["MESSAGE", "RECEIPT"]
        assert next(f for f in frames if f.command == "MESSAGE").body == b"piped"


def test_stomp_py_logs_in(secure):
    q = f"/queue/open.{unique('py')}"
    client = connect(secure.stomp_port, "1.2", login="orders-app", passcode="orders-pw")
    try:
        client.subscribe_sync(q)
        client.send_sync(q, "hello")
        assert client.listener.get().body == "hello"
    finally:
        client.close()


# -- rights ---------------------------------------------------------------------------------
def test_write_needs_the_write_group_and_a_refusal_changes_nothing(secure):
    name = f"orders.{unique('w')}"
    create_queue(secure.stomp_port, name)
    with RawStomp(secure.stomp_port) as reader:
        login(reader, "reader")
        message = refused(reader, "SEND", {"destination": f"/queue/{name}"}, "forbidden")
        assert message == f"User reader is not authorized to write to: queue://{name}"
        # the connection stays open and allowed frames still work
        assert reader.roundtrip("SUBSCRIBE", {"destination": f"/queue/{name}", "id": "s"}).command == "RECEIPT"
        with RawStomp(secure.stomp_port) as producer:
            login(producer, "orders-app")
            assert producer.roundtrip("SEND", {"destination": f"/queue/{name}"}, "allowed").command == "RECEIPT"
        assert reader.expect("MESSAGE").body == b"allowed"
        reader.nothing()   # the refused SEND stored nothing


def test_read_needs_the_read_group(secure):
    name = f"orders.{unique('r')}"
    create_queue(secure.stomp_port, name)
    with RawStomp(secure.stomp_port) as c:
        login(c, "orders-app")
        message = refused(c, "SUBSCRIBE", {"destination": f"/queue/{name}", "id": "s"})
        assert message == f"User orders-app is not authorized to read from: queue://{name}"
        browse = refused(c, "SUBSCRIBE", {"destination": f"/queue/{name}", "id": "b", "browser": "true"})
        assert browse == message
        # the refused subscription does not exist: its id is free, and a SEND is not delivered to it
        assert c.roundtrip("SEND", {"destination": f"/queue/{name}"}, "kept").command == "RECEIPT"
        c.nothing()
    with RawStomp(secure.stomp_port) as r:
        login(r, "reader")
        r.send("SUBSCRIBE", {"destination": f"/queue/{name}", "id": "s"})
        assert r.expect("MESSAGE").body == b"kept"


def test_first_use_needs_admin_and_a_refusal_creates_nothing(secure):
    name = f"orders.{unique('c')}"
    with RawStomp(secure.stomp_port) as c:
        login(c, "orders-app")
        message = refused(c, "SEND", {"destination": f"/queue/{name}"}, "x")
        assert message == f"User orders-app is not authorized to create: queue://{name}"
    with RawStomp(secure.stomp_port) as r:
        login(r, "reader")
        assert refused(r, "SUBSCRIBE", {"destination": f"/queue/{name}", "id": "s"}) == \
            f"User reader is not authorized to create: queue://{name}"
        # still not created: the admin's browse finds an empty new queue, nothing else
    with RawStomp(secure.stomp_port) as a:
        login(a, "admin")
        a.send("SUBSCRIBE", {"destination": f"/queue/{name}", "id": "b", "browser": "true"})
        end = a.expect("MESSAGE")
        assert end.headers["browser"] == "end"


def test_wildcard_parent_covers_the_bare_name(secure):
    """`orders.>` also matches `orders`, as in ActiveMQ."""
    with RawStomp(secure.stomp_port) as a:
        login(a, "admin")
        assert a.roundtrip("SEND", {"destination": "/queue/orders"}, "top").command == "RECEIPT"
    with RawStomp(secure.stomp_port) as r:
        login(r, "reader")
        r.send("SUBSCRIBE", {"destination": "/queue/orders", "id": "s"})
        assert r.expect("MESSAGE").body == b"top"


def test_unmatched_destination_is_refused_to_everyone(secure):
    """With a map, a destination no entry matches is denied, even to the admins."""
    name = unique("nomatch")
    with RawStomp(secure.stomp_port) as a:
        login(a, "admin")
        assert refused(a, "SEND", {"destination": f"/queue/{name}"}, "x") == \
            f"User admin is not authorized to write to: queue://{name}"
        assert refused(a, "SUBSCRIBE", {"destination": f"/topic/{name}", "id": "t"}) == \
            f"User admin is not authorized to read from: topic://{name}"


def test_star_group_is_everyone_and_star_matches_one_level(secure):
    name = f"open.{unique('o')}"
    with RawStomp(secure.stomp_port) as c:
        login(c, "reader")
        assert c.roundtrip("SEND", {"destination": f"/queue/{name}"}, "x").command == "RECEIPT"
        deeper = f"{name}.deeper"
        assert refused(c, "SEND", {"destination": f"/queue/{deeper}"}, "x") == \
            f"User reader is not authorized to write to: queue://{deeper}"


def test_topic_entries(secure):
    topic = f"/topic/events.{unique('t')}"
    with RawStomp(secure.stomp_port) as producer, RawStomp(secure.stomp_port) as consumer:
        login(producer, "orders-app")
        login(consumer, "reader")
        assert producer.roundtrip("SEND", {"destination": topic}, "first").command == "RECEIPT"  # creates it
        assert consumer.roundtrip("SUBSCRIBE", {"destination": topic, "id": "s"}).command == "RECEIPT"
        assert producer.roundtrip("SEND", {"destination": topic}, "second").command == "RECEIPT"
        assert consumer.expect("MESSAGE").body == b"second"
        assert refused(consumer, "SEND", {"destination": topic}, "x").startswith("User reader is not authorized to write to: topic://events.")
        assert refused(producer, "SUBSCRIBE", {"destination": topic, "id": "p"}).startswith(
            "User orders-app is not authorized to read from: topic://events.")


def test_temporary_destinations_need_no_entry(secure):
    with RawStomp(secure.stomp_port) as c:
        login(c, "reader")
        c.send("SUBSCRIBE", {"destination": "/temp-queue/replies", "id": "s"})
        answer, messages = c.answer("SEND", {"destination": "/temp-queue/replies"}, "reply")
        assert answer.command == "RECEIPT"
        messages += [] if messages else [c.expect("MESSAGE")]
        assert [m.body for m in messages] == [b"reply"]


def test_refused_send_in_a_transaction_fails_the_commit(secure):
    name = f"orders.{unique('tx')}"
    create_queue(secure.stomp_port, name)
    with RawStomp(secure.stomp_port) as c:
        login(c, "orders-app")
        assert c.roundtrip("BEGIN", {"transaction": "t1"}).command == "RECEIPT"
        assert c.roundtrip("SEND", {"destination": f"/queue/{name}", "transaction": "t1"}, "in-tx").command == "RECEIPT"
        denied = refused(c, "SEND", {"destination": "/queue/vault", "transaction": "t1"}, "secret")
        assert denied == "User orders-app is not authorized to write to: queue://vault"
        commit = c.roundtrip("COMMIT", {"transaction": "t1"})
        assert commit.command == "ERROR"
        assert commit.headers["message"].startswith("COMMIT FAILED: Transaction marked rollback only")
        # the transaction is gone, the connection works, and nothing of it was delivered
        assert c.roundtrip("COMMIT", {"transaction": "t1"}).headers["message"] == "Invalid transaction id: t1"
        assert c.roundtrip("SEND", {"destination": f"/queue/{name}"}, "after").command == "RECEIPT"
    with RawStomp(secure.stomp_port) as r:
        login(r, "reader")
        r.send("SUBSCRIBE", {"destination": f"/queue/{name}", "id": "s"})
        assert r.expect("MESSAGE").body == b"after"
        r.nothing()
