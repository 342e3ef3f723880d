"""SNS with SigV4 enforced: ARNs carry the key's account, bad signatures are refused, and the
SubscribeURL an HTTP endpoint receives still confirms with a plain GET, as on AWS."""
from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import boto3
import pytest

from tests.conftest import BrokerProcess, unique
from tests.integration.sns_clients import Endpoint
from tests.integration.sqs_clients import REGION, client_config, expect_error

KEY, SECRET, ACCOUNT = "AKIDSNSTEST", "sns-secret", "210987654321"


@pytest.fixture
def auth_broker(store_url: str, tmp_path: Path) -> Iterator[BrokerProcess]:
    proc = BrokerProcess(store_url, tmp_path, extra=["--aws-credentials", f"{KEY}:{SECRET}:{ACCOUNT}"]).start()
    try:
        yield proc
    finally:
        proc.kill()


def _sns(url: str, secret: str = SECRET):
    return boto3.session.Session(aws_access_key_id=KEY, aws_secret_access_key=secret, region_name=REGION) \
        .client("sns", endpoint_url=url, config=client_config())


def test_signed_requests_and_plain_subscribe_urls(auth_broker):
    sns = _sns(auth_broker.aws_url)
    arn = sns.create_topic(Name=unique("auth"))["TopicArn"]
    assert arn.split(":")[4] == ACCOUNT
    with expect_error(sns, "SignatureDoesNotMatch", 403):
        _sns(auth_broker.aws_url, secret="wrong").list_topics()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{auth_broker.aws_url}/?Action=ListTopics&Version=2010-03-31", timeout=10)
    assert refused.value.code == 403
    endpoint = Endpoint()
    try:
        sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=endpoint.url)
        confirmation = endpoint.next(kind="SubscriptionConfirmation")["json"]
        urllib.request.urlopen(confirmation["SubscribeURL"], timeout=10).read()
        [sub] = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
        assert sub["SubscriptionArn"].startswith(arn + ":") and sub["Owner"] == ACCOUNT
    finally:
        endpoint.close()
