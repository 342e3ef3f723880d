"""Start and stop the benchmark targets on loopback, idempotently.

Targets:
  activemq  ActiveMQ 5.17 from Debian's `activemq` package, run in the
            foreground as a child JVM with a generated config in a temp dir
            (STOMP on a free loopback port with transport.tcpNoDelay=true,
            KahaDB in the temp dir, schedulerSupport, prioritizedMessages).
  rabbitmq  the RabbitMQ system service on this machine with its
            rabbitmq_stomp plugin, whose listener is put on a free loopback
            port (not 61613) in a dedicated vhost `mqgate-bench`.
  moto      moto's server (`python -m moto.server`) for SQS.
  mqgate    `mqgate serve` with SQLite in a temp dir and ephemeral ports.

State lives in $MQGATE_BENCH_DIR (default /tmp/mqgate-bench)/state.json, so
`python -m bench.peers start activemq` twice reuses the running broker and
`stop` after a crashed run still cleans up.

CLI: python -m bench.peers {start,stop,status} [activemq rabbitmq moto mqgate|all]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, asdict
from pathlib import Path

from . import stomp_wire
from .sysinfo import dpkg_version, pid_alive

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(os.environ.get("MQGATE_BENCH_DIR", "/tmp/mqgate-bench"))
STATE_FILE = BENCH_DIR / "state.json"

ACTIVEMQ_HOME = Path("/usr/share/activemq")
RABBIT_VHOST = "mqgate-bench"


class RunLock:
    """One benchmark run at a time per machine: runs share the state file, the
    peers and the cores. Held (flock) by bench.run_all for its whole run."""

    path = BENCH_DIR / "run.lock"

    def __init__(self) -> None:
        self.fd: int | None = None

    def acquire(self) -> bool:
        import fcntl
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {time.strftime('%H:%M:%S')}\n".encode())
        self.fd = fd
        return True

    @classmethod
    def holder(cls) -> str:
        try:
            return cls.path.read_text().strip() or "?"
        except OSError:
            return "?"

    @classmethod
    def busy(cls) -> bool:
        lock = cls()
        if lock.acquire():
            lock.release()
            return False
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class PeerUnavailable(RuntimeError):
    """The peer cannot be started here (not installed, not running, ...)."""


@dataclass
class Endpoint:
    """What a benchmark needs to know about a running target."""
    name: str
    version: str = "?"
    stomp_port: int | None = None
    aws_port: int | None = None
    openwire_port: int | None = None
    pids: list[int] = field(default_factory=list)   # processes whose RSS is the broker's
    stomp_headers: dict[str, str] = field(default_factory=dict)  # extra CONNECT headers
    notes: str = ""
    host: str = HOST


# ---------------------------------------------------------------- helpers

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_answers(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def wait_port(port: int, timeout: float, proc: subprocess.Popen | None = None,
              what: str = "peer", log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise PeerUnavailable(f"{what} exited with {proc.returncode} before listening"
                                  + _log_tail(log))
        if port_answers(port):
            return
        time.sleep(0.2)
    raise PeerUnavailable(f"{what} did not listen on {HOST}:{port} within {timeout:.0f}s"
                          + _log_tail(log))


def _log_tail(log: Path | None, n: int = 20) -> str:
    if log is None or not log.exists():
        return ""
    lines = log.read_text(errors="replace").splitlines()[-n:]
    return "\n--- " + str(log) + " (tail) ---\n" + "\n".join(lines)


def _load_state() -> dict:
    try:
        return json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return {}


def _save_state(state: dict) -> None:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    tmp = STATE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(STATE_FILE)


def _set_state(name: str, value: dict | None) -> None:
    state = _load_state()
    if value is None:
        state.pop(name, None)
    else:
        state[name] = value
    _save_state(state)


def _terminate(pid: int, proc: subprocess.Popen | None, grace: float = 20.0) -> None:
    """SIGTERM, wait, then SIGKILL the process group we created."""
    if not pid_alive(pid):
        if proc is not None:
            proc.poll()
        return
    try:
        os.killpg(pid, signal.SIGTERM)  # we start peers as session leaders
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return
        if proc is None and not pid_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc is not None:
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


class Peer:
    name = "peer"
    kinds: tuple[str, ...] = ()   # "stomp", "sqs"

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.started_here = False

    def available(self) -> tuple[bool, str]:
        return True, ""

    def start(self) -> Endpoint:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def status(self) -> str:
        st = _load_state().get(self.name)
        if not st:
            return "stopped"
        alive = "pid" not in st or pid_alive(st["pid"])
        return ("running " if alive else "stale ") + json.dumps(st)


# ---------------------------------------------------------------- ActiveMQ

ACTIVEMQ_XML = """<beans
  xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
    <!-- Generated by bench/peers.py: Debian's default instance config plus
         schedulerSupport and prioritizedMessages, STOMP and OpenWire on loopback. -->
    <bean class="org.springframework.beans.factory.config.PropertyPlaceholderConfigurer"/>
    <broker xmlns="http://activemq.apache.org/schema/core"
            useJmx="false"
            brokerName="mqgate-bench"
            persistent="true"
            schedulerSupport="true"
            dataDirectory="{data}"
            schedulerDirectory="{data}/scheduler">
        <destinationPolicy>
            <policyMap>
                <policyEntries>
                    <policyEntry queue="&gt;" prioritizedMessages="true"/>
                </policyEntries>
            </policyMap>
        </destinationPolicy>
        <persistenceAdapter>
            <kahaDB directory="{data}/kahadb"/>
        </persistenceAdapter>
        <transportConnectors>
            <transportConnector name="stomp" uri="stomp://127.0.0.1:{port}?transport.tcpNoDelay=true"/>
            <transportConnector name="openwire" uri="tcp://127.0.0.1:{openwire_port}?transport.tcpNoDelay=true"/>
        </transportConnectors>
    </broker>
</beans>
"""

# The Debian build logs through log4j 1.2 (slf4j-log4j12); keep a 2.x file too.
LOG4J1 = """log4j.rootLogger=INFO, stdout
log4j.logger.org.springframework=WARN
log4j.logger.org.apache.xbean=WARN
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=%d | %-5p | %m | %c | %t%n
"""

LOG4J2 = """rootLogger.level=INFO
rootLogger.appenderRef.console.ref=Console
logger.spring.name=org.springframework
logger.spring.level=WARN
logger.xbean.name=org.apache.xbean
logger.xbean.level=WARN
appender.console.type=Console
appender.console.name=Console
appender.console.layout.type=PatternLayout
appender.console.layout.pattern=%d | %-5p | %m | %c | %t%n
"""

# Same JVM flags as Debian's /usr/bin/activemq (and its default
# ACTIVEMQ_OPTS from /usr/share/activemq/activemq-options).
ACTIVEMQ_JVM_OPTS = ["-Xms512M", "-Xmx512M", "-Dorg.apache.activemq.UseDedicatedTaskRunner=true"]
JAVA_OPENS = [
    "--add-reads=java.xml=java.logging",
    "--add-opens", "java.base/java.security=ALL-UNNAMED",
    "--add-opens", "java.base/java.net=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang=ALL-UNNAMED",
    "--add-opens", "java.base/java.util=ALL-UNNAMED",
    "--add-opens", "java.naming/javax.naming.spi=ALL-UNNAMED",
    "--add-opens", "java.rmi/sun.rmi.transport.tcp=ALL-UNNAMED",
    "--add-opens", "java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens", "java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-exports=java.base/sun.net.www.protocol.http=ALL-UNNAMED",
    "--add-exports=java.base/sun.net.www.protocol.https=ALL-UNNAMED",
    "--add-exports=java.base/sun.net.www.protocol.jar=ALL-UNNAMED",
    "--add-exports=jdk.xml.dom/org.w3c.dom.html=ALL-UNNAMED",
    "--add-exports=jdk.naming.rmi/com.sun.jndi.url.rmi=ALL-UNNAMED",
]


class ActiveMQ(Peer):
    name = "activemq"
    kinds = ("stomp",)

    def available(self) -> tuple[bool, str]:
        if not (ACTIVEMQ_HOME / "bin" / "activemq.jar").exists():
            return False, "Debian package `activemq` not installed (apt-get install -y activemq)"
        if shutil.which("java") is None:
            return False, "java not found"
        return True, ""

    def _endpoint(self, st: dict, connected: dict[str, str]) -> Endpoint:
        server = connected.get("server", "ActiveMQ")
        deb = dpkg_version("activemq")
        return Endpoint(
            name=self.name, version=server + (f" (Debian {deb})" if deb else ""),
            stomp_port=st["port"], openwire_port=st.get("openwire"), pids=[st["pid"]],
            notes="KahaDB, transport.tcpNoDelay=true, -Xmx512M, "
                  "schedulerSupport, prioritizedMessages")

    def start(self) -> Endpoint:
        ok, why = self.available()
        if not ok:
            raise PeerUnavailable(why)
        st = _load_state().get(self.name)
        if st and pid_alive(st["pid"]) and port_answers(st["port"]):
            try:
                return self._endpoint(st, stomp_wire.probe(HOST, st["port"]))
            except Exception:
                pass
        if st:
            self.stop()
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix="activemq-", dir=BENCH_DIR))
        conf, data, tmp = base / "conf", base / "data", base / "tmp"
        for d in (conf, data, tmp):
            d.mkdir()
        port, openwire_port = free_port(), free_port()
        (conf / "activemq.xml").write_text(ACTIVEMQ_XML.format(data=data, port=port,
                                                               openwire_port=openwire_port))
        (conf / "log4j2.properties").write_text(LOG4J2)
        (conf / "log4j.properties").write_text(LOG4J1)
        return self._launch(base, port, openwire_port)

    def halt(self) -> None:
        """Stop ActiveMQ cleanly, keeping its data for `resume`."""
        st = _load_state().get(self.name)
        if not st:
            raise PeerUnavailable("ActiveMQ is not running")
        _terminate(st["pid"], self.proc)

    def resume(self) -> Endpoint:
        """Start ActiveMQ again on the data `halt` kept."""
        st = _load_state()[self.name]
        return self._launch(Path(st["dir"]), st["port"], st.get("openwire"))

    def _launch(self, base: Path, port: int, openwire_port: int | None) -> Endpoint:
        conf, data, tmp = base / "conf", base / "data", base / "tmp"
        log = base / "activemq.log"
        cmd = ["java", *ACTIVEMQ_JVM_OPTS,
               f"-Djava.security.auth.login.config={conf}/login.config",
               "-Djava.awt.headless=true", f"-Djava.io.tmpdir={tmp}",
               *JAVA_OPENS,
               f"-Dlog4j.configurationFile=file:{conf}/log4j2.properties",
               f"-Dlog4j.configuration=file:{conf}/log4j.properties",
               f"-Dactivemq.classpath={conf}/",
               f"-Dactivemq.home={ACTIVEMQ_HOME}", f"-Dactivemq.base={base}",
               f"-Dactivemq.conf={conf}", f"-Dactivemq.data={data}",
               "-jar", str(ACTIVEMQ_HOME / "bin" / "activemq.jar"),
               "start", f"xbean:file:{conf}/activemq.xml"]
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=base, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.started_here = True
        st = {"pid": self.proc.pid, "port": port, "openwire": openwire_port, "dir": str(base)}
        _set_state(self.name, st)
        try:
            wait_port(port, 120, self.proc, "ActiveMQ", log)
            connected = self._probe_until_ready(port, 60)
        except Exception:
            self.stop()
            raise
        return self._endpoint(st, connected)

    @staticmethod
    def _probe_until_ready(port: int, timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return stomp_wire.probe(HOST, port)
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        st = _load_state().get(self.name)
        if not st:
            return
        _terminate(st["pid"], self.proc)
        shutil.rmtree(st.get("dir", ""), ignore_errors=True)
        _set_state(self.name, None)
        self.proc = None


# ---------------------------------------------------------------- RabbitMQ

def _rabbitctl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True,
                          timeout=timeout)


def _rabbit_eval(expr: str) -> str:
    out = _rabbitctl("eval", expr)
    if out.returncode != 0:
        raise PeerUnavailable(f"rabbitmqctl eval failed: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout.strip()


class RabbitMQ(Peer):
    """The system RabbitMQ with rabbitmq_stomp. If the plugin is not enabled,
    we set its listener to a free loopback port (a transient application env
    value) before enabling it, and disable it again on stop. Benchmark
    queues live in their own vhost, deleted on stop."""
    name = "rabbitmq"
    kinds = ("stomp",)

    def available(self) -> tuple[bool, str]:
        if shutil.which("rabbitmqctl") is None:
            return False, "rabbitmq-server not installed"
        if not port_answers(5672):
            return False, "RabbitMQ is not running on 127.0.0.1:5672"
        return True, ""

    def _stomp_ports(self) -> list[int]:
        running = _rabbit_eval(
            "lists:keymember(rabbitmq_stomp, 1, application:which_applications()).")
        if running != "true":
            return []
        env = _rabbit_eval("application:get_env(rabbitmq_stomp, tcp_listeners).")
        # e.g. {ok,[{"127.0.0.1",52103}]} or {ok,[61613]}
        return [int(p) for p in re.findall(r"(?<![\d.])(\d{2,5})(?=\s*[}\]])", env)]

    def start(self) -> Endpoint:
        ok, why = self.available()
        if not ok:
            raise PeerUnavailable(why)
        st = _load_state().get(self.name) or {}
        ports = self._stomp_ports()
        if not ports:
            port = free_port()
            _rabbit_eval("application:set_env(rabbitmq_stomp, tcp_listeners, "
                         f'[{{"{HOST}", {port}}}], [{{persistent, true}}]).')
            out = subprocess.run(["rabbitmq-plugins", "enable", "rabbitmq_stomp"],
                                 capture_output=True, text=True, timeout=120)
            if out.returncode != 0:
                raise PeerUnavailable("rabbitmq-plugins enable rabbitmq_stomp failed: "
                                      + out.stderr.strip())
            st["enabled_plugin"] = True
            ports = [port]
        port = ports[0]
        st["port"] = port
        # Dedicated vhost (idempotent: "already exists" is fine).
        _rabbitctl("add_vhost", RABBIT_VHOST)
        _rabbitctl("set_permissions", "-p", RABBIT_VHOST, "guest", ".*", ".*", ".*")
        st["vhost"] = RABBIT_VHOST
        _set_state(self.name, st)
        wait_port(port, 30, None, "RabbitMQ STOMP")
        headers = {"login": "guest", "passcode": "guest", "host": RABBIT_VHOST}
        connected = stomp_wire.probe(HOST, port, headers)
        pid = int(_rabbit_eval("list_to_integer(os:getpid())."))
        deb = dpkg_version("rabbitmq-server")
        return Endpoint(
            name=self.name,
            version=connected.get("server", "RabbitMQ") + (f" (Debian {deb})" if deb else ""),
            stomp_port=port, pids=[pid], stomp_headers=headers,
            notes=f"system service, rabbitmq_stomp plugin, vhost {RABBIT_VHOST}; "
                  "/queue/ destinations are durable queues, persistent:true "
                  "= delivery mode 2, SEND receipts after publisher confirm")

    def stop(self) -> None:
        st = _load_state().get(self.name)
        if not st:
            return
        if st.get("vhost"):
            _rabbitctl("delete_vhost", st["vhost"])
        if st.get("enabled_plugin"):
            subprocess.run(["rabbitmq-plugins", "disable", "rabbitmq_stomp"],
                           capture_output=True, text=True, timeout=120)
            _rabbitctl("eval", "application:unset_env(rabbitmq_stomp, tcp_listeners, "
                               "[{persistent, true}]).")
        _set_state(self.name, None)


# ---------------------------------------------------------------- moto

class Moto(Peer):
    name = "moto"
    kinds = ("sqs",)

    def available(self) -> tuple[bool, str]:
        try:
            import moto.server  # noqa: F401
        except ImportError as e:
            return False, f"moto[server] not installed in this venv ({e})"
        return True, ""

    def _endpoint(self, st: dict) -> Endpoint:
        from importlib.metadata import version
        return Endpoint(name=self.name, version="moto " + version("moto"),
                        aws_port=st["port"], pids=[st["pid"]],
                        notes="python -m moto.server (Werkzeug, threaded)")

    def start(self) -> Endpoint:
        ok, why = self.available()
        if not ok:
            raise PeerUnavailable(why)
        st = _load_state().get(self.name)
        if st and pid_alive(st["pid"]) and port_answers(st["port"]):
            return self._endpoint(st)
        if st:
            self.stop()
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix="moto-", dir=BENCH_DIR))
        port = free_port()
        log = base / "moto.log"
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
                cwd=base, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        self.started_here = True
        st = {"pid": self.proc.pid, "port": port, "dir": str(base)}
        _set_state(self.name, st)
        try:
            wait_port(port, 60, self.proc, "moto", log)
        except Exception:
            self.stop()
            raise
        return self._endpoint(st)

    def stop(self) -> None:
        st = _load_state().get(self.name)
        if not st:
            return
        _terminate(st["pid"], self.proc)
        shutil.rmtree(st.get("dir", ""), ignore_errors=True)
        _set_state(self.name, None)
        self.proc = None


# ---------------------------------------------------------------- mqgate

def mqgate_command() -> list[str] | None:
    exe = REPO / ".venv" / "bin" / "mqgate"
    if exe.exists():
        return [str(exe)]
    exe2 = shutil.which("mqgate")
    if exe2:
        return [exe2]
    if (REPO / "broker" / "__main__.py").exists():
        return [sys.executable, "-m", "broker"]
    return None


class Mqgate(Peer):
    """`mqgate serve` on ephemeral ports with SQLite in a temp dir. `sync`
    picks --store-sync, `reactor` --reactor (None: the broker's default), `module`
    runs another entry point with the same arguments."""
    name = "mqgate"
    kinds = ("stomp", "sqs")

    def __init__(self, sync: str | None = None, reactor: str | None = None,
                 module: str | None = None) -> None:
        super().__init__()
        self.sync = sync
        self.reactor = reactor
        # Another entry point than `broker` taking the same arguments (bench.openwire_floor).
        self.module = module
        if sync:
            self.name = f"mqgate-sync-{sync}"
        if reactor:
            self.name = f"mqgate-reactor-{reactor}"
        if module:
            self.name = f"mqgate-{module.rsplit('.', 1)[-1]}"

    def available(self) -> tuple[bool, str]:
        cmd = mqgate_command()
        if cmd is None:
            return False, "no mqgate command (.venv/bin/mqgate) yet"
        try:
            out = subprocess.run([*cmd, "serve", "--help"], capture_output=True, text=True,
                                 timeout=60, cwd=REPO)
        except (OSError, subprocess.TimeoutExpired) as e:
            return False, f"`mqgate serve --help` failed: {e}"
        if out.returncode != 0:
            err = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["?"]
            return False, f"`mqgate serve --help` exited {out.returncode}: {err[0]}"
        if "--ports-file" not in out.stdout:
            return False, "`mqgate serve` has no --ports-file option yet"
        self._help = out.stdout
        return True, ""

    def _version(self) -> str:
        v = "mqgate"
        try:
            from importlib.metadata import version
            v += " " + version("mqgate")
        except Exception:
            pass
        try:  # read-only git query
            rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True, timeout=10).stdout.strip()
            dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                    "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=20).stdout.strip()
            if rev:
                v += f" @{rev}" + ("+dirty" if dirty else "")
        except OSError:
            pass
        return v

    def _endpoint(self, st: dict) -> Endpoint:
        sync = f"--store-sync {self.sync}" if self.sync else "default --store-sync"
        return Endpoint(name=self.name, version=st.get("version", "mqgate"),
                        stomp_port=st.get("stomp"), aws_port=st.get("aws"),
                        openwire_port=st.get("openwire"), pids=[st["pid"]],
                        notes=f"SQLite (WAL) store in a temp dir, {sync}"
                        + (f", --reactor {self.reactor}" if self.reactor else ""))

    def start(self) -> Endpoint:
        ok, why = self.available()
        if not ok:
            raise PeerUnavailable(why)
        st = _load_state().get(self.name)
        if st and pid_alive(st["pid"]) and st.get("stomp") and port_answers(st["stomp"]):
            return self._endpoint(st)
        if st:
            self.stop()
        try:
            return self._launch(aws=True)
        except PeerUnavailable as e:
            if "--aws-port" not in getattr(self, "_help", ""):
                raise
            # The AWS door may be the part still being built: measure STOMP alone.
            first = str(e).strip().splitlines()
            ep = self._launch(aws=False)
            ep.notes += ("; AWS facade off (`--aws-port -1`): with it the broker failed: "
                         + " ".join(first[-1:] or first[:1]))
            return ep

    def _launch(self, aws: bool) -> Endpoint:
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix="mqgate-", dir=BENCH_DIR))
        ports_file = base / "ports.json"
        log = base / "mqgate.log"
        launcher = mqgate_command()
        if self.module:
            py = REPO / ".venv" / "bin" / "python"
            launcher = [str(py if py.exists() else sys.executable), "-m", self.module]
        if os.environ.get("MQGATE_BENCH_PROFILE"):
            # cProfile the whole broker run; the stats are written when it
            # exits on SIGTERM and summarised by stop().
            py = REPO / ".venv" / "bin" / "python"
            launcher = [str(py if py.exists() else sys.executable), "-m", "cProfile",
                        "-o", str(base / "mqgate.pstats"), "-m", "broker"]
        cmd = [*launcher, "serve", "--bind", HOST, "--stomp-port", "0",
               "--store", f"sqlite:///{base}/mqgate.db", "--ports-file", str(ports_file)]
        if "--aws-port" in getattr(self, "_help", ""):
            cmd[-2:-2] = ["--aws-port", "0" if aws else "-1"]
        if "--openwire-port" in getattr(self, "_help", ""):
            cmd[-2:-2] = ["--openwire-port", "0"]
        if "--ws-port" in getattr(self, "_help", ""):
            cmd[-2:-2] = ["--ws-port", "-1"]
        if self.sync:
            if "--store-sync" not in getattr(self, "_help", ""):
                raise PeerUnavailable("`mqgate serve` has no --store-sync option")
            cmd += ["--store-sync", self.sync]
        if self.reactor:
            cmd += ["--reactor", self.reactor]
        if "--log-level" in getattr(self, "_help", ""):
            cmd += ["--log-level", os.environ.get("MQGATE_BENCH_LOG_LEVEL", "warning")]
        # This checkout's code, even when the venv's editable install points at another one.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        self.started_here = True
        st = {"pid": self.proc.pid, "dir": str(base), "cmd": cmd, "version": self._version()}
        _set_state(self.name, st)
        try:
            deadline = time.monotonic() + 90
            ports = None
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise PeerUnavailable(f"mqgate exited with {self.proc.returncode}"
                                          + _log_tail(log, 3))
                try:
                    ports = json.loads(ports_file.read_text())
                    break
                except (OSError, ValueError):
                    time.sleep(0.2)
            if ports is None:
                raise PeerUnavailable("mqgate wrote no ports file within 90s" + _log_tail(log))
            st["stomp"] = ports.get("stomp")
            st["aws"] = ports.get("aws") or ports.get("sqs")
            st["openwire"] = ports.get("openwire")
            _set_state(self.name, st)
            if st["stomp"]:
                wait_port(st["stomp"], 30, self.proc, "mqgate STOMP", log)
            if st["aws"]:
                wait_port(st["aws"], 30, self.proc, "mqgate AWS", log)
        except Exception:
            self.stop()
            raise
        return self._endpoint(st)

    def stop(self) -> None:
        st = _load_state().get(self.name)
        if not st:
            return
        _terminate(st["pid"], self.proc)
        log = Path(st.get("dir", "")) / "mqgate.log"
        if log.exists():  # keep the broker log of the last run for post-mortems
            try:
                shutil.copy(log, BENCH_DIR / f"{self.name}-last.log")
            except OSError:
                pass
        prof = Path(st.get("dir", "")) / "mqgate.pstats"
        if prof.exists():
            _summarise_profile(prof, BENCH_DIR / f"{self.name}.pstats",
                               BENCH_DIR / f"{self.name}-profile.txt")
        shutil.rmtree(st.get("dir", ""), ignore_errors=True)
        _set_state(self.name, None)
        self.proc = None


def _summarise_profile(src: Path, dst: Path, summary: Path) -> None:
    import io
    import pstats
    try:
        shutil.copy(src, dst)
        out = io.StringIO()
        stats = pstats.Stats(str(dst), stream=out)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(40)
        summary.write_text(out.getvalue())
        print(f"mqgate profile: {summary} (raw: {dst})", file=sys.stderr)
    except Exception as e:  # a profile is a bonus, never a failure
        print(f"mqgate profile unreadable: {e}", file=sys.stderr)


PEERS: dict[str, type[Peer]] = {
    "activemq": ActiveMQ, "rabbitmq": RabbitMQ, "moto": Moto, "mqgate": Mqgate,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.peers",
                                 description="Start/stop benchmark targets on loopback.")
    ap.add_argument("action", choices=["start", "stop", "status"])
    ap.add_argument("names", nargs="*", default=["all"],
                    help="activemq rabbitmq moto mqgate mqgate-sync-full, or all (default)")
    ap.add_argument("--force", action="store_true",
                    help="stop peers even while a bench.run_all holds the run lock")
    args = ap.parse_args(argv)
    if args.action != "status" and not args.force and RunLock.busy():
        print(f"a benchmark run is in progress (pid, start: {RunLock.holder()}); "
              "it stops its peers itself. Use --force to act anyway.", file=sys.stderr)
        return 3
    names = list(PEERS) if args.names in ([], ["all"]) else args.names
    rc = 0
    for name in names:
        if name.startswith("mqgate-sync-"):
            peer: Peer = Mqgate(sync=name.rsplit("-", 1)[1])
        elif name in PEERS:
            peer = PEERS[name]()
        else:
            ap.error(f"unknown peer {name}")
        try:
            if args.action == "start":
                ep = peer.start()
                print(json.dumps(asdict(ep)))
            elif args.action == "stop":
                peer.stop()
                print(f"{name}: stopped")
            else:
                print(f"{name}: {peer.status()}")
        except PeerUnavailable as e:
            print(f"{name}: unavailable: {e}", file=sys.stderr)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
