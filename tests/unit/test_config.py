"""Settings come from defaults < TOML file < MQGATE_* env vars < flags."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from broker.config import Config, ConfigError, endpoint_arguments, load

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_documented_ones():
    cfg = load(env={})
    assert (cfg.stomp_port, cfg.aws_port, cfg.bind) == (61613, 4566, "127.0.0.1")  # the defaults
    assert cfg.store == "sqlite:///var/mqgate.db"
    assert cfg.endpoint("stomp") == "tcp:61613:interface=127.0.0.1"  # default endpoint


def test_layers_override_in_order(tmp_path):
    f = tmp_path / "mqgate.toml"
    f.write_text('[mqgate]\nstomp_port = 1111\naws_port = 2222\nlog_format = "json"\n')
    cfg = load(str(f), env={"MQGATE_AWS_PORT": "3333", "MQGATE_BIND": "0.0.0.0"},
               overrides={"bind": "127.0.0.2", "stomp_port": None})
    assert cfg.stomp_port == 1111          # file
    assert cfg.aws_port == 3333            # env beats file
    assert cfg.bind == "127.0.0.2"         # flag beats env
    assert cfg.log_format == "json"


def test_config_file_from_env(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("stomp_port = 4444\n")
    assert load(env={"MQGATE_CONFIG": str(f)}).stomp_port == 4444


def test_an_ipv6_bind_is_one_interface_of_the_endpoint():
    """ActiveMQ listens on `stomp://[::1]:<port>`; `bind = "::1"` must reach Twisted whole."""
    from twisted.internet import endpoints, reactor

    endpoint = endpoints.serverFromString(reactor, Config(bind="::1", stomp_port=52613).endpoint("stomp"))
    assert (endpoint._port, endpoint._interface) == (52613, "::1")
    assert endpoint_arguments(Config(bind="::1").endpoint("stomp"))[2] == "interface=::1"
    assert endpoint_arguments(r"ssl:61614:privateKey=a\\b.pem") == ["ssl", "61614", r"privateKey=a\b.pem"]


def test_explicit_endpoint_replaces_bind_and_port():
    cfg = Config(stomp_listen="ssl:61614:privateKey=k.pem:certKey=c.pem")
    assert cfg.endpoint("stomp") == "ssl:61614:privateKey=k.pem:certKey=c.pem"


@pytest.mark.parametrize("text, message", [
    ("nope = 1\n", "unknown setting"),
    ("stomp_port = 'abc'\n", "not a valid int"),
    ("log_format = 'xml'\n", "log_format"),
    ("reactor = 'select'\n", "reactor must be one of default, uvloop, asyncio"),
    ("aws_credentials = 'onlykey'\n", "KEY:SECRET"),
    ("[broken\n", "cannot read"),
])
def test_bad_settings_are_refused_with_a_reason(tmp_path, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load(str(f), env={})


def test_reactor_from_file_and_environment(tmp_path):
    f = tmp_path / "m.toml"
    f.write_text("reactor = 'asyncio'\n")
    assert load(env={}).reactor == "default"
    assert load(str(f), env={}).reactor == "asyncio"
    assert load(str(f), env={"MQGATE_REACTOR": "uvloop"}).reactor == "uvloop"


def test_credentials_parse_with_optional_account():
    cfg = Config(aws_credentials="AK1:S1, AK2:S2:123456789012")
    assert cfg.credentials == {"AK1": ("S1", "000000000000"), "AK2": ("S2", "123456789012")}


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["db", "--help"], ["db", "upgrade", "--help"]])
def test_every_command_has_help(args):
    out = subprocess.run([sys.executable, "-m", "broker", *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "usage: mqgate" in out.stdout


def test_a_bad_flag_value_exits_with_a_message(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("stomp_port = 'x'\n")
    out = subprocess.run([sys.executable, "-m", "broker", "serve", "--config", str(f)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "stomp_port" in out.stderr


def test_db_upgrade_creates_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path}/sub/db.sqlite"
    out = subprocess.run([sys.executable, "-m", "broker", "db", "upgrade", "--store", url], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    head = max(p.name.split("_")[0] for p in (ROOT / "migrations" / "versions").glob("0*.py"))
    assert f"schema at revision {head}" in out.stdout


def test_redelivery_policies_from_toml(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('[redelivery.">"]\nmaximum_redeliveries = 3\nback_off_multiplier = 2\n')
    assert load(str(good), env={}).redelivery == {">": {"maximum_redeliveries": 3, "back_off_multiplier": 2}}
    bad = tmp_path / "bad.toml"
    bad.write_text('[redelivery.">"]\nmaximum_redelivery = 3\n')
    with pytest.raises(ConfigError, match="unknown setting redelivery.>.maximum_redelivery"):
        load(str(bad), env={})
    bad.write_text('[redelivery.">"]\nredelivery_delay = -1\n')
    with pytest.raises(ConfigError, match="non-negative int"):
        load(str(bad), env={})


def test_admin_door_settings():
    cfg = load(env={"MQGATE_ADMIN_GROUPS": '["ops", "admins"]'}, overrides={"admin_port": "0"})
    assert cfg.admin_groups == ["ops", "admins"] and cfg.endpoint("admin") == "tcp:0:interface=127.0.0.1"
    defaults = load(env={})
    assert defaults.admin_port == 8161 and defaults.admin_groups == ["admins"]
    with pytest.raises(ConfigError):
        load(env={"MQGATE_ADMIN_GROUPS": "[1]"})
