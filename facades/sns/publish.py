"""SNS Publish and PublishBatch: validation as AWS does it, then one broker publication.

The answer waits for the commit, and the commit holds the publication and every copy the
fan-out made, so a 200 means every subscribed queue has the message.
"""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

from facades.aws.errors import AwsError
from facades.aws.message_attributes import attributes_size
from facades.aws.service import AwsRequestContext, Params
from facades.sns.dedup import DedupWindow
from facades.sns.envelope import Publication
from facades.sns.fanout import Fanout
from facades.sns.service import invalid, sns_error
from facades.sns.state import SnsState, Topic

MAX_MESSAGE_BYTES = 262_144
MAX_BATCH = 10
MAX_BATCH_ID = 80
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]+")
_BATCH_ID_FAULT = "The Id of a batch entry in the batch request"
_ATTRIBUTE_NAME_CHARACTER = re.compile(r"[^A-Za-z0-9_.-]")
_SUBJECT = re.compile(r"[\x20-\x7e]{1,100}")


class Publisher:
    def __init__(self, state: SnsState, fanout: Fanout) -> None:
        self.state = state
        self.fanout = fanout
        self._dedup = DedupWindow(state.broker)
        self._dedup.load()

    # -- handlers ----------------------------------------------------------------------------
    def publish(self, ctx: AwsRequestContext, params: Params) -> Any:
        topic_arn, target_arn = params.get("TopicArn"), params.get("TargetArn")
        if params.get("PhoneNumber"):
            raise invalid("PhoneNumber Reason: SMS delivery is not supported by this endpoint")
        if topic_arn and target_arn:
            raise invalid("TopicArn or TargetArn Reason: Only one of TopicArn or TargetArn may be specified")
        if topic_arn is None and target_arn is None:
            raise invalid("TopicArn or TargetArn Reason: no value for required parameter")
        if topic_arn is None and ":endpoint/" in target_arn:   # a mobile push endpoint: there are none
            raise invalid("TargetArn Reason: No endpoint found for the target arn specified")
        topic = self.state.topic(topic_arn if topic_arn is not None else target_arn,
                                 "TopicArn" if topic_arn is not None else "TargetArn")
        publication = self._validated(topic, params)
        result = self._publish(topic, publication)
        return self.state.committed(result)

    def publish_batch(self, ctx: AwsRequestContext, params: Params) -> Any:
        topic = self.state.topic(params["TopicArn"])
        entries = params.get("PublishBatchRequestEntries") or []
        if not entries:
            raise sns_error("EmptyBatchRequest")
        if len(entries) > MAX_BATCH:
            raise sns_error("TooManyEntriesInBatchRequest")
        ids = [e.get("Id", "") for e in entries]
        if len(set(ids)) != len(ids):
            raise sns_error("BatchEntryIdsNotDistinct")
        for entry_id in ids:
            if len(entry_id) > MAX_BATCH_ID:
                raise sns_error("InvalidBatchEntryId", f"{_BATCH_ID_FAULT} is too long: {entry_id}")
            if not _BATCH_ID.fullmatch(entry_id):
                raise sns_error("InvalidBatchEntryId", f"{_BATCH_ID_FAULT} contains an impermissible character: "
                                                       f"{entry_id}")
        for index, entry in enumerate(entries, 1):
            # A missing DataType is a model constraint: it fails the whole batch, not the entry.
            require_data_types(entry.get("MessageAttributes"), f"publishBatchRequestEntries.{index}.member.")
        if sum(_size(e) for e in entries) > MAX_MESSAGE_BYTES:
            raise sns_error("BatchRequestTooLong", "The length of all the messages put together is more than "
                                                   "the limit.")
        if topic.fifo:
            # Unlike other faults of an entry, missing FIFO ids fail the whole batch on AWS.
            for entry in entries:
                _require_fifo_ids(topic, entry)
        successful, failed = [], []
        for entry in entries:
            try:
                publication = self._validated(topic, entry)
            except AwsError as error:
                failed.append(error.as_batch_entry(entry["Id"], "query"))
                continue
            successful.append({"Id": entry["Id"], **self._publish(topic, publication)})
        return self.state.committed({"Successful": successful, "Failed": failed})

    # -- the work ----------------------------------------------------------------------------
    def _publish(self, topic: Topic, publication: Publication) -> dict[str, str]:
        now = publication.timestamp_ms
        if topic.fifo:
            dedup_id = publication.dedup_id or ""
            seen = self._dedup.seen(topic.name, dedup_id, now)
            if seen is not None:
                return {"MessageId": seen.message_id, "SequenceNumber": seen.sequence_number}
            publication.sequence_number = f"{self.state.broker.next_seq():020d}"
            self._dedup.remember(topic.name, dedup_id, now, publication.message_id, publication.sequence_number)
        self.fanout.publish(topic.name, publication)
        result = {"MessageId": publication.message_id}
        if publication.sequence_number is not None:
            result["SequenceNumber"] = publication.sequence_number
        return result

    def _validated(self, topic: Topic, params: Params) -> Publication:
        message = params.get("Message")
        if message is None:
            raise invalid("Message")
        if message == "":
            raise invalid("Empty message")
        subject = params.get("Subject")
        if subject is not None and not _SUBJECT.fullmatch(subject):
            raise invalid("Subject")
        attributes = dict(params.get("MessageAttributes") or {})
        require_data_types(attributes, "")
        validate_attributes(attributes)
        if _size(params) > MAX_MESSAGE_BYTES:
            raise invalid("Message too long")
        per_protocol = None
        if params.get("MessageStructure") is not None:
            if params["MessageStructure"] != "json":
                raise invalid("MessageStructure")
            per_protocol = _structure(message)
        group, dedup = params.get("MessageGroupId"), params.get("MessageDeduplicationId")
        if topic.fifo:
            _require_fifo_ids(topic, params)
            dedup = dedup or hashlib.sha256(message.encode("utf-8")).hexdigest()
        elif dedup:
            raise invalid("MessageDeduplicationId Reason: The request includes MessageDeduplicationId "
                          "parameter that is not valid for this topic type")
        return Publication(message_id=str(uuid.uuid4()), topic_arn=topic.arn,
                           message=per_protocol["default"] if per_protocol else message,
                           timestamp_ms=self.state.now_ms(), subject=subject, per_protocol=per_protocol,
                           attributes=attributes, group_id=group, dedup_id=dedup if topic.fifo else None,
                           signature_version=topic.attributes.get("SignatureVersion", "1"))


def _require_fifo_ids(topic: Topic, params: Params) -> None:
    """A publication to a FIFO topic names its message group, and its deduplication id
    unless the topic derives one from the content."""
    if not params.get("MessageGroupId"):
        raise invalid("The MessageGroupId parameter is required for FIFO topics")
    if not params.get("MessageDeduplicationId") and topic.attributes.get("ContentBasedDeduplication") != "true":
        raise invalid("The topic should either have ContentBasedDeduplication enabled or "
                      "MessageDeduplicationId provided explicitly")


def _size(params: Params) -> int:
    """Message plus attribute names, types and values, as AWS counts toward 256 KiB."""
    return len((params.get("Message") or "").encode("utf-8")) + attributes_size(params.get("MessageAttributes"))


def _structure(message: str) -> dict[str, str]:
    try:
        doc = json.loads(message)
    except ValueError:
        raise invalid("Message Structure - JSON message body failed to parse") from None
    if not isinstance(doc, dict):
        raise invalid("Message Structure - JSON message body failed to parse")
    if "default" not in doc:
        raise invalid("Message Structure - No default entry in JSON message body")
    if not all(isinstance(v, str) for v in doc.values()):
        raise invalid("Message Structure - JSON message body failed to parse")
    return doc


def require_data_types(attributes: dict[str, dict[str, Any]] | None, path: str) -> None:
    """ValidationError for an attribute without DataType, worded with its `path` in the request
    (``publishBatchRequestEntries.1.member.`` for a batch entry's)."""
    for name, value in (attributes or {}).items():
        if value.get("DataType") is None:
            raise sns_error("ValidationError", f"1 validation error detected: Value null at "
                            f"'{path}messageAttributes.{name}.member.dataType' failed to satisfy constraint: "
                            "Member must not be null")


def _validate_attribute_name(name: str) -> None:
    if not name:
        raise sns_error("ParameterValueInvalid", "The message attribute name '' is invalid. Attribute name can "
                        "contain A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.) characters.")
    if len(name.encode("utf-8")) >= 256:
        raise sns_error("ParameterValueInvalid", "Length of message attribute name must be less than 256 bytes.")
    bad = _ATTRIBUTE_NAME_CHARACTER.search(name)
    if bad is not None:
        raise sns_error("ParameterValueInvalid", f"Invalid non-alphanumeric character '#x{ord(bad.group()):X}' was "
                        "found in the message attribute name. Can only include alphanumeric characters, hyphens, "
                        "underscores, or dots.")
    for edge, where in ((name[:1], "starting"), (name[-1:], "ending")):
        if edge == ".":
            raise sns_error("ParameterValueInvalid",
                            f"Invalid message attribute name {where} with character '.' was found.")
    if ".." in name:
        raise sns_error("ParameterValueInvalid", "Message attribute name can not have successive '.' character.")


def validate_attributes(attributes: dict[str, dict[str, Any]]) -> None:
    """AWS's checks on MessageAttributes, with its ParameterValueInvalid messages."""
    for name, value in attributes.items():
        _validate_attribute_name(name)
        kind = value.get("DataType") or ""
        if kind.split(".", 1)[0] not in ("String", "Number", "Binary"):
            raise sns_error("ParameterValueInvalid", f"The message attribute '{name}' has an invalid message "
                            "attribute type, the set of supported type prefixes is Binary, Number, and String.")
        binary = kind.startswith("Binary")
        field, other = ("BinaryValue", "StringValue") if binary else ("StringValue", "BinaryValue")
        if value.get(field) in (None, "", b""):
            if value.get(other) not in (None, "", b""):
                raise sns_error("ParameterValueInvalid", f"The message attribute '{name}' with type '{kind}' must "
                                f"use field '{'Binary' if binary else 'String'}'.")
            raise sns_error("ParameterValueInvalid", f"The message attribute '{name}' must contain non-empty "
                            f"message attribute value for message attribute type '{kind}'.")
        if kind.startswith("Number"):
            try:
                float(value[field])
            except ValueError:
                raise sns_error("ParameterValueInvalid", f"Could not cast message attribute '{name}' value "
                                "to number.") from None
        if kind == "String.Array":
            try:
                items = json.loads(value[field])
            except ValueError:
                items = None
            if not isinstance(items, list):
                raise sns_error("ParameterValueInvalid", f"The message attribute '{name}' with type "
                                "'String.Array' must be a JSON array.")
