"""Password hashes (argon2id, through argon2-cffi) and timing-safe plain comparisons.

Verifying an argon2 hash takes tens of milliseconds on purpose, so it runs off the reactor
thread (see `Security`); successful verifications are remembered as keyed digests so a
client that reconnects often does not pay it every time.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Compared against when the user does not exist, so an unknown name costs as much as a
    known one (made on first use: hashing takes a while, start-up should not)."""
    return _HASHER.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def is_hash(text: str) -> bool:
    return text.startswith("$argon2")


def verify_hash(stored: str | None, password: str) -> bool:
    """Whether `password` matches the argon2 hash `stored` (None: a dummy of equal cost)."""
    try:
        return _HASHER.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def same_secret(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


class VerifiedCache:
    """Remembers (user, hash, password) triples that verified, as keyed digests only."""

    def __init__(self, size: int = 4096) -> None:
        self._key = secrets.token_bytes(32)
        self._seen: dict[str, bytes] = {}
        self._size = size

    def _digest(self, stored: str, password: str) -> bytes:
        return hmac.new(self._key, f"{stored}\0{password}".encode(), hashlib.sha256).digest()

    def known(self, user: str, stored: str, password: str) -> bool:
        seen = self._seen.get(user)
        return seen is not None and hmac.compare_digest(seen, self._digest(stored, password))

    def remember(self, user: str, stored: str, password: str) -> None:
        if len(self._seen) >= self._size:
            self._seen.clear()
        self._seen[user] = self._digest(stored, password)
