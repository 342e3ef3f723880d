"""SQS messages to engine messages and back.

MessageAttributes become typed properties (the SQS DataType is kept, so a Number stays a
Number through a STOMP client and back); properties set by other doors come out as
String attributes. The body is text, as SQS requires.
"""
from __future__ import annotations

import hashlib
from typing import Any

from broker.engine.message import Message
from facades.aws.ids import random_uuid
from facades.aws.message_attributes import to_properties
from facades.sqs.checksums import md5_of_body, md5_of_bytes, md5_of_message_attributes
from facades.sqs.validation import INVALID_CHARACTER, is_xml_ascii

SYSTEM_NAMES = ("SenderId", "SentTimestamp", "ApproximateReceiveCount",
                "ApproximateFirstReceiveTimestamp", "SequenceNumber", "MessageDeduplicationId",
                "MessageGroupId", "AWSTraceHeader", "DeadLetterQueueSourceArn")


def to_engine(entry: dict[str, Any], sender: str, now: int, fifo: bool,
              content_dedup: bool) -> Message:
    """A SendMessage request (or batch entry) as an engine message."""
    body: str = entry["MessageBody"]
    attributes = entry.get("MessageAttributes")
    props, types = to_properties(attributes) if attributes else ({}, None)
    headers = {"SenderId": sender}
    system = entry.get("MessageSystemAttributes")
    trace = system.get("AWSTraceHeader") if system else None
    if trace is not None:
        headers["AWSTraceHeader"] = trace["StringValue"]
    dedup = entry.get("MessageDeduplicationId")
    if fifo and dedup is None and content_dedup:
        dedup = hashlib.sha256(body.encode("utf-8")).hexdigest()
    data = body.encode("utf-8")
    message = Message(message_id=random_uuid(), body=data, properties=props,
                      types=types, headers=headers, persistent=True, timestamp=now,
                      group_id=entry.get("MessageGroupId"), dedup_id=dedup if fifo else None,
                      # The body passed validation, so this is also what a receive reports
                      # (and a receive takes the body as valid text: `body_and_digest`).
                      body_digest=md5_of_bytes(data))
    delay = entry.get("DelaySeconds")
    if delay is not None:
        # An explicit delay (0 included) overrides the queue's DelaySeconds.
        message.visible_at = now + delay * 1000 if delay else now
    return message


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


def body_and_digest(message: Message) -> tuple[str, str]:
    """The body as SQS text, and its MD5OfBody. Other doors may have sent bytes SQS cannot
    carry (invalid UTF-8, control characters), which become U+FFFD rather than a broken
    reply. A body SQS carries as it is (any sent through SQS) keeps its digest on the
    message, which so also vouches for it: later receives decode it unchecked."""
    body = message.body
    digest = message.body_digest
    if digest is not None:
        return body.decode("utf-8"), digest
    if is_xml_ascii(body):   # the common body, checked at C speed
        text = body.decode("ascii")
    else:
        text = INVALID_CHARACTER.sub("\ufffd", body.decode("utf-8", errors="replace"))
        if text.encode("utf-8") != body:
            return text, md5_of_body(text)
    message.body_digest = digest = md5_of_bytes(body)
    return text, digest


def sent_result(message: Message, body_digest: str | None, entry: dict[str, Any], fifo: bool,
                entry_id: str | None = None) -> dict[str, Any]:
    """SendMessage's answer: ids and the digests the SDKs verify. `message` is the one the
    queue kept (an earlier one for a deduplicated FIFO send); `body_digest` is the sent body's.
    A batch entry's (`entry_id`) names the entry first, as SendMessageBatchResultEntry does."""
    out: dict[str, Any] = ({"MessageId": message.message_id, "MD5OfMessageBody": body_digest}
                           if entry_id is None else
                           {"Id": entry_id, "MessageId": message.message_id, "MD5OfMessageBody": body_digest})
    attributes = entry.get("MessageAttributes")
    if attributes:
        out["MD5OfMessageAttributes"] = md5_of_message_attributes(attributes)
    system = entry.get("MessageSystemAttributes")
    if system:
        out["MD5OfMessageSystemAttributes"] = md5_of_message_attributes(system)
    if fifo:
        out["SequenceNumber"] = sequence_number(message)
    return out
