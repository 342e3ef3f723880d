"""Queue policies judged for a service delivering into the queue (SNS → SQS)."""
from __future__ import annotations

import json

from facades.aws.policy import allows_delivery

QUEUE = "arn:aws:sqs:us-east-1:111122223333:q"
TOPIC = "arn:aws:sns:us-east-1:111122223333:t"


def statement(**fields) -> dict:
    return {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": QUEUE, **fields}


def allows(*statements: dict, source: str = TOPIC) -> bool:
    policy = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return allows_delivery(policy, "sns.amazonaws.com", "sqs:SendMessage", QUEUE, source, "111122223333")


def test_service_or_everyone_with_matching_source():
    assert allows(statement(Condition={"ArnEquals": {"aws:SourceArn": TOPIC}}))
    assert allows(statement(Principal="*", Condition={"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:t"}}))
    assert allows(statement(Principal={"AWS": "*"}, Action="sqs:*", Resource="*"))
    assert allows(statement(Condition={"StringEquals": {"aws:SourceAccount": "111122223333"}}))


def test_refusals():
    assert not allows(statement(Condition={"ArnEquals": {"aws:SourceArn": TOPIC + "x"}}))
    assert not allows(statement(Principal={"AWS": "arn:aws:iam::111122223333:root"}))
    assert not allows(statement(Action="sqs:ReceiveMessage"))
    assert not allows(statement(Resource=QUEUE + "-other"))
    assert not allows(statement(Condition={"IpAddress": {"aws:SourceIp": "1.2.3.4"}}))   # not judged: no
    assert not allows(statement(), statement(Effect="Deny"))                               # Deny wins
    assert not allows()
    assert not allows_delivery("not json", "sns.amazonaws.com", "sqs:SendMessage", QUEUE, TOPIC, "1")
    assert not allows(statement(Condition={"ArnNotEquals": {"aws:SourceArn": TOPIC}}))
