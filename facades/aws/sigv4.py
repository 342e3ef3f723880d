"""AWS Signature Version 4 verification, by re-signing with botocore.

Canonicalisation (header trimming, query sorting and encoding, path
normalisation, payload hashing) is where hand-written verifiers go wrong,
and any mismatch with the clients' signer is a spurious
``SignatureDoesNotMatch``. So the canonical request is rebuilt by
``botocore.auth.SigV4Auth`` itself — the code that signed the request in
boto3 and the AWS CLI — from a request reconstructed with exactly the
headers the client says it signed, and the two signatures are compared.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from facades.aws.errors import common_error

ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True)
class SignedRequest:
    """What a signature covers, as received (no Twisted types)."""

    method: str
    scheme: str
    host: str
    path: str
    """Raw path, percent-encoding as sent: SigV4 encodes it once more."""
    query: Sequence[tuple[str, str]]
    """Decoded query parameters in arrival order."""
    headers: Mapping[str, str]
    """Lower-case names; repeated headers joined with ``,``."""
    body: bytes


@dataclass(frozen=True)
class Principal:
    """Who sent the request, and what its credential scope says."""

    access_key: str | None
    account_id: str
    region: str | None
    service: str | None


@dataclass(frozen=True)
class _Signature:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str | None
    presigned: bool


class SigV4Verifier:
    """Checks signatures against configured keys, or only reads them.

    ``credentials`` maps access key id to ``(secret, account_id)``. When it
    is empty every request is accepted — signed or not — as the default
    account, and the access key and scope are only read, because local
    development clients sign with throwaway keys.
    """

    def __init__(self, credentials: Mapping[str, tuple[str, str]], default_account: str) -> None:
        self._credentials = dict(credentials)
        self._default_account = default_account

    @property
    def enforcing(self) -> bool:
        return bool(self._credentials)

    def authenticate(self, request: SignedRequest, anonymous_ok: bool = False) -> Principal:
        """The principal of ``request``, or an :class:`AwsError` refusing it.

        ``anonymous_ok``: an unsigned request is accepted as the default account even
        when keys are enforced (the links AWS mails or posts, e.g. an SNS SubscribeURL).
        """
        signature = _read_signature(request, strict=self.enforcing)
        if signature is None and anonymous_ok:
            return Principal(None, self._default_account, None, None)
        if not self.enforcing:
            if signature is None:
                return Principal(None, self._default_account, None, None)
            return Principal(signature.access_key, self._default_account, signature.region, signature.service)
        if signature is None:
            raise common_error("MissingAuthenticationToken")
        key = self._credentials.get(signature.access_key)
        if key is None:
            raise common_error("InvalidClientTokenId")
        secret, account_id = key
        expected = _sign(request, signature, secret)
        if not hmac.compare_digest(expected, signature.signature):
            raise common_error("SignatureDoesNotMatch")
        return Principal(signature.access_key, account_id, signature.region, signature.service)


def credential_scope(request: SignedRequest) -> tuple[str, str] | None:
    """``(region, service)`` of the request's credential, if it has one.

    Lenient: this only routes requests, it does not authenticate them.
    """
    signature = _read_signature(request, strict=False)
    return None if signature is None else (signature.region, signature.service)


def _read_signature(request: SignedRequest, *, strict: bool) -> _Signature | None:
    authorization = request.headers.get("authorization")
    if authorization is not None:
        return _from_header(authorization, request, strict)
    query = dict(request.query)
    if "X-Amz-Credential" in query:
        return _from_query(query, strict)
    return None


def _from_header(authorization: str, request: SignedRequest, strict: bool) -> _Signature | None:
    algorithm, _, rest = authorization.strip().partition(" ")
    fields = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name] = value
    return _signature(
        algorithm,
        fields.get("Credential"),
        fields.get("SignedHeaders"),
        fields.get("Signature"),
        request.headers.get("x-amz-date"),
        presigned=False,
        strict=strict,
    )


def _from_query(query: Mapping[str, str], strict: bool) -> _Signature | None:
    return _signature(
        query.get("X-Amz-Algorithm", ""),
        query.get("X-Amz-Credential"),
        query.get("X-Amz-SignedHeaders"),
        query.get("X-Amz-Signature"),
        query.get("X-Amz-Date"),
        presigned=True,
        strict=strict,
    )


def _signature(
    algorithm: str,
    credential: str | None,
    signed_headers: str | None,
    signature: str | None,
    timestamp: str | None,
    *,
    presigned: bool,
    strict: bool,
) -> _Signature | None:
    scope = (credential or "").split("/")
    well_formed = (
        algorithm == ALGORITHM
        and len(scope) == 5
        and scope[4] == "aws4_request"
        and bool(signed_headers)
        and bool(signature)
        and bool(timestamp)
    )
    if not well_formed:
        if strict:
            raise common_error(
                "IncompleteSignature",
                "Authorization header requires 'Credential', 'Signature', 'SignedHeaders' "
                "and a date (X-Amz-Date) with algorithm AWS4-HMAC-SHA256.",
            )
        if len(scope) != 5:
            return None
    return _Signature(
        access_key=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple((signed_headers or "").split(";")),
        signature=signature or "",
        timestamp=timestamp,
        presigned=presigned,
    )


def _sign(request: SignedRequest, signature: _Signature, secret: str) -> str:
    headers = {name: request.headers.get(name, "") for name in signature.signed_headers}
    params = [(k, v) for k, v in request.query if not (signature.presigned and k == "X-Amz-Signature")]
    aws_request = AWSRequest(
        method=request.method,
        url=f"{request.scheme}://{request.host}{request.path}",
        headers=headers,
        data=request.body,
    )
    aws_request.params = params
    aws_request.context["timestamp"] = signature.timestamp
    signer = SigV4Auth(Credentials(signature.access_key, secret), signature.service, signature.region)
    canonical = signer.canonical_request(aws_request)
    return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
