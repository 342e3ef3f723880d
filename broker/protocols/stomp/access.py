"""STOMP's side of security: CONNECT through the portal, frames through the map, and the
admission rules of a listener (connect-attempt timeout, connections per address and user).

ActiveMQ's behaviour, which clients see:
- a refused CONNECT gets `User name [NAME] or password is invalid.` and the connection closes;
- SEND needs write, SUBSCRIBE (and browsing) read, and the first use of a destination that
  does not exist yet admin ("create"); a refused frame gets a non-fatal ERROR with the
  SecurityException text and nothing of it is kept;
- a refused SEND inside a transaction marks it rollback-only, so its COMMIT fails.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from broker.auth.authorization import READ, WRITE, NotAuthorized, Operation, Target
from broker.auth.security import LoginFailed
from broker.protocols.activemq import access as shared
from broker.protocols.activemq import destinations as dest
from broker.protocols.stomp.frame import Frame

if TYPE_CHECKING:
    from broker.protocols.stomp.factory import StompFactory
    from broker.protocols.stomp.protocol import StompProtocol

log = logging.getLogger("mqgate.stomp")

COMMIT_FAILED = shared.COMMIT_FAILED


_detail = shared.security_detail


# -- admission -----------------------------------------------------------------------------
def _address(addr: Any) -> str:
    return str(getattr(addr, "host", addr))


def admit(factory: "StompFactory", addr: Any) -> bool:
    """Whether a new connection from `addr` may open (per-address limit)."""
    if factory.security.connections.admit_address(_address(addr)):
        return True
    log.warning("event=connection_refused door=stomp remote=%s reason=max_connections_per_address", addr)
    return False


def opened(factory: "StompFactory", protocol: "StompProtocol", addr: Any) -> None:
    """Start the connect-attempt timer: a connection that has not completed CONNECT in
    time is closed (ActiveMQ's connectAttemptTimeout)."""
    protocol.address = _address(addr)
    if factory.connect_timeout > 0:
        protocol.connect_timer = factory.clock.callLater(factory.connect_timeout, _connect_timed_out, protocol)


def _connect_timed_out(protocol: "StompProtocol") -> None:
    protocol.connect_timer = None
    if protocol.session_open or protocol.lost:
        return
    log.warning("event=connect_timeout door=stomp remote=%s connection=%s", protocol.peer, protocol.connection_id)
    protocol.closing = True
    if protocol.transport is not None:
        protocol.transport.abortConnection()


def closed(factory: "StompFactory", protocol: "StompProtocol") -> None:
    shared.closed(factory.security, protocol)


# -- CONNECT ---------------------------------------------------------------------------------
def login(protocol: "StompProtocol", frame: Frame, then: Callable[[], None]) -> None:
    """Log the client in, then run `then` (the rest of CONNECT). Input that arrives while
    a password is being verified is held and handled afterwards, in order."""
    from broker.protocols.stomp.protocol import StompError

    security = protocol.factory.security
    h = frame.headers
    d = security.login_password(h.get("login"), h.get("passcode"), protocol.peer, "stomp",
                                security.peer_subject(protocol.transport))

    answered: list[bool] = []   # (a chained Deferred may say `called` while still waiting)

    def finish(identity: Any) -> None:
        answered.append(True)
        if protocol.lost:
            return
        protocol.identity = identity
        try:
            if not security.connections.admit_user(identity.name):
                raise StompError(f"User {identity.name} has reached the maximum number of connections "
                                 f"({security.connections.per_user})", fatal=True)
            protocol.counted_user = True
            then()
            if protocol.session_open:
                shared.stop_connect_timer(protocol)
        except StompError as exc:
            protocol.send_error(exc.message, exc.detail, frame, fatal=exc.fatal)
        protocol.release_input()

    def refused(failure: Any) -> None:
        answered.append(True)
        failure.trap(LoginFailed)
        if not protocol.lost:
            protocol.send_error(failure.value.message, _detail(failure.value.message), frame, fatal=True)

    d.addCallbacks(finish, refused)
    if not answered:
        protocol.hold_input()


# -- the map ---------------------------------------------------------------------------------
def _target(protocol: "StompProtocol", d: dest.Destination) -> Target:
    kind = "topic" if d.is_topic else "queue"
    if d.kind in (dest.TEMP_QUEUE, dest.TEMP_TOPIC):
        return Target(kind, protocol._temp_name(d.name), temporary=True)
    return Target(kind, d.name, temporary=d.kind in (dest.REMOTE_TEMP_QUEUE, dest.REMOTE_TEMP_TOPIC))


def _exists(protocol: "StompProtocol", d: dest.Destination) -> bool:
    if d.kind == dest.TEMP_QUEUE:
        return protocol._temp_name(d.name) in protocol.temp_queues
    return shared.exists(protocol.broker, d)


def _check(protocol: "StompProtocol", operation: Operation, targets: list[dest.Destination]) -> None:
    security, identity = protocol.factory.security, protocol.identity
    if identity is None or not security.map.configured:
        return   # every client may do everything (shared.authorize's rule), asked on every SEND
    shared.authorize(security, identity, operation,
                     ((_target(protocol, d), _exists(protocol, d)) for d in targets))


def check_send(protocol: "StompProtocol", frame: Frame, targets: list[dest.Destination]) -> None:
    """Write (and create) rights for a SEND; a refusal inside a transaction dooms its COMMIT."""
    try:
        _check(protocol, WRITE, targets)
    except NotAuthorized as exc:
        tx = protocol.transactions.find(frame.headers.get("transaction"))
        if tx is not None and tx.rollback_only is None:
            tx.rollback_only = _detail(exc.message)
        raise


def check_subscribe(protocol: "StompProtocol", targets: list[dest.Destination]) -> None:
    """Read (and create) rights for a SUBSCRIBE, browsing included."""
    _check(protocol, READ, targets)


def refusal(exc: NotAuthorized) -> tuple[str, str]:
    """ERROR `message` header and body of a refused frame."""
    return exc.message, _detail(exc.message)
