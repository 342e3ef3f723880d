"""What the ActiveMQ doors (STOMP, OpenWire) share about the authorization map: which
destinations already exist (creating one on first use needs admin, ActiveMQ's "create"),
and the checks a frame or command makes on its destinations."""
from __future__ import annotations

from typing import Any, Iterable

from broker.auth.authorization import CREATE, Operation, Target
from broker.auth.security import Security
from broker.engine.broker import Broker
from broker.engine.topic import is_wildcard
from broker.protocols.activemq import destinations as dest

COMMIT_FAILED = "COMMIT FAILED: Transaction marked rollback only"


def security_detail(message: str) -> str:
    """The exception line ActiveMQ reports with a SecurityException's text."""
    return f"java.lang.SecurityException: {message}"


def exists(broker: Broker, d: dest.Destination) -> bool:
    """Whether `d` exists already; temporary destinations exist once their owner made them."""
    if d.kind in (dest.REMOTE_TEMP_QUEUE, dest.REMOTE_TEMP_TOPIC, dest.TEMP_TOPIC):
        return True
    if d.is_topic:
        return is_wildcard(d.name) or d.name in broker.topics
    return broker.queue(d.name, create=False) is not None


def authorize(security: Security, identity: Any, operation: Operation,
              targets: Iterable[tuple[Target, bool]]) -> None:
    """`operation` on each (target, exists) pair, and admin ("create") where it does not
    exist yet; NotAuthorized (ActiveMQ's text) for the first refused."""
    if identity is None or not security.map.configured:
        return
    for target, present in targets:
        security.authorize(identity, operation, target)
        if not present:
            security.authorize(identity, CREATE, target)


# -- admission bookkeeping: a connection's `connect_timer`, `address`, `identity` and
# -- `counted_user` attributes, the same on the STOMP and OpenWire protocols.
def stop_connect_timer(protocol: Any) -> None:
    timer, protocol.connect_timer = protocol.connect_timer, None
    if timer is not None and timer.active():
        timer.cancel()


def closed(security: Security, protocol: Any) -> None:
    """Give back what a closing connection held: its timer and its address and user slots."""
    stop_connect_timer(protocol)
    counter = security.connections
    if protocol.address is not None:
        counter.release_address(protocol.address)
        protocol.address = None
    if protocol.identity is not None and protocol.counted_user:
        counter.release_user(protocol.identity.name)
        protocol.counted_user = False
