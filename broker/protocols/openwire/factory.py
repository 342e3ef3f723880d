"""The OpenWire door: one factory per listener, sharing the broker's engine."""
from __future__ import annotations

import logging
import os
import socket
from typing import Any

from twisted.internet.protocol import Factory

from broker.auth.security import Security
from broker.config import Config
from broker.engine.broker import Broker
from broker.protocols.activemq.client_ids import client_ids
from broker.protocols.activemq.redelivery import RedeliveryPolicies
from broker.protocols.activemq.output import Gathering
from broker.protocols.activemq import advisories
from broker.protocols.activemq.scheduling import restore_scheduled
from broker.protocols.openwire import access
from broker.protocols.openwire import primitives as p
from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import Struct, wire_format_info
from broker.protocols.openwire.protocol import OpenWireProtocol

log = logging.getLogger("mqgate.openwire")

# The client gives up on a broker that sends no WireFormatInfo within 10 s; a client that
# sends none in as long is not an OpenWire client.
NEGOTIATE_TIMEOUT_S = 10.0


class OpenWireFactory(Factory):
    def __init__(self, broker: Broker, config: Config, clock: Any, security: Security | None = None) -> None:
        self.broker = broker
        self.clock = clock
        self.security = security if security is not None else Security(config, clock)
        self.connect_timeout = config.connect_timeout
        self.broker_name = config.broker_name
        self.max_frame = config.openwire_max_frame_size
        self.max_connections = config.openwire_max_connections
        self.max_inactivity_ms = config.openwire_max_inactivity_ms
        self.negotiate_timeout = NEGOTIATE_TIMEOUT_S
        start_ms = int(clock.seconds() * 1000)
        self.broker_id = f"ID:{socket.gethostname()}-{os.getpid()}-{start_ms}-0:1"
        self.client_ids = client_ids(broker)
        self.redelivery = RedeliveryPolicies(config.redelivery)
        restore_scheduled(broker, clock)
        advisories.install(broker, self.broker_name)
        self.connections: set[OpenWireProtocol] = set()
        # Open while a connection's read is handled: the persistent deliveries it makes,
        # to any connection of this door, share one commit wait per connection.
        self.gathering = Gathering()
        self.url = ""
        # Loose encoding, no marshal cache, no stack traces: the client then speaks the
        # only form this door implements. Durations must be LONGs or the client drops us.
        options = {"TightEncodingEnabled": (p.BOOLEAN, False), "CacheEnabled": (p.BOOLEAN, False),
                   "StackTraceEnabled": (p.BOOLEAN, False), "SizePrefixDisabled": (p.BOOLEAN, False),
                   "TcpNoDelayEnabled": (p.BOOLEAN, True),
                   "MaxInactivityDuration": (p.LONG, self.max_inactivity_ms),
                   "MaxInactivityDurationInitalDelay": (p.LONG, 10_000),
                   "MaxFrameSize": (p.LONG, self.max_frame),
                   "MaxFrameSizeEnabled": (p.BOOLEAN, True),
                   "ProviderName": (p.STRING, "ActiveMQ"), "ProviderVersion": (p.STRING, "5.17.2"),
                   "PlatformDetails": (p.STRING, "mqgate")}
        self.wire_format_frame = wire_format_info(p.encode_map(options))

    def broker_info(self) -> Struct:
        return Struct(s.BROKER_INFO, command_id=0, response_required=False,
                      broker_id=Struct(s.BROKER_ID, value=self.broker_id), broker_url=self.url,
                      peer_broker_infos=None, broker_name=self.broker_name)

    def buildProtocol(self, addr: Any) -> OpenWireProtocol | None:
        if len(self.connections) >= self.max_connections:
            log.warning("event=connection_refused door=openwire remote=%s reason=max_connections", addr)
            return None
        if not access.admit(self, addr):
            return None
        protocol = OpenWireProtocol(self)
        self.connections.add(protocol)
        access.opened(self, protocol, addr)
        return protocol

    def connection_closed(self, protocol: OpenWireProtocol) -> None:
        self.connections.discard(protocol)
        access.closed(self, protocol)
