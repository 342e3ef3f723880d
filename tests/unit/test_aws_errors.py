"""The error catalogue: names, legacy codes, statuses and wording."""

from __future__ import annotations

import pytest

from facades.aws.errors import COMMON_ERRORS, AwsError, ErrorCatalogue, ErrorSpec, common_error
from facades.sqs.errors import SQS_ERRORS, sqs_error

#: (JSON name, legacy code, status) as the SQS models and docs define them.
SQS_TABLE = [
    ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", 400),
    ("QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently", 400),
    ("QueueNameExists", "QueueAlreadyExists", 400),
    ("InvalidAttributeName", "InvalidAttributeName", 400),
    ("InvalidAttributeValue", "InvalidAttributeValue", 400),
    ("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 400),
    ("InvalidIdFormat", "InvalidIdFormat", 400),
    ("BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400),
    ("TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400),
    ("EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", 400),
    ("InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", 400),
    ("BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", 400),
    ("InvalidMessageContents", "InvalidMessageContents", 400),
    ("PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", 403),
    ("UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", 400),
    ("OverLimit", "OverLimit", 403),
    ("MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", 400),
    ("ResourceNotFoundException", "ResourceNotFoundException", 404),
    ("InvalidParameterValueException", "InvalidParameterValue", 400),
    ("MissingRequiredParameterException", "MissingParameter", 400),
    ("AccessDeniedException", "AccessDenied", 403),
    ("InvalidAction", "InvalidAction", 400),
    ("UnknownOperationException", "UnknownOperationException", 400),
    ("InvalidClientTokenId", "InvalidClientTokenId", 403),
    ("SignatureDoesNotMatch", "SignatureDoesNotMatch", 403),
    ("MissingAuthenticationToken", "MissingAuthenticationToken", 403),
    ("InternalFailure", "InternalFailure", 500),
]


@pytest.mark.parametrize(("code", "query_code", "status"), SQS_TABLE)
def test_sqs_catalogue(code: str, query_code: str, status: int) -> None:
    spec = SQS_ERRORS.spec(code)
    assert (spec.query_code, spec.status) == (query_code, status)
    assert spec.sender_fault is (status != 500)
    # Coral's own framework errors come without a message, as on AWS.
    assert spec.message or not spec.query_compatible
    assert SQS_ERRORS.spec(query_code).query_code == query_code


def test_errors_are_found_by_legacy_code_too() -> None:
    assert sqs_error("AWS.SimpleQueueService.NonExistentQueue").code == "QueueDoesNotExist"
    assert sqs_error("InvalidParameterValue").code == "InvalidParameterValueException"
    assert sqs_error("QueueAlreadyExists").code == "QueueNameExists"
    assert "MissingParameter" in SQS_ERRORS
    with pytest.raises(KeyError):
        sqs_error("QueueDoesNotExistt")


def test_default_messages_may_differ_per_protocol_explicit_ones_do_not() -> None:
    error = sqs_error("QueueDoesNotExist")
    assert error.message_for("json") == "The specified queue does not exist."
    assert error.message_for("query") == "The specified queue does not exist for this wsdl version."
    explicit = sqs_error("QueueDoesNotExist", "gone")
    assert explicit.message_for("query") == explicit.message_for("json") == "gone"


def test_batch_entries_carry_the_legacy_code() -> None:
    error = sqs_error("ReceiptHandleIsInvalid", 'The input receipt handle "x" is not a valid receipt handle.')
    assert error.as_batch_entry("e1", "json") == {
        "Id": "e1",
        "SenderFault": True,
        "Code": "ReceiptHandleIsInvalid",
        "Message": 'The input receipt handle "x" is not a valid receipt handle.',
    }
    assert sqs_error("InvalidParameterValue", "bad").as_batch_entry("e2", "query")["Code"] == "InvalidParameterValue"


def test_merged_catalogues_let_a_service_rename_a_common_error() -> None:
    renamed = ErrorSpec("FooException", "InvalidParameterValue", 400, True, "m", namespace="ns")
    merged = COMMON_ERRORS.merged(ErrorCatalogue([renamed]))
    assert merged.spec("InvalidParameterValue") is renamed
    assert merged.spec("InternalFailure") is COMMON_ERRORS.spec("InternalFailure")


def test_aws_error_is_an_exception_with_its_message() -> None:
    error = common_error("InvalidClientTokenId")
    assert isinstance(error, Exception)
    assert str(error) == "The security token included in the request is invalid."
    assert repr(error) == "AwsError('InvalidClientTokenId', 'The security token included in the request is invalid.')"
    assert AwsError(error.spec, "custom").explicit_message == "custom"
