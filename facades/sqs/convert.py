"""SQS messages to engine messages and back.

MessageAttributes become typed properties (the SQS DataType is kept, so a Number stays a
Number through a STOMP client and back); properties set by other doors come out as
String attributes. The body is text, as SQS requires.
"""
from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from broker.engine.message import Message
from facades.sqs.checksums import md5_of_body, md5_of_message_attributes
from facades.sqs.validation import INVALID_CHARACTER

_JMS_NUMBERS = {"int", "long", "short", "byte", "float", "double",
                "Integer", "Long", "Short", "Byte", "Float", "Double"}
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
SYSTEM_NAMES = ("SenderId", "SentTimestamp", "ApproximateReceiveCount",
                "ApproximateFirstReceiveTimestamp", "SequenceNumber", "MessageDeduplicationId",
                "MessageGroupId", "AWSTraceHeader", "DeadLetterQueueSourceArn")


def to_engine(entry: dict[str, Any], sender: str, now: int, fifo: bool,
              content_dedup: bool) -> Message:
    """A SendMessage request (or batch entry) as an engine message."""
    body: str = entry["MessageBody"]
    props: dict[str, str | bytes] = {}
    types: dict[str, str] = {}
    for name, value in (entry.get("MessageAttributes") or {}).items():
        kind = value["DataType"]
        if kind.startswith("Binary"):
            props[name] = bytes(value["BinaryValue"])
        else:
            props[name] = value["StringValue"]
        types[name] = kind
    headers = {"SenderId": sender}
    trace = (entry.get("MessageSystemAttributes") or {}).get("AWSTraceHeader")
    if trace is not None:
        headers["AWSTraceHeader"] = trace["StringValue"]
    dedup = entry.get("MessageDeduplicationId")
    if fifo and dedup is None and content_dedup:
        dedup = hashlib.sha256(body.encode("utf-8")).hexdigest()
    message = Message(message_id=str(uuid.uuid4()), body=body.encode("utf-8"), properties=props,
                      types=types or None, headers=headers, persistent=True, timestamp=now,
                      group_id=entry.get("MessageGroupId"), dedup_id=dedup if fifo else None)
    delay = entry.get("DelaySeconds")
    if delay is not None:
        # An explicit delay (0 included) overrides the queue's DelaySeconds.
        message.visible_at = now + delay * 1000 if delay else now
    return message


def attributes_of(message: Message) -> dict[str, dict[str, Any]]:
    """Every property as an SQS MessageAttributeValue."""
    out: dict[str, dict[str, Any]] = {}
    types = message.types or {}
    for name, value in message.properties.items():
        if not _NAME.fullmatch(name):
            continue
        kind = types.get(name)
        if isinstance(value, bytes):
            out[name] = {"DataType": kind if kind and kind.startswith("Binary") else "Binary", "BinaryValue": value}
            continue
        if kind is None or kind.startswith("Binary"):
            kind = "String"
        elif kind in _JMS_NUMBERS:
            kind = "Number." + kind          # the custom label keeps the Java type for the way back
        elif not kind.startswith(("String", "Number")):
            kind = "String." + kind          # boolean, char, ...: text, with the type as its label
        out[name] = {"DataType": kind, "StringValue": value}
    return out


def wanted_attributes(attributes: dict[str, dict[str, Any]], names: list[str]) -> dict[str, dict[str, Any]]:
    """MessageAttributeNames: `All`, `.*`, `prefix.*` or exact names."""
    if not names or not attributes:
        return {}
    if "All" in names or ".*" in names:
        return attributes
    prefixes = tuple(n[:-2] for n in names if n.endswith(".*"))
    exact = set(names)
    return {k: v for k, v in attributes.items() if k in exact or (prefixes and k.startswith(prefixes))}


def system_attributes(message: Message, names: list[str], account: str, dlq_source_arn: str | None) -> dict[str, str]:
    wanted = set(SYSTEM_NAMES) if "All" in names else set(names)
    if not wanted:
        return {}
    values: dict[str, str] = {
        "SenderId": message.headers.get("SenderId", account),
        "SentTimestamp": str(message.timestamp),
        "ApproximateReceiveCount": str(message.delivery_count),
        "ApproximateFirstReceiveTimestamp": str(message.first_delivery),
    }
    if message.group_id is not None:
        values["MessageGroupId"] = message.group_id
    if message.dedup_id is not None:
        values["MessageDeduplicationId"] = message.dedup_id
        values["SequenceNumber"] = sequence_number(message)
    if "AWSTraceHeader" in message.headers:
        values["AWSTraceHeader"] = message.headers["AWSTraceHeader"]
    if dlq_source_arn:
        values["DeadLetterQueueSourceArn"] = dlq_source_arn
    return {k: v for k, v in values.items() if k in wanted}


def sequence_number(message: Message) -> str:
    return f"{message.seq:020d}"


def body_text(message: Message) -> str:
    """The body as SQS text: other doors may have sent bytes SQS cannot carry (invalid
    UTF-8, control characters), which become U+FFFD rather than a broken reply."""
    return INVALID_CHARACTER.sub("\ufffd", message.body.decode("utf-8", errors="replace"))


def sent_result(message: Message, entry: dict[str, Any], fifo: bool) -> dict[str, Any]:
    """SendMessage's answer: ids and the digests the SDKs verify."""
    out: dict[str, Any] = {"MessageId": message.message_id, "MD5OfMessageBody": md5_of_body(entry["MessageBody"])}
    md5_attrs = md5_of_message_attributes(entry.get("MessageAttributes"))
    if md5_attrs:
        out["MD5OfMessageAttributes"] = md5_attrs
    md5_system = md5_of_message_attributes(entry.get("MessageSystemAttributes"))
    if md5_system:
        out["MD5OfMessageSystemAttributes"] = md5_system
    if fifo:
        out["SequenceNumber"] = sequence_number(message)
    return out
