"""Random (version 4) UUIDs as text, for request and message ids.

Every AWS request gets a request id and every sent SQS message a message id: a batch of
ten costs eleven. `str(uuid.uuid4())` builds a UUID object through Python code and asks
the kernel for 16 bytes each time; this reads the kernel's randomness 4 KiB at a time and
spells the same RFC 4122 text directly, at under half the cost.
"""
from __future__ import annotations

import os

_CHUNK = 4096
# The pool is kept as hex text: a UUID is then five slices of it, with the version digit
# written as "4" and the variant digit looked up (its two high bits set to 10).
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
_pool = ""
_at = 0


def random_uuid() -> str:
    """A version 4 UUID, lower-case hex with dashes, as `str(uuid.uuid4())` spells it."""
    global _pool, _at
    at = _at
    if at >= len(_pool):
        _pool, at = os.urandom(_CHUNK).hex(), 0
    pool = _pool
    _at = at + 32
    return (f"{pool[at:at + 8]}-{pool[at + 8:at + 12]}-4{pool[at + 13:at + 16]}-"
            f"{_VARIANT[pool[at + 16]]}{pool[at + 17:at + 20]}-{pool[at + 20:at + 32]}")
