"""One broker service, many listeners: the engine and store are built once and each door
gets a factory on its own Twisted endpoint (docs/architecture.md, "Where a new door goes")."""
from __future__ import annotations

import gc
import json
import logging
import os
from typing import Any, Callable
from weakref import WeakKeyDictionary

from twisted.internet import defer, endpoints
from twisted.internet.interfaces import IListeningPort

from broker.auth.security import Security
from broker.config import Config, ConfigError
from broker.engine.broker import Broker
from broker.engine.dead_letters import individual_by_prefix
from broker.protocols.stomp.factory import StompFactory
from broker.store.store import Store

log = logging.getLogger("mqgate.service")

GC_THRESHOLD = 20_000


def settle_collector() -> None:
    """Everything loaded so far (code, restored messages) lives for the whole run: keep it
    out of the collector's scans, and collect young objects less often, so garbage
    collection pauses stay short on the delivery path. The in-process benchmarks call it
    too, so they measure the collector a broker runs with."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 20)


DoorBuilder = Callable[[Broker, Config, Any, Security], Any]


_STOMP_FACTORIES: "WeakKeyDictionary[Broker, StompFactory]" = WeakKeyDictionary()


def _openwire_door(broker: Broker, config: Config, reactor: Any, security: Security) -> Any:
    from broker.protocols.openwire.factory import OpenWireFactory
    factory = _OPENWIRE_FACTORIES[broker] = OpenWireFactory(broker, config, reactor, security)
    return factory


def _stomp_factory(broker: Broker, config: Config, reactor: Any, security: Security) -> StompFactory:
    """STOMP over TCP and over WebSocket share one factory, so connection ids (and the temp
    destinations named after them), client ids and connection counts are broker-wide."""
    factory = _STOMP_FACTORIES.get(broker)
    if factory is None:
        factory = _STOMP_FACTORIES[broker] = StompFactory(broker, config, reactor, security)
    return factory


def _stomp_door(broker: Broker, config: Config, reactor: Any, security: Security) -> Any:
    return _stomp_factory(broker, config, reactor, security)


def _ws_door(broker: Broker, config: Config, reactor: Any, security: Security) -> Any:
    from broker.protocols.stomp.websocket import StompWebSocketFactory
    return StompWebSocketFactory(_stomp_factory(broker, config, reactor, security), reactor)


def _aws_door(broker: Broker, config: Config, reactor: Any, security: Security) -> Any:
    from facades.site import build_port  # the AWS facades are optional until first used
    return build_port(broker, config, reactor, security)


def _admin_door(broker: Broker, config: Config, reactor: Any, security: Security) -> Any:
    from broker.admin.site import build_site
    return build_site(broker, config, reactor, security, lambda: connection_counts(broker))


DOORS: dict[str, DoorBuilder] = {"stomp": _stomp_door, "openwire": _openwire_door, "ws": _ws_door,
                                  "aws": _aws_door, "admin": _admin_door}
# Factories of the doors whose clients hold connections (the admin door counts them).
_OPENWIRE_FACTORIES: "WeakKeyDictionary[Broker, Any]" = WeakKeyDictionary()


def connection_counts(broker: Broker) -> dict[str, int]:
    """Open client connections per door, counted when asked (nothing is counted twice)."""
    counts = {"stomp": 0, "ws": 0, "openwire": 0}
    stomp = _STOMP_FACTORIES.get(broker)
    for protocol in list(stomp.connections) if stomp is not None else ():
        counts["ws" if getattr(protocol.transport, "ws", None) is not None else "stomp"] += 1
    openwire = _OPENWIRE_FACTORIES.get(broker)
    counts["openwire"] = len(openwire.connections) if openwire is not None else 0
    return counts


class BrokerService:
    def __init__(self, config: Config, reactor: Any,
                 reload_config: Callable[[], Config] | None = None) -> None:
        self.config = config
        self.reactor = reactor
        # Re-reads the configuration for SIGHUP / `mqgate reload` (None: nothing to re-read).
        self.reload_config = reload_config
        self.security = Security(config, reactor)
        self.security.check_bind(config, list(DOORS))
        self.store = Store(config.store, reactor, sync=config.store_sync, max_size=config.sqlite_max_bytes)
        self.broker = Broker(self.store, reactor, window=config.queue_window, **config.limits)
        self.broker.dead_letter_strategy = individual_by_prefix(config.individual_dead_letter_prefix)
        self.ports: dict[str, IListeningPort] = {}
        self.factories: dict[str, Any] = {}

    @defer.inlineCallbacks
    def start(self) -> Any:
        yield self.broker.start()
        settle_collector()
        for door, build in DOORS.items():
            if getattr(self.config, f"{door}_port") < 0 and not getattr(self.config, f"{door}_listen"):
                continue  # a negative port turns a door off
            factory = build(self.broker, self.config, self.reactor, self.security)
            if self.config.tls_client_ca:
                from broker.auth.tls import server_endpoint  # OpenSSL only when asked for
                endpoint = server_endpoint(self.reactor, self.config.endpoint(door), self.config.tls_client_ca)
            else:
                endpoint = endpoints.serverFromString(self.reactor, self.config.endpoint(door))
            self.ports[door] = yield endpoint.listen(factory)
            self.factories[door] = factory
            if hasattr(factory, "url"):
                host = self.ports[door].getHost()
                factory.url = f"tcp://{host.host}:{host.port}"
            log.info("event=listening door=%s address=%s", door, self.ports[door].getHost())
        if self.config.ports_file:
            tmp = self.config.ports_file + ".tmp"
            with open(tmp, "w") as fh:
                json.dump(self.bound_ports(), fh)
            os.replace(tmp, self.config.ports_file)
        log.info("event=started store=%s", self.store.url.split("@")[-1])

    def reload(self) -> None:
        """Re-read users, groups and the authorization map; live connections keep their
        identity and are checked against the new rights from their next frame on."""
        if self.reload_config is None:
            return
        try:
            self.security.reload(self.reload_config())
        except ConfigError as exc:
            log.error("event=reload_failed error=%r (the previous users and rights stay)", str(exc))
            return
        log.info("event=reloaded")

    def bound_ports(self) -> dict[str, int]:
        return {door: port.getHost().port for door, port in self.ports.items()}

    @defer.inlineCallbacks
    def stop(self) -> Any:
        """Stop accepting, close connections (their unacked messages go back), then flush
        the store: nothing accepted is lost."""
        log.info("event=stopping")
        for port in self.ports.values():
            yield port.stopListening()
        stomp = _STOMP_FACTORIES.get(self.broker)   # TCP and WebSocket connections alike
        openwire = self.factories.get("openwire")
        for factory in (stomp, openwire):
            for protocol in list(factory.connections if factory is not None else ()):
                protocol.transport.loseConnection()
        yield self.broker.stop()
        log.info("event=stopped")
