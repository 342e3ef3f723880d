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
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from broker.auth.checkers import BadSignature, SignedAccessKey, UnknownAccessKey
from broker.auth.identity import Identity
from broker.auth.security import LoginFailed, Security
from facades.aws.errors import ErrorCatalogue, common_error

T = TypeVar("T")

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
    identity: Identity | None = field(default=None, compare=False)
    """The portal's avatar: the user (and groups) the authorization map checks."""


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


_REFUSALS = {UnknownAccessKey: "InvalidClientTokenId", BadSignature: "SignatureDoesNotMatch"}


class SigV4Verifier:
    """Asks the broker's portal whom a signed request comes from.

    The portal's access-key checker hands this request's signature check the
    key's secret; with no users or keys configured it lets every request in
    — signed or not — as the default account, and the access key and scope
    are only read, because local development clients sign with throwaway keys.
    """

    def __init__(self, security: Security, default_account: str) -> None:
        self._security = security
        self._default_account = default_account

    @property
    def enforcing(self) -> bool:
        return self._security.enforcing

    def authenticate(self, request: SignedRequest, client_address: str = "",
                     anonymous_ok: bool = False) -> Principal:
        """The principal of ``request``, or an :class:`AwsError` refusing it.

        ``anonymous_ok``: an unsigned request is accepted as the default account even
        when keys are enforced (the links AWS mails or posts, e.g. an SNS SubscribeURL).
        """
        signature = _read_signature(request, strict=self.enforcing)
        if signature is None and anonymous_ok:
            return Principal(None, self._default_account, None, None)
        if signature is None:
            if self.enforcing and not self._security.directory.allows_anonymous:
                raise common_error("MissingAuthenticationToken")
            identity = self._login(None, client_address, None)
            return Principal(None, self._default_account, None, None, identity)
        expected = signature.signature
        creds = SignedAccessKey(signature.access_key,
                                lambda secret: hmac.compare_digest(_sign(request, signature, secret), expected))
        identity = self._login(creds, client_address, signature.access_key)
        return Principal(signature.access_key, identity.account or self._default_account,
                         signature.region, signature.service, identity)

    def _login(self, creds: SignedAccessKey | None, client_address: str, key: str | None) -> Identity:
        # Access-key checks are synchronous, so the portal's Deferred has fired already.
        outcome: list[Any] = []
        self._security.login(creds, client_address, "aws", key, slow=False).addBoth(outcome.append)
        result = outcome[0]
        if isinstance(result, Failure):
            result.trap(LoginFailed)
            raise common_error(_REFUSALS.get(type(result.value.reason), "InvalidClientTokenId"))
        return result

    def slowed(self, client_address: str, response: T) -> Deferred[T]:
        """``response`` (a refusal), delayed when its address keeps failing to log in."""
        return self._security.slowed(client_address, response)

    def throttle(self, principal: Principal, errors: ErrorCatalogue) -> None:
        """Refuse a request over its access key's rate (RequestThrottled where the service
        has it, as SQS does; otherwise AWS's common ThrottlingException)."""
        if principal.access_key is None or self._security.requests.allow(principal.access_key):
            return
        code = "RequestThrottled" if "RequestThrottled" in errors else "ThrottlingException"
        raise (errors if code in errors else common_error)(code)


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
