"""The AWS request pipeline, driven by real botocore clients.

botocore's ``before-send`` hook hands us each fully serialized and signed
request and accepts the HTTP response in return, so these tests run the
clients' whole pipeline — serializer, SigV4 signer, parser, error factory —
against the dispatcher, without sockets. ``boto3``'s default (JSON) client
and an unmodified botocore on the vendored Query model both take part.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import globalLogPublisher

from facades.aws.dispatch import DEFAULT_MAX_BODY_SIZE, AwsDispatcher, WireRequest, WireResponse
from facades.aws.errors import AwsError
from facades.aws.model import load_model_dict
from facades.aws.service import AwsRequestContext
from tests.unit.auth_support import security_with_keys
from facades.aws.sigv4 import SigV4Verifier
from facades.sqs.errors import SQS_ERRORS, sqs_error
from facades.sqs.models import LEGACY_QUERY_MODEL_PATH, sqs_json_model
from facades.sqs.service import sqs_service

ENDPOINT = "http://mq.test:4599"
KEYS = {"AKIDTEST": ("s3cret", "123456789012")}


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


#: The dispatcher the cached clients currently talk to (clients are slow to
#: build, so they are made once per credential and protocol).
_target: list[AwsDispatcher] = []


def _send(request: Any, **_: Any) -> AWSResponse:
    url = urlsplit(request.url)
    body = request.body or b""
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    headers.setdefault("host", url.netloc)  # added by the HTTP client, signed by botocore
    wire = WireRequest(
        method=request.method,
        scheme=url.scheme,
        host=headers["host"],
        path=url.path or "/",
        query=parse_qsl(url.query, keep_blank_values=True),
        headers=headers,
        body=body.encode() if isinstance(body, str) else body,
        client_address="127.0.0.1",
    )
    responses: list[WireResponse] = []
    _target[-1].handle(wire).addCallback(responses.append)
    (response,) = responses  # handlers here answer synchronously
    return AWSResponse(request.url, response.status, response.headers, _Body(response.body))


@functools.cache
def _client(protocol: str, secret: str, key: str) -> Any:
    session = botocore.session.get_session()
    if protocol == "query":
        session.get_component("data_loader").search_paths.insert(0, str(LEGACY_QUERY_MODEL_PATH))
    made = boto3.session.Session(botocore_session=session).client(
        "sqs",
        endpoint_url=ENDPOINT,
        region_name="eu-west-2",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=False),
    )
    assert made.meta.service_model.protocol == protocol
    made.meta.events.register("before-send.sqs", _send)
    return made


def client(dispatcher: AwsDispatcher, protocol: str = "json", secret: str = "s3cret", key: str = "AKIDTEST") -> Any:
    """A botocore client (validation off, as in SDKs that do not validate)
    whose requests ``dispatcher`` answers."""
    _target[:] = [dispatcher]
    return _client(protocol, secret, key)


class Recorder:
    """Handlers that record what they were given."""

    def __init__(self) -> None:
        self.calls: list[tuple[AwsRequestContext, dict]] = []

    def __call__(self, result: Any) -> Callable[[AwsRequestContext, dict], Any]:
        def handler(ctx: AwsRequestContext, params: dict) -> Any:
            self.calls.append((ctx, params))
            return result(ctx, params) if callable(result) else result

        return handler


def dispatcher(
    handlers: dict, *, credentials: dict | None = None, max_body_size: int = DEFAULT_MAX_BODY_SIZE
) -> AwsDispatcher:
    verifier = SigV4Verifier(security_with_keys(KEYS if credentials is None else credentials), "000000000000")
    return AwsDispatcher([sqs_service(handlers)], verifier, "us-east-1", max_body_size=max_body_size)


PROTOCOLS = ["json", "query"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_handler_gets_typed_params_and_context(protocol: str) -> None:
    record = Recorder()
    d = dispatcher({"SendMessage": record({"MessageId": "m-1", "MD5OfMessageBody": "abc"})})
    response = client(d, protocol).send_message(
        QueueUrl=f"{ENDPOINT}/123456789012/orders",
        MessageBody="hello",
        DelaySeconds=5,
        MessageAttributes={"n": {"DataType": "Number", "StringValue": "1"}},
    )
    assert response["MessageId"] == "m-1"
    ctx, params = record.calls[0]
    assert params == {
        "QueueUrl": f"{ENDPOINT}/123456789012/orders",
        "MessageBody": "hello",
        "DelaySeconds": 5,
        "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "1"}},
    }
    assert (ctx.service, ctx.action, ctx.protocol) == ("sqs", "SendMessage", protocol)
    assert (ctx.region, ctx.account_id, ctx.access_key) == ("eu-west-2", "123456789012", "AKIDTEST")
    assert ctx.base_url == ENDPOINT
    assert response["ResponseMetadata"]["RequestId"] == ctx.request_id
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == ctx.request_id


@pytest.mark.parametrize(("protocol", "body", "escape_free"), [
    ("json", "hello", True), ("json", 'say "hi"', False), ("json", "a\x01b", False), ("query", "hello", False)])
def test_only_json_without_escapes_is_known_free_of_control_characters(protocol: str, body: str,
                                                                       escape_free: bool) -> None:
    record = Recorder()
    d = dispatcher({"SendMessage": record({"MessageId": "m-1", "MD5OfMessageBody": "abc"})})
    client(d, protocol).send_message(QueueUrl=f"{ENDPOINT}/123456789012/orders", MessageBody=body)
    ctx, params = record.calls[0]
    assert params["MessageBody"] == body and ctx.escape_free is escape_free


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_deferred_results_are_awaited(protocol: str) -> None:
    d = dispatcher({"GetQueueUrl": lambda ctx, p: succeed({"QueueUrl": "u"})})
    assert client(d, protocol).get_queue_url(QueueName="q")["QueueUrl"] == "u"


def _modeled_errors() -> list[tuple[str, Any]]:
    """Every modeled SQS error under JSON; under Query, those the old
    clients know (Kms*, InvalidAddress, ... were added after SQS left Query)."""
    legacy = load_model_dict(LEGACY_QUERY_MODEL_PATH, "sqs")["shapes"]
    modeled = [s for s in SQS_ERRORS if s.code in sqs_json_model().shape_names]
    return [("json", s) for s in modeled] + [("query", s) for s in modeled if s.code in legacy]


@pytest.mark.parametrize(("protocol", "spec"), _modeled_errors(), ids=lambda v: getattr(v, "code", v))
def test_every_modeled_error_raises_its_exception_class(protocol: str, spec: Any) -> None:
    d = dispatcher({"GetQueueUrl": lambda ctx, p: fail(AwsError(spec, "why"))})
    sqs = client(d, protocol)
    exception_class = getattr(sqs.exceptions, spec.code)
    with pytest.raises(exception_class) as raised:
        sqs.get_queue_url(QueueName="q")
    error = raised.value.response["Error"]
    assert error["Code"] == spec.query_code
    assert error["Message"] == "why"
    assert error["Type"] == "Sender"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == spec.status
    if protocol == "json":
        assert error["QueryErrorCode"] == spec.code


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("code", "query_code"),
    [
        ("InvalidParameterValue", "InvalidParameterValue"),
        ("MissingParameter", "MissingParameter"),
        ("AccessDenied", "AccessDenied"),
        ("InvalidClientTokenId", "InvalidClientTokenId"),
    ],
)
def test_common_errors_report_their_legacy_code(protocol: str, code: str, query_code: str) -> None:
    d = dispatcher({"GetQueueUrl": lambda ctx, p: fail(sqs_error(code))})
    with pytest.raises(ClientError) as raised:
        client(d, protocol).get_queue_url(QueueName="q")
    assert raised.value.response["Error"]["Code"] == query_code


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_failing_handler_is_an_internal_failure_and_logged(protocol: str) -> None:
    def broken(ctx: AwsRequestContext, params: dict) -> dict:
        raise RuntimeError("engine bug")

    d = dispatcher({"GetQueueUrl": broken})
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    try:
        with pytest.raises(ClientError) as raised:
            client(d, protocol).get_queue_url(QueueName="q")
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert any(e.get("log_failure") and e["log_failure"].check(RuntimeError) for e in events)
    assert raised.value.response["Error"]["Code"] == "InternalFailure"
    assert raised.value.response["Error"]["Type"] == "Receiver"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_a_handler_returning_what_its_shape_cannot_carry_is_an_internal_failure() -> None:
    d = dispatcher({"GetQueueUrl": lambda ctx, p: {"QueueUrl": "u", "Extra": 1}})
    with pytest.raises(ClientError, match="InternalFailure"):
        client(d).get_queue_url(QueueName="q")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_modeled_operations_without_handler_are_unsupported(protocol: str) -> None:
    sqs = client(dispatcher({}), protocol)
    with pytest.raises(sqs.exceptions.UnsupportedOperation):
        sqs.list_queues()


def _raw(d: AwsDispatcher, headers: dict, body: bytes = b"", query: list | None = None, method: str = "POST") -> WireResponse:
    responses: list[WireResponse] = []
    request = WireRequest(method, "http", "mq.test", "/", query or [], headers, body)
    d.handle(request).addCallback(responses.append)
    return responses[0]


def test_unknown_json_operations_are_unknown_operation_exceptions() -> None:
    d = dispatcher({}, credentials={})
    response = _raw(d, {"x-amz-target": "AmazonSQS.DropAllQueues"}, b"{}")
    assert response.status == 400
    assert json.loads(response.body)["__type"] == "com.amazon.coral.service#UnknownOperationException"
    response = _raw(d, {"x-amz-target": "AmazonSNS.Publish"}, b"{}")
    assert json.loads(response.body)["__type"].endswith("#UnknownOperationException")


def test_unknown_query_actions_are_invalid_action() -> None:
    d = dispatcher({}, credentials={})
    response = _raw(d, {}, query=[("Action", "DropAllQueues")], method="GET")
    assert response.status == 400
    assert b"<Code>InvalidAction</Code>" in response.body
    assert b"The action DropAllQueues is not valid for this web service." in response.body
    assert b"<Code>MissingAction</Code>" in _raw(d, {}, method="GET").body


def test_wire_names_are_never_looked_up_outside_the_model() -> None:
    d = dispatcher({}, credentials={})
    for name in ("__class__", "handlers", "operation", "_call", "GetQueueUrl.__init__"):
        assert b"InvalidAction" in _raw(d, {}, query=[("Action", name)], method="GET").body


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_missing_required_parameters(protocol: str) -> None:
    record = Recorder()
    d = dispatcher({"SendMessage": record({}), "GetQueueUrl": record({})})
    sqs = client(d, protocol)
    with pytest.raises(ClientError) as raised:
        sqs.send_message(QueueUrl=f"{ENDPOINT}/1/q", MessageBody="")
    assert raised.value.response["Error"]["Code"] == "MissingParameter"
    assert raised.value.response["Error"]["Message"] == "The request must contain the parameter MessageBody."
    with pytest.raises(ClientError) as raised:
        sqs.get_queue_url(QueueName="")
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert raised.value.response["Error"]["Message"] == (
        "Value for parameter QueueName is invalid. Reason: Must specify a queue name."
    )
    assert record.calls == []


def test_query_clients_may_address_the_queue_by_path() -> None:
    record = Recorder()
    d = dispatcher({"PurgeQueue": record(None)}, credentials={})
    response = _raw(
        d,
        {"content-type": "application/x-www-form-urlencoded", "host": "mq.test"},
        b"Action=PurgeQueue&Version=2012-11-05",
    )
    assert response.status == 400  # path "/" names no queue
    request = WireRequest(
        "POST", "http", "mq.test:4599", "/000000000000/orders", [], {}, b"Action=PurgeQueue"
    )
    responses: list[WireResponse] = []
    d.handle(request).addCallback(responses.append)
    assert responses[0].status == 200
    assert record.calls[0][1] == {"QueueUrl": "http://mq.test:4599/000000000000/orders"}


def test_oversized_bodies_are_refused_before_parsing() -> None:
    d = dispatcher({"SendMessage": Recorder()({})}, max_body_size=1000)
    with pytest.raises(ClientError) as raised:
        client(d).send_message(QueueUrl=f"{ENDPOINT}/1/q", MessageBody="x" * 2000)
    assert raised.value.response["Error"]["Code"] == "RequestEntityTooLarge"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_largest_sqs_batch_fits_the_default_body_limit(protocol: str) -> None:
    """1 MiB of two-byte characters: the worst case of both encodings."""
    record = Recorder()
    d = dispatcher({"SendMessageBatch": record({"Successful": [], "Failed": []})})
    entries = [{"Id": str(i), "MessageBody": "\u00fc" * (1024 * 1024 // 20)} for i in range(10)]
    client(d, protocol).send_message_batch(QueueUrl=f"{ENDPOINT}/1/q", Entries=entries)
    assert record.calls[0][1]["Entries"] == entries


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_wrong_secret_and_unknown_key_are_refused(protocol: str) -> None:
    d = dispatcher({"GetQueueUrl": Recorder()({"QueueUrl": "u"})})
    with pytest.raises(ClientError) as raised:
        client(d, protocol, secret="guess").get_queue_url(QueueName="q")
    assert raised.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as raised:
        client(d, protocol, key="AKIDOTHER").get_queue_url(QueueName="q")
    assert raised.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_without_configured_credentials_any_key_is_the_default_account() -> None:
    record = Recorder()
    d = dispatcher({"GetQueueUrl": record({"QueueUrl": "u"})}, credentials={})
    client(d, secret="whatever", key="test").get_queue_url(QueueName="q")
    ctx = record.calls[0][0]
    assert (ctx.account_id, ctx.access_key, ctx.region) == ("000000000000", "test", "eu-west-2")


def test_cancelling_the_response_cancels_the_handler() -> None:
    pending: Deferred[dict] = Deferred()
    d = dispatcher({"ReceiveMessage": lambda ctx, p: pending}, credentials={})
    request = WireRequest(
        "POST", "http", "mq.test", "/", [], {"x-amz-target": "AmazonSQS.ReceiveMessage"}, b'{"QueueUrl": "u"}'
    )
    response = d.handle(request)
    response.addErrback(lambda f: None)
    response.cancel()
    assert pending.called  # the handler's Deferred saw the cancellation


def test_routing_prefers_the_credential_scope_service() -> None:
    record = Recorder()
    d = dispatcher({"ListQueues": record({})}, credentials={})
    body = b"Action=ListQueues&Version=2012-11-05"
    signed = {"authorization": "AWS4-HMAC-SHA256 Credential=k/20240101/ap-south-1/sqs/aws4_request, "
              "SignedHeaders=host, Signature=00", "x-amz-date": "20240101T000000Z"}
    assert _raw(d, signed, body).status == 200
    assert record.calls[0][0].region == "ap-south-1"
