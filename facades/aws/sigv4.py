"""AWS Signature Version 4 verification, by re-signing as botocore does.

Canonicalisation (header trimming, query sorting and encoding, path
normalisation, payload hashing) is where hand-written verifiers go wrong,
and any mismatch with the clients' signer is a spurious
``SignatureDoesNotMatch``. So the canonical request is rebuilt by
``botocore.auth.SigV4Auth`` itself — the code that signed the request in
boto3 and the AWS CLI — from a request reconstructed with exactly the
headers the client says it signed, and the two signatures are compared.

Only the plainest requests, which are nearly all of them (no query string, a path of
unreserved characters, lower-case signed header names, ``host`` among them), take a
shorter road: their canonical request is written directly, the way botocore writes it
(a property test holds the two to the same result on generated requests), because
botocore's general path costs more than the rest of a SendMessage. Signing keys are
derived once per key, day, region and service.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth
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


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, ~3x
# the cost of a plain one, and one is built for every request.
@dataclass
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


# Not frozen, as SignedRequest: one is built for every request.
@dataclass
class Principal:
    """Who sent the request, and what its credential scope says."""

    access_key: str | None
    account_id: str
    region: str | None
    service: str | None
    identity: Identity | None = field(default=None, compare=False)
    """The portal's avatar: the user (and groups) the authorization map checks."""


# Not frozen, as SignedRequest: one is built for every request.
@dataclass
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
            identity = self._login(None, client_address)
            return Principal(None, self._default_account, None, None, identity)
        expected = signature.signature
        creds = SignedAccessKey(signature.access_key,
                                lambda secret: hmac.compare_digest(_sign(request, signature, secret), expected))
        identity = self._login(creds, client_address)
        return Principal(signature.access_key, identity.account or self._default_account,
                         signature.region, signature.service, identity)

    def _login(self, creds: SignedAccessKey | None, client_address: str) -> Identity:
        # Access-key checks are synchronous, so the portal's Deferred has fired already.
        outcome: list[Any] = []
        security = self._security
        login = (security.login(None, client_address, "aws", slow=False) if creds is None
                 else security.login_key(creds, client_address, "aws"))
        login.addBoth(outcome.append)
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
    algorithm, fields = authorization_fields(authorization)
    return _signature(
        algorithm,
        fields.get("Credential"),
        fields.get("SignedHeaders"),
        fields.get("Signature"),
        request.headers.get("x-amz-date"),
        presigned=False,
        strict=strict,
    )


def _split_authorization(authorization: str) -> tuple[str, dict[str, str]]:
    algorithm, _, rest = authorization.strip().partition(" ")
    fields = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name] = value
    return algorithm, fields


#: An Authorization header's algorithm and fields but its Signature, by all of the header
#: before ", Signature=": the same in every request of a client for a day.
_heads: dict[str, tuple[str, dict[str, str]]] = {}


def authorization_fields(authorization: str) -> tuple[str, dict[str, str]]:
    """The algorithm and the ``name=value`` fields of an Authorization header. Those of the
    header as botocore writes it, its Signature last, are split once per client and day."""
    head, sep, signature = authorization.rpartition(", Signature=")
    if not sep or "," in signature or " " not in head.strip():
        return _split_authorization(authorization)
    found = _heads.get(head)
    if found is None:
        if len(_heads) >= 1024:
            _heads.clear()
        found = _heads[head] = _split_authorization(head)
    return found[0], {**found[1], "Signature": signature.rstrip()}


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
    canonical = plain_canonical_request(request, signature)
    if canonical is None:
        canonical = botocore_canonical_request(request, signature)
    timestamp = signature.timestamp
    if timestamp is None:
        return ""   # matches no signature
    date = timestamp[0:8]
    string_to_sign = (f"{ALGORITHM}\n{timestamp}\n{date}/{signature.region}/{signature.service}/aws4_request\n"
                      f"{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}")
    mac = _signer(secret, date, signature.region, signature.service).copy()
    mac.update(string_to_sign.encode("utf-8"))
    return mac.hexdigest()


def botocore_canonical_request(request: SignedRequest, signature: _Signature) -> str:
    """The canonical request as ``botocore.auth.SigV4Auth`` builds it, for any request."""
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
    signer = SigV4Auth(Credentials(signature.access_key, ""), signature.service, signature.region)
    return signer.canonical_request(aws_request)


#: A path botocore's normalisation and quoting leave as it is: segments of unreserved
#: characters, none empty and none starting with a dot.
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9_~-][A-Za-z0-9_.~-]*)*/?")
_UNSIGNABLE = frozenset(SIGNED_HEADERS_BLACKLIST)
_HOST_BREAKERS = re.compile(r"[/?#\\@\[\]]")


def plain_canonical_request(request: SignedRequest, signature: _Signature) -> str | None:
    """The canonical request of a plain request, written directly; ``None`` for any other."""
    if request.query:
        return None
    layout = _plain_layout(request.path, request.host, signature.signed_headers)
    if layout is None:
        return None
    names, signed = layout
    headers = request.headers
    lines = "\n".join([f"{name}:{' '.join(headers.get(name, '').split())}" for name in names])
    checksum = headers.get("x-amz-content-sha256", "") if "x-amz-content-sha256" in names \
        else hashlib.sha256(request.body).hexdigest()
    return f"{request.method.upper()}\n{request.path or '/'}\n\n{lines}\n\n{signed}\n{checksum}"


_Layout = tuple[tuple[str, ...], str] | None
#: `_plain_layout` by (path, host, signed header names): the same in every request a client
#: sends to one queue URL, so each request only fills in its header values.
_layouts: dict[tuple[str, str, tuple[str, ...]], _Layout] = {}


def _plain_layout(path: str, host: str, names: tuple[str, ...]) -> _Layout:
    """The signed header names in canonical order and the SignedHeaders line, when a request
    with this path, host and signed headers is plain; None when it is not."""
    key = (path, host, names)
    if key in _layouts:
        return _layouts[key]
    layout: _Layout = None
    if (_PLAIN_PATH.fullmatch(path) and "host" in names and not _HOST_BREAKERS.search(host)
            and len(set(names)) == len(names)
            and all(name and name == name.lower() and name == name.strip() and name not in _UNSIGNABLE
                    for name in names)):
        ordered = tuple(sorted(names))
        layout = (ordered, ";".join(ordered))
    if len(_layouts) >= 1024:
        _layouts.clear()
    _layouts[key] = layout
    return layout


_signers: dict[tuple[str, str, str, str], hmac.HMAC] = {}


def _signer(secret: str, date: str, region: str, service: str) -> hmac.HMAC:
    """An HMAC keyed with SigV4's derived key, cached: the key changes once a day per key,
    region and service, and a copy of a keyed HMAC signs for a quarter less than keying a new one."""
    cache_key = (secret, date, region, service)
    signer = _signers.get(cache_key)
    if signer is None:
        key = f"AWS4{secret}".encode("utf-8")
        for part in (date, region, service, "aws4_request"):
            key = hmac.digest(key, part.encode("utf-8"), "sha256")
        if len(_signers) >= 1024:
            _signers.clear()
        signer = _signers[cache_key] = hmac.new(key, digestmod="sha256")
    return signer
