"""Users, their groups and their access keys, from the config and ActiveMQ's property files.

Built whole from a `Config` at start and on every reload, then swapped in at once, so a
reload never shows a half-read set of users to a login in progress.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import javaproperties

from broker.auth.passwords import is_hash
from broker.config import Config, ConfigError

_USER_KEYS = frozenset({"name", "password_hash", "password", "groups", "access_keys", "subject", "roles"})
_KEY_KEYS = frozenset({"id", "secret", "account"})
_AUTH_KEYS = frozenset({"anonymous", "anonymous_groups"})


@dataclass(frozen=True)
class User:
    name: str
    password_hash: str | None = None
    password: str | None = None
    groups: frozenset[str] = frozenset()
    # Client-certificate subject (RFC 4514 string) that logs in as this user.
    subject: str | None = None
    # IAM role ARNs an API Gateway integration names as its `credentials`: it acts as this user.
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AccessKey:
    key_id: str
    secret: str
    user: str
    account: str


@dataclass
class Directory:
    users: dict[str, User] = field(default_factory=dict)
    keys: dict[str, AccessKey] = field(default_factory=dict)
    # None: not said in the config (open when nobody is configured, closed otherwise).
    anonymous: bool | None = None
    anonymous_groups: frozenset[str] = frozenset()
    warnings: list[str] = field(default_factory=list)

    @property
    def open(self) -> bool:
        """No user and no key configured: every client gets in, as ActiveMQ without a
        security plugin (and as SQS here without keys)."""
        return not self.users and not self.keys

    @property
    def allows_anonymous(self) -> bool:
        return self.open or bool(self.anonymous)

    def by_subject(self, subject: str) -> User | None:
        return next((u for u in self.users.values() if u.subject == subject), None)

    def by_role(self, role: str) -> User | None:
        return next((u for u in self.users.values() if role in u.roles), None)


def _strings(value: Any, what: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{what} must be a list of strings")
    return value


def _user(entry: Any) -> tuple[User, list[dict[str, Any]]]:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise ConfigError("every [[users]] entry needs a name")
    unknown = set(entry) - _USER_KEYS
    if unknown:
        raise ConfigError(f"[[users]] {entry['name']}: unknown setting(s) {', '.join(sorted(unknown))}")
    password_hash = entry.get("password_hash")
    if password_hash is not None and (not isinstance(password_hash, str) or not is_hash(password_hash)):
        raise ConfigError(f"[[users]] {entry['name']}: password_hash must be an argon2 hash "
                          "(make one with `mqgate user hash`)")
    password = entry.get("password")
    if password is not None and not isinstance(password, str):
        raise ConfigError(f"[[users]] {entry['name']}: password must be a string")
    subject = entry.get("subject")
    if subject is not None and not isinstance(subject, str):
        raise ConfigError(f"[[users]] {entry['name']}: subject must be a certificate subject such as \"CN=name\"")
    keys = entry.get("access_keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
        raise ConfigError(f"[[users]] {entry['name']}: access_keys must be a list of {{id, secret}} tables")
    user = User(entry["name"], password_hash, password,
                frozenset(_strings(entry.get("groups", []), f"[[users]] {entry['name']}: groups")),
                subject, frozenset(_strings(entry.get("roles", []), f"[[users]] {entry['name']}: roles")))
    return user, keys


def _add_key(directory: Directory, raw: dict[str, Any], user: str, default_account: str) -> None:
    unknown = set(raw) - _KEY_KEYS
    if unknown or not isinstance(raw.get("id"), str) or not isinstance(raw.get("secret"), str):
        raise ConfigError(f"[[users]] {user}: each access key needs exactly id and secret (and optionally account)")
    if raw["id"] in directory.keys:
        raise ConfigError(f"access key {raw['id']} is configured twice")
    directory.keys[raw["id"]] = AccessKey(raw["id"], raw["secret"], user, str(raw.get("account", default_account)))


def _properties(path: str) -> dict[str, str]:
    try:
        return javaproperties.loads(Path(path).read_text(encoding="latin-1"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def load_directory(config: Config) -> Directory:
    """The directory a config describes; raises ConfigError for anything it cannot honour."""
    directory = Directory()
    unknown = set(config.auth) - _AUTH_KEYS
    if unknown:
        raise ConfigError(f"[auth]: unknown setting(s) {', '.join(sorted(unknown))}")
    anonymous = config.auth.get("anonymous")
    if anonymous is not None and not isinstance(anonymous, bool):
        raise ConfigError("[auth] anonymous must be true or false")
    directory.anonymous = anonymous
    directory.anonymous_groups = frozenset(_strings(config.auth.get("anonymous_groups", []),
                                                    "[auth] anonymous_groups"))
    plain: list[str] = []
    for entry in config.users:
        user, keys = _user(entry)
        if user.name in directory.users:
            raise ConfigError(f"user {user.name} is configured twice")
        directory.users[user.name] = user
        if user.password is not None and user.password_hash is None:
            plain.append(user.name)
        for raw in keys:
            _add_key(directory, raw, user.name, config.account)
    if config.users_file:
        for name, password in _properties(config.users_file).items():
            if name in directory.users:
                raise ConfigError(f"user {name} is in both the config and {config.users_file}")
            if is_hash(password):
                directory.users[name] = User(name, password_hash=password)
            else:
                directory.users[name] = User(name, password=password)
                plain.append(name)
    if config.groups_file:
        members: dict[str, set[str]] = {}
        for group, names in _properties(config.groups_file).items():
            for name in filter(None, (n.strip() for n in names.split(","))):
                members.setdefault(name, set()).add(group)
        for name, groups in members.items():
            user = directory.users.get(name)
            if user is not None:
                directory.users[name] = User(user.name, user.password_hash, user.password,
                                             user.groups | groups, user.subject, user.roles)
    # The aws_credentials shorthand: each key is a user of its own name, without groups.
    for key_id, (secret, account) in config.credentials.items():
        if key_id in directory.keys:
            raise ConfigError(f"access key {key_id} is configured twice")
        directory.users.setdefault(key_id, User(key_id))
        directory.keys[key_id] = AccessKey(key_id, secret, key_id, account)
    if directory.open and anonymous is False:
        raise ConfigError("[auth] anonymous = false, but no users or access keys are configured: "
                          "nobody could log in")
    if plain:
        directory.warnings.append(
            "users with a plain-text password: " + ", ".join(sorted(plain))
            + " (store an argon2 hash instead: `mqgate user hash`)")
    return directory
