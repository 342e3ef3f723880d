"""The MD5 digests SQS returns, computed exactly as SQS computes them.

The Java and .NET SDKs recompute these and reject the call on a mismatch,
so they are part of the wire contract, not a nicety. The attribute digest
is AWS's documented encoding (and the Java SDK's
``MessageMD5ChecksumHandler``): attributes in name order, each as

    len(name) name len(DataType) DataType transport value

with 4-byte big-endian lengths, UTF-8 text, and a transport byte of 1 for
String/Number (then len + UTF-8 value) or 2 for Binary (then len + bytes).
System attributes (``AWSTraceHeader``) use the same encoding.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from typing import Any

_STRING_TRANSPORT = b"\x01"
_BINARY_TRANSPORT = b"\x02"


def md5_of_body(body: str) -> str:
    return md5_of_bytes(body.encode("utf-8"))


def md5_of_bytes(data: bytes) -> str:
    """MD5OfMessageBody of a body already encoded as UTF-8."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_of_message_attributes(attributes: Mapping[str, Mapping[str, Any]] | None) -> str | None:
    """MD5OfMessageAttributes; ``None`` when there are none (SQS omits it)."""
    if not attributes:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    # The SDKs sort with Java's String order (UTF-16 code units), which
    # differs from Python's code point order only above U+FFFF.
    for name in sorted(attributes, key=lambda n: n.encode("utf-16-be")):
        value = attributes[name]
        _update(digest, name.encode("utf-8"))
        _update(digest, value["DataType"].encode("utf-8"))
        if value.get("StringValue") is not None:
            digest.update(_STRING_TRANSPORT)
            _update(digest, value["StringValue"].encode("utf-8"))
        elif value.get("BinaryValue") is not None:
            digest.update(_BINARY_TRANSPORT)
            _update(digest, bytes(value["BinaryValue"]))
    return digest.hexdigest()


#: Same encoding; a separate name because SQS reports it in its own field.
md5_of_message_system_attributes = md5_of_message_attributes


def _update(digest: Any, data: bytes) -> None:
    digest.update(struct.pack(">I", len(data)))
    digest.update(data)
