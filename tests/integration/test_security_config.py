"""Where users and rights come from, and what the broker does with them over its life:
anonymous access on and off, ActiveMQ's property files, the open default and its bind
guard, reload without restart, the connect-attempt timeout and the connection and
request limits."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, BrokerProcess, unique
from tests.integration.security_support import USERS, config_text, secured_broker
from tests.integration.sqs_clients import expect_error, make_client
from tests.integration.stomp_client import Closed, RawStomp, wait_until

DBS = ["sqlite", "postgresql"]


def mqgate(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "broker", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, input=input)


def connect_error(port: int, **headers: str) -> str:
    with RawStomp(port) as c:
        c.send("CONNECT", {"accept-version": "1.2", "host": "x", **headers})
        frames = c.wait_closed()
        assert [f.command for f in frames] == ["ERROR"], frames
        return frames[0].headers["message"]


# -- anonymous ------------------------------------------------------------------------------
@pytest.mark.parametrize("db", DBS)
def test_anonymous_access_gets_the_anonymous_groups(db, tmp_path):
    text = config_text(auth={"anonymous": True, "anonymous_groups": ["consumers"]})
    with secured_broker(db, tmp_path, text) as broker:
        with RawStomp(broker.stomp_port) as a:
            a.connect("1.2", login="admin", passcode="admin-pw")
            assert a.roundtrip("SEND", {"destination": "/queue/orders.anon"}, "for anyone").command == "RECEIPT"
        with RawStomp(broker.stomp_port) as c:
            c.connect("1.2")        # no login at all
            err = c.roundtrip("SEND", {"destination": "/queue/orders.anon"}, "x")
            assert err.headers["message"] == "User anonymous is not authorized to write to: queue://orders.anon"
            c.send("SUBSCRIBE", {"destination": "/queue/orders.anon", "id": "s"})
            assert c.expect("MESSAGE").body == b"for anyone"
        # a login that is given must still be right
        assert connect_error(broker.stomp_port, login="admin", passcode="nope") == \
            "User name [admin] or password is invalid."


@pytest.mark.parametrize("db", DBS)
def test_anonymous_off_refuses_unsigned_sqs_and_loginless_stomp(db, tmp_path):
    with secured_broker(db, tmp_path, config_text(auth={"anonymous": False})) as broker:
        assert connect_error(broker.stomp_port) == "User name [null] or password is invalid."
        from botocore import UNSIGNED
        from botocore.config import Config
        import boto3
        unsigned = boto3.client("sqs", region_name="us-east-1", endpoint_url=broker.aws_url,
                                config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))
        with expect_error(unsigned, "MissingAuthenticationToken", 403):
            unsigned.list_queues()


# -- ActiveMQ's property files ---------------------------------------------------------------
@pytest.mark.parametrize("db", DBS)
def test_users_and_groups_properties(db, tmp_path):
    users = tmp_path / "users.properties"
    groups = tmp_path / "groups.properties"
    users.write_text("# ActiveMQ's PropertiesLoginModule format\nsystem=manager\nuser = password\nguest: guest-pw\n")
    groups.write_text("admins=system\nusers=system,user\nguests=guest\n")
    text = config_text(users={}, authorization=[
        {"queue": ">", "read": "admins", "write": "admins", "admin": "admins"},
        {"queue": "USERS.>", "read": "users", "write": "users", "admin": "users"},
        {"queue": "GUEST.>", "read": "guests", "write": "guests,users", "admin": "guests,users"},
    ])
    with secured_broker(db, tmp_path, text, ["--users-file", str(users), "--groups-file", str(groups)]) as broker:
        with RawStomp(broker.stomp_port) as c:
            c.connect("1.2", login="user", passcode="password")
            assert c.roundtrip("SEND", {"destination": "/queue/USERS.a"}, "x").command == "RECEIPT"
            assert c.roundtrip("SEND", {"destination": "/queue/GUEST.a"}, "x").command == "RECEIPT"
            assert c.roundtrip("SEND", {"destination": "/queue/OTHER"}, "x").headers["message"] == \
                "User user is not authorized to write to: queue://OTHER"
        with RawStomp(broker.stomp_port) as g:
            g.connect("1.2", login="guest", passcode="guest-pw")
            assert g.roundtrip("SUBSCRIBE", {"destination": "/queue/USERS.a", "id": "s"}).headers["message"] == \
                "User guest is not authorized to read from: queue://USERS.a"
        with RawStomp(broker.stomp_port) as s:
            s.connect("1.2", login="system", passcode="manager")
            assert s.roundtrip("SEND", {"destination": "/queue/OTHER"}, "x").command == "RECEIPT"
        assert connect_error(broker.stomp_port, login="guest", passcode="guest") == \
            "User name [guest] or password is invalid."
        assert "plain-text password" in broker.log()


# -- the open default -------------------------------------------------------------------------
def test_open_broker_refuses_a_public_bind(tmp_path):
    result = mqgate("serve", "--bind", "0.0.0.0", "--stomp-port", "0", "--aws-port", "0", "--ws-port", "0",
                    "--store", f"sqlite:///{tmp_path}/x.db")
    assert result.returncode == 2
    assert "no users are configured" in result.stderr and "anonymous = true" in result.stderr


def test_open_broker_logs_that_it_is_open(shared_broker):
    assert "event=auth_open" in shared_broker.log()


# -- reload -----------------------------------------------------------------------------------
@pytest.mark.parametrize("db", DBS)
def test_reload_changes_rights_and_users_of_a_running_broker(db, tmp_path):
    with secured_broker(db, tmp_path, config_text()) as broker:
        with RawStomp(broker.stomp_port) as reader:
            reader.connect("1.2", login="reader", passcode="reader-pw")
            assert reader.roundtrip("SEND", {"destination": "/queue/open.reload"}, "x").command == "RECEIPT"
            refused = reader.roundtrip("SEND", {"destination": "/queue/vault"}, "x")
            assert refused.command == "ERROR"
            new_map = [{"queue": "vault", "read": ["consumers"], "write": ["consumers"], "admin": ["consumers"]}]
            users = {**USERS, "late": ("late-pw", "AKIALATE", "late-secret")}
            broker.config_path.write_text(config_text(users=users, authorization=new_map))
            result = mqgate("reload", "--pid-file", str(tmp_path / "mqgate.pid"))
            assert result.returncode == 0, result.stderr

            def allowed() -> bool:
                return reader.roundtrip("SEND", {"destination": "/queue/vault"}, "now").command == "RECEIPT"
            wait_until(allowed, message="new rights after reload")
            # the same connection lost what the new map no longer gives
            assert reader.roundtrip("SEND", {"destination": "/queue/open.reload"}, "x").headers["message"] == \
                "User reader is not authorized to write to: queue://open.reload"
        with RawStomp(broker.stomp_port) as late:
            assert late.connect("1.2", login="late", passcode="late-pw").command == "CONNECTED"
        assert "event=reloaded" in broker.log()


def test_reload_stops_a_removed_access_key_that_was_just_used(tmp_path):
    with secured_broker("sqlite", tmp_path, config_text()) as broker:
        _, key, secret = USERS["reader"]
        reader = make_client("json", broker.aws_url, key, secret)
        for _ in range(3):              # the key's requests are answered, again and again
            reader.list_queues()
        remaining = {name: entry for name, entry in USERS.items() if name != "reader"}
        broker.config_path.write_text(config_text(users=remaining))
        assert mqgate("reload", "--pid-file", str(tmp_path / "mqgate.pid")).returncode == 0
        wait_until(lambda: broker.log().count("event=reloaded") == 1, message="reloaded")
        with expect_error(reader, "InvalidClientTokenId", 403):
            reader.list_queues()
        _, key, secret = USERS["admin"]
        make_client("json", broker.aws_url, key, secret).list_queues()


def test_reload_with_a_broken_config_keeps_the_old_rights(tmp_path):
    with secured_broker("sqlite", tmp_path, config_text()) as broker:
        broker.config_path.write_text(config_text() + "[[authorization]]\nqueue = \"x\"\nbogus = 1\n")
        assert mqgate("reload", "--pid-file", str(tmp_path / "mqgate.pid")).returncode == 0
        wait_until(lambda: "event=reload_failed" in broker.log(), message="reload refused")
        with RawStomp(broker.stomp_port) as c:
            c.connect("1.2", login="reader", passcode="reader-pw")
            assert c.roundtrip("SEND", {"destination": "/queue/open.still"}, "x").command == "RECEIPT"


def test_user_hash_prints_an_argon2_hash_the_broker_accepts(tmp_path):
    result = mqgate("user", "hash", input="s3cret\n")
    assert result.returncode == 0, result.stderr
    digest = result.stdout.strip()
    assert digest.startswith("$argon2id$")
    (tmp_path / "mqgate.toml").write_text(
        f'[[users]]\nname = "hashed"\npassword_hash = "{digest}"\n')
    broker = BrokerProcess(f"sqlite:///{tmp_path}/h.db", tmp_path,
                           extra=["--config", str(tmp_path / "mqgate.toml")]).start()
    try:
        with RawStomp(broker.stomp_port) as c:
            assert c.connect("1.2", login="hashed", passcode="s3cret").command == "CONNECTED"
        assert connect_error(broker.stomp_port, login="hashed", passcode="S3cret") == \
            "User name [hashed] or password is invalid."
    finally:
        broker.kill()


# -- timeouts and limits --------------------------------------------------------------------
def test_half_a_connect_is_closed_after_the_connect_timeout(tmp_path):
    broker = BrokerProcess(f"sqlite:///{tmp_path}/t.db", tmp_path, extra=["--connect-timeout", "1"]).start()
    try:
        with RawStomp(broker.stomp_port) as half, RawStomp(broker.stomp_port) as idle, \
                RawStomp(broker.stomp_port) as done:
            half.send_raw(b"CONNECT\naccept-version:1.2\nhost:x\n")    # never finished
            done.connect("1.2")
            start = time.monotonic()
            assert half.wait_closed(timeout=8) == []
            assert idle.wait_closed(timeout=8) == []
            assert time.monotonic() - start < 8
            assert done.is_open(wait=0.5)                           # a completed CONNECT stays
            assert done.roundtrip("BEGIN", {"transaction": "t"}).command == "RECEIPT"
        assert "event=connect_timeout" in broker.log()
    finally:
        broker.kill()


def test_connections_per_address_and_per_user(tmp_path):
    text = config_text(settings={"max_connections_per_address": 2, "max_connections_per_user": 1})
    with secured_broker("sqlite", tmp_path, text) as broker:
        with RawStomp(broker.stomp_port) as first, RawStomp(broker.stomp_port) as second:
            first.connect("1.2", login="reader", passcode="reader-pw")
            second.send("CONNECT", {"accept-version": "1.2", "host": "x", "login": "reader", "passcode": "reader-pw"})
            frames = second.wait_closed()
            assert "maximum number of connections" in frames[0].headers["message"]
            with RawStomp(broker.stomp_port) as third, RawStomp(broker.stomp_port) as fourth:
                third.connect("1.2", login="admin", passcode="admin-pw")
                with pytest.raises(Closed):   # the address has 2 open already (the refused second one left)
                    fourth.connect("1.2", login="orders-app", passcode="orders-pw")
        # closing gives the slots back
        wait_until(lambda: _connects(broker.stomp_port, "reader"), message="slot released")


def _connects(port: int, user: str) -> bool:
    with RawStomp(port) as c:
        c.send("CONNECT", {"accept-version": "1.2", "host": "x", "login": user, "passcode": USERS[user][0]})
        try:
            return c.recv().command == "CONNECTED"
        except Closed:
            return False


def test_requests_per_second_per_access_key(tmp_path):
    text = config_text(settings={"aws_requests_per_second": 2})
    with secured_broker("sqlite", tmp_path, text) as broker:
        admin = make_client("json", broker.aws_url, "AKIAADMIN", "admin-secret")
        query = make_client("query", broker.aws_url, "AKIAADMIN", "admin-secret")
        with expect_error(admin, "RequestThrottled", 400):
            for _ in range(20):
                admin.list_queues()
        other = make_client("json", broker.aws_url, "AKIAREADER", "reader-secret")
        other.list_queues()              # other keys are not held back
        time.sleep(1.1)
        query.list_queues()              # the key's budget refills


def test_connections_per_address_count_on_the_aws_port_too(tmp_path):
    import socket
    text = config_text(settings={"max_connections_per_address": 2})
    with secured_broker("sqlite", tmp_path, text) as broker:
        with socket.create_connection(("127.0.0.1", broker.aws_port), timeout=5) as a, \
                socket.create_connection(("127.0.0.1", broker.aws_port), timeout=5) as b:
            with socket.create_connection(("127.0.0.1", broker.aws_port), timeout=5) as c:
                assert c.recv(10) == b""                # closed at once
            with RawStomp(broker.stomp_port) as stomp_conn:   # the same address, another door
                with pytest.raises(Closed):
                    stomp_conn.connect("1.2", login="reader", passcode="reader-pw")
            a.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert a.recv(12).startswith(b"HTTP/1.1")   # the admitted ones are served
        admin = make_client("json", broker.aws_url, "AKIAADMIN", "admin-secret")
        wait_until(lambda: admin.list_queues() is not None, message="slots released")


def test_a_temp_entry_decides_who_uses_temporary_destinations(tmp_path):
    text = config_text(authorization=[{"queue": "open.>", "read": "*", "write": "*", "admin": "*"},
                                      {"temp": True, "read": ["producers"], "write": ["producers"],
                                       "admin": ["producers"]}])
    with secured_broker("sqlite", tmp_path, text) as broker:
        with RawStomp(broker.stomp_port) as reader:
            reader.connect("1.2", login="reader", passcode="reader-pw")
            refused = reader.roundtrip("SUBSCRIBE", {"destination": "/temp-queue/replies", "id": "s"})
            assert refused.headers["message"].startswith("User reader is not authorized to read from: temp-queue://ID:")
            assert refused.headers["message"].endswith(":replies")
        with RawStomp(broker.stomp_port) as producer:
            producer.connect("1.2", login="orders-app", passcode="orders-pw")
            assert producer.roundtrip("SUBSCRIBE", {"destination": "/temp-queue/replies", "id": "s"}).command == "RECEIPT"
