"""The security commands: help texts, `user hash` and `reload` argument errors."""
from __future__ import annotations

import subprocess
import sys

import pytest

from broker.auth.passwords import verify_hash
from tests.unit.test_config import ROOT


def mqgate(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "broker", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, input=input)


@pytest.mark.parametrize("args", [["reload", "--help"], ["user", "hash", "--help"], ["tls", "self-signed", "--help"]])
def test_security_commands_have_help(args):
    out = mqgate(*args)
    assert out.returncode == 0 and "usage: mqgate" in out.stdout


def test_user_hash_reads_stdin_and_refuses_empty():
    out = mqgate("user", "hash", input="correct horse\n")
    assert out.returncode == 0 and verify_hash(out.stdout.strip(), "correct horse")
    assert mqgate("user", "hash", input="\n").returncode == 2


def test_reload_needs_a_way_to_find_the_broker(tmp_path):
    out = mqgate("reload")
    assert out.returncode == 2 and "--pid" in out.stderr
    out = mqgate("reload", "--pid-file", str(tmp_path / "missing.pid"))
    assert out.returncode == 1 and "pid file" in out.stderr
