"""Receipt handles: opaque to clients, (queue, seq, delivery token) to us.

The token is unique per delivery, so a handle from an earlier receive of the same
message is recognisably stale, as SQS's are.
"""
from __future__ import annotations

import base64
import binascii

from facades.sqs.errors import sqs_error

_MAGIC = "mqg1"


def encode(queue: str, seq: int, token: int) -> str:
    raw = f"{_MAGIC}\n{seq}\n{token}\n{queue}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(handle: str) -> tuple[str, int, int]:
    """(queue name, seq, token); ReceiptHandleIsInvalid for anything we did not make."""
    try:
        raw = base64.urlsafe_b64decode(handle + "=" * (-len(handle) % 4)).decode()
        magic, seq, token, queue = raw.split("\n", 3)
        if magic != _MAGIC:
            raise ValueError(magic)
        return queue, int(seq), int(token)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise sqs_error("ReceiptHandleIsInvalid",
                        f'The input receipt handle "{handle}" is not a valid receipt handle.') from None
