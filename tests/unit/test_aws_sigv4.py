"""SigV4 verification against signatures made by botocore's own signers."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import event, given, settings, strategies as st
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from facades.aws.errors import AwsError
from tests.unit.auth_support import security_with_keys
from facades.aws.sigv4 import (Principal, SignedRequest, SigV4Verifier, _read_signature, _Signature,
                               botocore_canonical_request, credential_scope, plain_canonical_request)

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


# -- the plain requests' short road agrees with botocore ---------------------------------

_header_names = st.sampled_from(["host", "x-amz-date", "x-amz-target", "content-type", "X-Amz-Date", "user-agent",
                                 "x-amz-content-sha256", "content-length", "expect", " host", ""])
_text = st.text(st.sampled_from(" \t\xa0\x85\x1cab,=&%é/"), max_size=12)
_paths = st.one_of(st.sampled_from(["/", "", "/000000000000/orders", "/a/", "//a", "/./a", "/a/../b", "/.x",
                                    "/a b", "/%41", "/~x_y-z.q"]),
                   st.text(st.sampled_from("/a.%~_-"), max_size=8).map(lambda p: "/" + p))


@settings(max_examples=600, deadline=None)
@given(method=st.sampled_from(["POST", "GET", "post"]), host=st.sampled_from(["localhost:4566", "h", "", "a/b", "a@b", "a#b", "[::1]:80"]),
       path=_paths, query=st.one_of(st.just([]), st.lists(st.tuples(_text, _text), max_size=2)),
       names=st.one_of(st.lists(_header_names, min_size=1, max_size=5),
                       st.lists(st.sampled_from(["x-amz-date", "x-amz-target", "content-type", "x-amz-content-sha256"]),
                                unique=True).map(lambda n: ["host", *n])),
       values=st.lists(_text, min_size=6, max_size=6),
       body=st.binary(max_size=20), presigned=st.booleans())
def test_the_plain_canonical_request_is_botocores(method, host, path, query, names, values, body,
                                                  presigned) -> None:
    headers = {name: value for name, value in zip(["host", "x-amz-date", "x-amz-target", "content-type",
                                                   "x-amz-content-sha256", "user-agent"], values)}
    request = SignedRequest(method=method, scheme="http", host=host, path=path, query=query, headers=headers,
                            body=body)
    signature = _Signature(access_key="AKID", date="20261205", region="us-east-1", service="sqs",
                           signed_headers=tuple(names), signature="x", timestamp="20261205T010203Z",
                           presigned=presigned)
    plain = plain_canonical_request(request, signature)
    assert plain is None or plain == botocore_canonical_request(request, signature)
    event(f"short road: {plain is not None}")


def test_the_common_requests_take_the_short_road() -> None:
    request = received(signed())
    signature = _read_signature(request, strict=True)
    assert signature is not None and plain_canonical_request(request, signature) is not None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["AWS4-HMAC-SHA256", " ", ",", ", ", "Signature=", ", Signature=", "Credential=",
                                 "a", "=", "SignedHeaders=host;x-amz-date", "\t"]), max_size=12).map("".join))
def test_authorization_fields_are_read_as_a_plain_split_reads_them(header: str) -> None:
    """The cached head of a header gives the fields splitting the whole header gives."""
    from facades.aws.sigv4 import _split_authorization, authorization_fields
    assert authorization_fields(header) == _split_authorization(header)
    assert authorization_fields(header) == _split_authorization(header)   # from the cache
