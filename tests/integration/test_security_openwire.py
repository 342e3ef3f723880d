"""OpenWire through the portal and the authorization map: ActiveMQ's own JMS client with
no, wrong and right credentials, sends and receives allowed and refused (SecurityException
texts as ActiveMQ's), a refused send dooming its transaction; at the byte level the
refused ConnectionInfo, the connect-attempt timeout, the per-user limit and a reload that
gives a live connection new rights."""
from __future__ import annotations

import subprocess
import sys
from typing import Iterator

import pytest

from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import Struct
from tests.conftest import ROOT, BrokerProcess, unique
from tests.integration.jms import JmsPrograms
from tests.integration.openwire_raw import RawClient
from tests.integration.security_support import MAP, USERS, config_text, module_broker, secured_broker
from tests.integration.stomp_client import wait_until

ADVISORIES = {"topic": "ActiveMQ.Advisory.>", "read": ["*"], "write": ["*"], "admin": ["*"]}
TEMP = {"temp": True, "read": ["consumers", "admins"], "write": ["consumers", "admins"], "admin": ["consumers", "admins"]}
SETTINGS = {"connect_timeout": 3, "max_connections_per_user": 2}
SECURITY = "java.lang.SecurityException"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def secure(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    yield from module_broker(request, tmp_path_factory, config_text(authorization=MAP + [ADVISORIES, TEMP],
                                                                    settings=SETTINGS))


def test_jms_client_logins_and_rights(secure: BrokerProcess, jms: JmsPrograms) -> None:
    name = unique("jms")
    out = jms.run(f"tcp://127.0.0.1:{secure.openwire_port}", "security", name,
                  USERS["orders-app"][0], USERS["reader"][0], USERS["admin"][0])
    queue = f"queue://orders.{name}"
    assert out["none"] == "JMSSecurityException: User name [null] or password is invalid."
    assert out["wrong"] == "JMSSecurityException: User name [orders-app] or password is invalid."
    assert out["send_denied"] == "JMSSecurityException: User orders-app is not authorized to write to: queue://vault"
    assert out["send_allowed"] == "ok"
    assert out["create_denied"] == f"JMSSecurityException: User orders-app is not authorized to create: {queue}.new"
    assert out["read_denied"] == f"JMSSecurityException: User orders-app is not authorized to read from: {queue}"
    assert out["producer_denied"] == \
        "JMSSecurityException: User orders-app is not authorized to write to: queue://vault"
    assert out["tx_send"] == "ok"                                  # asynchronous inside a transaction
    assert out["tx_commit"].startswith("TransactionRolledBackException: COMMIT FAILED")
    assert out["received"] == "text:yes"
    assert out["reader_send_denied"] == f"JMSSecurityException: User reader is not authorized to write to: {queue}"
    assert out["after"] == "null"                                  # the refused transaction sent nothing
    assert out["vault"] == "null"                                  # nor did the refused sends


@pytest.mark.parametrize("user,password", [("orders-app", "wrong"), (None, None), ("nobody", "x")])
def test_refused_connection_info_is_a_security_exception_then_closed(secure, user, password) -> None:
    client = RawClient(secure.openwire_port)
    try:
        answer = client.connection_info(user=user, password=password)
        assert answer.type == s.EXCEPTION_RESPONSE
        assert tuple(answer.exception)[:2] == (SECURITY, f"User name [{user or 'null'}] or password is invalid.")
        with pytest.raises(ConnectionError):
            while True:
                client.read(timeout=10)
    finally:
        client.close()


def test_connect_attempt_timeout_and_per_user_limit(secure) -> None:
    idle = RawClient(secure.openwire_port)            # negotiates, never sends a ConnectionInfo
    clients = [RawClient(secure.openwire_port) for _ in range(3)]
    try:
        for c in clients[:2]:
            c.open(user="reader", password=USERS["reader"][0])
        answer = clients[2].connection_info(user="reader", password=USERS["reader"][0])
        assert answer.type == s.EXCEPTION_RESPONSE
        assert "maximum number of connections (2)" in tuple(answer.exception)[1]
        with pytest.raises(ConnectionError):
            while True:
                idle.read(timeout=15)
        assert "event=connect_timeout door=openwire" in secure.log()
        clients[0].send_text("open.limit", "still served", 1)
        assert clients[0].read_until(s.RESPONSE).type == s.RESPONSE   # logged-in connections stay
    finally:
        for c in [idle, *clients]:
            c.close()


def test_temporary_destinations_follow_the_temp_entry(secure) -> None:
    producer, reader = RawClient(secure.openwire_port), RawClient(secure.openwire_port)
    try:
        for client, user in ((producer, "orders-app"), (reader, "reader")):
            client.open(user=user, password=USERS[user][0])
        name = reader.conn + ":1"
        for client, kind in ((producer, s.TEMP_QUEUE), (reader, s.TEMP_QUEUE), (reader, s.TEMP_TOPIC)):
            client.command(s.DESTINATION_INFO, connection_id=Struct(s.CONNECTION_ID, value=client.conn),
                           destination=Struct(kind, physical_name=name), operation_type=0, timeout=0)
        refused = producer.read_until(s.EXCEPTION_RESPONSE)
        assert tuple(refused.exception)[:2] == (SECURITY, f"User orders-app is not authorized to create: "
                                                          f"temp-queue://{name}")
        assert reader.read_until(s.RESPONSE).type == reader.read_until(s.RESPONSE).type == s.RESPONSE
        producer.send_text_to(Struct(s.TEMP_QUEUE, physical_name=name), "refused", 1)
        assert tuple(producer.read_until(s.EXCEPTION_RESPONSE).exception)[1] == \
            f"User orders-app is not authorized to write to: temp-queue://{name}"
    finally:
        producer.close()
        reader.close()


def test_reload_gives_live_connections_new_rights(tmp_path) -> None:
    with secured_broker("sqlite", tmp_path, config_text()) as broker:
        client = RawClient(broker.openwire_port)
        try:
            client.open(user="reader", password=USERS["reader"][0])
            client.send_text("vault", "refused", 1)
            answer = client.read_until(s.EXCEPTION_RESPONSE)
            assert tuple(answer.exception)[:2] == (SECURITY, "User reader is not authorized to write to: queue://vault")
            new_map = [{"queue": "vault", "read": ["consumers"], "write": ["consumers"], "admin": ["consumers"]}]
            broker.config_path.write_text(config_text(authorization=new_map))
            done = subprocess.run([sys.executable, "-m", "broker", "reload", "--pid-file", str(tmp_path / "mqgate.pid")],
                                  cwd=ROOT, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            seq = iter(range(2, 1000))

            def allowed() -> bool:
                client.send_text("vault", "allowed", next(seq))
                while True:
                    answer = client.read()
                    if answer is not None and answer.type in (s.RESPONSE, s.EXCEPTION_RESPONSE):
                        return answer.type == s.RESPONSE
            wait_until(allowed, message="new rights after reload")
        finally:
            client.close()
