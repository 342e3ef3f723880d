"""The two SQS wire protocols on the AWS port.

First, proof that the test clients speak what they claim: the ``query`` client sends
form-encoded ``Action=...`` and reads XML, the ``json`` client sends ``X-Amz-Target`` and reads
JSON. Then the raw replies: error bodies and headers per protocol, Query requests addressed to
the queue URL, GET requests, unknown actions, malformed bodies."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import unique
from tests.integration.sqs_clients import ACCOUNT, PROTOCOLS, make_client, receive, sqs_client

# Starts the MessageRetentionPeriod probes early (see tests/integration/conftest.py).
pytestmark = pytest.mark.usefixtures("sqs_retention_probes")

SQS_NS = "http://queue.amazonaws.com/doc/2012-11-05/"


def _capture(client) -> list[tuple[str, object]]:
    seen: list[tuple[str, object]] = []
    client.meta.events.register("before-send.sqs.*", lambda request, **_: seen.append(("request", request)))
    client.meta.events.register("response-received.sqs.*",
                                lambda response_dict, **_: seen.append(("response", response_dict)))
    return seen


def _header(request, name: str) -> str:
    value = request.headers[name]
    return value.decode() if isinstance(value, bytes) else value


def test_query_client_sends_form_encoding_and_parses_xml(shared_broker):
    client = make_client("query", shared_broker.aws_url)
    seen = _capture(client)
    q = unique("wire")
    url = client.create_queue(QueueName=q)["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="q & <x>")
    [msg] = receive(client, url)
    assert msg["Body"] == "q & <x>"
    requests = [r for kind, r in seen if kind == "request"]
    responses = [r for kind, r in seen if kind == "response"]
    first = requests[0]
    assert "X-Amz-Target" not in first.headers
    assert _header(first, "Content-Type").startswith("application/x-www-form-urlencoded")
    form = dict(urllib.parse.parse_qsl(first.body if isinstance(first.body, str) else first.body.decode()))
    assert form["Action"] == "CreateQueue" and form["QueueName"] == q and form["Version"] == "2012-11-05"
    for response in responses:
        assert response["headers"]["content-type"].startswith("text/xml")
        root = ET.fromstring(response["body"])
        assert root.tag.startswith("{" + SQS_NS + "}")
    assert ET.fromstring(responses[0]["body"]).tag == f"{{{SQS_NS}}}CreateQueueResponse"


def test_json_client_sends_target_header_and_parses_json(shared_broker):
    client = make_client("json", shared_broker.aws_url)
    seen = _capture(client)
    client.create_queue(QueueName=unique("wire"))
    request = next(r for kind, r in seen if kind == "request")
    assert _header(request, "X-Amz-Target") == "AmazonSQS.CreateQueue"
    assert _header(request, "Content-Type") == "application/x-amz-json-1.0"
    response = next(r for kind, r in seen if kind == "response")
    assert response["headers"]["content-type"] == "application/x-amz-json-1.0"
    assert "QueueUrl" in json.loads(response["body"])


# ---------------------------------------------------------------------------------------------
# raw HTTP
# ---------------------------------------------------------------------------------------------
def _post(url: str, body: bytes, headers: dict[str, str], method: str = "POST") -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=body if method == "POST" else None, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def _json(base: str, action: str, payload: object) -> tuple[int, dict, bytes]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return _post(base + "/", body, {"X-Amz-Target": f"AmazonSQS.{action}",
                                     "Content-Type": "application/x-amz-json-1.0"})


def _query(url: str, **params: str) -> tuple[int, dict, bytes]:
    return _post(url, urllib.parse.urlencode(params).encode(),
                 {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})


def test_json_error_carries_type_and_query_error_header(shared_broker):
    status, headers, body = _json(shared_broker.aws_url, "GetQueueUrl", {"QueueName": unique("missing")})
    assert status == 400
    assert headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert headers["content-type"] == "application/x-amz-json-1.0"
    assert headers.get("x-amzn-requestid")
    document = json.loads(body)
    assert document["__type"].endswith("#QueueDoesNotExist")
    assert document["message"]


def test_query_error_is_an_xml_error_response(shared_broker):
    status, headers, body = _query(shared_broker.aws_url + "/", Action="GetQueueUrl",
                                   QueueName=unique("missing"), Version="2012-11-05")
    assert status == 400
    assert headers["content-type"].startswith("text/xml")
    root = ET.fromstring(body)
    assert root.tag == f"{{{SQS_NS}}}ErrorResponse"
    error = root.find(f"{{{SQS_NS}}}Error")
    assert error.findtext(f"{{{SQS_NS}}}Code") == "AWS.SimpleQueueService.NonExistentQueue"
    assert error.findtext(f"{{{SQS_NS}}}Type") == "Sender"
    assert error.findtext(f"{{{SQS_NS}}}Message")
    assert root.findtext(f"{{{SQS_NS}}}RequestId")


def test_query_request_addressed_to_the_queue_url(shared_broker):
    q = unique("path")
    json_client = sqs_client("json", shared_broker.aws_url)
    url = json_client.create_queue(QueueName=q)["QueueUrl"]
    status, _, body = _query(url, Action="SendMessage", MessageBody="by path", Version="2012-11-05")
    assert status == 200, body
    assert ET.fromstring(body).find(f".//{{{SQS_NS}}}MessageId") is not None
    assert [m["Body"] for m in receive(json_client, url)] == ["by path"]


def test_query_get_request(shared_broker):
    q = unique("get")
    sqs_client("json", shared_broker.aws_url).create_queue(QueueName=q)
    query = urllib.parse.urlencode({"Action": "GetQueueUrl", "QueueName": q, "Version": "2012-11-05"})
    status, _, body = _post(f"{shared_broker.aws_url}/?{query}", b"", {}, method="GET")
    assert status == 200, body
    assert ET.fromstring(body).findtext(f".//{{{SQS_NS}}}QueueUrl").endswith(f"/{ACCOUNT}/{q}")


def test_unknown_actions(shared_broker):
    status, _, body = _json(shared_broker.aws_url, "FlyToTheMoon", {})
    assert status == 400
    assert json.loads(body)["__type"].endswith("UnknownOperationException")
    # Which service an unknown action was meant for is unknown on the shared port, so the
    # namespace is not checked here.
    status, _, body = _query(shared_broker.aws_url + "/", Action="FlyToTheMoon", Version="2012-11-05")
    assert status == 400
    assert _code(body) == "InvalidAction"
    status, _, body = _query(shared_broker.aws_url + "/", Version="2012-11-05")
    assert status == 400
    assert _code(body) == "MissingAction"


def _code(xml: bytes) -> str | None:
    for element in ET.fromstring(xml).iter():
        if element.tag.rsplit("}", 1)[-1] == "Code":
            return element.text
    return None


def test_malformed_json_body(shared_broker):
    status, _, body = _json(shared_broker.aws_url, "ListQueues", b"{not json")
    assert status == 400
    assert json.loads(body)["__type"].endswith("SerializationException")
    status, _, body = _json(shared_broker.aws_url, "SendMessage", {"QueueUrl": 12, "MessageBody": {"a": 1}})
    assert status == 400
    assert json.loads(body)["__type"].endswith("SerializationException")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_missing_required_parameter(shared_broker, protocol):
    client = make_client(protocol, shared_broker.aws_url, validate=False)     # botocore would refuse
    url = client.create_queue(QueueName=unique("req"))["QueueUrl"]
    with pytest.raises(client.exceptions.ClientError) as caught:
        client.send_message(QueueUrl=url)
    error = caught.value.response["Error"]
    assert error["Code"] == "MissingParameter"
    assert "MessageBody" in error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_queue_url_host_does_not_matter(shared_broker, protocol):
    """Clients often build queue URLs themselves (localhost, or the AWS host name)."""
    client = sqs_client(protocol, shared_broker.aws_url)
    q = unique("host")
    client.create_queue(QueueName=q)
    for url in (f"http://localhost:{shared_broker.aws_port}/{ACCOUNT}/{q}",
                f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{q}"):
        client.send_message(QueueUrl=url, MessageBody=url)
    assert len(receive(client, f"{shared_broker.aws_url}/{ACCOUNT}/{q}")) == 2
