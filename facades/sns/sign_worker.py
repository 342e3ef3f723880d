"""RSA signatures made in a child process, so they run beside the reactor.

An RSA-2048 signature costs about as much CPU as everything else an HTTP notification
needs, and ``cryptography`` holds the GIL while it signs: a thread would not run beside
the reactor, a process does. The child gets the key on its stdin (never on its command
line; :mod:`facades.sns.sign_process`), then length-prefixed requests (signature version, canonical string) and answers
each with its base64 signature, in order; everything a read brings is signed and
answered in one write, so a busy reactor pays one pipe write and read per batch.

If the child cannot start or dies, signing goes on in the broker's own process.
"""
from __future__ import annotations

import os
import sys
from collections import deque
from pathlib import Path
from typing import Any

from twisted.internet import defer, protocol
from twisted.internet.interfaces import IReactorProcess
from twisted.logger import Logger
from twisted.python.failure import Failure

from facades.sns.sign_process import frame, frames
from facades.sns.signing import Signer

_log = Logger()


class _Child(protocol.ProcessProtocol):
    def __init__(self, owner: "SigningWorker") -> None:
        self._owner = owner
        self._buffer = bytearray()

    def outReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted's interface)
        self._buffer += data
        for signature in frames(self._buffer):
            self._owner.answered(signature.decode("ascii"))

    def errReceived(self, data: bytes) -> None:  # noqa: N802
        _log.warn("SNS signing process: {text}", text=data.decode("utf-8", "replace").rstrip())

    def processEnded(self, reason: Failure) -> None:  # noqa: N802
        self._owner.ended(reason)


class SigningWorker:
    """Signs through the child process when the reactor can run one, else in process."""

    def __init__(self, signer: Signer, reactor: Any) -> None:
        self.signer = signer
        self._reactor = reactor
        self._child: _Child | None = None
        self._transport: Any = None
        self._waiting: deque[tuple[defer.Deferred[str], bytes, str]] = deque()
        self._usable = IReactorProcess.providedBy(reactor)

    def sign(self, canonical: bytes, version: str) -> defer.Deferred[str]:
        """The base64 signature of ``canonical`` (SignatureVersion ``version``)."""
        if not self._usable or (self._transport is None and not self._start()):
            return defer.succeed(self.signer.sign_canonical(canonical, version))
        d: defer.Deferred[str] = defer.Deferred()
        self._waiting.append((d, canonical, version))
        self._transport.write(frame(version.encode("ascii") + canonical))
        return d

    def stop(self) -> None:
        if self._transport is not None:
            self._transport.closeStdin()

    def answered(self, signature: str) -> None:
        d, _, _ = self._waiting.popleft()
        d.callback(signature)

    def ended(self, reason: Failure) -> None:
        """The child is gone: what it had not answered is signed here, and so is the rest."""
        if self._usable:
            _log.warn("SNS signing process ended ({reason}); signing in the broker process",
                      reason=reason.getErrorMessage())
        self._usable = False
        self._transport = self._child = None
        waiting, self._waiting = self._waiting, deque()
        for d, canonical, version in waiting:
            d.callback(self.signer.sign_canonical(canonical, version))

    def _start(self) -> bool:
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        self._child = _Child(self)
        try:
            self._transport = self._reactor.spawnProcess(
                self._child, sys.executable, [sys.executable, "-m", "facades.sns.sign_process"], env=env,
                childFDs={0: "w", 1: "r", 2: "r"})
        except Exception:
            _log.failure("SNS signing process did not start; signing in the broker process")
            self._usable = False
            self._child = None
            return False
        self._transport.write(frame(self.signer.to_record()["key"].encode("ascii")))
        self._reactor.addSystemEventTrigger("before", "shutdown", self.stop)
        return True
