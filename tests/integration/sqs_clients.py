"""Helpers for the SQS integration tests: the clients users have, and waiting with deadlines.

Two unmodified botocore clients talk to the broker:

* ``json``  — current boto3, which speaks AWS JSON 1.0 (``X-Amz-Target: AmazonSQS.*``);
* ``query`` — the same botocore, handed the last Query-protocol SQS model (vendored in
  ``facades/sqs/legacy_query_model``, botocore's data-path layout) through its data path,
  so it sends form-encoded ``Action=...`` requests and parses XML replies, as the older SDKs
  do. ``test_sqs_wire.py`` proves on the wire that it really does.

Both use dummy credentials and us-east-1, never retry (a retried request would hide the
first answer) and wait long enough for a 20 s long poll.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]
LEGACY_QUERY_MODEL = ROOT / "facades" / "sqs" / "legacy_query_model"
AWS_CLI = ROOT / ".venv" / "bin" / "aws"

PROTOCOLS = ("json", "query")
REGION = "us-east-1"
ACCOUNT = "000000000000"
ACCESS_KEY = "test"
SECRET_KEY = "test"

WAIT = 10.0     # upper bound for anything the broker should do "now"
RETENTION = 60  # the smallest MessageRetentionPeriod SQS accepts
DEEP = 600          # messages of the deep retention probe queue (see conftest.py)
DEEP_WINDOW = 50    # of which the probes' broker keeps this many in memory


def client_config(validate: bool = True, read_timeout: float = 30) -> Config:
    return Config(
        region_name=REGION,
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=read_timeout,
        parameter_validation=validate,
    )


def botocore_session(protocol: str) -> botocore.session.Session:
    """A fresh botocore session; for ``query`` its data path starts with the legacy model."""
    if protocol not in PROTOCOLS:
        raise ValueError(protocol)
    session = botocore.session.Session()
    if protocol == "query":
        loader = session.get_component("data_loader")
        loader.search_paths.insert(0, str(LEGACY_QUERY_MODEL))
    return session


def make_client(protocol: str, endpoint_url: str, access_key: str = ACCESS_KEY,
                secret_key: str = SECRET_KEY, validate: bool = True, read_timeout: float = 30) -> Any:
    """A new SQS client speaking ``protocol`` to ``endpoint_url`` (which gives up on an
    answer, and closes its connection, after ``read_timeout`` seconds)."""
    session = boto3.session.Session(
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        botocore_session=botocore_session(protocol),
    )
    client = session.client("sqs", endpoint_url=endpoint_url, config=client_config(validate, read_timeout))
    expected = "query" if protocol == "query" else "json"
    assert client.meta.service_model.protocol == expected, client.meta.service_model.protocol
    return client


_CACHE: dict[tuple[str, str, bool], Any] = {}


def sqs_client(protocol: str, endpoint_url: str, validate: bool = True) -> Any:
    """A cached client with the dummy credentials (creating one loads the whole model)."""
    key = (protocol, endpoint_url, validate)
    if key not in _CACHE:
        _CACHE[key] = make_client(protocol, endpoint_url, validate=validate)
    return _CACHE[key]


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def expect_error(client: Any, code: str, status: int = 400,
                 exception: str | None = None) -> Iterator[dict]:
    """Assert the block raises the AWS error users see: ``Error.Code`` (the legacy Query code
    under both protocols, as real SQS reports it), the HTTP status and, when the client's
    model has it, the modeled exception class (``client.exceptions.<exception>``).

    Yields a dict filled with the caught exception under ``"error"``.
    """
    caught: dict = {}
    try:
        yield caught
    except ClientError as exc:
        caught["error"] = exc
        err = exc.response.get("Error", {})
        got_status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        assert (err.get("Code"), got_status) == (code, status), (
            f"expected {code}/{status}, got {err.get('Code')}/{got_status}: {exc.response}")
        if exception is not None:
            cls = getattr(client.exceptions, exception, None)
            if cls is not None:
                assert isinstance(exc, cls), f"{type(exc).__name__} is not {exception}"
        return
    raise AssertionError(f"no error raised (expected {code})")


def has_exception(client: Any, name: str) -> bool:
    """Whether the client's model defines the exception class ``name``."""
    return hasattr(client.exceptions, name)


# ---------------------------------------------------------------------------------------------
# queues and messages
# ---------------------------------------------------------------------------------------------
def create_queue(client: Any, name: str, **attributes: Any) -> str:
    attrs = {k: str(v) for k, v in attributes.items()}
    return client.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"] if attrs \
        else client.create_queue(QueueName=name)["QueueUrl"]


def queue_arn(client: Any, url: str) -> str:
    return client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def queue_attributes(client: Any, url: str, *names: str) -> dict[str, str]:
    return client.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"]).get("Attributes", {})


def receive(client: Any, url: str, max_messages: int = 10, wait: int = 0,
            visibility: int | None = None, **kw: Any) -> list[dict]:
    """One ReceiveMessage with every system and user attribute asked for."""
    args: dict[str, Any] = dict(QueueUrl=url, MaxNumberOfMessages=max_messages, WaitTimeSeconds=wait,
                                AttributeNames=["All"], MessageAttributeNames=["All"], **kw)
    if visibility is not None:
        args["VisibilityTimeout"] = visibility
    return client.receive_message(**args).get("Messages", [])


def receive_until(client: Any, url: str, count: int, timeout: float = WAIT,
                  delete: bool = False, **kw: Any) -> list[dict]:
    """Receive until ``count`` messages came (or fail at the deadline)."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"got {len(got)} of {count} messages in {timeout}s: "
                                 f"{[m['Body'] for m in got]}")
        batch = receive(client, url, max_messages=min(10, count - len(got)),
                        wait=max(0, min(2, int(left))), **kw)
        got += batch
        if delete and batch:
            client.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    return got


def drain(client: Any, url: str, wait: int = 0) -> list[dict]:
    """Receive and delete whatever is visible now (stops at the first empty receive)."""
    out: list[dict] = []
    while True:
        batch = receive(client, url, wait=wait)
        if not batch:
            return out
        out += batch
        client.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT, interval: float = 0.05,
               message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not reached within {timeout}s")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# the AWS CLI
# ---------------------------------------------------------------------------------------------
def aws_cli(endpoint_url: str, *args: str, home: Path, timeout: float = 60.0,
            check: bool = True) -> subprocess.CompletedProcess:
    """Run ``aws --endpoint-url URL ARGS...`` with dummy credentials and no user config."""
    if not AWS_CLI.exists():
        pytest.skip(f"AWS CLI not installed at {AWS_CLI}")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_PAGER": "",
    }
    proc = subprocess.run([str(AWS_CLI), "--endpoint-url", endpoint_url, "--output", "json", *args],
                          env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"aws {' '.join(args)} failed ({proc.returncode}): {proc.stderr}"
    return proc
