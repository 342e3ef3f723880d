"""The portal behind every door: users from the config and property files, password and
key checks, anonymous access, failure slow-down, limits and reload (on a Clock)."""
from __future__ import annotations

from pathlib import Path

import pytest
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock

from broker.auth.authorization import READ, WRITE, NotAuthorized, Target
from broker.auth.checkers import SignedAccessKey
from broker.auth.limits import ConnectionCounter, RateLimiter
from broker.auth.passwords import hash_password
from broker.auth.security import LoginFailed, Security
from broker.config import Config, ConfigError, load

HASH = hash_password("hashed-pw")
USERS = [
    {"name": "app", "password_hash": HASH, "groups": ["producers"],
     "access_keys": [{"id": "AKIAAPP", "secret": "app-secret", "account": "123456789012"}]},
    {"name": "plain", "password": "plain-pw", "groups": ["consumers"]},
]
MAP = [{"queue": "orders.>", "read": ["consumers"], "write": ["producers"]}]


def security(**settings) -> tuple[Security, Clock]:
    clock = Clock()
    config = Config(users=settings.pop("users", USERS), authorization=settings.pop("authorization", MAP), **settings)
    return Security(config, clock, run_in_thread=maybeDeferred), clock


def result(d: Deferred):
    out = []
    d.addBoth(out.append)
    assert out, "the Deferred has not fired"
    return out[0]


def test_passwords_hashed_and_plain():
    sec, _ = security()
    assert result(sec.login_password("app", "hashed-pw", "1.2.3.4:5", "stomp")).groups == {"producers"}
    assert result(sec.login_password("plain", "plain-pw", "1.2.3.4:5", "stomp")).name == "plain"
    for i, (user, password) in enumerate([("app", "wrong"), ("plain", "wrong"), ("nobody", "hashed-pw"), ("app", "")]):
        failure = result(sec.login_password(user, password, f"10.0.0.{i}:5", "stomp"))
        assert failure.check(LoginFailed)
        assert failure.value.message == f"User name [{user}] or password is invalid."


def test_no_credentials_is_anonymous_only_when_allowed():
    sec, _ = security()
    assert result(sec.login_password(None, None, "h:1", "stomp")).value.message == \
        "User name [null] or password is invalid."
    sec, _ = security(auth={"anonymous": True, "anonymous_groups": ["guests"]})
    identity = result(sec.login_password(None, None, "h:1", "stomp"))
    assert (identity.name, identity.groups, identity.anonymous) == ("anonymous", {"guests"}, True)


def test_open_broker_lets_every_login_in():
    sec, _ = security(users=[], authorization=[])
    assert not sec.enforcing
    assert result(sec.login_password("whoever", "whatever", "h:1", "stomp")).name == "whoever"
    sec.authorize(result(sec.login_password(None, None, "h:1", "stomp")), WRITE, Target("queue", "x"))


def test_access_keys_verify_with_the_keys_secret():
    sec, _ = security()
    seen = []
    creds = SignedAccessKey("AKIAAPP", lambda secret: seen.append(secret) or secret == "app-secret")
    identity = result(sec.login(creds, "h:1", "aws"))
    assert (identity.name, identity.account, seen) == ("app", "123456789012", ["app-secret"])
    assert result(sec.login(SignedAccessKey("AKIAAPP", lambda s: False), "h:1", "aws")).check(LoginFailed)
    assert result(sec.login(SignedAccessKey("AKIANONE", lambda s: True), "h:1", "aws")).check(LoginFailed)
    assert result(sec.login(None, "h:1", "aws")).check(LoginFailed)
    assert sec.login_failures() == {("aws", "bad_signature"): 1, ("aws", "unknown_key"): 1,
                                    ("aws", "no_credentials"): 1}


def test_a_keys_avatar_is_reused_but_every_request_is_verified():
    sec, _ = security()
    seen = []
    first = result(sec.login_key(SignedAccessKey("AKIAAPP", lambda s: seen.append(s) or s == "app-secret"),
                                 "h:1", "aws"))
    again = result(sec.login_key(SignedAccessKey("AKIAAPP", lambda s: seen.append(s) or s == "app-secret"),
                                 "h:1", "aws"))
    assert again is first and seen == ["app-secret", "app-secret"]
    # a request not signed with the secret is refused and counted, cached key or not
    assert result(sec.login_key(SignedAccessKey("AKIAAPP", lambda s: False), "h:2", "aws")).check(LoginFailed)
    assert sec.login_failures() == {("aws", "bad_signature"): 1}


def test_reload_forgets_the_avatars_of_keys():
    sec, _ = security()
    signed = SignedAccessKey("AKIAAPP", lambda s: s == "app-secret")
    assert result(sec.login_key(signed, "h:1", "aws")).groups == {"producers"}
    regrouped = [{**USERS[0], "groups": ["consumers"]}, USERS[1]]
    sec.reload(Config(users=regrouped, authorization=MAP))
    assert result(sec.login_key(signed, "h:1", "aws")).groups == {"consumers"}
    sec.reload(Config(users=[USERS[1]], authorization=MAP))
    refused = result(sec.login_key(signed, "h:1", "aws"))
    assert refused.check(LoginFailed) and sec.login_failures() == {("aws", "unknown_key"): 1}


def test_aws_credentials_shorthand_keys_are_users():
    sec, _ = security(users=[], authorization=[], aws_credentials="AKIDX:sec:111122223333")
    assert sec.enforcing
    identity = result(sec.login(SignedAccessKey("AKIDX", lambda s: s == "sec"), "h:1", "aws"))
    assert (identity.name, identity.account) == ("AKIDX", "111122223333")


def test_repeated_failures_from_one_address_are_slowed():
    sec, clock = security()
    for _ in range(3):
        assert result(sec.login_password("app", "bad", "9.9.9.9:1", "stomp")).check(LoginFailed)
    assert sec.failures.total == 3
    assert sec.login_failures() == {("stomp", "bad_password"): 3}
    pending = sec.login_password("app", "hashed-pw", "9.9.9.9:2", "stomp")
    out = []
    pending.addBoth(out.append)
    assert out == []                                  # the fourth attempt waits
    clock.advance(0.25)
    assert out and out[0].name == "app"
    # another address is not held back, and a success clears the count
    assert result(sec.login_password("app", "hashed-pw", "8.8.8.8:1", "stomp")).name == "app"
    assert sec.failures.delay("9.9.9.9") == 0.0


def test_authorize_uses_the_groups_of_now():
    sec, _ = security()
    reader = result(sec.login_password("plain", "plain-pw", "h:1", "stomp"))
    sec.authorize(reader, READ, Target("queue", "orders.a"))
    with pytest.raises(NotAuthorized) as caught:
        sec.authorize(reader, WRITE, Target("queue", "orders.a"))
    assert caught.value.message == "User plain is not authorized to write to: queue://orders.a"
    users = [USERS[0], {**USERS[1], "groups": ["consumers", "producers"]}]
    sec.reload(Config(users=users, authorization=MAP))
    sec.authorize(reader, WRITE, Target("queue", "orders.a"))     # same identity, new rights


def test_reload_keeps_the_old_settings_on_a_bad_config():
    sec, _ = security()
    with pytest.raises(ConfigError):
        sec.reload(Config(users=[{"name": "x", "password_hash": "not-a-hash"}]))
    assert "app" in sec.directory.users


def test_open_broker_refuses_a_public_bind_unless_anonymous_is_explicit():
    sec, _ = security(users=[], authorization=[])
    sec.check_bind(Config(bind="127.0.0.1"), ["stomp", "aws"])
    with pytest.raises(ConfigError, match="anonymous = true"):
        sec.check_bind(Config(bind="0.0.0.0"), ["stomp"])
    with pytest.raises(ConfigError):
        sec.check_bind(Config(stomp_listen="ssl:61617:privateKey=k.pem"), ["stomp"])
    sec, _ = security(users=[], authorization=[], auth={"anonymous": True})
    sec.check_bind(Config(bind="0.0.0.0"), ["stomp"])


def test_an_open_broker_may_listen_on_ipv6_loopback():
    """`interface=\\:\\:1` is the escaped `::1` of a Twisted endpoint, not a host `\\`."""
    sec, _ = security(users=[], authorization=[])
    sec.check_bind(Config(bind="::1"), ["stomp"])
    sec.check_bind(Config(stomp_listen=r"tcp6:52613:interface=\:\:1"), ["stomp"])
    with pytest.raises(ConfigError, match="listens on ::"):
        sec.check_bind(Config(stomp_listen=r"tcp6:52613:interface=\:\:"), ["stomp"])


@pytest.mark.parametrize("users, message", [
    ([{"password": "x"}], "needs a name"),
    ([{"name": "a", "pasword": "x"}], "unknown setting"),
    ([{"name": "a"}, {"name": "a"}], "twice"),
    ([{"name": "a", "access_keys": [{"id": "K"}]}], "id and secret"),
    ([{"name": "a", "groups": "g"}, {"name": "b", "groups": [1]}], "list of strings"),
])
def test_bad_users_are_refused(users, message):
    with pytest.raises(ConfigError, match=message):
        security(users=users)


def test_activemq_property_files(tmp_path: Path):
    (tmp_path / "users.properties").write_text("system = manager\nuser:password\n# comment\n")
    (tmp_path / "groups.properties").write_text("admins=system\nusers=system, user\n")
    sec, _ = security(users=[], users_file=str(tmp_path / "users.properties"),
                      groups_file=str(tmp_path / "groups.properties"))
    assert result(sec.login_password("system", "manager", "h:1", "stomp")).groups == {"admins", "users"}
    assert result(sec.login_password("user", "password", "h:1", "stomp")).groups == {"users"}
    assert any("plain-text" in w for w in sec.directory.warnings)
    with pytest.raises(ConfigError, match="cannot read"):
        security(users_file=str(tmp_path / "missing.properties"))


def test_toml_tables_load_into_the_config(tmp_path: Path):
    f = tmp_path / "c.toml"
    f.write_text('[auth]\nanonymous = true\n[[users]]\nname = "a"\npassword = "p"\n'
                 '[[authorization]]\nqueue = ">"\nread = ["*"]\n')
    cfg = load(str(f), env={"MQGATE_AUTHORIZATION": '[{"topic": ">", "read": ["*"]}]'})
    assert cfg.auth == {"anonymous": True} and cfg.users[0]["name"] == "a"
    assert cfg.authorization == [{"topic": ">", "read": ["*"]}]          # env beats file
    with pytest.raises(ConfigError):
        load(env={"MQGATE_USERS": '{"not": "a list"}'})


def test_connection_counter_and_rate_limiter():
    counter = ConnectionCounter(per_user=1, per_address=2)
    assert counter.admit_address("a") and counter.admit_address("a") and not counter.admit_address("a")
    counter.release_address("a")
    assert counter.admit_address("a")
    assert counter.admit_user("u") and not counter.admit_user("u")
    clock = Clock()
    limiter = RateLimiter(2, clock)
    assert [limiter.allow("k") for _ in range(3)] == [True, True, False]
    assert limiter.allow("other")
    clock.advance(0.5)
    assert limiter.allow("k") and not limiter.allow("k")


def test_anonymous_off_without_users_is_refused():
    with pytest.raises(ConfigError, match="nobody could log in"):
        security(users=[], authorization=[], auth={"anonymous": False})


def test_roles_name_the_user_an_integration_acts_as():
    role = "arn:aws:iam::123456789012:role/apigw"
    sec, _ = security(users=[{**USERS[1], "roles": [role]}])
    assert sec.acting_as(role).name == "plain"
    assert sec.acting_as("arn:aws:iam::123456789012:role/other") is None   # users configured: not mapped
    assert sec.acting_as(None) is None                                     # anonymous off
    sec, _ = security(users=[], authorization=MAP)
    identity = sec.acting_as(None)
    assert identity.anonymous and not sec.may(identity, WRITE, Target("queue", "orders.a"))
    with pytest.raises(ConfigError):
        security(users=[{**USERS[1], "roles": [1]}])
