"""SQS as an :class:`~facades.aws.service.AwsService`, minus the handlers.

The handlers (the calls into the broker engine) are supplied by whoever
builds the service; this module fixes everything about SQS that does not
depend on queues: its models, its errors, and the three places where SQS
departs from the generic AWS request handling.
"""

from __future__ import annotations

from collections.abc import Mapping

from facades.aws.errors import AwsError, Protocol
from facades.aws.service import AwsRequestContext, AwsService, Handler, Params
from facades.sqs.errors import SQS_ERRORS
from facades.sqs.models import sqs_json_model, sqs_query_model

#: Operations whose QueueName AWS checks itself before "missing parameter".
_QUEUE_NAME_OPERATIONS = frozenset({"CreateQueue", "GetQueueUrl"})


class SqsService(AwsService):
    def complete_params(self, ctx: AwsRequestContext, params: Params) -> None:
        """Take the queue URL from the request path when the params lack it.

        Query clients (the older SDKs, and the documented Query API) send
        queue-scoped actions to the queue URL itself instead of passing
        ``QueueUrl``.
        """
        if ctx.protocol != "query" or "QueueUrl" in params or ctx.path.rstrip("/") == "":
            return
        members = self.operation(ctx.protocol, ctx.action).input_shape
        if members is not None and "QueueUrl" in members.members:
            params["QueueUrl"] = f"{ctx.base_url}{ctx.path}"

    def missing_parameter(self, operation: str, member: str) -> AwsError:
        if member == "QueueName" and operation in _QUEUE_NAME_OPERATIONS:
            return self.errors(
                "InvalidParameterValue", "Value for parameter QueueName is invalid. Reason: Must specify a queue name."
            )
        return super().missing_parameter(operation, member)

    def unimplemented(self, operation: str, protocol: Protocol) -> AwsError:
        """SQS's own "not supported" error: the client knows the operation
        (it is in its model) and gets a modeled exception it can catch."""
        return self.errors("UnsupportedOperation", f"Operation {operation} is not supported by this endpoint.")


def sqs_service(handlers: Mapping[str, Handler]) -> SqsService:
    """The SQS service answering with ``handlers`` (operation name → handler).

    Unknown operation names are a programming error and refused here.
    """
    unknown = set(handlers) - set(sqs_json_model().operation_names)
    if unknown:
        raise ValueError(f"not SQS operations: {sorted(unknown)}")
    return SqsService(
        name="sqs",
        json_model=sqs_json_model(),
        query_model=sqs_query_model(),
        errors=SQS_ERRORS,
        handlers=dict(handlers),
    )
