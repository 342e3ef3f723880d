"""OpenWire's side of security: ConnectionInfo through the portal, commands through the
map, and the admission rules of the listener (connect-attempt timeout, connections per
address and per user), as ActiveMQ 5.17's JAAS and authorization plugins behave:

- a refused ConnectionInfo gets an ExceptionResponse with `java.lang.SecurityException`
  (`User name [NAME] or password is invalid.`) and the connection is closed 2 s later
  (ActiveMQ's delayed stop, which lets the client read the answer);
- a producer or a send needs write, a consumer (browsers included) read, and the first
  use of a destination that does not exist yet admin ("create"); DestinationInfo adding or
  removing a destination needs admin; refusals are SecurityExceptions and change nothing;
- a refused asynchronous send inside a transaction marks it rollback-only: its commit fails.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from broker.auth.authorization import CREATE, READ, REMOVE, WRITE, NotAuthorized, Operation, Target
from broker.auth.security import LoginFailed
from broker.protocols.activemq import access as shared
from broker.protocols.activemq import destinations as dest
from broker.protocols.openwire.codec import Struct
from broker.protocols.openwire.convert import JmsError, destinations

if TYPE_CHECKING:
    from broker.protocols.openwire.factory import OpenWireFactory
    from broker.protocols.openwire.protocol import OpenWireProtocol

log = logging.getLogger("mqgate.openwire")

SECURITY_EXCEPTION = "java.lang.SecurityException"
COMMIT_FAILED = shared.COMMIT_FAILED
CLOSE_DELAY_S = 2.0   # ActiveMQ's delayedStop after a SecurityException at login


# -- admission -------------------------------------------------------------------------------
def admit(factory: "OpenWireFactory", addr: Any) -> bool:
    """Whether a new connection from `addr` may open (per-address limit)."""
    if factory.security.connections.admit_address(str(getattr(addr, "host", addr))):
        return True
    log.warning("event=connection_refused door=openwire remote=%s reason=max_connections_per_address", addr)
    return False


def opened(factory: "OpenWireFactory", protocol: "OpenWireProtocol", addr: Any) -> None:
    """Start the connect-attempt timer: a connection without a completed ConnectionInfo in
    time is closed (ActiveMQ's connectAttemptTimeout)."""
    protocol.address = str(getattr(addr, "host", addr))
    if factory.connect_timeout > 0:
        protocol.connect_timer = factory.clock.callLater(factory.connect_timeout, _connect_timed_out, protocol)


def _connect_timed_out(protocol: "OpenWireProtocol") -> None:
    protocol.connect_timer = None
    if protocol.identity is not None or protocol.lost:
        return
    log.warning("event=connect_timeout door=openwire remote=%s", protocol.peer)
    protocol.abort()


def closed(factory: "OpenWireFactory", protocol: "OpenWireProtocol") -> None:
    shared.closed(factory.security, protocol)


# -- ConnectionInfo --------------------------------------------------------------------------
def login(protocol: "OpenWireProtocol", info: Struct, then: Callable[[], None]) -> None:
    """Log the client in, then run `then` (the rest of ConnectionInfo). Commands that
    arrive while a password is being verified are held and handled afterwards, in order."""
    security = protocol.factory.security
    d = security.login_password(info.get("user_name"), info.get("password"), protocol.peer, "openwire",
                                security.peer_subject(protocol.transport))
    answered: list[bool] = []

    def finish(identity: Any) -> None:
        answered.append(True)
        if protocol.lost:
            return
        if protocol.counted_user:   # a second ConnectionInfo: its login replaces the first
            security.connections.release_user(protocol.identity.name)
            protocol.counted_user = False
        if not security.connections.admit_user(identity.name):
            _refuse_login(protocol, info, f"User {identity.name} has reached the maximum number of "
                                          f"connections ({security.connections.per_user})")
            return
        protocol.identity = identity
        protocol.counted_user = True
        shared.stop_connect_timer(protocol)
        protocol.run_handler(info, then)
        protocol.release_input()

    def refused(failure: Any) -> None:
        answered.append(True)
        failure.trap(LoginFailed)
        if not protocol.lost:
            _refuse_login(protocol, info, failure.value.message)

    d.addCallbacks(finish, refused)
    if not answered:
        protocol.hold_input()


def _refuse_login(protocol: "OpenWireProtocol", info: Struct, message: str) -> None:
    protocol.refuse(info, SECURITY_EXCEPTION, message)
    protocol.closing = True   # nothing more is read from it
    protocol.held = None
    protocol.close_timer = protocol.factory.clock.callLater(CLOSE_DELAY_S, protocol.abort)


def logged_in(protocol: "OpenWireProtocol", command: Struct) -> None:
    """Commands other than negotiation need a completed ConnectionInfo."""
    if protocol.identity is None:
        raise JmsError(f"{command.type_name} before ConnectionInfo: not logged in", SECURITY_EXCEPTION)


# -- the map ---------------------------------------------------------------------------------
def _target(d: dest.Destination) -> Target:
    return Target("topic" if d.is_topic else "queue", d.name,
                  temporary=d.kind in (dest.REMOTE_TEMP_QUEUE, dest.REMOTE_TEMP_TOPIC))


def _check(protocol: "OpenWireProtocol", operation: Operation, targets: list[dest.Destination]) -> None:
    security, identity = protocol.factory.security, protocol.identity
    if identity is None or not security.map.configured:
        return   # every client may do everything (shared.authorize's rule)
    pairs = tuple((_target(d), shared.exists(protocol.broker, d)) for d in targets)
    granted = protocol.granted
    if not granted.valid(security, identity):
        granted.reset(security, identity)
    elif (operation, pairs) in granted.checks:
        return
    try:
        shared.authorize(security, identity, operation, pairs)
    except NotAuthorized as exc:
        raise JmsError(exc.message, SECURITY_EXCEPTION) from None
    granted.checks.add((operation, pairs))


class Granted:
    """The checks a connection passed, so a producer's every send does not ask the map
    again: valid while the map, the users and groups (swapped together by a reload) and
    the connection's identity stay the same objects. Whether a destination exists is part
    of each check, so a send that would create it again asks for "create" again."""

    __slots__ = ("basis", "checks")
    LIMIT = 256

    def __init__(self) -> None:
        self.basis: tuple[Any, Any, Any] = (None, None, None)
        self.checks: set[tuple[Operation, tuple[tuple[Target, bool], ...]]] = set()

    def valid(self, security: Any, identity: Any) -> bool:
        m, directory, who = self.basis
        return (m is security.map and directory is security.directory and who is identity
                and len(self.checks) < self.LIMIT)

    def reset(self, security: Any, identity: Any) -> None:
        self.basis = (security.map, security.directory, identity)
        self.checks.clear()


def check_write(protocol: "OpenWireProtocol", targets: list[dest.Destination], tx: Any = None) -> None:
    """Write (and create) rights for a producer or a send; a refused send inside a
    transaction dooms its commit."""
    try:
        _check(protocol, WRITE, targets)
    except JmsError as exc:
        if tx is not None and tx.rollback_only is None:
            tx.rollback_only = str(exc)
        raise


def check_read(protocol: "OpenWireProtocol", targets: list[dest.Destination]) -> None:
    """Read (and create) rights for a consumer, browsers included."""
    _check(protocol, READ, targets)


def check_destination(protocol: "OpenWireProtocol", info: Struct, adding: bool) -> None:
    """DestinationInfo: adding a destination that does not exist needs admin ("create"),
    removing one admin ("remove")."""
    security, identity = protocol.factory.security, protocol.identity
    if identity is None or not security.map.configured:
        return
    for d in destinations(info.destination):
        if d.kind == dest.REMOTE_TEMP_QUEUE:
            present = d.name in protocol.temp_queues
        elif d.kind == dest.REMOTE_TEMP_TOPIC:
            present = d.name in protocol.temp_topics
        else:
            present = shared.exists(protocol.broker, d)
        if adding and present:
            continue
        try:
            security.authorize(identity, CREATE if adding else REMOVE, _target(d))
        except NotAuthorized as exc:
            raise JmsError(exc.message, SECURITY_EXCEPTION) from None
