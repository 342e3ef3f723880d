"""SNS on the shared AWS dispatcher, without sockets: routing next to SQS, the links that
need no signature, and the certificate document the AWS door serves by GET."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from twisted.internet.defer import Deferred

from facades.aws.dispatch import AwsDispatcher, WireRequest, WireResponse
from facades.aws.sigv4 import SigV4Verifier
from facades.sns.service import sns_error, sns_service
from facades.sqs.service import sqs_service
from tests.unit.auth_support import security_with_keys


def _answer(d: Deferred) -> WireResponse:
    out: list[WireResponse] = []
    d.addCallback(out.append)
    assert out, "the handler answered synchronously"
    return out[0]


def _dispatcher(enforcing: bool) -> AwsDispatcher:
    def confirm(ctx: Any, params: dict) -> dict:
        return {"SubscriptionArn": params["TopicArn"] + ":sub"}

    def get_topic_attributes(ctx: Any, params: dict) -> dict:
        raise sns_error("NotFound", "Topic does not exist")
    sns = sns_service({"ConfirmSubscription": confirm, "GetTopicAttributes": get_topic_attributes})
    keys = {"AKID": ("secret", "123456789012")} if enforcing else {}
    return AwsDispatcher([sqs_service({}), sns], SigV4Verifier(security_with_keys(keys), "000000000000"), "us-east-1")


def _get(dispatcher: AwsDispatcher, **query: str) -> WireResponse:
    return _answer(dispatcher.handle(WireRequest("GET", "http", "mq:18080", "/", list(query.items()), {}, b"")))


def test_a_subscribe_url_confirms_without_a_signature_even_when_keys_are_enforced():
    answer = _get(_dispatcher(True), Action="ConfirmSubscription", TopicArn="arn:aws:sns:us-east-1:0:t", Token="x")
    assert answer.status == 200
    assert b'<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">' in answer.body
    assert b"<SubscriptionArn>arn:aws:sns:us-east-1:0:t:sub</SubscriptionArn>" in answer.body


def test_other_actions_still_need_a_signature():
    answer = _get(_dispatcher(True), Action="GetTopicAttributes", TopicArn="arn:aws:sns:us-east-1:0:t")
    assert answer.status == 403 and b"<Code>MissingAuthenticationToken</Code>" in answer.body


def test_sns_errors_and_unserved_operations():
    dispatcher = _dispatcher(False)
    answer = _get(dispatcher, Action="GetTopicAttributes", TopicArn="arn:aws:sns:us-east-1:0:t")
    assert answer.status == 404
    assert b"<Code>NotFound</Code><Message>Topic does not exist</Message>" in answer.body
    body = urlencode({"Action": "ListPlatformApplications", "Version": "2010-03-31"}).encode()
    answer = _answer(dispatcher.handle(WireRequest(
        "POST", "http", "mq:18080", "/", [], {"authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/"
                                             "us-east-1/sns/aws4_request, SignedHeaders=host, Signature=00"},
        body)))
    assert answer.status == 400 and b"<Code>InvalidParameter</Code>" in answer.body
