"""The Java JMS test programs: ActiveMQ's own client (Debian's libactivemq-java) run
against the broker's OpenWire door.

The programs in tests/java are compiled once per test session into a temporary directory.
Without a JDK or the client jars the tests are skipped with the reason, except in CI
(CI=true), where that is a failure: `make test` installs them.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

JAVA_DIR = Path(__file__).resolve().parent.parent / "java"
JAR_DIR = Path(os.environ.get("MQGATE_TEST_JAVA_LIBS", "/usr/share/java"))
# activemq-client and what it needs at run time.
JARS = ("activemq-client.jar", "geronimo-jms_1.1_spec.jar", "geronimo-j2ee-management-1.1-spec.jar",
        "hawtbuf.jar", "slf4j-api.jar", "slf4j-nop.jar")
RUN_TIMEOUT = 90.0


def _missing() -> str | None:
    for tool in ("java", "javac"):
        if shutil.which(tool) is None:
            return f"{tool} not found (install default-jdk-headless)"
    absent = [j for j in JARS if not (JAR_DIR / j).exists()]
    if absent:
        return f"JMS client jars missing in {JAR_DIR}: {', '.join(absent)} (install libactivemq-java)"
    return None


def require_java() -> None:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires the Java JMS client: {reason}")
        pytest.skip(reason)


class JmsPrograms:
    """The compiled programs; `run` returns the key=value lines a program printed."""

    def __init__(self, classes: Path) -> None:
        self.classpath = os.pathsep.join([str(classes), *(str(JAR_DIR / j) for j in JARS)])

    def start(self, url: str, scenario: str, name: str, *args: str,
              jvm: tuple[str, ...] = (), program: str = "JmsScenarios") -> subprocess.Popen:
        """`jvm`: options for the JVM itself (e.g. the trust store of an ssl:// URL);
        `program`: the class in tests/java whose scenario runs."""
        return subprocess.Popen(["java", *jvm, "-cp", self.classpath, program, url, scenario, name, *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, url: str, scenario: str, name: str, *args: str, ok: bool = True,
            jvm: tuple[str, ...] = (), program: str = "JmsScenarios") -> dict[str, str]:
        proc = self.start(url, scenario, name, *args, jvm=jvm, program=program)
        return self.finish(proc, ok)

    @staticmethod
    def finish(proc: subprocess.Popen, ok: bool = True, timeout: float = RUN_TIMEOUT) -> dict[str, str]:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"JMS program timed out:\n{out}\n{err}") from None
        result = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        if ok:
            assert proc.returncode == 0, f"JMS program failed:\n{out}\n{err[-3000:]}"
        return result


def compile_programs(workdir: Path) -> JmsPrograms:
    classes = workdir / "classes"
    classes.mkdir(parents=True, exist_ok=True)
    sources = sorted(str(p) for p in JAVA_DIR.glob("*.java"))
    classpath = os.pathsep.join(str(JAR_DIR / j) for j in JARS)
    done = subprocess.run(["javac", "-nowarn", "-d", str(classes), "-cp", classpath, *sources],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"javac failed:\n{done.stderr}"
    return JmsPrograms(classes)
