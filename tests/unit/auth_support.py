"""A `Security` holding only access keys, for tests of the AWS machinery below the service."""
from __future__ import annotations

from collections.abc import Mapping

from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock

from broker.auth.security import Security
from broker.config import Config


def security_with_keys(keys: Mapping[str, tuple[str, str]]) -> Security:
    """`keys`: access key -> (secret, account), as the aws_credentials setting gives them."""
    shorthand = ",".join(f"{key}:{secret}:{account}" for key, (secret, account) in keys.items())
    return Security(Config(aws_credentials=shorthand), Clock(), run_in_thread=maybeDeferred)
