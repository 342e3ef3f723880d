"""The `mqgate` command."""
from __future__ import annotations

import argparse
import getpass
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

from broker import logs
from broker.config import Config, ConfigError, load
from broker.reactors import REACTORS, ReactorUnavailable
from broker.reactors import install as install_reactor

_DEFAULTS = Config()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mqgate",
        description="mqgate: an ActiveMQ-compatible message broker with AWS SQS facades.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the broker",
                           description="Run the broker with every door on its port. Settings come "
                                       "from defaults < --config TOML file < MQGATE_* env vars < flags.")
    serve.add_argument("--config", metavar="FILE", help="TOML config file (also MQGATE_CONFIG)")
    serve.add_argument("--bind", help=f"address to listen on (default {_DEFAULTS.bind})")
    serve.add_argument("--stomp-port", type=int, help=f"STOMP port, 0 = ephemeral, -1 = off (default {_DEFAULTS.stomp_port})")
    serve.add_argument("--aws-port", type=int, help=f"SQS/SNS HTTP port, 0 = ephemeral, -1 = off (default {_DEFAULTS.aws_port})")
    serve.add_argument("--openwire-port", type=int, help=f"OpenWire (JMS) port, 0 = ephemeral, -1 = off (default {_DEFAULTS.openwire_port})")
    serve.add_argument("--openwire-listen", metavar="ENDPOINT", help="Twisted endpoint for OpenWire, e.g. tcp:61616:interface=0.0.0.0")
    serve.add_argument("--stomp-listen", metavar="ENDPOINT", help="Twisted endpoint for STOMP, e.g. ssl:61614:privateKey=k.pem:certKey=c.pem")
    serve.add_argument("--aws-listen", metavar="ENDPOINT", help="Twisted endpoint for the AWS facades")
    serve.add_argument("--store", metavar="URL", help=f"database URL (default {_DEFAULTS.store}; or postgresql://...)")
    serve.add_argument("--store-sync", choices=("normal", "full"), help="SQLite durability: normal survives a killed process, full also a power cut")
    serve.add_argument("--memory-limit", metavar="SIZE", help=f"message content kept in memory, all queues together (default {_DEFAULTS.memory_limit})")
    serve.add_argument("--store-limit", metavar="SIZE", help="bytes the store may hold; at the limit persistent sends are refused (default: none)")
    serve.add_argument("--sqlite-max-size", metavar="SIZE", help="SQLite only: the size the database file may grow to; at it the store acts as on a full disk (default: none)")
    serve.add_argument("--queue-window", type=int, metavar="N", help=f"ready messages each stored queue keeps in memory (default {_DEFAULTS.queue_window})")
    serve.add_argument("--ports-file", metavar="PATH", help="write the bound ports as JSON here once listening")
    serve.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    serve.add_argument("--log-format", choices=("kv", "json"))
    serve.add_argument("--reactor", choices=REACTORS, help="event loop: default (epoll), uvloop (needs the uvloop package) or asyncio (default default)")
    serve.add_argument("--region", help=f"AWS region in ARNs (default {_DEFAULTS.region})")
    serve.add_argument("--account", help=f"AWS account id in queue URLs and ARNs (default {_DEFAULTS.account})")
    serve.add_argument("--openwire-max-inactivity-ms", type=int, help=f"OpenWire MaxInactivityDuration advertised, 0 = no keep-alives (default {_DEFAULTS.openwire_max_inactivity_ms})")
    serve.add_argument("--aws-credentials", metavar="KEY:SECRET[:ACCOUNT],...", help="check SigV4 signatures against these keys")
    serve.add_argument("--ws-port", type=int, help=f"STOMP over WebSocket port, 0 = ephemeral, -1 = off (default {_DEFAULTS.ws_port})")
    serve.add_argument("--ws-listen", metavar="ENDPOINT", help="Twisted endpoint for STOMP over WebSocket (ssl:... for wss)")
    serve.add_argument("--admin-port", type=int, help=f"admin HTTP port (metrics, Jolokia, REST messages), 0 = ephemeral, -1 = off (default {_DEFAULTS.admin_port})")
    serve.add_argument("--admin-listen", metavar="ENDPOINT", help="Twisted endpoint for the admin HTTP door (ssl:... for HTTPS)")
    serve.add_argument("--users-file", metavar="PATH", help="ActiveMQ users.properties (user=password lines)")
    serve.add_argument("--groups-file", metavar="PATH", help="ActiveMQ groups.properties (group=user1,user2 lines)")
    serve.add_argument("--connect-timeout", type=float, help=f"seconds a connection may take to log in (default {_DEFAULTS.connect_timeout:g}, 0 = none)")
    serve.add_argument("--max-connections-per-user", type=int, help="open connections one user may have (0 = no limit)")
    serve.add_argument("--max-connections-per-address", type=int, help="open connections one client address may have (0 = no limit)")
    serve.add_argument("--aws-requests-per-second", type=float, help="requests per second per access key on the AWS port (0 = no limit)")
    serve.add_argument("--tls-client-ca", metavar="PEM", help="ssl: listeners ask clients for certificates this CA signed; a user's subject logs in by certificate")
    serve.add_argument("--pid-file", metavar="PATH", help="write the process id here (for `mqgate reload`)")

    reload = sub.add_parser("reload", help="re-read users, groups and the authorization map of a running broker",
                            description="Send SIGHUP to a running `mqgate serve`: it re-reads its config file "
                                        "and user files; live connections keep their login and get the new rights.")
    reload.add_argument("--config", metavar="FILE", help="the broker's TOML config (to find its pid_file)")
    reload.add_argument("--pid-file", metavar="PATH", help="the pid file the broker writes")
    reload.add_argument("--pid", type=int, help="the broker's process id")

    user = sub.add_parser("user", help="user tools", description="User tools.")
    usersub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    hasher = usersub.add_parser("hash", help="print an argon2 hash of a password for password_hash",
                                description="Print an argon2id hash for a [[users]] password_hash. The password "
                                            "is read from the terminal (or one line of standard input).")
    hasher.add_argument("--password", help="the password (visible in the process list: prefer the prompt)")

    tls = sub.add_parser("tls", help="TLS tools", description="TLS tools.")
    tlssub = tls.add_subparsers(dest="tls_command", required=True, metavar="ACTION")
    selfsigned = tlssub.add_parser("self-signed", help="make a local CA and a server certificate",
                                   description="Write ca.pem, server.pem and server-key.pem (and client "
                                               "certificates) for local TLS listeners.")
    selfsigned.add_argument("--out", metavar="DIR", required=True, help="directory to write the files into")
    selfsigned.add_argument("--host", action="append", metavar="NAME", help="server name or address (repeatable; default localhost and 127.0.0.1)")
    selfsigned.add_argument("--client", action="append", metavar="NAME", default=[], help="also make a client certificate with CN=NAME (repeatable)")
    serve.add_argument("--lambda-endpoint", metavar="URL",
                       help="API Gateway: server speaking the Lambda Invoke API for Lambda integrations and "
                            "authorizers (e.g. the URL of `sam local start-lambda`)")
    serve.add_argument("--jwks", metavar="POOL_ID=FILE_OR_URL[,...]",
                       help="API Gateway: JWKS of each Cognito user pool whose tokens COGNITO_USER_POOLS "
                            "authorizers verify")

    db = sub.add_parser("db", help="database maintenance", description="Database maintenance.")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dbsub.add_parser("upgrade", help="upgrade the schema to this version", description="Upgrade the database schema.")
    up.add_argument("--config", metavar="FILE")
    up.add_argument("--store", metavar="URL")
    return parser


_NOT_SETTINGS = ("command", "db_command", "config", "user_command", "tls_command", "pid", "password",
                 "out", "host", "client")


def _config(args: argparse.Namespace) -> Config:
    overrides = {k: v for k, v in vars(args).items() if k not in _NOT_SETTINGS}
    return load(args.config, overrides=overrides)


def _serve(config: Config, args: argparse.Namespace) -> int:
    try:
        install_reactor(config.reactor)
    except ReactorUnavailable as exc:
        print(f"mqgate: {exc}", file=sys.stderr)
        return 2
    from twisted.internet import reactor

    from broker.service import BrokerService

    try:
        service = BrokerService(config, reactor, reload_config=lambda: _config(args))
    except ConfigError as exc:
        print(f"mqgate: {exc}", file=sys.stderr)
        return 2
    status = {"code": 0}
    if config.pid_file:
        Path(config.pid_file).write_text(f"{os.getpid()}\n")
    # SIGHUP re-reads users and rights; the handler only hands the work to the reactor.
    signal.signal(signal.SIGHUP, lambda *_: reactor.callFromThread(service.reload))  # type: ignore[attr-defined]

    def failed(failure: Any) -> None:
        logging.getLogger("mqgate").error("event=start_failed error=%r", failure.getErrorMessage())
        status["code"] = 1
        reactor.stop()  # type: ignore[attr-defined]

    def shutdown() -> Any:
        return service.stop()

    reactor.callWhenRunning(lambda: service.start().addErrback(failed))  # type: ignore[attr-defined]
    reactor.addSystemEventTrigger("before", "shutdown", shutdown)  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]  # SIGTERM/SIGINT stop the reactor cleanly
    return status["code"]


def _db_upgrade(config: Config) -> int:
    from broker.store.migrate import SchemaTooNew, upgrade_database

    try:
        revision = upgrade_database(config.store)
    except SchemaTooNew as exc:
        print(f"mqgate: {exc}", file=sys.stderr)
        return 1
    print(f"schema at revision {revision}")
    return 0


def _reload(config: Config, args: argparse.Namespace) -> int:
    pid = args.pid
    if pid is None:
        if not config.pid_file:
            print("mqgate: give --pid, --pid-file, or a --config with pid_file", file=sys.stderr)
            return 2
        try:
            pid = int(Path(config.pid_file).read_text().strip())
        except (OSError, ValueError) as exc:
            print(f"mqgate: cannot read the pid file {config.pid_file}: {exc}", file=sys.stderr)
            return 1
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        print(f"mqgate: cannot signal process {pid}: {exc}", file=sys.stderr)
        return 1
    print(f"asked process {pid} to reload")
    return 0


def _user_hash(args: argparse.Namespace) -> int:
    from broker.auth.passwords import hash_password

    password = args.password
    if password is None:
        password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not password:
        print("mqgate: the password is empty", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def _tls_self_signed(args: argparse.Namespace) -> int:
    from broker.auth.tls import self_signed

    for path in self_signed(Path(args.out), args.host or ["localhost", "127.0.0.1"], args.client):
        print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "user":
        return _user_hash(args)
    if args.command == "tls":
        return _tls_self_signed(args)
    try:
        config = _config(args)
    except ConfigError as exc:
        print(f"mqgate: {exc}", file=sys.stderr)
        return 2
    logs.setup(config.log_level, config.log_format)
    if args.command == "serve":
        return _serve(config, args)
    if args.command == "reload":
        return _reload(config, args)
    return _db_upgrade(config)


if __name__ == "__main__":
    sys.exit(main())
