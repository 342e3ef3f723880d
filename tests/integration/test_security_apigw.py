"""API Gateway AWS integrations act as the user their `credentials` role maps to (a
`[[users]]` entry's `roles`), so the authorization map judges what they send: one SQS
integration allowed, one refused (nothing stored), one naming an unmapped role."""
from __future__ import annotations

from typing import Iterator

import boto3
import pytest

from tests.conftest import BrokerProcess
from tests.integration.apigw_support import build_api, call, stage_url
from tests.integration.security_support import USERS, config_text, module_broker
from tests.integration.sqs_clients import REGION, client_config

pytestmark = pytest.mark.usefixtures("sqs_retention_probes")

ROLE = "arn:aws:iam::000000000000:role/apigw-orders"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def secure(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    yield from module_broker(request, tmp_path_factory, config_text(roles={"orders-app": [ROLE]}))


def admin_client(broker: BrokerProcess, service: str):
    _, key, secret = USERS["admin"]
    return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION) \
        .client(service, endpoint_url=broker.aws_url, config=client_config())


def _sqs_integration(queue: str, role: str) -> dict:
    return {
        "integration": {
            "type": "AWS", "integrationHttpMethod": "POST",
            "uri": f"arn:aws:apigateway:us-east-1:sqs:path/000000000000/{queue}",
            "credentials": role,
            "requestParameters": {"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
            "requestTemplates": {"application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"},
            "passthroughBehavior": "NEVER"},
        "responses": {"200": {}, "403": {"selectionPattern": "403"}}}


def test_integrations_act_as_their_role(secure):
    sqs = admin_client(secure, "sqs")
    orders = sqs.create_queue(QueueName="orders")["QueueUrl"]
    vault = sqs.create_queue(QueueName="vault")["QueueUrl"]
    ids = build_api(admin_client(secure, "apigateway"), "secured", {
        "/orders": {"POST": _sqs_integration("orders", ROLE)},      # orders-app: producers may write
        "/vault": {"POST": _sqs_integration("vault", ROLE)},        # vault: admins only
        "/unmapped": {"POST": _sqs_integration("orders", "arn:aws:iam::000000000000:role/nobody")},
    })

    def post(path: str):
        return call("POST", stage_url(secure.aws_url, ids["api"], "test", path), body='{"n": 1}',
                    headers={"Content-Type": "application/json"})
    allowed = post("/orders")
    assert allowed.status == 200 and b"SendMessageResponse" in allowed.body, allowed.body
    refused = post("/vault")
    assert refused.status == 403, refused.body
    assert b"AccessDenied" in refused.body and b"user/orders-app is not authorized" in refused.body
    unmapped = post("/unmapped")
    assert unmapped.status == 500 and unmapped.json() == {"message": "Internal server error"}
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=orders, WaitTimeSeconds=1)["Messages"]] == ['{"n": 1}']
    assert "Messages" not in sqs.receive_message(QueueUrl=vault, WaitTimeSeconds=1)   # the refusal stored nothing
