"""SNS as an :class:`~facades.aws.service.AwsService`: botocore's model, SNS's errors.

SNS speaks only the Query protocol (form-encoded ``Action=...``, XML replies in the SNS
namespace), so one model serves both as the allow-list and the wire description.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from botocore.model import ServiceModel

from facades.aws.errors import COMMON_ERRORS, AwsError, ErrorCatalogue, Protocol
from facades.aws.model import shipped_model
from facades.aws.service import AwsService, Handler

NAMESPACE = "com.amazonaws.sns"

_MESSAGES = {
    "AuthorizationErrorException": "Not authorized to perform this action.",
    "BatchEntryIdsNotDistinctException": "Two or more batch entries in the request have the same Id.",
    "EmptyBatchRequestException": "The batch request doesn't contain any entries.",
    "InvalidBatchEntryIdException": (
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
        "It can be at most 80 letters long."),
    "InvalidParameterException": "Invalid parameter",
    "NotFoundException": "Topic does not exist",
    "ResourceNotFoundException": "Resource does not exist",
    "TooManyEntriesInBatchRequestException": "The batch request contains more entries than permissible.",
    "TopicLimitExceededException": "Topic already exists",
}


@cache
def sns_model() -> ServiceModel:
    return shipped_model("sns")


SNS_ERRORS = COMMON_ERRORS.merged(
    ErrorCatalogue.from_models(sns_model(), sns_model(), namespace=NAMESPACE, messages=_MESSAGES))


def sns_error(code: str, message: str | None = None) -> AwsError:
    """The SNS error named ``code`` (shape name or Query code, e.g. ``InvalidParameter``)."""
    return SNS_ERRORS(code, message)


def invalid(what: str) -> AwsError:
    """``InvalidParameter`` worded as SNS words it: ``Invalid parameter: <what>``."""
    return sns_error("InvalidParameter", f"Invalid parameter: {what}")


class SnsService(AwsService):
    def missing_parameter(self, operation: str, member: str) -> AwsError:
        if member == "Message":
            return invalid("Empty message")
        if member == "Name" and operation == "CreateTopic":
            return invalid("Topic Name")
        return invalid(f"{member} Reason: no value for required parameter")

    def unimplemented(self, operation: str, protocol: Protocol) -> AwsError:
        """A modeled operation mqgate does not serve (SMS, mobile push): AWS's error for
        an account not allowed to use it, which SDKs raise as a modeled exception."""
        return sns_error("InvalidParameter", f"Invalid parameter: {operation} is not supported by this endpoint")


def sns_service(handlers: Mapping[str, Handler]) -> SnsService:
    unknown = set(handlers) - set(sns_model().operation_names)
    if unknown:
        raise ValueError(f"not SNS operations: {sorted(unknown)}")
    # The SubscribeURL and UnsubscribeURL an endpoint receives are plain links.
    return SnsService(name="sns", json_model=None, query_model=sns_model(), errors=SNS_ERRORS,
                      handlers=dict(handlers), anonymous_actions=frozenset({"ConfirmSubscription", "Unsubscribe"}))
