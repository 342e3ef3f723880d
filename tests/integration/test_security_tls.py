"""TLS on the listeners through Twisted endpoint strings, with certificates from
`mqgate tls self-signed`: STOMP with stomp.py over SSL, SQS with boto3 over HTTPS
(verify= the CA), STOMP over secure WebSocket."""
from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from websockets.asyncio.client import connect as ws_connect

from tests.conftest import ROOT, BrokerProcess, unique
from tests.integration.security_support import USERS, config_text, module_broker
from tests.integration.sqs_clients import expect_error
from tests.integration.stomp_client import WAIT, Collector, build

import boto3
import stomp
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12


def _certificates(out: Path) -> Path:
    result = subprocess.run([sys.executable, "-m", "broker", "tls", "self-signed", "--out", str(out),
                             "--client", "reader", "--client", "stranger"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert {"ca.pem", "server.pem", "server-key.pem"} <= {p.name for p in out.iterdir()}
    return out


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tls_broker(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    certs = _certificates(tmp_path_factory.mktemp("certs"))
    key, cert = certs / "server-key.pem", certs / "server.pem"
    listen = f"ssl:0:privateKey={key}:certKey={cert}:interface=127.0.0.1"
    extra = ["--stomp-listen", listen, "--aws-listen", listen, "--ws-listen", listen, "--openwire-listen", listen,
             "--tls-client-ca", str(certs / "ca.pem")]
    text = config_text(subjects={"reader": "CN=reader"})
    for proc in module_broker(request, tmp_path_factory, text, extra):
        proc.certs = certs  # type: ignore[attr-defined]
        proc.ca = certs / "ca.pem"  # type: ignore[attr-defined]
        yield proc


def _stomp(broker: BrokerProcess, client: str | None = None) -> tuple[stomp.Connection12, Collector]:
    conn = stomp.Connection12([("127.0.0.1", broker.stomp_port)], timeout=WAIT, reconnect_attempts_max=1)
    certs = {} if client is None else {"cert_file": str(broker.certs / f"client-{client}.pem"),
                                       "key_file": str(broker.certs / f"client-{client}-key.pem")}
    conn.set_ssl(for_hosts=[("127.0.0.1", broker.stomp_port)], ca_certs=str(broker.ca), **certs)
    listener = Collector()
    conn.set_listener("c", listener)
    return conn, listener


def test_client_certificate_logs_in_as_its_user(tls_broker):
    q = f"/queue/orders.{unique('cert')}"
    conn, listener = _stomp(tls_broker, "reader")
    conn.connect(wait=True)                   # no login: the certificate says who this is
    try:
        conn.subscribe(q, "s", headers={"receipt": "sub"})
        error = listener.error()              # reader may read orders.> but not create it
        assert error.headers["message"] == f"User reader is not authorized to create: queue://{q[7:]}"
        conn.send("/queue/vault", "x", headers={"receipt": "w"})
        assert listener.error().headers["message"] == "User reader is not authorized to write to: queue://vault"
    finally:
        conn.disconnect()


def test_unknown_certificate_subject_or_none_needs_a_password(tls_broker):
    for client in ("stranger", None):
        conn, listener = _stomp(tls_broker, client)
        with pytest.raises(stomp.exception.ConnectFailedException):
            conn.connect(wait=True)
        assert listener.error().headers["message"] == "User name [null] or password is invalid."


def test_stomp_py_over_ssl(tls_broker):
    q = f"/queue/open.{unique('tls')}"
    conn, listener = _stomp(tls_broker)
    conn.connect("reader", USERS["reader"][0], wait=True)
    try:
        conn.subscribe(q, "s", headers={"receipt": "sub"})
        listener.wait_receipt("sub")
        conn.send(q, "encrypted")
        assert listener.get().body == "encrypted"
    finally:
        conn.disconnect()


def test_plain_stomp_on_the_ssl_port_gets_nothing(tls_broker):
    import socket
    with socket.create_connection(("127.0.0.1", tls_broker.stomp_port), timeout=5) as sock:
        sock.sendall(b"CONNECT\naccept-version:1.2\nhost:x\n\n\0")
        try:
            data = sock.recv(100)
        except (ConnectionResetError, TimeoutError):
            data = b""
        assert b"CONNECTED" not in data


def test_sqs_over_https_with_the_ca(tls_broker):
    _, key, secret = USERS["admin"]
    url = f"https://127.0.0.1:{tls_broker.aws_port}"
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=url, aws_access_key_id=key,
                       aws_secret_access_key=secret, verify=str(tls_broker.ca),
                       config=Config(retries={"total_max_attempts": 1}))
    queue = sqs.create_queue(QueueName="vault")["QueueUrl"]
    assert queue.startswith("https://127.0.0.1:")
    sqs.send_message(QueueUrl=queue, MessageBody="over https")
    assert sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2)["Messages"][0]["Body"] == "over https"
    wrong = boto3.client("sqs", region_name="us-east-1", endpoint_url=url, aws_access_key_id=key,
                         aws_secret_access_key="wrong", verify=str(tls_broker.ca),
                         config=Config(retries={"total_max_attempts": 1}))
    with expect_error(wrong, "SignatureDoesNotMatch", 403):
        wrong.list_queues()


def _wss_exchange(tls_broker: BrokerProcess, context: ssl.SSLContext, frames: list[bytes]) -> list[str]:
    """Send `frames` over a wss connection, one answer read after each.

    The asyncio client, not websockets' threaded sync client: that one reads the TLS socket
    in a background thread while its caller writes to it, which Python's SSL sockets do not
    allow; under load, with TLS 1.3, the opening request then rarely gets lost on the way
    (a stress of a few thousand handshakes shows it with that client only)."""
    async def exchange() -> list[str]:
        async with ws_connect(f"wss://127.0.0.1:{tls_broker.ports['ws']}/", subprotocols=["v12.stomp"],
                              ssl=context, open_timeout=10) as ws:
            answers = []
            for frame in frames:
                await ws.send(frame.decode())
                answers.append(str(await asyncio.wait_for(ws.recv(), 10)))
            return answers
    return asyncio.run(exchange())


def test_stomp_over_secure_websocket(tls_broker):
    context = ssl.create_default_context(cafile=str(tls_broker.ca))
    answers = _wss_exchange(tls_broker, context, [build("CONNECT", {
        "accept-version": "1.2", "host": "x", "login": "reader", "passcode": USERS["reader"][0]})])
    assert answers[0].startswith("CONNECTED\n")


def test_client_certificate_login_over_wss(tls_broker):
    context = ssl.create_default_context(cafile=str(tls_broker.ca))
    context.load_cert_chain(str(tls_broker.certs / "client-reader.pem"), str(tls_broker.certs / "client-reader-key.pem"))
    connected, refused = _wss_exchange(tls_broker, context, [
        build("CONNECT", {"accept-version": "1.2", "host": "x"}),
        build("SEND", {"destination": "/queue/vault", "receipt": "w"}, "x")])
    assert connected.startswith("CONNECTED\n")
    assert "User reader is not authorized to write to" in refused.replace("\\c", ":")


def _trust_store(ca: Path, out: Path) -> tuple[str, ...]:
    """JVM options trusting `ca` (a JKS trust store made with the JDK's keytool)."""
    made = subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "mqgate-ca", "-file", str(ca),
                           "-keystore", str(out), "-storepass", "changeit"], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return (f"-Djavax.net.ssl.trustStore={out}", "-Djavax.net.ssl.trustStorePassword=changeit")


def _key_store(certs: Path, client: str, out: Path) -> tuple[str, ...]:
    """JVM options presenting the client certificate `mqgate tls self-signed --client` made
    (a PKCS12 key store written with the `cryptography` package)."""
    key = serialization.load_pem_private_key((certs / f"client-{client}-key.pem").read_bytes(), None)
    cert = x509.load_pem_x509_certificate((certs / f"client-{client}.pem").read_bytes())
    out.write_bytes(pkcs12.serialize_key_and_certificates(
        client.encode(), key, cert, None, serialization.BestAvailableEncryption(b"changeit")))  # type: ignore[arg-type]
    return (f"-Djavax.net.ssl.keyStore={out}", "-Djavax.net.ssl.keyStorePassword=changeit",
            "-Djavax.net.ssl.keyStoreType=PKCS12")


def test_jms_client_over_ssl_with_the_ca_in_its_trust_store(tls_broker, jms, tmp_path):
    """ActiveMQ's JMS client on an ssl:// URL, trusting the CA `mqgate tls self-signed` made
    (hostname verification on, as the client does by default), logging in by URL options.
    The map gives `reader` no rights on advisory topics, so, as with ActiveMQ, the client is
    told not to watch them."""
    jvm = _trust_store(tls_broker.ca, tmp_path / "trust.jks")
    url = (f"ssl://127.0.0.1:{tls_broker.openwire_port}?jms.userName=reader&jms.password={USERS['reader'][0]}"
           "&jms.watchTopicAdvisories=false")
    q = f"open.{unique('jms')}"
    assert jms.run(url, "send", q, "2", jvm=jvm)["sent"] == "2"
    out = jms.run(url, "receive", q, "2", jvm=jvm)
    assert [out["body0"], out["body1"]] == ["text:msg0", "text:msg1"]
    # A client that does not trust the CA never gets a session.
    refused = jms.run(f"ssl://127.0.0.1:{tls_broker.openwire_port}?jms.userName=reader&jms.password=x"
                      "&jms.watchTopicAdvisories=false&connectionTimeout=5000", "send", q, "1", ok=False)
    assert "sent" not in refused


def test_jms_client_logs_in_with_its_client_certificate(tls_broker, jms, tmp_path):
    """A JMS connection without a user name, over ssl:// with the `reader` certificate in its
    key store, is `reader`: it reads a queue only consumers may read, and a send where
    reader may not write is refused in reader's name. A certificate no user names gets no
    session (anonymous access is off)."""
    trust = _trust_store(tls_broker.ca, tmp_path / "trust.jks")
    url = f"ssl://127.0.0.1:{tls_broker.openwire_port}?jms.watchTopicAdvisories=false"
    q = f"orders.{unique('cert')}"
    admin = f"{url}&jms.userName=admin&jms.password={USERS['admin'][0]}"
    assert jms.run(admin, "send", q, "2", jvm=trust)["sent"] == "2"
    as_reader = trust + _key_store(tls_broker.certs, "reader", tmp_path / "reader.p12")
    out = jms.run(url, "receive", q, "2", jvm=as_reader)
    assert [out["body0"], out["body1"]] == ["text:msg0", "text:msg1"]
    refused = jms.run(url, "send", "vault", "1", ok=False, jvm=as_reader)
    assert "sent" not in refused
    assert "event=not_authorized user=reader operation=write destination=queue://vault" in tls_broker.log()
    stranger = trust + _key_store(tls_broker.certs, "stranger", tmp_path / "stranger.p12")
    assert "sent" not in jms.run(url + "&connectionTimeout=5000", "send", f"open.{unique('x')}", "1",
                                 ok=False, jvm=stranger)
