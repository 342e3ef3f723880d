"""Every error the SQS facade answers, as one table.

Modeled errors take their JSON name from the current botocore model and
their legacy code, status and fault from the Query model (see
``facades.aws.errors.ErrorCatalogue.from_models``); this module only adds
the default wording. SQS answers a few common errors under its own JSON
names (``InvalidParameterValueException`` for ``InvalidParameterValue``);
those are listed explicitly. Use it as::

    from facades.sqs.errors import sqs_error
    raise sqs_error("QueueDoesNotExist")
    raise sqs_error("InvalidParameterValue", "Value 50 for parameter ...")

A name is looked up as the JSON name first, then as the legacy code.
"""

from __future__ import annotations

from facades.aws.errors import COMMON_ERRORS, AwsError, ErrorCatalogue, ErrorSpec
from facades.sqs.models import sqs_json_model, sqs_query_model

NAMESPACE = "com.amazonaws.sqs"

INVALID_CHARACTERS = (
    "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | "
    "#xE000 to #xFFFD | #x10000 to #x10FFFF"
)

#: Default messages of the modeled errors, worded as SQS words them where a
#: fixed wording exists; raisers pass the specific message otherwise.
_MESSAGES = {
    "BatchEntryIdsNotDistinct": "Two or more batch entries in the request have the same Id.",
    "BatchRequestTooLong": "The length of all the messages put together is more than the limit.",
    "EmptyBatchRequest": "The batch request doesn't contain any entries.",
    "InvalidAddress": "The specified ID is invalid.",
    "InvalidAttributeName": "The specified attribute doesn't exist.",
    "InvalidAttributeValue": "A queue attribute value is invalid.",
    "InvalidBatchEntryId": (
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
        "It can be at most 80 letters long."
    ),
    "InvalidIdFormat": "The specified receipt handle isn't valid for the current version.",
    "InvalidMessageContents": INVALID_CHARACTERS,
    "InvalidSecurity": "The request was not made over HTTPS or did not use SigV4 for signing.",
    "KmsAccessDenied": "The caller doesn't have the required KMS access.",
    "KmsDisabled": "The request was denied because the specified KMS key isn't enabled.",
    "KmsInvalidKeyUsage": "The KeyUsage value of the KMS key is incompatible with the API operation.",
    "KmsInvalidState": "The state of the specified KMS key is not valid for this request.",
    "KmsNotFound": "The specified KMS key could not be found.",
    "KmsOptInRequired": "The specified key policy isn't syntactically or semantically correct.",
    "KmsThrottled": "The request was denied due to KMS request throttling.",
    "MessageNotInflight": "The specified message isn't in flight.",
    "OverLimit": "The specified action violates a limit.",
    "PurgeQueueInProgress": "Only one PurgeQueue operation on the queue is allowed every 60 seconds.",
    "QueueDeletedRecently": (
        "You must wait 60 seconds after deleting a queue before you can create another with the same name."
    ),
    "QueueDoesNotExist": "The specified queue does not exist.",
    "QueueNameExists": "A queue already exists with the same name and a different value for attributes.",
    "ReceiptHandleIsInvalid": "The specified receipt handle isn't valid.",
    "RequestThrottled": "The request was denied due to request throttling.",
    "ResourceNotFoundException": "One or more specified resources don't exist.",
    "TooManyEntriesInBatchRequest": "The batch request contains more entries than permissible.",
    "UnsupportedOperation": "Error code 400. Unsupported operation.",
}

#: Query clients get the older wording AWS still uses there.
_QUERY_MESSAGES = {
    "QueueDoesNotExist": "The specified queue does not exist for this wsdl version.",
}


def _renamed(json_code: str, common_code: str, status: int) -> ErrorSpec:
    common = COMMON_ERRORS.spec(common_code)
    return ErrorSpec(
        code=json_code,
        query_code=common_code,
        status=status,
        sender_fault=True,
        message=common.message,
        namespace=NAMESPACE,
    )


SQS_ERRORS = COMMON_ERRORS.merged(
    ErrorCatalogue(
        [
            *ErrorCatalogue.from_models(
                sqs_json_model(),
                sqs_query_model(),
                namespace=NAMESPACE,
                messages=_MESSAGES,
                query_messages=_QUERY_MESSAGES,
            ),
            _renamed("InvalidParameterValueException", "InvalidParameterValue", 400),
            _renamed("MissingRequiredParameterException", "MissingParameter", 400),
            _renamed("AccessDeniedException", "AccessDenied", 403),
        ]
    )
)


def sqs_error(code: str, message: str | None = None) -> AwsError:
    """The SQS error named ``code`` (JSON name or legacy code)."""
    return SQS_ERRORS(code, message)
