"""The one place doors ask who a client is (`login`) and what it may do (`authorize`).

`Security` owns the twisted.cred portal, the user directory and the authorization map,
all rebuilt from the config on `reload` and swapped in whole. Identities carry the user's
name; rights are looked up at each check, so a reload gives live connections the new
rights (and the new groups of their user) without logging them in again.
"""
from __future__ import annotations

import ipaddress
import logging
from typing import Any, Callable, TypeVar

from twisted.cred import checkers, credentials, error
from twisted.cred.portal import Portal
from twisted.internet import defer, task, threads

from broker.auth.authorization import AuthorizationMap, NotAuthorized, Operation, Target, load_map
from broker.auth.checkers import (AccessKeyChecker, BadSignature, CertificateChecker, ClientCertificate,
                                  IAccessKeyCredentials, OpenChecker, PasswordChecker, Realm, RunInThread,
                                  UnknownAccessKey)
from broker.auth.directory import Directory, load_directory
from broker.auth.identity import ANONYMOUS, IIdentity, Identity
from broker.auth.limits import ConnectionCounter, FailureTracker, RateLimiter
from broker.auth.passwords import VerifiedCache
from broker.config import Config, ConfigError, endpoint_arguments

log = logging.getLogger("mqgate.auth")
T = TypeVar("T")
HASH_CHECKS_AT_ONCE = 2   # argon2 verifications running in threads at the same time


class LoginFailed(Exception):
    """The portal refused the credentials; `reason` is the checker's failure."""

    def __init__(self, username: str | None, reason: error.UnauthorizedLogin | error.UnhandledCredentials) -> None:
        # ActiveMQ prints Java's null for a CONNECT without a login.
        super().__init__(f"User name [{'null' if username is None else username}] or password is invalid.")
        self.username = username
        self.reason = reason

    @property
    def message(self) -> str:
        """ActiveMQ's wording (JaasAuthenticationBroker)."""
        return str(self)


def failure_reason(creds: Any, failure: Exception) -> str:
    """The metrics' name for why the portal refused `creds`."""
    if creds is None:
        return "no_credentials"
    if isinstance(failure, UnknownAccessKey):
        return "unknown_key"
    if isinstance(failure, BadSignature):
        return "bad_signature"
    if isinstance(creds, ClientCertificate):
        return "unknown_certificate"
    return "bad_password"


def _default_thread_runner(reactor: Any) -> RunInThread:
    def run(fn: Callable[..., Any], *args: Any) -> "defer.Deferred[Any]":
        return threads.deferToThreadPool(reactor, reactor.getThreadPool(), fn, *args)
    return run


def _address(peer: str) -> str:
    """The host part of "host:port" (IPv6 addresses have more colons and no port here)."""
    return peer.rsplit(":", 1)[0] if peer.count(":") == 1 else peer


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen_hosts(config: Config, doors: list[str]) -> list[str]:
    """The interface each enabled door listens on ("" = every interface)."""
    hosts = []
    for door in doors:
        if getattr(config, f"{door}_port", -1) < 0 and not getattr(config, f"{door}_listen", ""):
            continue
        interface = ""
        for part in endpoint_arguments(config.endpoint(door))[1:]:
            if part.startswith("interface="):
                interface = part[len("interface="):]
        hosts.append(interface)
    return hosts


class Security:
    def __init__(self, config: Config, clock: Any, run_in_thread: RunInThread | None = None) -> None:
        self.clock = clock
        self.run_in_thread = run_in_thread or _default_thread_runner(clock)
        self.cache = VerifiedCache()
        self.hash_slots = defer.DeferredSemaphore(HASH_CHECKS_AT_ONCE)
        self.failures = FailureTracker(clock)
        self.connections = ConnectionCounter(config.max_connections_per_user, config.max_connections_per_address)
        self.requests = RateLimiter(config.aws_requests_per_second, clock)
        self.directory = Directory()
        self.map = AuthorizationMap([])
        self.portal = Portal(Realm(self.directory))
        self.key_checker: AccessKeyChecker | OpenChecker = OpenChecker()
        self.reload(config)

    # -- configuration --------------------------------------------------------------------
    def reload(self, config: Config) -> None:
        """Take users, groups and the map from `config`; on a ConfigError keep the old ones."""
        directory = load_directory(config)
        authorization = load_map(config.authorization)
        portal = Portal(Realm(directory))
        key_checker: AccessKeyChecker | OpenChecker
        if directory.open:
            key_checker = OpenChecker()
            portal.registerChecker(key_checker)
        else:
            key_checker = AccessKeyChecker(directory)
            portal.registerChecker(PasswordChecker(directory, self.run_in_thread, self.cache, self.hash_slots))
            portal.registerChecker(key_checker)
            portal.registerChecker(CertificateChecker(directory))
        if directory.allows_anonymous:
            portal.registerChecker(checkers.AllowAnonymousAccess())
        # Swapped together: the key checker's avatar cache belongs to this directory only.
        self.directory, self.map, self.portal, self.key_checker = directory, authorization, portal, key_checker
        self.connections.per_user = config.max_connections_per_user
        self.connections.per_address = config.max_connections_per_address
        self.requests.rate = config.aws_requests_per_second
        for warning in directory.warnings:
            log.warning("event=auth_warning %s", warning)
        log.info("event=auth_loaded users=%d access_keys=%d authorization_entries=%d open=%s anonymous=%s",
                 len(directory.users), len(directory.keys), len(authorization.entries),
                 directory.open, directory.allows_anonymous)
        if directory.open:
            log.warning("event=auth_open reason=%r", "no users configured: every client is let in")

    def check_bind(self, config: Config, doors: list[str]) -> None:
        """Refuse to serve an open broker beyond this host unless anonymous access is explicit."""
        if not self.directory.open or self.directory.anonymous is True:
            return
        exposed = [h or "*" for h in listen_hosts(config, doors) if not _is_loopback(h)]
        if exposed:
            raise ConfigError(
                f"no users are configured and a door listens on {', '.join(sorted(set(exposed)))}: "
                "configure [[users]] (or --users-file), or set [auth] anonymous = true to "
                "serve everyone without a login")

    @property
    def enforcing(self) -> bool:
        return not self.directory.open

    # -- authentication --------------------------------------------------------------------
    def login(self, creds: Any, peer: str, door: str, username: str | None = None,
              slow: bool = True) -> "defer.Deferred[Identity]":
        """The identity for `creds` (None: anonymous), or a LoginFailed failure.

        With `slow`, attempts from an address with recent failures wait first, doubling per
        failure; doors that answer per request delay their refusals instead (`slowed`)."""
        address = _address(peer)
        portal, key_checker = self.portal, self.key_checker

        def attempt(_: Any = None) -> "defer.Deferred[Identity]":
            return portal.login(creds if creds is not None else credentials.Anonymous(), None, IIdentity)

        def succeeded(result: tuple[Any, Identity, Any]) -> Identity:
            self.failures.succeeded(address)
            if IAccessKeyCredentials.providedBy(creds):
                key_checker.avatars.remember(creds.access_key, result[1])
            return result[1]

        def failed(failure: Any) -> None:
            failure.trap(error.UnauthorizedLogin, error.UnhandledCredentials)
            reason = failure_reason(creds, failure.value)
            count = self.failures.failed(address, door, reason)
            log.warning("event=login_failed door=%s remote=%s user=%r failures=%d reason=%s total=%d",
                        door, peer, username, count, reason, self.failures.counts[(door, reason)])
            raise LoginFailed(username, failure.value)

        delay = self.failures.delay(address) if slow else 0.0
        d = task.deferLater(self.clock, delay, attempt) if delay else attempt()
        return d.addCallbacks(succeeded, failed)

    def login_key(self, creds: IAccessKeyCredentials, peer: str, door: str) -> "defer.Deferred[Identity]":
        """`login` for a signed request: a key the portal let in since the last reload gets
        its avatar again once the request's signature checks out with the key's secret;
        the first request of a key, and every refusal, go through the portal."""
        identity = self.key_checker.cached(creds)
        if identity is None:
            return self.login(creds, peer, door, creds.access_key, slow=False)
        self.failures.succeeded(_address(peer))
        return defer.succeed(identity)

    def login_failures(self) -> dict[tuple[str, str], int]:
        """Refused logins since start per (door, reason); reasons: `no_credentials`,
        `bad_password`, `unknown_key`, `bad_signature`, `unknown_certificate`."""
        return dict(self.failures.counts)

    def slowed(self, peer: str, value: T) -> "defer.Deferred[T]":
        """`value`, after the delay the address has earned by failing to log in."""
        delay = self.failures.delay(_address(peer))
        return task.deferLater(self.clock, delay, lambda: value) if delay else defer.succeed(value)

    def login_password(self, username: str | None, password: str | None, peer: str, door: str,
                       subject: str | None = None) -> "defer.Deferred[Identity]":
        """A login/passcode pair; with neither given, the client certificate's user (when its
        `subject` is some user's), else an anonymous login (ActiveMQ's rule)."""
        if username is None and password is None:
            creds = None
            if subject is not None and self.directory.by_subject(subject) is not None:
                return self.login(ClientCertificate(subject), peer, door, subject)
        else:
            creds = credentials.UsernamePassword(username or "", password or "")
        return self.login(creds, peer, door, username)

    def acting_as(self, role: str | None) -> Identity | None:
        """The identity an in-process caller configured with an IAM role ARN acts as (an API
        Gateway AWS integration's `credentials`): the user listing the role in its `roles`.

        Without a role, or with a role no user lists on an open broker, the anonymous
        identity when anonymous access is allowed; otherwise None (not allowed to act)."""
        user = self.directory.by_role(role) if role else None
        if user is not None:
            return Identity(user.name, user.groups)
        if (role and self.enforcing) or not self.directory.allows_anonymous:
            log.warning("event=role_not_mapped role=%r", role)
            return None
        return Identity(ANONYMOUS, self.directory.anonymous_groups, anonymous=True)

    # -- authorization ----------------------------------------------------------------------
    @staticmethod
    def peer_subject(transport: Any) -> str | None:
        """RFC 4514 subject of the client certificate a TLS transport verified, if any."""
        get = getattr(transport, "getPeerCertificate", None)
        cert = get() if get is not None else None
        return None if cert is None else cert.to_cryptography().subject.rfc4514_string()

    def groups_of(self, identity: Identity) -> frozenset[str]:
        """The identity's groups now: a reload may have changed them (or removed the user)."""
        if identity.anonymous:
            return self.directory.anonymous_groups
        user = self.directory.users.get(identity.name)
        return user.groups if user is not None else frozenset()

    def may(self, identity: Identity, operation: Operation, target: Target) -> bool:
        if not self.map.configured:
            return True
        return self.map.allows(operation, target, self.groups_of(identity))

    def authorize(self, identity: Identity, operation: Operation, target: Target) -> None:
        """Raise NotAuthorized (ActiveMQ's text) unless `identity` may do `operation` on `target`.

        The one check every door makes; a door maps its commands to operations (docs/security.md)."""
        if not self.may(identity, operation, target):
            message = f"User {identity.name} is not authorized to {operation.verb}: {target}"
            log.info("event=not_authorized user=%s operation=%s destination=%s", identity.name, operation.acl, target)
            raise NotAuthorized(message, target, operation)
