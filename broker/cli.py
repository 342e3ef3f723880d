"""The `mqgate` command."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any, Sequence

from broker import logs
from broker.config import Config, ConfigError, load

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
    serve.add_argument("--stomp-listen", metavar="ENDPOINT", help="Twisted endpoint for STOMP, e.g. ssl:61614:privateKey=k.pem:certKey=c.pem")
    serve.add_argument("--aws-listen", metavar="ENDPOINT", help="Twisted endpoint for the AWS facades")
    serve.add_argument("--store", metavar="URL", help=f"database URL (default {_DEFAULTS.store}; or postgresql://...)")
    serve.add_argument("--store-sync", choices=("normal", "full"), help="SQLite durability: normal survives a killed process, full also a power cut")
    serve.add_argument("--ports-file", metavar="PATH", help="write the bound ports as JSON here once listening")
    serve.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    serve.add_argument("--log-format", choices=("kv", "json"))
    serve.add_argument("--region", help=f"AWS region in ARNs (default {_DEFAULTS.region})")
    serve.add_argument("--account", help=f"AWS account id in queue URLs and ARNs (default {_DEFAULTS.account})")
    serve.add_argument("--aws-credentials", metavar="KEY:SECRET[:ACCOUNT],...", help="check SigV4 signatures against these keys")
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


def _config(args: argparse.Namespace) -> Config:
    overrides = {k: v for k, v in vars(args).items() if k not in ("command", "db_command", "config")}
    return load(args.config, overrides=overrides)


def _serve(config: Config) -> int:
    from twisted.internet import reactor

    from broker.service import BrokerService

    service = BrokerService(config, reactor)
    status = {"code": 0}

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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _config(args)
    except ConfigError as exc:
        print(f"mqgate: {exc}", file=sys.stderr)
        return 2
    logs.setup(config.log_level, config.log_format)
    if args.command == "serve":
        return _serve(config)
    return _db_upgrade(config)


if __name__ == "__main__":
    sys.exit(main())
