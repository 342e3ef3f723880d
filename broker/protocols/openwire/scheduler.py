"""A JMS send to ActiveMQ's scheduler management destination: the message's properties
say what to do with the scheduled jobs (`broker/protocols/activemq/scheduler_management.py`),
and its JMSReplyTo where a BROWSE sends them."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from broker.engine.message import Message
from broker.protocols.activemq import destinations as dest
from broker.protocols.activemq import scheduler_management as management
from broker.protocols.activemq.scheduling import BadHeader
from broker.protocols.openwire import access
from broker.protocols.openwire.codec import Struct
from broker.protocols.openwire.convert import JmsError, destinations

if TYPE_CHECKING:
    from broker.protocols.openwire.protocol import OpenWireProtocol

log = logging.getLogger(__name__)

addressed = management.addressed


def manage(protocol: "OpenWireProtocol", command: Struct, message: Message) -> None:
    """Act on the scheduled jobs as the message asks; the Response comes once it is done
    and written. The reply destination needs the sender's write right, as any send."""
    try:
        request = management.Request.read(message.properties)
    except BadHeader as exc:
        raise JmsError(str(exc)) from None
    reply = destinations(command.reply_to) if command.reply_to is not None else None
    if reply and request.action == management.BROWSE:
        access.check_write(protocol, reply)

    def send(targets: list[dest.Destination], copy: Message) -> None:
        protocol._route(targets, protocol._queues(targets), copy)

    def failed(failure: Any) -> None:
        log.warning("event=scheduler_management_failed door=openwire error=%s", failure.getErrorMessage())
        protocol.respond_when_committed(command)

    protocol._producer_ack(command)
    d = management.manage(protocol.broker, request, reply, send, protocol._scheduled_id(message))
    d.addCallbacks(lambda _: protocol.respond_when_committed(command), failed)
