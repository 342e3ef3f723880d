"""One typed configuration object: defaults < TOML file < MQGATE_* env vars < CLI flags.

Nothing else in mqgate reads files or environment variables; the service is handed a
`Config` at start so every layer sees the same settings and tests can build one directly.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "MQGATE_"


class ConfigError(ValueError):
    """A setting could not be read or has an impossible value."""


@dataclass
class Config:
    """Every setting of a broker process. Field names are the TOML keys, env vars
    (upper-cased, with the MQGATE_ prefix) and CLI flags (dashes for underscores)."""

    bind: str = "127.0.0.1"
    stomp_port: int = 61613
    aws_port: int = 4566
    # Twisted endpoint strings; when set they replace bind+port for that door
    # (e.g. "ssl:61614:privateKey=key.pem:certKey=cert.pem").
    stomp_listen: str = ""
    aws_listen: str = ""
    store: str = "sqlite:///var/mqgate.db"
    # SQLite synchronous mode: NORMAL survives a killed process (WAL), FULL also a power cut.
    store_sync: str = "normal"
    ports_file: str = ""
    log_level: str = "info"
    log_format: str = "kv"
    broker_name: str = "localhost"
    # STOMP limits (ActiveMQ's defaults).
    stomp_max_header_line: int = 10240
    stomp_max_headers: int = 1000
    stomp_max_body: int = 100 * 1024 * 1024
    stomp_max_connections: int = 10000
    stomp_prefetch: int = 1000
    # AWS facades.
    region: str = "us-east-1"
    account: str = "000000000000"
    # "ACCESS_KEY:SECRET[:ACCOUNT],..." — when empty, signatures are not checked.
    aws_credentials: str = ""
    aws_max_request: int = 4 * 1024 * 1024
    # Public URL base used in SQS queue URLs; empty means "from the request's Host header".
    aws_public_url: str = ""
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
        return f"tcp:{port}:interface={self.bind}"

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


def _coerce(name: str, raw: Any) -> Any:
    kind = type(getattr(Config(), name))
    try:
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
    for key in _FIELDS:
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
    cfg.credentials  # validate early
    return cfg
