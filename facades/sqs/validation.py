"""SQS's input rules, with SQS's error codes and wording.

Everything here is a pure check on parsed params (the dicts the handlers
receive) that raises :class:`~facades.aws.errors.AwsError`; nothing needs
a queue store. Checks that depend on a queue take its relevant settings as
a :class:`QueueLimits`.

Batches fail two ways in SQS. Problems with the batch itself (no entries,
too many, bad or repeated ids, total size) and — on FIFO queues — with any
entry fail the whole request: :func:`validate_send_batch` and friends raise
those. On standard queues a bad entry only fails that entry: validate each
entry with :func:`validate_send_message` (passing its ``entry_prefix``) and
turn the raised error into a result with ``error.as_batch_entry(id, ...)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from facades.aws.errors import AwsError
from facades.aws.message_attributes import attributes_size
from facades.sqs.errors import INVALID_CHARACTERS, sqs_error
from facades.sqs.models import sqs_json_model
from facades.sqs.policies import validate_access_policy, validate_redrive_allow_policy, validate_redrive_policy

#: Largest message (body plus attributes) and largest batch SQS accepts,
#: and the upper bound of MaximumMessageSize, since August 2025.
MAX_MESSAGE_SIZE = 1_048_576
MAX_BATCH_ENTRIES = 10
MAX_BATCH_ENTRY_ID_LENGTH = 80
MAX_MESSAGE_ATTRIBUTES = 10
MAX_VISIBILITY_TIMEOUT = 43_200
MAX_DELAY_SECONDS = 900
MAX_WAIT_TIME_SECONDS = 20
MAX_RECEIVE_MESSAGES = 10
MAX_LIST_RESULTS = 1000

FIFO_SUFFIX = ".fifo"

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_FIFO_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")
_BATCH_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
_BATCH_ENTRY_IDS = re.compile(r"[A-Za-z0-9_-]{1,80}(?: [A-Za-z0-9_-]{1,80})*")   # joined by spaces
_FIFO_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_INTEGER = re.compile(r"-?\d+")
# XML 1.0 characters, which is what SQS stores and returns.
INVALID_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# The ASCII characters that are not XML 1.0 characters: the C0 controls but tab, LF and CR.
_INVALID_ASCII = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))

_INTEGER_ATTRIBUTES = {
    "DelaySeconds": (0, MAX_DELAY_SECONDS),
    "MaximumMessageSize": (1024, MAX_MESSAGE_SIZE),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, MAX_WAIT_TIME_SECONDS),
    "VisibilityTimeout": (0, MAX_VISIBILITY_TIMEOUT),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}
_BOOLEAN_ATTRIBUTES = {"FifoQueue", "ContentBasedDeduplication", "SqsManagedSseEnabled"}
_CHOICE_ATTRIBUTES = {
    "DeduplicationScope": {"messageGroup", "queue"},
    "FifoThroughputLimit": {"perQueue", "perMessageGroupId"},
}
_FIFO_SETTINGS = {"DeduplicationScope", "FifoThroughputLimit"}   # high-throughput FIFO settings
_FIFO_ONLY_ATTRIBUTES = {"FifoQueue", "ContentBasedDeduplication", *_FIFO_SETTINGS}
_SETTABLE_ATTRIBUTES = {
    *_INTEGER_ATTRIBUTES,
    *_BOOLEAN_ATTRIBUTES,
    *_CHOICE_ATTRIBUTES,
    "Policy",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
}
_SYSTEM_ATTRIBUTES_FOR_SENDS = frozenset(
    sqs_json_model().shape_for("MessageSystemAttributeNameForSends").enum
)
_DATA_TYPE_PREFIXES = ("String", "Number", "Binary")


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, ~3x
# the cost of a plain one, and one is built for every request.
@dataclass
class QueueLimits:
    """The settings of a queue that decide whether a message is acceptable."""

    fifo: bool = False
    content_based_deduplication: bool = False
    maximum_message_size: int = MAX_MESSAGE_SIZE


# -- queues -----------------------------------------------------------------


def is_fifo_request(attributes: Mapping[str, str] | None) -> bool:
    """Whether CreateQueue asks for a FIFO queue (``FifoQueue=true``)."""
    return (attributes or {}).get("FifoQueue", "").lower() == "true"


def validate_queue_name(name: str, *, fifo: bool) -> None:
    """1–80 of ``[A-Za-z0-9_-]``; FIFO queues end in ``.fifo`` (counted)."""
    if fifo:
        if not _FIFO_QUEUE_NAME.fullmatch(name):
            raise sqs_error(
                "InvalidParameterValue",
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, "
                "must end with .fifo suffix and be 1 to 80 in length.",
            )
    elif not _QUEUE_NAME.fullmatch(name):
        raise sqs_error(
            "InvalidParameterValue",
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        )


def validate_queue_attributes(attributes: Mapping[str, str], *, fifo: bool, creating: bool) -> dict[str, str]:
    """Names and values of CreateQueue/SetQueueAttributes ``Attributes``, returned as SQS
    keeps them: booleans in lower case, integers without a sign or leading zeros, the
    redrive documents as compact JSON with a numeric ``maxReceiveCount`` (what
    GetQueueAttributes shows and what CreateQueue compares an existing queue with).

    Read-only, unknown and FIFO-only-on-a-standard-queue attributes are
    ``InvalidAttributeName``, as SQS answers for any attribute that cannot be
    set (CreateQueue words the FIFO settings' refusal differently). A FIFO
    queue's ``FifoQueue`` may be set to true again, never to false.
    """
    kept: dict[str, str] = {}
    for name, value in attributes.items():
        if name in _FIFO_SETTINGS and not fifo and creating:
            raise sqs_error("InvalidAttributeName", f"You can specify the {name} only when FifoQueue is set to true.")
        if name not in _SETTABLE_ATTRIBUTES or (name in _FIFO_ONLY_ATTRIBUTES and not fifo):
            raise sqs_error("InvalidAttributeName", f"Unknown Attribute {name}.")
        if name == "FifoQueue" and not creating and value.lower() != "true":
            raise _invalid_attribute_value(name, "Modifying queue type is not supported.")
        kept[name] = _validate_attribute_value(name, value, fifo=fifo)
    if not creating:
        kept.pop("FifoQueue", None)   # setting a FIFO queue's FifoQueue to true changes nothing
    if (
        attributes.get("SqsManagedSseEnabled", "").lower() == "true"
        and attributes.get("KmsMasterKeyId")
    ):
        raise sqs_error(
            "InvalidAttributeValue",
            "You can use one type of server-side encryption (SSE) at one time. "
            "You can either enable KMS SSE or SQS SSE.",
        )
    return kept


def _validate_attribute_value(name: str, value: str, *, fifo: bool) -> str:
    """The value as SQS keeps it, or InvalidAttributeValue."""
    invalid = _invalid_attribute_value(name)
    if name in _INTEGER_ATTRIBUTES:
        low, high = _INTEGER_ATTRIBUTES[name]
        if not _INTEGER.fullmatch(value) or not low <= int(value) <= high:
            raise invalid
        return str(int(value))
    if name in _BOOLEAN_ATTRIBUTES:
        if value.lower() not in ("true", "false"):
            raise invalid
        return value.lower()
    if name in _CHOICE_ATTRIBUTES:
        if value not in _CHOICE_ATTRIBUTES[name]:
            raise invalid
    elif name == "RedrivePolicy":
        return validate_redrive_policy(value, source_fifo=fifo)
    elif name == "RedriveAllowPolicy":
        return validate_redrive_allow_policy(value)
    elif name == "Policy":
        validate_access_policy(value)
    return value


def validate_attribute_names(names: Sequence[str]) -> None:
    """GetQueueAttributes ``AttributeNames``: the model's names, or ``All``."""
    known = sqs_json_model().shape_for("QueueAttributeName").enum
    for name in names:
        if name not in known:
            raise sqs_error("InvalidAttributeName", f"Unknown Attribute {name}.")


# -- messages ---------------------------------------------------------------


def is_xml_ascii(data: bytes) -> bool:
    """Whether `data` is ASCII made of XML 1.0 characters only (most bodies are): a
    deletion pass in C, several times cheaper per character than `str.isprintable` or
    the full pattern, which the rest (non-ASCII text) still goes through."""
    return data.isascii() and len(data.translate(None, _INVALID_ASCII)) == len(data)


def validate_message_body(body: str | None, *, parameter: str = "MessageBody", escape_free: bool = False) -> None:
    """Present, non-empty, and only characters SQS can store. `escape_free`: the body is
    known to hold no control character (`AwsRequestContext.escape_free`), so ASCII is
    valid as it is."""
    if not body:
        raise sqs_error("MissingParameter", f"The request must contain the parameter {parameter}.")
    if body.isascii():
        valid = escape_free or is_xml_ascii(body.encode("ascii"))
    else:
        valid = INVALID_CHARACTER.search(body) is None
    if not valid:
        raise sqs_error("InvalidMessageContents", INVALID_CHARACTERS)


def message_size(message: Mapping[str, Any]) -> int:
    """Size of a SendMessage request or batch entry, as SQS limits it (UTF-8 bytes; an
    ASCII body, known as such without reading it, is as long as its text)."""
    body = message.get("MessageBody", "")
    return ((len(body) if body.isascii() else len(body.encode()))
            + attributes_size(message.get("MessageAttributes")))


def validate_message_attributes(attributes: Mapping[str, Mapping[str, Any]] | None) -> None:
    """User ``MessageAttributes``: at most 10, valid names, typed values."""
    if not attributes:
        return
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise _invalid_parameter(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum "
            f"[{MAX_MESSAGE_ATTRIBUTES}]."
        )
    for name, value in attributes.items():
        _validate_attribute_name(name)
        _validate_attribute_value_of(name, value)


def _validate_attribute_name(name: str) -> None:
    if not name:
        raise _invalid_parameter("The request must contain non-empty message (user) attribute names.")
    if len(name.encode()) >= 256:
        raise _invalid_parameter("Message (user) attribute name must be shorter than 256 bytes.")
    if name.lower().startswith(("aws.", "amazon.")):
        raise _invalid_parameter(
            "You can't use message attribute names beginning with 'AWS.' or 'Amazon'. "
            "These strings are reserved for internal use."
        )
    if not _ATTRIBUTE_NAME.fullmatch(name) or name.startswith(".") or name.endswith(".") or ".." in name:
        raise _invalid_parameter(
            f"The message attribute name '{name}' is invalid. Attribute name can contain A-Z, a-z, 0-9, "
            "underscore (_), hyphen (-), and period (.) characters."
        )


def _validate_attribute_value_of(name: str, value: Mapping[str, Any]) -> None:
    data_type = value.get("DataType")
    string_value = value.get("StringValue")
    binary_value = value.get("BinaryValue")
    if value.get("StringListValues") or value.get("BinaryListValues"):
        raise _invalid_parameter("Message attribute list values in SendMessage operation are not supported.")
    if not data_type and string_value is None and binary_value is None:
        raise _invalid_parameter(
            f"The message (user) attribute '{name}' must contain a non-empty message attribute value."
        )
    if not data_type:
        raise _invalid_parameter(
            f"The message (user) attribute '{name}' must contain a non-empty message attribute type."
        )
    if not data_type.startswith(_DATA_TYPE_PREFIXES):
        raise _invalid_parameter(
            f"The type of message (user) attribute '{name}' is invalid. "
            "You must use only the following supported type prefixes: Binary, Number, String."
        )
    if len(data_type.encode()) >= 256:
        raise _invalid_parameter("Message (user) attribute type must be shorter than 256 bytes.")
    if data_type.startswith("Binary"):
        if not binary_value:
            raise _invalid_parameter(
                f"Message (user) attribute '{name}' must contain a non-empty value of type 'Binary'."
            )
        return
    base_type = "Number" if data_type.startswith("Number") else "String"
    if not string_value:
        raise _invalid_parameter(
            f"Message (user) attribute '{name}' must contain a non-empty value of type '{base_type}'."
        )
    if base_type == "Number" and not _is_sqs_number(string_value):
        raise _invalid_parameter(f"Can't cast the value of message (user) attribute '{name}' to a number.")
    if INVALID_CHARACTER.search(string_value):
        raise _invalid_parameter(INVALID_CHARACTERS)


def _is_sqs_number(text: str) -> bool:
    """Up to 38 significant digits, magnitude within 10^-128 .. 10^126."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return False
    if not number.is_finite():
        return False
    if number.is_zero():
        return True
    # Not normalize(): it rounds to the context's 28 digits first.
    significant = "".join(map(str, number.as_tuple().digits)).strip("0")
    return len(significant) <= 38 and -128 <= number.adjusted() <= 126


def validate_message_system_attributes(attributes: Mapping[str, Mapping[str, Any]] | None) -> None:
    """``MessageSystemAttributes`` of a send: only ``AWSTraceHeader``, a String."""
    for name, value in (attributes or {}).items():
        if name not in _SYSTEM_ATTRIBUTES_FOR_SENDS:
            raise _invalid_parameter(f"Message system attribute name '{name}' is invalid.")
        if value.get("DataType") != "String" or not value.get("StringValue"):
            raise _invalid_parameter(f"Message system attribute '{name}' must contain a non-empty value of type 'String'.")


def validate_delay_seconds(delay: int | None) -> None:
    if delay is not None and not 0 <= delay <= MAX_DELAY_SECONDS:
        raise _invalid_value(delay, "DelaySeconds", f"DelaySeconds must be >= 0 and <= {MAX_DELAY_SECONDS}.")


def validate_fifo_id(value: str, parameter: str) -> None:
    """MessageGroupId / MessageDeduplicationId: 1–128 printable ASCII."""
    if not _FIFO_ID.fullmatch(value):
        raise _invalid_value(
            value,
            parameter,
            f"{parameter} can only include alphanumeric and punctuation characters. 1 to 128 in length.",
        )


def validate_send_message(
    message: Mapping[str, Any], queue: QueueLimits, *, entry_prefix: str | None = None,
    size: int | None = None, escape_free: bool = False,
) -> None:
    """A SendMessage request, or one SendMessageBatch entry.

    ``entry_prefix`` (``"SendMessageBatchRequestEntry.3"``) names the entry
    in messages that AWS words with the entry's path. ``size`` is its
    :func:`message_size` when the caller has it already (a batch's entries
    were all measured for the batch's total). ``escape_free`` as for
    :func:`validate_message_body`.
    """
    body_parameter = f"{entry_prefix}.MessageBody" if entry_prefix else "MessageBody"
    validate_message_body(message.get("MessageBody"), parameter=body_parameter, escape_free=escape_free)
    delay = message.get("DelaySeconds")
    if delay is not None:   # the checks of what most messages lack are not called at all
        validate_delay_seconds(delay)
    attributes = message.get("MessageAttributes")
    if attributes:
        validate_message_attributes(attributes)
    system = message.get("MessageSystemAttributes")
    if system:
        validate_message_system_attributes(system)
    group_id = message.get("MessageGroupId")
    dedup_id = message.get("MessageDeduplicationId")
    if group_id is not None:
        validate_fifo_id(group_id, "MessageGroupId")
    if dedup_id is not None:
        validate_fifo_id(dedup_id, "MessageDeduplicationId")
    if queue.fifo:
        if delay:
            raise _invalid_value(delay, "DelaySeconds", "The request include parameter that is not valid for this queue type.")
        if group_id is None:
            # SendMessage calls it missing, SendMessageBatch (refusing the whole batch) invalid.
            raise sqs_error("InvalidParameterValue" if entry_prefix else "MissingParameter",
                            "The request must contain the parameter MessageGroupId.")
        if dedup_id is None and not queue.content_based_deduplication:
            raise _invalid_parameter(
                "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId "
                "provided explicitly"
            )
    elif dedup_id is not None:
        # Standard queues accept MessageGroupId (fair queues) but never
        # deduplicate; batch entries get the shorter, valueless wording.
        if entry_prefix:
            raise _invalid_parameter("The request include parameter that is not valid for this queue type")
        raise _invalid_value(
            dedup_id, "MessageDeduplicationId", "The request include parameter that is not valid for this queue type."
        )
    if size is None:
        size = message_size(message)
    if size > queue.maximum_message_size:
        # A batch entry's refusal says "cannot be validated" where SendMessage's says "are invalid".
        raise _invalid_parameter(
            f"One or more parameters {'cannot be validated' if entry_prefix else 'are invalid'}. "
            f"Reason: Message must be shorter than {queue.maximum_message_size} bytes."
        )


# -- batches ----------------------------------------------------------------


def validate_batch_entries(operation: str, entries: Sequence[Mapping[str, Any]]) -> None:
    """Count and ids of a ``*Batch`` request's entries.

    ``operation`` is the batch operation's name; SQS names entries after
    it (``SendMessageBatchRequestEntry``) in its messages.
    """
    entry_name = f"{operation}RequestEntry"
    if not entries:
        raise sqs_error("EmptyBatchRequest", f"There should be at least one {entry_name} in the request.")
    if len(entries) > MAX_BATCH_ENTRIES:
        raise sqs_error(
            "TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {len(entries)}.",
        )
    ids = [entry.get("Id") for entry in entries]
    # Most batches are fine: all their ids checked by one match (an id with a space in it
    # shows as one space too many), then none is looked at again.
    if None not in ids and len(set(ids)) == len(ids):
        joined = " ".join(ids)
        if joined.count(" ") == len(ids) - 1 and _BATCH_ENTRY_IDS.fullmatch(joined):
            return
    _check_entry_ids(entry_name, entries)


def _check_entry_ids(entry_name: str, entries: Sequence[Mapping[str, Any]]) -> None:
    """The first entry whose id is missing, malformed or repeated, refused as SQS does."""
    seen: set[str] = set()
    for index, entry in enumerate(entries, 1):
        entry_id = entry.get("Id")
        if entry_id is None:
            raise sqs_error("MissingParameter", f"The request must contain the parameter {entry_name}.{index}.Id.")
        if not _BATCH_ENTRY_ID.fullmatch(entry_id):
            raise sqs_error("InvalidBatchEntryId")
        if entry_id in seen:
            raise sqs_error("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")
        seen.add(entry_id)


def validate_send_batch(
    entries: Sequence[Mapping[str, Any]], queue: QueueLimits, *, limit: int = MAX_MESSAGE_SIZE,
    escape_free: bool = False,
) -> list[int]:
    """The request-level checks of SendMessageBatch; returns each entry's
    :func:`message_size`, for the entry's own check.

    The total-size limit is SQS's request limit, not the queue's
    MaximumMessageSize (a queue limited to 1 KiB still takes a batch of
    ten 1 KiB messages); each message is held to the queue's limit by
    :func:`validate_send_message`.
    """
    validate_batch_entries("SendMessageBatch", entries)
    sizes = [message_size(entry) for entry in entries]
    total = sum(sizes)
    if total > limit:
        raise sqs_error(
            "BatchRequestTooLong",
            f"Batch requests cannot be longer than {limit} bytes. You have sent {total} bytes.",
        )
    if queue.fifo:
        for index, (entry, size) in enumerate(zip(entries, sizes), 1):
            validate_send_message(entry, queue, entry_prefix=f"SendMessageBatchRequestEntry.{index}", size=size,
                                  escape_free=escape_free)
    return sizes


def validate_receipt_handle(receipt_handle: str | None) -> None:
    """A present, non-blank receipt handle (batch entries are not
    required-checked by the protocol layer)."""
    if not receipt_handle or not receipt_handle.strip():
        raise sqs_error("MissingParameter", "The request must contain the parameter ReceiptHandle.")


# -- receiving and visibility -------------------------------------------------


def validate_receive_message(params: Mapping[str, Any]) -> None:
    """ReceiveMessage's MaxNumberOfMessages, WaitTimeSeconds, VisibilityTimeout."""
    count = params.get("MaxNumberOfMessages")
    if count is not None and not 1 <= count <= MAX_RECEIVE_MESSAGES:
        raise _invalid_value(count, "MaxNumberOfMessages", f"Must be between 1 and {MAX_RECEIVE_MESSAGES}, if provided.")
    wait = params.get("WaitTimeSeconds")
    if wait is not None and not 0 <= wait <= MAX_WAIT_TIME_SECONDS:
        raise _invalid_value(wait, "WaitTimeSeconds", f"Must be >= 0 and <= {MAX_WAIT_TIME_SECONDS}, if provided.")
    timeout = params.get("VisibilityTimeout")
    if timeout is not None and not 0 <= timeout <= MAX_VISIBILITY_TIMEOUT:
        raise _invalid_value(
            timeout, "VisibilityTimeout", f"Must be >= 0 and <= {MAX_VISIBILITY_TIMEOUT}, if provided."
        )


def validate_visibility_timeout(timeout: int) -> None:
    """ChangeMessageVisibility(Batch)'s new timeout, on its own."""
    if not 0 <= timeout <= MAX_VISIBILITY_TIMEOUT:
        raise _invalid_value(timeout, "VisibilityTimeout", f"Must be between 0 and {MAX_VISIBILITY_TIMEOUT}.")


def visibility_limit_exceeded(timeout: int) -> AwsError:
    """For the engine: a new timeout that would keep the message in flight
    more than 12 hours after it was received."""
    return _invalid_value(
        timeout,
        "VisibilityTimeout",
        f"Total VisibilityTimeout for the message is beyond the limit [{MAX_VISIBILITY_TIMEOUT} seconds]",
    )


def validate_max_results(max_results: int | None) -> None:
    """ListQueues / ListDeadLetterSourceQueues ``MaxResults``."""
    if max_results is not None and not 1 <= max_results <= MAX_LIST_RESULTS:
        raise _invalid_value(
            max_results, "MaxResults", f"MaxResults must be an integer between 1 and {MAX_LIST_RESULTS}."
        )


def _invalid_parameter(message: str) -> AwsError:
    return sqs_error("InvalidParameterValue", message)


def _invalid_attribute_value(name: str, reason: str | None = None) -> AwsError:
    message = f"Invalid value for the parameter {name}."
    return sqs_error("InvalidAttributeValue", f"{message} Reason: {reason}" if reason else message)


def _invalid_value(value: object, parameter: str, reason: str) -> AwsError:
    return _invalid_parameter(f"Value {value} for parameter {parameter} is invalid. Reason: {reason}")
