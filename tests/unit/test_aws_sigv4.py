"""SigV4 verification against signatures made by botocore's own signers."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from facades.aws.errors import AwsError
from tests.unit.auth_support import security_with_keys
from tests.unit.auth_support import security_with_keys
from facades.aws.sigv4 import Principal, SignedRequest, SigV4Verifier, credential_scope

KEYS = {"AKIDEXAMPLE": ("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "111122223333")}
VERIFIER = SigV4Verifier(security_with_keys(KEYS), "000000000000")


def received(request: AWSRequest, body: bytes | None = None) -> SignedRequest:
    """``request`` as the server sees it after botocore signed it."""
    prepared = request.prepare()
    url = urlsplit(prepared.url)
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers.setdefault("host", url.netloc)
    data = prepared.body or b""
    return SignedRequest(
        method=prepared.method,
        scheme=url.scheme,
        host=url.netloc,
        path=url.path,
        query=parse_qsl(url.query, keep_blank_values=True),
        headers={k: v.decode() if isinstance(v, bytes) else v for k, v in headers.items()},
        body=(data.encode() if isinstance(data, str) else data) if body is None else body,
    )


def signed(
    method: str = "POST",
    url: str = "http://localhost:4599/",
    data: bytes = b'{"QueueName": "orders"}',
    headers: dict | None = None,
    key: str = "AKIDEXAMPLE",
    secret: str = KEYS["AKIDEXAMPLE"][0],
    presign: bool = False,
) -> AWSRequest:
    request = AWSRequest(
        method=method,
        url=url,
        data=data,
        headers=headers or {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.GetQueueUrl"},
    )
    signer = (SigV4QueryAuth if presign else SigV4Auth)(Credentials(key, secret), "sqs", "eu-central-1")
    signer.add_auth(request)
    return request


def test_a_valid_signature_yields_the_account_of_the_key() -> None:
    assert VERIFIER.authenticate(received(signed())) == Principal(
        "AKIDEXAMPLE", "111122223333", "eu-central-1", "sqs"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:4599/?Action=ListQueues&QueueNamePrefix=a%20b&Version=2012-11-05",
        "http://localhost:4599/000000000000/my-queue?Action=PurgeQueue&X=%E2%82%AC~%2F%2B%3D",
        "https://sqs.example:8443/?Action=ListQueues&Empty=",
    ],
)
def test_query_string_requests_verify(url: str) -> None:
    request = signed(method="GET", url=url, data=b"", headers={})
    assert VERIFIER.authenticate(received(request)).account_id == "111122223333"


def test_presigned_urls_verify() -> None:
    request = signed(
        method="GET",
        url="http://localhost:4599/?Action=GetQueueUrl&QueueName=orders&Version=2012-11-05",
        data=b"",
        headers={},
        presign=True,
    )
    wire = received(request)
    assert "authorization" not in wire.headers
    assert VERIFIER.authenticate(wire).account_id == "111122223333"
    tampered = SignedRequest(**{**wire.__dict__, "query": [(k, "other" if k == "QueueName" else v) for k, v in wire.query]})
    with pytest.raises(AwsError, match="signature we calculated"):
        VERIFIER.authenticate(tampered)


def refusal(request: SignedRequest) -> AwsError:
    with pytest.raises(AwsError) as raised:
        VERIFIER.authenticate(request)
    assert raised.value.status == 403 or raised.value.code == "IncompleteSignature"
    return raised.value


def test_a_wrong_secret_does_not_match() -> None:
    assert refusal(received(signed(secret="not-the-secret"))).code == "SignatureDoesNotMatch"


def test_a_changed_body_does_not_match() -> None:
    assert refusal(received(signed(), body=b'{"QueueName": "payroll"}')).code == "SignatureDoesNotMatch"


def test_a_changed_signed_header_does_not_match() -> None:
    wire = received(signed())
    changed = SignedRequest(**{**wire.__dict__, "headers": {**wire.headers, "x-amz-target": "AmazonSQS.DeleteQueue"}})
    assert refusal(changed).code == "SignatureDoesNotMatch"


def test_unsigned_headers_may_change() -> None:
    wire = received(signed())
    extra = SignedRequest(**{**wire.__dict__, "headers": {**wire.headers, "user-agent": "proxy/1.0"}})
    assert VERIFIER.authenticate(extra).account_id == "111122223333"


def test_an_unknown_key_is_an_invalid_client_token() -> None:
    assert refusal(received(signed(key="AKIDUNKNOWN"))).code == "InvalidClientTokenId"


def test_an_unsigned_request_is_missing_its_token() -> None:
    wire = SignedRequest("POST", "http", "localhost", "/", [], {"host": "localhost"}, b"")
    assert refusal(wire).code == "MissingAuthenticationToken"


def test_a_malformed_authorization_header_is_an_incomplete_signature() -> None:
    wire = SignedRequest("POST", "http", "localhost", "/", [], {"authorization": "AWS AKID:sig"}, b"")
    assert refusal(wire).code == "IncompleteSignature"


def test_without_configured_keys_everything_is_accepted_as_the_default_account() -> None:
    lenient = SigV4Verifier(security_with_keys({}), "000000000000")
    assert lenient.authenticate(received(signed(secret="anything"))) == Principal(
        "AKIDEXAMPLE", "000000000000", "eu-central-1", "sqs"
    )
    unsigned = SignedRequest("GET", "http", "localhost", "/", [], {}, b"")
    assert lenient.authenticate(unsigned) == Principal(None, "000000000000", None, None)
    garbled = SignedRequest("GET", "http", "localhost", "/", [], {"authorization": "Bearer x"}, b"")
    assert lenient.authenticate(garbled).access_key is None


def test_credential_scope_routes_without_authenticating() -> None:
    assert credential_scope(received(signed(secret="wrong"))) == ("eu-central-1", "sqs")
    assert credential_scope(SignedRequest("GET", "http", "h", "/", [], {}, b"")) is None
