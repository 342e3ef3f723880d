"""The STOMP door: one factory per listener, sharing the broker's engine."""
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
from broker.protocols.activemq import advisories
from broker.protocols.activemq.scheduling import restore_scheduled
from broker.protocols.stomp import access
from broker.protocols.stomp.codec import Limits
from broker.protocols.stomp.protocol import StompProtocol

log = logging.getLogger("mqgate.stomp")


class StompFactory(Factory):
    def __init__(self, broker: Broker, config: Config, clock: Any, security: Security | None = None) -> None:
        self.broker = broker
        self.clock = clock
        self.security = security if security is not None else Security(config, clock)
        self.connect_timeout = config.connect_timeout
        self.limits = Limits(config.stomp_max_header_line, config.stomp_max_headers, config.stomp_max_body)
        self.prefetch = config.stomp_prefetch
        self.max_connections = config.stomp_max_connections
        self.broker_name = config.broker_name
        self.server_header = config.stomp_server
        self.redelivery = RedeliveryPolicies(config.redelivery)
        restore_scheduled(broker, clock)
        advisories.install(broker, self.broker_name)
        start_ms = int(clock.seconds() * 1000)
        self.id_prefix = f"ID:{socket.gethostname()}-{os.getpid()}-{start_ms}-1"
        self.connections: set[StompProtocol] = set()
        self.client_ids = client_ids(broker)
        self._count = 0
        # Connections with output queued this reactor turn, and the call that flushes them.
        self._output_pending: list[StompProtocol] = []
        self._flush_call: Any = None

    def buildProtocol(self, addr: Any) -> StompProtocol | None:
        if len(self.connections) >= self.max_connections:
            log.warning("event=connection_refused door=stomp remote=%s reason=max_connections", addr)
            return None
        if not access.admit(self, addr):
            return None
        self._count += 1
        protocol = StompProtocol(self, self._count)
        self.connections.add(protocol)
        access.opened(self, protocol, addr)
        return protocol

    def output_pending(self, protocol: StompProtocol) -> None:
        """`protocol` has output to flush at the end of this reactor turn."""
        self._output_pending.append(protocol)
        if self._flush_call is None:
            self._flush_call = self.clock.callLater(0, self.flush_outputs)

    def flush_outputs(self) -> None:
        """Hand every connection's queued output to its transport (a turn's input is
        handled, or the reactor comes round)."""
        if self._flush_call is not None:
            if self._flush_call.active():
                self._flush_call.cancel()
            self._flush_call = None
        pending, self._output_pending = self._output_pending, []
        for protocol in pending:
            protocol.flush_output()

    def claim_client_id(self, client_id: str, protocol: StompProtocol) -> bool:
        return self.client_ids.claim(client_id, protocol)

    def connection_closed(self, protocol: StompProtocol) -> None:
        self.connections.discard(protocol)
        if protocol.client_id:
            self.client_ids.release(protocol.client_id, protocol)
        access.closed(self, protocol)
