"""A broker with users, access keys and an authorization map, as the security tests use it.

Users: `orders-app` (producers, argon2 password hash), `reader` (consumers, plain
password), `admin` (admins); each has an access key. The map:

    queue orders.>   read consumers,admins   write producers,admins   admin admins
    queue vault      read/write/admin admins
    queue open.*     everyone
    topic events.>   read consumers          write producers          admin producers,admins
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from broker.auth.passwords import hash_password
from tests.conftest import broker_on, BrokerProcess

USERS = {  # name -> (password, access key, secret)
    "orders-app": ("orders-pw", "AKIAORDERS", "orders-secret"),
    "reader": ("reader-pw", "AKIAREADER", "reader-secret"),
    "admin": ("admin-pw", "AKIAADMIN", "admin-secret"),
}
GROUPS = {"orders-app": "producers", "reader": "consumers", "admin": "admins"}

MAP = [
    {"queue": "orders.>", "read": ["consumers", "admins"], "write": ["producers", "admins"], "admin": ["admins"]},
    {"queue": "vault", "read": ["admins"], "write": ["admins"], "admin": ["admins"]},
    {"queue": "open.*", "read": ["*"], "write": ["*"], "admin": ["*"]},
    {"topic": "events.>", "read": ["consumers"], "write": ["producers"], "admin": ["producers", "admins"]},
]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


def config_text(users: dict[str, tuple[str, str, str]] | None = None, groups: dict[str, str] | None = None,
                authorization: list[dict[str, Any]] | None = None, auth: dict[str, Any] | None = None,
                settings: dict[str, Any] | None = None, subjects: dict[str, str] | None = None,
                roles: dict[str, list[str]] | None = None) -> str:
    """A TOML config; the first user gets an argon2 hash, the others plain passwords."""
    users = USERS if users is None else users
    groups = GROUPS if groups is None else groups
    lines = [f"{k} = {_toml_value(v)}" for k, v in (settings or {}).items()]
    if auth:
        lines.append("[auth]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in auth.items()]
    for i, (name, (password, key, secret)) in enumerate(users.items()):
        lines.append("[[users]]")
        lines.append(f"name = {_toml_value(name)}")
        if i == 0:
            lines.append(f"password_hash = {_toml_value(hash_password(password))}")
        else:
            lines.append(f"password = {_toml_value(password)}")
        lines.append(f"groups = {_toml_value([groups[name]] if name in groups else [])}")
        if subjects and name in subjects:
            lines.append(f"subject = {_toml_value(subjects[name])}")
        if roles and name in roles:
            lines.append(f"roles = {_toml_value(roles[name])}")
        lines.append(f"access_keys = [{_toml_value({'id': key, 'secret': secret})}]")
    for entry in MAP if authorization is None else authorization:
        lines.append("[[authorization]]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in entry.items()]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def secured_broker(db: str, workdir: Path, text: str, extra: list[str] | None = None) -> Iterator[BrokerProcess]:
    """A broker on `db` ("sqlite" or "postgresql") started with the config `text`."""
    config = workdir / "mqgate.toml"
    config.write_text(text)
    with broker_on(db, workdir, ["--config", str(config), "--pid-file", str(workdir / "mqgate.pid"),
                                 "--ws-port", "0", *(extra or [])]) as proc:
        proc.config_path = config  # type: ignore[attr-defined]
        yield proc


def module_broker(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  text: str, extra: list[str] | None = None) -> Iterator[BrokerProcess]:
    """Body of a module-scoped, database-parametrized fixture."""
    with secured_broker(request.param, tmp_path_factory.mktemp("secure"), text, extra) as proc:
        yield proc
