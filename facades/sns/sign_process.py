"""The signing process: signs what the broker sends it (see :mod:`facades.sns.sign_worker`).

It imports only what signing needs, so it starts in a fraction of the broker's time.
"""
from __future__ import annotations

import os
import struct
from typing import Iterator

from facades.sns.signing import Signer

_LENGTH = struct.Struct(">I")


def frame(data: bytes) -> bytes:
    return _LENGTH.pack(len(data)) + data


def frames(buffer: bytearray) -> Iterator[bytes]:
    """Complete frames at the head of ``buffer``, removed from it as they are read."""
    while len(buffer) >= 4:
        (length,) = _LENGTH.unpack_from(buffer)
        if len(buffer) < 4 + length:
            return
        data = bytes(buffer[4:4 + length])
        del buffer[:4 + length]
        yield data


def main() -> None:
    """The child: read the key, then sign every request until stdin closes."""
    buffer = bytearray()
    signer: Signer | None = None
    while True:
        data = os.read(0, 1 << 16)
        if not data:
            return
        buffer += data
        out = []
        for request in frames(buffer):
            if signer is None:
                signer = Signer.from_key_pem(request)
                continue
            out.append(frame(signer.sign_canonical(request[1:], chr(request[0])).encode("ascii")))
        if out:
            pending = memoryview(b"".join(out))
            while pending:
                pending = pending[os.write(1, pending):]


if __name__ == "__main__":
    main()
