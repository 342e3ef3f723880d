"""Answering an AWS request once what it did is durable, shared by the SQS and SNS facades."""
from __future__ import annotations

from typing import Any

from twisted.internet import defer

from broker.engine.broker import Broker
from broker.engine.limits import Refused
from facades.aws.errors import common_error


def after_commit(broker: Broker, result: Any, sends: bool = True) -> defer.Deferred[Any]:
    """`result` once everything the request changed is committed. Messages that a full
    store refused answer ServiceUnavailable (HTTP 503), as a send refused up front does;
    a request that only deletes or changes state (`sends` False) is answered all the same,
    since what it did was committed."""
    def refused(failure: Any) -> Any:
        failure.trap(Refused)
        raise common_error("ServiceUnavailable")
    # One addCallbacks, not addCallback then addErrback: the callback cannot fail, and a
    # commit that already happened (no store) runs the chain once, not twice.
    if sends:
        return broker.committed(refusable=True).addCallbacks(lambda _: result, refused)
    return broker.committed(refusable=False).addCallback(lambda _: result)
