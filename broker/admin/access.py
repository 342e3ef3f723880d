"""Who an admin HTTP request is: HTTP Basic through the broker's portal (door `admin`).

ActiveMQ's console asks for a Basic login checked against its realm; here the realm is
the broker's users. A request without an `Authorization` header is anonymous when the
broker lets anonymous clients in (an open broker does) and is otherwise challenged
without counting a failure; a refused Basic login counts as one (door `admin`).
"""
from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlsplit

from twisted.internet import defer

from broker.auth.identity import Identity
from broker.auth.security import LoginFailed, Security

REALM = "ActiveMQRealm"   # the realm name ActiveMQ's jetty.xml gives the console


class Refused(Exception):
    """The request may not go on: `status` (401 or 403) and a short text."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def basic_credentials(header: bytes | None) -> tuple[str, str] | None:
    """(user, password) of an `Authorization: Basic ...` header; None when absent."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(b" ")
    if scheme.lower() != b"basic":
        raise Refused(401, "Only HTTP Basic authentication is supported")
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Refused(401, "Malformed Basic credentials") from None
    if not sep:
        raise Refused(401, "Malformed Basic credentials")
    return user, password


def cross_origin(request: Any) -> bool:
    """A browser request sent from another site's page (an `Origin` that is not this host):
    refused, so a page elsewhere cannot use a console login cached in the browser."""
    origin = request.getHeader(b"origin")
    if not origin or origin == b"null":
        return origin == b"null"
    host = request.getHeader(b"host") or b""
    return urlsplit(origin.decode("latin-1")).netloc.lower() != host.decode("latin-1").lower()


def _peer(request: Any) -> str:
    peer = request.getClientAddress()
    return f"{getattr(peer, 'host', peer)}:{getattr(peer, 'port', 0)}"


@defer.inlineCallbacks
def login(security: Security, request: Any) -> Any:
    """The request's identity; Refused (401) when it has none it may use."""
    if cross_origin(request):
        raise Refused(403, "Cross-origin requests are not accepted")
    given = basic_credentials(request.getHeader(b"authorization"))
    if given is None and not security.directory.allows_anonymous:
        raise Refused(401, "Authentication required")
    user, password = given if given is not None else (None, None)
    try:
        identity = yield security.login_password(user, password, _peer(request), "admin")
    except LoginFailed as exc:
        raise Refused(401, exc.message) from None
    return identity


def may_administer(security: Security, identity: Identity, groups: list[str]) -> bool:
    """Whether `identity` may read the broker's metrics and MBeans: anyone on an open
    broker, otherwise members of the configured console groups."""
    if not security.enforcing:
        return True
    return bool(security.groups_of(identity) & set(groups))
