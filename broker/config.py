"""One typed configuration object: defaults < TOML file < MQGATE_* env vars < CLI flags.

Nothing else in mqgate reads files or environment variables; the service is handed a
`Config` at start so every layer sees the same settings and tests can build one directly.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from twisted.internet.endpoints import quoteStringArgument

from broker.reactors import REACTORS

ENV_PREFIX = "MQGATE_"


class ConfigError(ValueError):
    """A setting could not be read or has an impossible value."""


def endpoint_arguments(description: str) -> list[str]:
    """The `:`-separated parts of a Twisted endpoint string, escapes undone (the inverse
    of Twisted's `quoteStringArgument` on each part)."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(description)
    for char in chars:
        if char == "\\":
            current.append(next(chars, ""))
        elif char == ":":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


@dataclass
class Config:
    """Every setting of a broker process. Field names are the TOML keys, env vars
    (upper-cased, with the MQGATE_ prefix) and CLI flags (dashes for underscores)."""

    bind: str = "127.0.0.1"
    stomp_port: int = 61613
    aws_port: int = 4566
    openwire_port: int = 61616
    # STOMP over WebSocket (ActiveMQ's ws transport port).
    ws_port: int = 61614
    # The admin HTTP door: Prometheus metrics, Jolokia reads, the REST message API
    # (ActiveMQ's web console port).
    admin_port: int = 8161
    # Twisted endpoint strings; when set they replace bind+port for that door
    # (e.g. "ssl:61614:privateKey=key.pem:certKey=cert.pem").
    stomp_listen: str = ""
    aws_listen: str = ""
    openwire_listen: str = ""
    ws_listen: str = ""
    admin_listen: str = ""
    # Groups whose users may read the admin door's metrics and MBeans (ActiveMQ's
    # groups.properties names its administrators `admins`).
    admin_groups: list[str] = field(default_factory=lambda: ["admins"])
    # CA file: `ssl:` listeners ask clients for certificates it signed (client-certificate login).
    tls_client_ca: str = ""
    store: str = "sqlite:///var/mqgate.db"
    # SQLite synchronous mode: NORMAL survives a killed process (WAL), FULL also a power cut.
    store_sync: str = "normal"
    # Message content the broker keeps in memory, all queues together ("256MiB", "1GiB");
    # past it stored queues keep new messages on disk and memory-only queues hold senders.
    memory_limit: str = "256MiB"
    # Bytes the store may hold (0: no limit); at the limit persistent sends are refused.
    store_limit: str = "0"
    # SQLite only: the size the database file may grow to (0: the disk's); at it the store
    # answers as on a full disk (refuses new persistent messages, goes on with the rest).
    sqlite_max_size: str = "0"
    # Ready messages each stored queue keeps in memory at its head; the rest is paged in.
    queue_window: int = 1000
    # Per-destination limits, as ActiveMQ's policyEntry ([[policy]] tables in the TOML file):
    # queue/topic (wildcard pattern), max_messages, max_bytes, producer_flow_control,
    # send_fail_if_no_space, dead_letter (a table: ActiveMQ's deadLetterStrategy).
    policy: list = field(default_factory=list)
    ports_file: str = ""
    # Where `serve` writes its process id, so `mqgate reload` can find it.
    pid_file: str = ""
    log_level: str = "info"
    log_format: str = "kv"
    # The event loop under Twisted: default (epoll), uvloop or asyncio (broker/reactors.py).
    reactor: str = "default"
    broker_name: str = "localhost"
    # STOMP limits (ActiveMQ's defaults).
    stomp_max_header_line: int = 10240
    stomp_max_headers: int = 1000
    stomp_max_body: int = 100 * 1024 * 1024
    stomp_max_connections: int = 10000
    stomp_prefetch: int = 1000
    # CONNECTED `server`: clients parse it, so by default it is exactly ActiveMQ's.
    stomp_server: str = "ActiveMQ/5.17.2"
    # OpenWire limits (ActiveMQ's defaults): frame size, connections, and the
    # MaxInactivityDuration advertised (0 turns keep-alives and idle disconnects off).
    openwire_max_frame_size: int = 104_857_600
    openwire_max_connections: int = 10000
    openwire_max_inactivity_ms: int = 30_000
    # Seconds a new connection may take to complete its CONNECT (ActiveMQ's
    # connectAttemptTimeout); 0 turns the limit off.
    connect_timeout: float = 30.0
    # Open connections per authenticated user and per client address; 0 = no limit.
    max_connections_per_user: int = 0
    max_connections_per_address: int = 0
    # AWS facades.
    region: str = "us-east-1"
    account: str = "000000000000"
    # "ACCESS_KEY:SECRET[:ACCOUNT],..." — when empty, signatures are not checked.
    aws_credentials: str = ""
    aws_max_request: int = 4 * 1024 * 1024
    # Requests per second one access key may make on the AWS port; 0 = no limit.
    aws_requests_per_second: float = 0.0
    # Identities and rights: [[users]], [auth], [[authorization]] tables of the TOML file,
    # and ActiveMQ's users.properties / groups.properties files.
    users: list[dict[str, Any]] = field(default_factory=list)
    auth: dict[str, Any] = field(default_factory=dict)
    authorization: list[dict[str, Any]] = field(default_factory=list)
    users_file: str = ""
    groups_file: str = ""
    # Public URL base used in SQS queue URLs; empty means "from the request's Host header".
    aws_public_url: str = ""
    # ActiveMQ's broker redelivery policy, per destination pattern (`>` = every queue):
    # a NACK (STOMP) or poison ack (JMS) redelivers after a delay until the maximum, then
    # dead-letters. TOML only: [redelivery."orders.>"] maximum_redeliveries = 3 ...
    redelivery: dict[str, Any] = field(default_factory=dict)
    # ActiveMQ's individualDeadLetterStrategy for every destination whose [[policy]] sets
    # no dead_letter table: when set, dead letters of X go to the queue <prefix>X instead
    # of ActiveMQ.DLQ.
    individual_dead_letter_prefix: str = ""
    # API Gateway: a server speaking the Lambda Invoke API (e.g. `sam local start-lambda`'s URL)
    # for Lambda integrations and authorizers; JWKS of Cognito user pools, "POOL_ID=FILE_OR_URL,...".
    lambda_endpoint: str = ""
    jwks: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def endpoint(self, door: str) -> str:
        """The Twisted server endpoint string for one door."""
        explicit = getattr(self, f"{door}_listen")
        if explicit:
            return explicit
        port = getattr(self, f"{door}_port")
        # Quoted: an IPv6 bind such as `::1` must arrive as one interface, as ActiveMQ's
        # `stomp://[::1]:<port>` does.
        return f"tcp:{port}:interface={quoteStringArgument(self.bind)}"

    @property
    def limits(self) -> dict[str, Any]:
        """The engine's limit settings, parsed: memory_limit, store_limit, policies."""
        from broker.engine.limits import LimitError, Policy, parse_size

        try:
            return {"memory_limit": parse_size(self.memory_limit),
                    "store_limit": parse_size(self.store_limit),
                    "policies": [Policy.from_dict(p) for p in self.policy]}
        except (LimitError, TypeError, AttributeError) as exc:
            raise ConfigError(f"limits: {exc}") from exc

    @property
    def sqlite_max_bytes(self) -> int:
        """sqlite_max_size, parsed."""
        from broker.engine.limits import LimitError, parse_size

        try:
            return parse_size(self.sqlite_max_size)
        except (LimitError, TypeError) as exc:
            raise ConfigError(f"sqlite_max_size: {exc}") from exc

    @property
    def credentials(self) -> dict[str, tuple[str, str]]:
        """access key -> (secret, account id)."""
        out: dict[str, tuple[str, str]] = {}
        for item in filter(None, (s.strip() for s in self.aws_credentials.split(","))):
            parts = item.split(":")
            if len(parts) not in (2, 3):
                raise ConfigError(f"aws_credentials entry {item!r} is not KEY:SECRET[:ACCOUNT]")
            out[parts[0]] = (parts[1], parts[2] if len(parts) == 3 else self.account)
        return out


_FIELDS = {f.name: f for f in fields(Config) if f.name != "extra"}
_TOML_ONLY = {"policy", "redelivery"}
REDELIVERY_KEYS = {"maximum_redeliveries": int, "initial_redelivery_delay": int, "redelivery_delay": int,
                   "use_exponential_back_off": bool, "back_off_multiplier": float}


def _check_redelivery(table: Any) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError("redelivery must be a table of destination patterns")
    for pattern, policy in table.items():
        if not isinstance(policy, dict):
            raise ConfigError(f"redelivery.{pattern} must be a table")
        for key, value in policy.items():
            kind = REDELIVERY_KEYS.get(key)
            if kind is None:
                raise ConfigError(f"unknown setting redelivery.{pattern}.{key} "
                                  f"(known: {', '.join(sorted(REDELIVERY_KEYS))})")
            if not isinstance(value, (int, float) if kind is float else kind) or (
                    kind is not bool and isinstance(value, bool)) or (kind is not bool and value < 0):
                raise ConfigError(f"redelivery.{pattern}.{key} must be a non-negative {kind.__name__}")
    return table


def _coerce(name: str, raw: Any) -> Any:
    kind = type(getattr(Config(), name))
    if name == "redelivery":
        try:
            table = json.loads(raw) if isinstance(raw, str) else raw   # env vars carry JSON
        except ValueError as exc:
            raise ConfigError(f"setting redelivery: {raw!r} is not a JSON table") from exc
        return _check_redelivery(table)
    try:
        if kind in (list, dict):
            value = json.loads(raw) if isinstance(raw, str) else raw  # env vars carry JSON
            if not isinstance(value, kind):
                raise TypeError(name)
            return value
        if kind is bool:
            return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
        return kind(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name}: {raw!r} is not a valid {kind.__name__}") from exc


def load(config_file: str | None = None, env: Mapping[str, str] | None = None,
         overrides: Mapping[str, Any] | None = None) -> Config:
    """Build the Config from the layers, later layers winning."""
    values: dict[str, Any] = {}
    env = os.environ if env is None else env
    config_file = config_file or env.get(ENV_PREFIX + "CONFIG") or None
    if config_file:
        try:
            data = tomllib.loads(Path(config_file).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc}") from exc
        flat = {**data.pop("mqgate", {}), **data}
        for key, raw in flat.items():
            key = key.replace("-", "_")
            if key not in _FIELDS:
                raise ConfigError(f"unknown setting {key!r} in {config_file}")
            values[key] = _coerce(key, raw)
    for key in set(_FIELDS) - _TOML_ONLY:
        raw = env.get(ENV_PREFIX + key.upper())
        if raw is not None:
            values[key] = _coerce(key, raw)
    for key, raw in (overrides or {}).items():
        if raw is not None:
            values[key] = _coerce(key, raw)
    cfg = dataclasses.replace(Config(), **values)
    if cfg.log_format not in ("kv", "json"):
        raise ConfigError("log_format must be kv or json")
    if cfg.store_sync not in ("normal", "full"):
        raise ConfigError("store_sync must be normal or full")
    if not all(isinstance(g, str) for g in cfg.admin_groups):
        raise ConfigError("admin_groups must be a list of group names")
    if cfg.reactor not in REACTORS:
        raise ConfigError(f"reactor must be one of {', '.join(REACTORS)}")
    cfg.credentials  # validate early
    cfg.limits  # validate early
    return cfg
