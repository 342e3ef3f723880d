"""twisted.cred checkers and the realm: passwords, access keys, certificates, anonymous.

Doors never compare credentials themselves: they build a credentials object and ask the
portal (`Security.login`), which picks the checker by the credentials' interface.
"""
from __future__ import annotations

from typing import Any, Callable

from twisted.cred import checkers, credentials, error
from twisted.cred.portal import IRealm
from twisted.internet import defer
from zope.interface import Attribute, implementer

from broker.auth.directory import Directory
from broker.auth.identity import ANONYMOUS, IIdentity, Identity
from broker.auth.passwords import VerifiedCache, same_secret, verify_hash

# Runs a blocking function off the reactor thread and gives its result as a Deferred.
RunInThread = Callable[..., "defer.Deferred[Any]"]


class UnknownAccessKey(error.UnauthorizedLogin):
    """No such access key (AWS: InvalidClientTokenId)."""


class BadSignature(error.UnauthorizedLogin):
    """The key exists but the request was not signed with its secret (SignatureDoesNotMatch)."""


class IAccessKeyCredentials(credentials.ICredentials):
    """A request signed with an access key: the checker hands it the key's secret to verify."""

    access_key = Attribute("access key id the request names")

    def verify(secret: str) -> bool:
        """Whether the request's signature was made with `secret`."""


class ICertificateCredentials(credentials.ICredentials):
    subject = Attribute("RFC 4514 subject of a verified client certificate")


@implementer(IAccessKeyCredentials)
class SignedAccessKey:
    def __init__(self, access_key: str, verify: Callable[[str], bool]) -> None:
        self.access_key = access_key
        self._verify = verify

    def verify(self, secret: str) -> bool:
        return self._verify(secret)


@implementer(ICertificateCredentials)
class ClientCertificate:
    def __init__(self, subject: str) -> None:
        self.subject = subject


@implementer(checkers.ICredentialsChecker)
class PasswordChecker:
    credentialInterfaces = (credentials.IUsernamePassword,)

    def __init__(self, directory: Directory, run_in_thread: RunInThread, cache: VerifiedCache,
                 slots: defer.DeferredSemaphore) -> None:
        self.directory = directory
        self.run_in_thread = run_in_thread
        self.cache = cache
        # Each argon2 check takes 64 MiB for a moment: a login flood queues instead.
        self.slots = slots

    def requestAvatarId(self, creds: Any) -> "defer.Deferred[str]":
        name = creds.username.decode() if isinstance(creds.username, bytes) else creds.username
        given = creds.password.decode() if isinstance(creds.password, bytes) else creds.password
        user = self.directory.users.get(name)
        stored = user.password_hash if user is not None else None
        if user is not None and stored is None:
            ok = user.password is not None and same_secret(user.password, given)
            return defer.succeed(name) if ok else defer.fail(error.UnauthorizedLogin())
        if stored is not None and self.cache.known(name, stored, given):
            return defer.succeed(name)
        if stored is None and not any(u.password_hash for u in self.directory.users.values()):
            return defer.fail(error.UnauthorizedLogin())

        def checked(ok: bool) -> str:
            if not ok:
                raise error.UnauthorizedLogin()
            assert stored is not None
            self.cache.remember(name, stored, given)
            return name
        # Unknown users cost a hash verification too, so timing does not tell names apart.
        return self.slots.run(self.run_in_thread, verify_hash, stored, given).addCallback(checked)


class KeyAvatars:
    """The avatars the portal gave access keys, so a key's next request skips the portal.

    One belongs to the key checker of one config generation: a reload builds new checkers
    and with them an empty cache, so a removed key or changed groups count at once. Only
    the avatar is kept; every request's signature is still checked with the key's secret."""

    LIMIT = 4096   # an open broker lets in any key name: keep the cache bounded

    def __init__(self) -> None:
        self.by_key: dict[str, Identity] = {}

    def remember(self, access_key: str, identity: Identity) -> None:
        if len(self.by_key) < self.LIMIT:
            self.by_key[access_key] = identity


@implementer(checkers.ICredentialsChecker)
class AccessKeyChecker:
    credentialInterfaces = (IAccessKeyCredentials,)

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.avatars = KeyAvatars()

    def cached(self, creds: IAccessKeyCredentials) -> Identity | None:
        """The avatar the portal gave this key before, when the request is signed with the
        key's secret; None: ask the portal (first use, or a refusal it counts)."""
        identity = self.avatars.by_key.get(creds.access_key)
        if identity is None or not creds.verify(self.directory.keys[creds.access_key].secret):
            return None
        return identity

    def requestAvatarId(self, creds: Any) -> "defer.Deferred[str]":
        key = self.directory.keys.get(creds.access_key)
        if key is None:
            return defer.fail(UnknownAccessKey())
        if not creds.verify(key.secret):
            return defer.fail(BadSignature())
        return defer.succeed("key:" + key.key_id)


@implementer(checkers.ICredentialsChecker)
class CertificateChecker:
    credentialInterfaces = (ICertificateCredentials,)

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def requestAvatarId(self, creds: Any) -> "defer.Deferred[str]":
        user = self.directory.by_subject(creds.subject)
        return defer.succeed(user.name) if user is not None else defer.fail(error.UnauthorizedLogin())


@implementer(checkers.ICredentialsChecker)
class OpenChecker:
    """No users configured: any login and any key gets in, under the name it gave."""

    credentialInterfaces = (credentials.IUsernamePassword, IAccessKeyCredentials)

    def __init__(self) -> None:
        self.avatars = KeyAvatars()

    def cached(self, creds: IAccessKeyCredentials) -> Identity | None:
        """The avatar the portal gave this key name before (nothing to verify here)."""
        return self.avatars.by_key.get(creds.access_key)

    def requestAvatarId(self, creds: Any) -> "defer.Deferred[Any]":
        name = getattr(creds, "username", None) or getattr(creds, "access_key", None)
        if isinstance(name, bytes):
            name = name.decode()
        return defer.succeed(("open", name or ANONYMOUS))


@implementer(IRealm)
class Realm:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def requestAvatar(self, avatar_id: Any, mind: Any, *interfaces: Any) -> tuple[Any, Identity, Callable[[], None]]:
        if IIdentity not in interfaces:
            raise NotImplementedError("mqgate's realm only hands out identities")
        directory = self.directory
        if avatar_id is checkers.ANONYMOUS:
            identity = Identity(ANONYMOUS, directory.anonymous_groups, anonymous=True)
        elif isinstance(avatar_id, tuple):   # OpenChecker
            identity = Identity(avatar_id[1], directory.anonymous_groups, anonymous=True)
        elif avatar_id.startswith("key:"):
            key = directory.keys[avatar_id[4:]]
            user = directory.users.get(key.user)
            identity = Identity(key.user, user.groups if user else frozenset(), account=key.account)
        else:
            identity = Identity(avatar_id, directory.users[avatar_id].groups)
        return IIdentity, identity, lambda: None
