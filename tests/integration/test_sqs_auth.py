"""SigV4 enforcement on the AWS port: with credentials configured, a wrong
signature is SignatureDoesNotMatch, an unknown access key InvalidClientTokenId, and ARNs use
the account of the key; without credentials any signature is accepted (every other SQS test)."""
from __future__ import annotations

from typing import Iterator

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import broker_on, BrokerProcess, unique
from tests.integration.sqs_clients import PROTOCOLS, REGION, botocore_session, expect_error, make_client, queue_arn

# Starts the MessageRetentionPeriod probes early (see tests/integration/conftest.py).
pytestmark = pytest.mark.usefixtures("sqs_retention_probes")

KEY, SECRET = "AKIDMQGATETEST", "s3cr3t/Key+Value"
OTHER_KEY, OTHER_SECRET, OTHER_ACCOUNT = "AKIDOTHERACCOUNT", "another-secret", "123456789012"
DEFAULT_ACCOUNT = "000000000000"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def auth_broker(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One broker with credentials per database for the module (as `shared_broker`)."""
    extra = ["--aws-credentials", f"{KEY}:{SECRET},{OTHER_KEY}:{OTHER_SECRET}:{OTHER_ACCOUNT}"]
    with broker_on(request.param, tmp_path_factory.mktemp("auth"), extra) as proc:
        yield proc


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_signatures_are_checked(auth_broker, protocol):
    good = make_client(protocol, auth_broker.aws_url, KEY, SECRET)
    q = unique("auth")
    url = good.create_queue(QueueName=q)["QueueUrl"]
    good.send_message(QueueUrl=url, MessageBody="signed")
    assert queue_arn(good, url) == f"arn:aws:sqs:{REGION}:{DEFAULT_ACCOUNT}:{q}"

    wrong_secret = make_client(protocol, auth_broker.aws_url, KEY, "not-the-secret")
    with expect_error(wrong_secret, "SignatureDoesNotMatch", 403):
        wrong_secret.list_queues()
    with expect_error(wrong_secret, "SignatureDoesNotMatch", 403):
        wrong_secret.receive_message(QueueUrl=url)

    unknown = make_client(protocol, auth_broker.aws_url, "AKIDNOBODYKNOWS", SECRET)
    with expect_error(unknown, "InvalidClientTokenId", 403):
        unknown.get_queue_url(QueueName=q)

    # nothing was consumed by the refused receive
    assert [m["Body"] for m in good.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]] == ["signed"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_tampered_request_is_refused(auth_broker, protocol):
    client = make_client(protocol, auth_broker.aws_url, KEY, SECRET)
    q = unique("tamper")

    def tamper(request, **_) -> None:
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        request.body = body.replace(q.encode(), q.upper().encode())      # same length, other name

    client.meta.events.register("before-send.sqs.CreateQueue", tamper)
    with expect_error(client, "SignatureDoesNotMatch", 403):
        client.create_queue(QueueName=q)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unsigned_request_is_refused(auth_broker, protocol):
    session = botocore_session(protocol)
    client = session.create_client("sqs", region_name=REGION, endpoint_url=auth_broker.aws_url,
                                   config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError) as caught:
        client.list_queues()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_arns_use_the_account_of_the_key(auth_broker, protocol):
    other = make_client(protocol, auth_broker.aws_url, OTHER_KEY, OTHER_SECRET)
    q = unique("acct")
    url = other.create_queue(QueueName=q)["QueueUrl"]
    assert queue_arn(other, url) == f"arn:aws:sqs:{REGION}:{OTHER_ACCOUNT}:{q}"
    assert f"/{OTHER_ACCOUNT}/{q}" in url
