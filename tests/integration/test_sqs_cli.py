"""The AWS CLI against the broker, unmodified, configured only with --endpoint-url and dummy
credentials."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import unique
from tests.integration.sqs_clients import ACCOUNT, aws_cli, sqs_client

# Starts the MessageRetentionPeriod probes early (see tests/integration/conftest.py).
pytestmark = pytest.mark.usefixtures("sqs_retention_probes")


def test_cli_queue_and_message_round_trip(shared_broker, tmp_path: Path):
    endpoint = shared_broker.aws_url
    q = unique("cli")

    def sqs(*args: str) -> dict:
        out = aws_cli(endpoint, "sqs", *args, home=tmp_path).stdout
        return json.loads(out) if out.strip() else {}

    url = sqs("create-queue", "--queue-name", q, "--attributes", "VisibilityTimeout=45")["QueueUrl"]
    assert url == f"{endpoint}/{ACCOUNT}/{q}"
    sent = sqs("send-message", "--queue-url", url, "--message-body", "hello from the cli",
               "--message-attributes", json.dumps({"k": {"DataType": "String", "StringValue": "v"}}))
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"hello from the cli").hexdigest()
    got = sqs("receive-message", "--queue-url", url, "--attribute-names", "All",
              "--message-attribute-names", "All", "--wait-time-seconds", "1")
    [msg] = got["Messages"]
    assert msg["Body"] == "hello from the cli"
    assert msg["MessageId"] == sent["MessageId"]
    assert msg["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
    assert msg["Attributes"]["ApproximateReceiveCount"] == "1"
    sqs("delete-message", "--queue-url", url, "--receipt-handle", msg["ReceiptHandle"])
    attrs = sqs_client("json", endpoint).get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "45"
    assert (attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")


def test_cli_reports_aws_error_codes(shared_broker, tmp_path: Path):
    proc = aws_cli(shared_broker.aws_url, "sqs", "get-queue-url", "--queue-name", unique("nope"),
                   home=tmp_path, check=False)
    assert proc.returncode != 0
    assert "AWS.SimpleQueueService.NonExistentQueue" in proc.stderr
    assert "GetQueueUrl" in proc.stderr
