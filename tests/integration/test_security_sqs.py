"""SQS through the portal (SigV4 keys of [[users]]) and the authorization map: AccessDenied
per action, ListQueues/GetQueueUrl showing only usable queues, and refusals that change
nothing. The same queues and rights as STOMP (see security_support)."""
from __future__ import annotations

import json
from typing import Iterator
from urllib.request import Request, urlopen
from urllib.error import HTTPError

import pytest

from tests.conftest import BrokerProcess
from tests.integration.security_support import USERS, config_text, module_broker
from tests.integration.sqs_clients import PROTOCOLS, expect_error, make_client
from tests.integration.stomp_client import RawStomp

pytestmark = pytest.mark.usefixtures("sqs_retention_probes")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def secure(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    yield from module_broker(request, tmp_path_factory, config_text())


def client(broker: BrokerProcess, user: str, protocol: str = "json"):
    _, key, secret = USERS[user]
    return make_client(protocol, broker.aws_url, key, secret)


def urls(c) -> list[str]:
    return sorted(u.rsplit("/", 1)[-1] for u in c.list_queues().get("QueueUrls", []))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_keys_are_checked_through_the_portal(secure, protocol):
    client(secure, "admin", protocol).list_queues()     # signed with the key's secret: answered
    wrong = make_client(protocol, secure.aws_url, "AKIAORDERS", "not-the-secret")
    with expect_error(wrong, "SignatureDoesNotMatch", 403):
        wrong.list_queues()
    unknown = make_client(protocol, secure.aws_url, "AKIANOBODY", "whatever")
    with expect_error(unknown, "InvalidClientTokenId", 403):
        unknown.list_queues()


def test_malformed_authorization_is_incomplete_signature(secure):
    request = Request(secure.aws_url + "/", data=b"Action=ListQueues", method="POST",
                      headers={"Authorization": "AWS4-HMAC-SHA256 Credential=AKIAADMIN",
                               "Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(HTTPError) as caught:
        urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert b"<Code>IncompleteSignature</Code>" in caught.value.read()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_actions_need_their_rights(secure, protocol):
    admin, producer, reader = (client(secure, u, protocol) for u in ("admin", "orders-app", "reader"))
    # SQS names have no dots, so "orders" is the queue `orders.>` covers (as in ActiveMQ)
    with expect_error(producer, "AccessDenied", 403) as caught:
        producer.create_queue(QueueName="orders")
    assert "sqs:CreateQueue" in str(caught["error"])
    with expect_error(producer, "AccessDenied", 403):
        producer.create_queue(QueueName="orders.fifo", Attributes={"FifoQueue": "true"})
    assert "orders.fifo" not in urls(admin)          # the refused create made nothing
    url = admin.create_queue(QueueName="orders")["QueueUrl"]
    producer.send_message(QueueUrl=url, MessageBody=f"from producer {protocol}")
    with expect_error(reader, "AccessDenied", 403) as caught:
        reader.send_message(QueueUrl=url, MessageBody="refused")
    assert caught["error"].response["Error"]["Message"] == (
        "User: arn:aws:iam::000000000000:user/reader is not authorized to perform: sqs:SendMessage "
        "on resource: arn:aws:sqs:us-east-1:000000000000:orders because no identity-based policy "
        "allows the sqs:SendMessage action")
    with expect_error(producer, "AccessDenied", 403):
        producer.receive_message(QueueUrl=url)
    with expect_error(producer, "AccessDenied", 403):
        producer.purge_queue(QueueUrl=url)
    with expect_error(reader, "AccessDenied", 403):
        reader.delete_queue(QueueUrl=url)
    with expect_error(reader, "AccessDenied", 403):
        reader.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5"})
    got = reader.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"]
    assert [m["Body"] for m in got] == [f"from producer {protocol}"]      # the refused send stored nothing
    reader.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    assert reader.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_listing_shows_only_usable_queues(secure, protocol):
    admin, reader = client(secure, "admin", protocol), client(secure, "reader", protocol)
    admin.create_queue(QueueName="vault")
    admin.create_queue(QueueName="orders")
    assert {"vault", "orders"} <= set(urls(admin))
    assert "orders" in urls(reader) and "vault" not in urls(reader)
    with expect_error(reader, "AWS.SimpleQueueService.NonExistentQueue", 400):
        reader.get_queue_url(QueueName="vault")
    assert reader.get_queue_url(QueueName="orders")["QueueUrl"].endswith("/orders")


def test_stomp_and_sqs_share_the_rights(secure):
    """A message the SQS producer sends is read over STOMP by the same map's reader."""
    admin, producer = client(secure, "admin"), client(secure, "orders-app")
    url = admin.create_queue(QueueName="orders")["QueueUrl"]
    reader = client(secure, "reader")
    while reader.receive_message(QueueUrl=url).get("Messages"):
        pass  # earlier tests' leftovers are invisible now or gone
    producer.send_message(QueueUrl=url, MessageBody="cross-door")
    with RawStomp(secure.stomp_port) as c:
        c.connect("1.2", login="reader", passcode=USERS["reader"][0])
        c.send("SUBSCRIBE", {"destination": "/queue/orders", "id": "s"})
        assert c.expect("MESSAGE").body == b"cross-door"


def test_dead_letter_sources_show_only_usable_queues(secure):
    admin, reader = client(secure, "admin"), client(secure, "reader")
    target = admin.create_queue(QueueName="orders")["QueueUrl"]
    arn = admin.get_queue_attributes(QueueUrl=target, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
    vault = admin.create_queue(QueueName="vault")["QueueUrl"]
    admin.set_queue_attributes(QueueUrl=vault, Attributes={"RedrivePolicy": policy})
    sources = admin.list_dead_letter_source_queues(QueueUrl=target)["queueUrls"]
    assert [u.rsplit("/", 1)[-1] for u in sources] == ["vault"]
    assert reader.list_dead_letter_source_queues(QueueUrl=target)["queueUrls"] == []
