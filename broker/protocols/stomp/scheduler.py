"""A STOMP SEND to ActiveMQ's scheduler management destination: its headers say what to do
with the scheduled jobs (`broker/protocols/activemq/scheduler_management.py`), and its
`reply-to` where a BROWSE sends them."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from broker.protocols.activemq import destinations as dest
from broker.protocols.activemq import scheduler_management as management
from broker.protocols.activemq.scheduling import BadHeader
from broker.protocols.stomp import access
from broker.protocols.stomp.frame import Frame

if TYPE_CHECKING:
    from broker.protocols.stomp.protocol import StompProtocol

log = logging.getLogger(__name__)

addressed = management.addressed


def manage(protocol: "StompProtocol", frame: Frame) -> None:
    """Act on the scheduled jobs as the frame asks; the RECEIPT comes once it is done and
    written. The reply destination needs the sender's write right, as any SEND."""
    from broker.protocols.stomp.protocol import StompError   # the protocol imports this module

    h = frame.headers
    try:
        request = management.Request.read(h)
        reply_to = h.get("reply-to")
        reply = dest.parse(dest.globalize(reply_to, protocol.connection_id)) if reply_to else None
    except (BadHeader, dest.BadDestination) as exc:
        raise StompError(str(exc)) from None
    if reply and request.action == management.BROWSE:
        access.check_send(protocol, frame, reply)

    def failed(failure: Any) -> None:
        log.warning("event=scheduler_management_failed door=stomp error=%s", failure.getErrorMessage())
        protocol._receipt(frame, durable=True)

    d = management.manage(protocol.broker, request, reply, protocol._deliver_send, protocol._next_message_id)
    d.addCallbacks(lambda _: protocol._receipt(frame, durable=True), failed)
