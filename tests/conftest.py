"""Shared fixtures: store URLs for SQLite and PostgreSQL, and a real `mqgate serve` process.

PostgreSQL tests run against 127.0.0.1:5432 (database `test`, or MQGATE_TEST_PG). Each
test gets a schema of its own. Without PostgreSQL they are skipped with the reason, except
in CI (CI=true), where an unreachable PostgreSQL is a failure.

`make test` runs the suite on several pytest-xdist workers, a test module per worker at a
time (`--dist loadfile`): every broker listens on ephemeral ports, works in its test's own
temporary directory and, on PostgreSQL, in a schema of its own, so workers share nothing
but the machine.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("MQGATE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START_TIMEOUT = 30.0

# The modules that take longest (broker restarts, JVMs, backlogs, waits for a cron minute or
# an SQS retention period, long hypothesis runs), roughly longest first: under xdist they are
# handed out before the rest, so that the many short modules fill the gaps and no worker is
# left finishing one of these alone at the end.
SLOW_MODULES = (
    "integration/test_backlog.py",
    "integration/test_sns_restart.py",
    "integration/test_stomp_restart.py",
    "integration/test_sqs_restart.py",
    "integration/test_sns_http.py",
    "integration/test_stomp_delivery.py",
    "integration/test_sqs_timers.py",
    "integration/test_openwire_jms.py",
    "integration/test_security_config.py",
    "integration/test_apigw_cli.py",
    "integration/test_security_openwire.py",
    "integration/test_sns_cli.py",
    "integration/test_apigw_limits.py",
    "integration/test_openwire_flow_control.py",
    "integration/test_security_tls.py",
    "integration/test_openwire_interop.py",
    "unit/test_auth_fuzz.py",
    "unit/test_stomp_fast_path.py",
    "unit/test_engine_timeline.py",
    "unit/test_aws_json_protocol.py",
    "unit/test_openwire_compiled_codec.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker, put SLOW_MODULES first (the order within a module is kept:
    `--dist loadfile` hands modules out in collection order, given `--no-loadscope-reorder`)."""
    if not hasattr(config, "workerinput"):
        return
    rank = {f"tests/{name}": i for i, name in enumerate(SLOW_MODULES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


def _pg_admin_url() -> str:
    return PG_URL.replace("postgresql+psycopg://", "postgresql://")


def _pg_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect(_pg_admin_url(), connect_timeout=3):
            return None
    except Exception as exc:  # any failure means "no PostgreSQL here"
        return f"PostgreSQL not reachable at {PG_URL.split('@')[-1]}: {exc}"


_PG_STATE: dict[str, str | None] = {}


def pg_available() -> None:
    """Skip (or fail, in CI) when PostgreSQL is not reachable."""
    if "reason" not in _PG_STATE:
        _PG_STATE["reason"] = _pg_reason()
    reason = _PG_STATE["reason"]
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires PostgreSQL: {reason}")
        pytest.skip(reason)


def make_pg_schema() -> tuple[str, str]:
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema, f"{PG_URL}?options=-csearch_path%3D{schema}"


def drop_pg_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store for one test, on each database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/mqgate.db"
        return
    pg_available()
    schema, url = make_pg_schema()
    try:
        yield url
    finally:
        drop_pg_schema(schema)


@dataclass
class BrokerProcess:
    """A real `mqgate serve` on ephemeral ports."""

    store: str
    workdir: Path
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    ports: dict[str, int] = field(default_factory=dict)
    log_path: Path | None = None

    def start(self) -> "BrokerProcess":
        ports_file = self.workdir / f"ports-{uuid.uuid4().hex[:6]}.json"
        self.log_path = self.workdir / "broker.log"
        log = open(self.log_path, "ab")
        aws_port = "0" if (ROOT / "facades" / "site.py").exists() else "-1"
        cmd = [sys.executable, "-m", "broker", "serve", "--bind", "127.0.0.1", "--stomp-port", "0",
               "--openwire-port", "0",
               "--aws-port", aws_port, "--ws-port", "-1", "--admin-port", "0", "--store", self.store, "--ports-file", str(ports_file),
               "--log-level", "info", *self.extra]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if ports_file.exists():
                self.ports = json.loads(ports_file.read_text())
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"broker did not start: {self.log()}")

    @property
    def stomp_port(self) -> int:
        return self.ports["stomp"]

    @property
    def openwire_port(self) -> int:
        return self.ports["openwire"]

    @property
    def aws_port(self) -> int:
        return self.ports["aws"]

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['admin']}"

    @property
    def aws_url(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def kill(self) -> None:
        """kill -9: no chance to flush anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait: the clean shutdown a service manager does."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError("broker did not stop on SIGTERM within %.0fs" % timeout)
        return self.proc.returncode

    def restart(self, hard: bool = False) -> "BrokerProcess":
        self.kill() if hard else self.stop()
        return self.start()


@pytest.fixture
def broker(store_url: str, tmp_path: Path) -> Iterator[BrokerProcess]:
    """A broker of its own for one test, on SQLite and on PostgreSQL."""
    proc = BrokerProcess(store_url, tmp_path).start()
    try:
        yield proc
    finally:
        proc.kill()


@contextlib.contextmanager
def broker_on(db: str, workdir: Path, extra: list[str] | None = None) -> Iterator[BrokerProcess]:
    """A real broker on `db` ("sqlite" or "postgresql": a schema of its own) with `extra`
    flags, killed (and its schema dropped) when the block ends."""
    schema = None
    if db == "sqlite":
        url = f"sqlite:///{workdir}/mqgate.db"
    else:
        pg_available()
        schema, url = make_pg_schema()
    try:
        proc = BrokerProcess(url, workdir, extra=list(extra or [])).start()
        try:
            yield proc
        finally:
            proc.kill()
    finally:
        if schema:
            drop_pg_schema(schema)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_broker(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One broker for a whole test module (tests use distinct destination names)."""
    with broker_on(request.param, tmp_path_factory.mktemp("broker")) as proc:
        yield proc


def unique(prefix: str = "q") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
