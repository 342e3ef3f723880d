"""The admin HTTP door on a real broker, with a real HTTP client: Prometheus metrics,
ActiveMQ's Jolokia reads and REST message API, and its logins through the portal."""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import BrokerProcess, broker_on, unique
from tests.integration.security_support import USERS, config_text, module_broker
from tests.integration.stomp_client import WAIT, RawStomp, connect, wait_until

MBEAN = "org.apache.activemq:type=Broker,brokerName=localhost,destinationType=Queue,destinationName={}"


def http(method: str, url: str, user: str | None = None, password: str | None = None,
         data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if user is not None:
        token = base64.b64encode(f"{user}:{password if password is not None else USERS[user][0]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=WAIT + 25) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def metrics(broker: BrokerProcess, user: str | None = None) -> dict[tuple[str, tuple], float]:
    status, headers, body = http("GET", broker.admin_url + "/metrics", user)
    assert status == 200 and headers["content-type"].startswith("text/plain"), (status, body)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def jolokia_read(broker: BrokerProcess, mbean: str, attribute: str, user: str | None = None) -> dict:
    status, headers, body = http("GET", f"{broker.admin_url}/api/jolokia/read/{mbean}/{attribute}", user)
    assert status == 200 and headers["content-type"].startswith("application/json")
    return json.loads(body)


def post_message(broker: BrokerProcess, name: str, body: str, user: str | None = None, **params: str):
    query = urllib.parse.urlencode({"type": "queue", **params})
    return http("POST", f"{broker.admin_url}/api/message/{name}?{query}", user,
                data=urllib.parse.urlencode({"body": body}).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"})


def get_message(broker: BrokerProcess, name: str, user: str | None = None, timeout_ms: int = 5000):
    return http("GET", f"{broker.admin_url}/api/message/{name}?type=queue&oneShot=true&clientId=c1"
                       f"&readTimeout={timeout_ms}", user)


# -- an open broker ------------------------------------------------------------------------
def test_metrics_show_queue_depth_bytes_and_connections(shared_broker):
    name = unique("metrics")
    c = connect(shared_broker.stomp_port)
    try:
        for i in range(3):
            c.send_sync(f"/queue/{name}", f"message {i}", persistent="true")
        got = metrics(shared_broker)
        assert got[("mqgate_connections", (("door", "stomp"),))] >= 1
    finally:
        c.close()
    labels = (("kind", "queue"), ("queue", name))
    assert got[("mqgate_queue_messages", labels)] == 3
    assert got[("mqgate_queue_bytes", labels)] == 3 * len("message 0")
    assert got[("mqgate_queue_memory_messages", labels)] == 3
    assert got[("mqgate_queue_paged_out_messages", labels)] == 0
    assert got[("mqgate_queue_producers_blocked", labels)] == 0
    assert got[("mqgate_queue_enqueued_total", labels)] == 3
    assert got[("mqgate_queue_dequeued_total", labels)] == 0


def test_jolokia_reads_queue_size_and_counts_as_activemq_names_them(shared_broker):
    name = unique("jolokia")
    for i in range(2):
        assert post_message(shared_broker, name, f"m{i}")[0] == 200
    assert get_message(shared_broker, name)[0] == 200
    answer = jolokia_read(shared_broker, MBEAN.format(name), "QueueSize")
    assert answer["status"] == 200 and answer["value"] == 1 and isinstance(answer["timestamp"], int)
    assert answer["request"] == {"type": "read", "attribute": "QueueSize", "mbean":
                                 f"org.apache.activemq:brokerName=localhost,destinationName={name},"
                                 "destinationType=Queue,type=Broker"}
    assert jolokia_read(shared_broker, MBEAN.format(name), "EnqueueCount")["value"] == 2
    assert jolokia_read(shared_broker, MBEAN.format(name), "DequeueCount")["value"] == 1
    assert jolokia_read(shared_broker, MBEAN.format(name), "ConsumerCount")["value"] == 0
    broker = jolokia_read(shared_broker, "org.apache.activemq:type=Broker,brokerName=localhost", "TotalMessageCount")
    assert broker["value"] >= 1


def test_jolokia_answers_an_unknown_mbean_with_its_404(shared_broker):
    answer = jolokia_read(shared_broker, MBEAN.format(unique("none")), "QueueSize")
    assert answer["status"] == 404 and "value" not in answer
    assert answer["error_type"] == "javax.management.InstanceNotFoundException"
    assert answer["error"].startswith("javax.management.InstanceNotFoundException : org.apache.activemq:")


def test_jolokia_post_takes_one_request_or_a_list(shared_broker):
    request = {"type": "read", "mbean": "org.apache.activemq:type=Broker,brokerName=localhost",
               "attribute": "BrokerName"}
    status, _, body = http("POST", shared_broker.admin_url + "/api/jolokia", data=json.dumps([request]).encode(),
                           headers={"Content-Type": "application/json"})
    assert status == 200 and [a["value"] for a in json.loads(body)] == ["localhost"]


def test_rest_messages_reach_stomp_and_stomp_messages_reach_rest(shared_broker):
    name = unique("rest")
    status, headers, body = post_message(shared_broker, name, "from http", region="eu")
    assert status == 200 and body == b"Message sent" and headers["messageid"].startswith("ID:")
    c = connect(shared_broker.stomp_port)
    try:
        c.subscribe_sync(f"/queue/{name}", "s")
        message = c.listener.take(1)[0]
        assert message.body == "from http"
        assert message.headers["region"] == "eu"
        c.send_sync(f"/queue/{name}.back", "from stomp", colour="blue")
    finally:
        c.close()
    status, headers, body = get_message(shared_broker, f"{name}.back")
    assert status == 200 and body == b"from stomp"
    assert headers["destination"] == f"queue://{name}.back" and headers["colour"] == "blue"
    assert get_message(shared_broker, f"{name}.back", timeout_ms=0)[0] == 204      # consumed
    # A raw body is read line by line, as ActiveMQ's servlet reads it.
    status, _, _ = http("POST", f"{shared_broker.admin_url}/api/message/{name}.raw?type=queue", data=b"a\nb",
                        headers={"Content-Type": "text/plain"})
    assert status == 200 and get_message(shared_broker, f"{name}.raw")[2] == b"a\nb\n"


def test_rest_get_waits_for_a_message_sent_meanwhile(shared_broker):
    import threading

    name = unique("wait")
    result: list = []
    reader = threading.Thread(target=lambda: result.append(get_message(shared_broker, name, timeout_ms=15000)))
    reader.start()
    # The GET made the queue and waits on it (in the same reactor turn).
    wait_until(lambda: jolokia_read(shared_broker, MBEAN.format(name), "QueueSize")["status"] == 200)
    assert post_message(shared_broker, name, "late")[0] == 200
    reader.join(WAIT)
    assert result and result[0][0] == 200 and result[0][2] == b"late"


# -- a broker with users and a map ---------------------------------------------------------------
@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def secure(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    yield from module_broker(request, tmp_path_factory, config_text())


def test_console_needs_a_login_and_an_admin_group(secure):
    status, headers, _ = http("GET", secure.admin_url + "/metrics")
    assert status == 401 and headers["www-authenticate"] == 'Basic realm="ActiveMQRealm"'
    assert http("GET", secure.admin_url + "/metrics", "reader")[0] == 403
    assert http("GET", f"{secure.admin_url}/api/jolokia/version", "orders-app")[0] == 403
    assert metrics(secure, "admin")[("mqgate_memory_limit_bytes", ())] > 0
    assert jolokia_read(secure, "org.apache.activemq:type=Broker,brokerName=localhost", "BrokerName",
                        "admin")["value"] == "localhost"


def test_refused_basic_logins_are_counted_by_door_and_reason(secure):
    def failures() -> float:
        return metrics(secure, "admin").get(
            ("mqgate_login_failures_total", (("door", "admin"), ("reason", "bad_password"))), 0)

    before = failures()
    status, headers, body = http("GET", secure.admin_url + "/metrics", "admin", "wrong")
    assert status == 401 and b"User name [admin] or password is invalid." in body
    assert http("GET", secure.admin_url + "/metrics", "nobody", "x")[0] == 401
    assert failures() == before + 2
    with RawStomp(secure.stomp_port) as raw:
        raw.send("CONNECT", {"accept-version": "1.2", "host": "localhost", "login": "reader", "passcode": "wrong"})
        raw.wait_closed()
    wait_until(lambda: metrics(secure, "admin").get(
        ("mqgate_login_failures_total", (("door", "stomp"), ("reason", "bad_password"))), 0) >= 1)


def test_rest_messages_follow_the_authorization_map(secure):
    name = f"orders.{unique('rest')}"
    status, _, body = post_message(secure, name, "new", "orders-app")
    assert status == 403 and body.decode().strip() == f"User orders-app is not authorized to create: queue://{name}"
    assert post_message(secure, name, "first", "admin")[0] == 200               # admin creates it
    assert post_message(secure, name, "second", "orders-app")[0] == 200
    status, _, body = post_message(secure, name, "no", "reader")
    assert status == 403 and body.decode().strip() == f"User reader is not authorized to write to: queue://{name}"
    assert get_message(secure, name, "orders-app")[0] == 403
    assert [get_message(secure, name, "reader")[2] for _ in range(2)] == [b"first", b"second"]
    assert get_message(secure, name)[0] == 401


def test_a_page_of_another_site_cannot_use_the_console(secure):
    status, _, _ = http("GET", secure.admin_url + "/metrics", "admin", headers={"Origin": "http://elsewhere.example"})
    assert status == 403


# -- limits and paging, as an operator watches them -------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def paged(request: pytest.FixtureRequest, tmp_path) -> Iterator[BrokerProcess]:
    config = tmp_path / "mqgate.toml"
    config.write_text('[[policy]]\nqueue = "flow.>"\nmax_messages = 2\n')
    with broker_on(request.param, tmp_path, ["--config", str(config), "--queue-window", "4"]) as proc:
        yield proc


def test_metrics_show_the_paged_out_backlog_and_blocked_producers(paged):
    deep, flow = unique("deep"), f"flow.{unique()}"
    producer = RawStomp(paged.stomp_port)
    producer.connect("1.2")
    for i in range(20):
        producer.send("SEND", {"destination": f"/queue/{deep}", "persistent": "true", "receipt": f"d{i}"}, "x" * 10)
        producer.expect("RECEIPT")
    deep_labels = (("kind", "queue"), ("queue", deep))
    got = metrics(paged)
    assert got[("mqgate_queue_messages", deep_labels)] == 20 and got[("mqgate_queue_bytes", deep_labels)] == 200
    assert got[("mqgate_queue_paged_out_messages", deep_labels)] > 0
    assert got[("mqgate_queue_memory_messages", deep_labels)] < 20
    for i in range(3):
        producer.send("SEND", {"destination": f"/queue/{flow}", "persistent": "true", "receipt": f"f{i}"}, "m")
    for _ in range(2):
        producer.expect("RECEIPT")
    flow_labels = (("kind", "queue"), ("queue", flow))
    wait_until(lambda: metrics(paged)[("mqgate_queue_producers_blocked", flow_labels)] == 1)
    assert jolokia_read(paged, MBEAN.format(flow), "BlockedSends")["value"] == 1
    assert get_message(paged, flow)[0] == 200            # room again: the held send goes on
    assert producer.expect("RECEIPT").headers["receipt-id"] == "f2"
    assert metrics(paged)[("mqgate_queue_producers_blocked", flow_labels)] == 0
