"""The JSON documents SQS accepts as queue attributes.

``RedrivePolicy`` and ``RedriveAllowPolicy`` are checked as SQS checks them,
with its messages (which quote the raw attribute value back). ``Policy`` is
checked for the outline of an IAM policy document and for statements IAM
refuses (`facades.aws.policy.malformed`: ``Action`` with ``NotAction`` ...);
SQS refuses anything else with one generic message.
"""

from __future__ import annotations

import json
from typing import Any

from facades.aws.errors import AwsError
from facades.aws.policy import malformed
from facades.sqs.errors import sqs_error

MAX_RECEIVE_COUNT = 1000
MAX_REDRIVE_SOURCE_ARNS = 10

_REDRIVE_KEYS = {"deadLetterTargetArn", "maxReceiveCount"}
_REDRIVE_ALLOW_KEYS = {"redrivePermission", "sourceQueueArns"}
_REDRIVE_PERMISSIONS = {"allowAll", "denyAll", "byQueue"}
_POLICY_KEYS = {"Version", "Id", "Statement"}
_POLICY_VERSIONS = {"2008-10-17", "2012-10-17"}
_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}


def validate_redrive_policy(raw: str, *, source_fifo: bool) -> str:
    """``RedrivePolicy``: ``""`` removes it; otherwise a JSON object with a
    dead-letter queue ARN of the same queue type and 1–1000 receives, returned
    as SQS shows it (compact, the count a number even when given as a string).

    Whether the dead-letter queue exists is the engine's to say
    ("Reason: Dead letter target does not exist.").
    """
    if raw == "":
        return raw
    document = _json_object(raw)
    if document is None:
        raise sqs_error(
            "InvalidAttributeValue",
            "Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map.",
        )

    def invalid(reason: str) -> AwsError:
        return sqs_error("InvalidParameterValue", f"Value {raw} for parameter RedrivePolicy is invalid. Reason: {reason}")

    if set(document) - _REDRIVE_KEYS:
        raise invalid("Only following attributes are supported: [maxReceiveCount, deadLetterTargetArn].")
    for key in ("maxReceiveCount", "deadLetterTargetArn"):
        if key not in document:
            raise invalid(f"Redrive policy does not contain mandatory attribute: {key}.")
    count = _integer(document["maxReceiveCount"])
    if count is None or not 1 <= count <= MAX_RECEIVE_COUNT:
        raise invalid(
            f"Invalid value for maxReceiveCount: {_display(document['maxReceiveCount'])}, "
            f"valid values are from 1 to {MAX_RECEIVE_COUNT} both inclusive."
        )
    target = document["deadLetterTargetArn"]
    if not isinstance(target, str) or not _is_sqs_arn(target):
        raise invalid("Only SQS queues are valid resources for deadLetterTargetArn.")
    if target.endswith(".fifo") != source_fifo:
        raise invalid("Dead-letter queue must be same type of queue as the source..")
    return _compact({"deadLetterTargetArn": target, "maxReceiveCount": count})


def validate_redrive_allow_policy(raw: str) -> str:
    """``RedriveAllowPolicy``: which source queues may use this one as DLQ, returned as
    SQS shows it (compact JSON)."""
    unsupported = sqs_error(
        "InvalidAttributeValue",
        "Invalid value for the parameter RedriveAllowPolicy. Reason: Amazon SQS can't create the redrive "
        "allow policy, as it\u2019s in an unsupported format.",
    )
    if raw == "":
        return raw
    document = _json_object(raw)
    if (
        document is None
        or set(document) - _REDRIVE_ALLOW_KEYS
        or document.get("redrivePermission") not in _REDRIVE_PERMISSIONS
    ):
        raise unsupported
    arns = document.get("sourceQueueArns")
    if arns is not None and not (isinstance(arns, list) and all(isinstance(a, str) for a in arns)):
        raise unsupported

    def invalid(reason: str) -> AwsError:
        return sqs_error(
            "InvalidParameterValue",
            f"Value {raw} for parameter RedriveAllowPolicy is invalid. "
            f"Reason: Amazon SQS can't create the redrive allow policy. {reason}",
        )

    if document["redrivePermission"] == "byQueue":
        if not arns:
            raise invalid(
                "When you specify the byQueue permission type, you must also specify one or more "
                "sourceQueueArns values."
            )
        if len(arns) > MAX_REDRIVE_SOURCE_ARNS:
            raise invalid(f"The maximum number of source queue ARNs you can specify is {MAX_REDRIVE_SOURCE_ARNS}.")
    elif arns is not None:
        raise invalid("To specify one or more source queue ARNs, you must set redrivePermission to byQueue.")
    return _compact(document)


def validate_access_policy(raw: str) -> None:
    """``Policy``: ``""`` removes it; otherwise an IAM policy document."""
    if raw == "":
        return
    document = _json_object(raw)
    statements = None if document is None else document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if (
        document is None
        or set(document) - _POLICY_KEYS
        or document.get("Version", "2012-10-17") not in _POLICY_VERSIONS
        or not isinstance(statements, list)
        or not statements
        or not all(isinstance(s, dict) and not set(s) - _STATEMENT_KEYS and not malformed(s) for s in statements)
    ):
        raise sqs_error("InvalidAttributeValue", "Invalid value for the parameter Policy.")


def _compact(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


def _json_object(raw: str) -> dict[str, Any] | None:
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _integer(value: object) -> int | None:
    """maxReceiveCount as AWS reads it: a JSON number or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _display(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _is_sqs_arn(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) == 6 and parts[0] == "arn" and parts[2] == "sqs" and bool(parts[5])
