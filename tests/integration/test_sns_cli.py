"""The AWS CLI's sns commands against the broker, configured only with --endpoint-url."""
from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import unique
from tests.integration.sns_clients import queue_with_arn, sqs
from tests.integration.sqs_clients import ACCOUNT, REGION, aws_cli, receive_until


def test_cli_topic_subscribe_publish(shared_broker, tmp_path: Path):
    endpoint = shared_broker.aws_url

    def sns(*args: str) -> dict:
        out = aws_cli(endpoint, "sns", *args, home=tmp_path).stdout
        return json.loads(out) if out.strip() else {}

    name = unique("cli")
    arn = sns("create-topic", "--name", name, "--tags", "Key=team,Value=a")["TopicArn"]
    assert arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    url, qarn = queue_with_arn(endpoint, unique("cliq"))
    sub = sns("subscribe", "--topic-arn", arn, "--protocol", "sqs", "--notification-endpoint", qarn,
              "--attributes", "RawMessageDelivery=true")["SubscriptionArn"]
    assert sub.startswith(arn + ":")
    sent = sns("publish", "--topic-arn", arn, "--message", "from the cli", "--message-attributes",
               json.dumps({"k": {"DataType": "Number", "StringValue": "7"}}))
    [msg] = receive_until(sqs(endpoint), url, 1)
    assert msg["Body"] == "from the cli"
    assert msg["MessageAttributes"] == {"k": {"DataType": "Number", "StringValue": "7"}}
    assert sent["MessageId"]
    listed = sns("list-subscriptions-by-topic", "--topic-arn", arn)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [sub]
    assert sns("list-tags-for-resource", "--resource-arn", arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    assert sns("get-topic-attributes", "--topic-arn", arn)["Attributes"]["SubscriptionsConfirmed"] == "1"
    sns("unsubscribe", "--subscription-arn", sub)
    sns("delete-topic", "--topic-arn", arn)


def test_cli_reports_sns_error_codes(shared_broker, tmp_path: Path):
    proc = aws_cli(shared_broker.aws_url, "sns", "get-topic-attributes", "--topic-arn",
                   f"arn:aws:sns:{REGION}:{ACCOUNT}:{unique('nope')}", home=tmp_path, check=False)
    assert proc.returncode != 0
    assert "(NotFound)" in proc.stderr and "Topic does not exist" in proc.stderr
