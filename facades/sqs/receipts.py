"""Receipt handles: opaque to clients, (queue, seq, delivery token) to us.

The token is unique per delivery, so a handle from an earlier receive of the same
message is recognisably stale, as SQS's are.
"""
from __future__ import annotations

import binascii

from facades.sqs.errors import sqs_error

_MAGIC = "mqg1"
_MAGIC_BYTES = _MAGIC.encode()
# URL-safe base64 (RFC 4648 section 5) spelled with binascii and a translation table:
# base64.urlsafe_b64* do the same in more steps, once per message of every receive and delete.
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def encode(queue: str, seq: int, token: int) -> str:
    raw = f"{_MAGIC}\n{seq}\n{token}\n{queue}".encode()
    return binascii.b2a_base64(raw, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode()


def decode(handle: str) -> tuple[str, int, int]:
    """(queue name, seq, token); ReceiptHandleIsInvalid for anything we did not make."""
    try:
        # Padding past what the data needs is ignored (binascii's non-strict mode): two
        # more pad any handle, the client's own padding kept or not, at no arithmetic.
        raw = binascii.a2b_base64(handle.encode("ascii").translate(_FROM_URLSAFE) + b"==")
        magic, seq, token, queue = raw.split(b"\n", 3)
        if magic != _MAGIC_BYTES:
            raise ValueError(magic)
        return queue.decode(), int(seq), int(token)
    except (ValueError, binascii.Error, UnicodeError):
        raise sqs_error("ReceiptHandleIsInvalid",
                        f'The input receipt handle "{handle}" is not a valid receipt handle.') from None
