"""Queue policies judged for a service delivering into the queue (SNS → SQS)."""
from __future__ import annotations

import json

from facades.aws.policy import allows_delivery, attached, parse

QUEUE = "arn:aws:sqs:us-east-1:111122223333:q"
TOPIC = "arn:aws:sns:us-east-1:111122223333:t"


def statement(**fields) -> dict:
    return {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": QUEUE, **fields}


def allows(*statements: dict, source: str = TOPIC) -> bool:
    policy = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return allows_delivery(attached(parse(policy), QUEUE), "sns.amazonaws.com", "sqs:SendMessage", QUEUE, source, "111122223333")


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
    assert not allows_delivery(attached(parse("not json"), QUEUE), "sns.amazonaws.com", "sqs:SendMessage", QUEUE, TOPIC, "1")
    assert not allows(statement(Condition={"ArnNotEquals": {"aws:SourceArn": TOPIC}}))


def test_a_deny_with_not_action_refuses_the_actions_it_does_not_list():
    deny_but_reads = {"Effect": "Deny", "Principal": "*", "NotAction": ["sqs:ReceiveMessage", "sqs:Get*"],
                      "Resource": QUEUE}
    assert not allows(statement(), deny_but_reads)
    assert allows(statement(), {**deny_but_reads, "NotAction": "sqs:Send*"})


def test_a_statement_without_resource_names_the_queue_and_one_with_not_resource_keeps_it():
    assert allows({k: v for k, v in statement().items() if k != "Resource"})
    assert allows({k: v for k, v in statement(NotResource=QUEUE + "-other").items() if k != "Resource"})
    assert not allows({k: v for k, v in statement(NotResource=QUEUE).items() if k != "Resource"})


def test_the_source_arn_as_a_policy_variable():
    own_topic = statement(Resource="arn:aws:sqs:us-east-1:111122223333:q",
                          Condition={"StringEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:${aws:SourceAccount}:t"}})
    assert allows(own_topic)
    assert not allows(own_topic, source="arn:aws:sns:us-east-1:999999999999:t")
