"""AWS errors as data: one exception type, a table of specs per service.

An AWS error has two names. The JSON protocols send the modeled shape name
(``__type: com.amazonaws.sqs#QueueDoesNotExist``); the Query protocol, and the
``x-amzn-query-error`` header of query-compatible JSON services, send the
legacy code (``AWS.SimpleQueueService.NonExistentQueue``). Clients pick their
exception class from whichever their protocol carries, so both must be right
and must come from the same place: an :class:`ErrorSpec`. Handlers never build
specs; they ask a service's :class:`ErrorCatalogue` for one by name, so a
misspelt code fails loudly (and becomes ``InternalFailure``) instead of
reaching a client as an unknown error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from botocore.model import ServiceModel

Protocol = Literal["json", "query", "rest-json"]

#: Namespace real AWS uses in ``__type`` for errors raised by its request
#: framework (Coral) rather than by the service itself.
FRAMEWORK_NAMESPACE = "com.amazon.coral.service"


@dataclass(frozen=True)
class ErrorSpec:
    """Everything a client sees of one error, for both protocols."""

    code: str
    """JSON ``__type`` name (the modeled shape name) and the catalogue key."""
    query_code: str
    """Query ``<Code>`` and the code in ``x-amzn-query-error``."""
    status: int
    sender_fault: bool
    message: str
    """Default message, used when the raiser gives none."""
    namespace: str = FRAMEWORK_NAMESPACE
    query_message: str | None = None
    """Default message under Query where AWS words it differently there."""
    query_compatible: bool = True
    """Whether JSON responses carry ``x-amzn-query-error`` for this error.

    Framework errors (serialization, unknown operation) are produced before
    the service's query-compatibility layer, so real AWS sends no header.
    """

    @property
    def fault(self) -> str:
        return "Sender" if self.sender_fault else "Receiver"


class AwsError(Exception):
    """An error to be answered in the wire format of the request's protocol.

    Raise it from a handler (or let validation raise it); the HTTP layer
    renders it. ``message=None`` means the spec's default, which may differ
    per protocol, hence :meth:`message_for` rather than a fixed string.
    """

    def __init__(self, spec: ErrorSpec, message: str | None = None) -> None:
        super().__init__(message or spec.message)
        self.spec = spec
        self.explicit_message = message

    @property
    def code(self) -> str:
        return self.spec.code

    @property
    def query_code(self) -> str:
        return self.spec.query_code

    @property
    def status(self) -> int:
        return self.spec.status

    @property
    def sender_fault(self) -> bool:
        return self.spec.sender_fault

    def message_for(self, protocol: Protocol) -> str:
        if self.explicit_message is not None:
            return self.explicit_message
        if protocol == "query" and self.spec.query_message is not None:
            return self.spec.query_message
        return self.spec.message

    def as_batch_entry(self, entry_id: str, protocol: Protocol) -> dict[str, object]:
        """The ``BatchResultErrorEntry`` for a failed batch entry.

        Batch results carry the legacy code under both protocols (they are
        plain data, not an error response the query-compat layer rewrites).
        """
        return {
            "Id": entry_id,
            "SenderFault": self.sender_fault,
            "Code": self.query_code,
            "Message": self.message_for(protocol),
        }

    def __repr__(self) -> str:
        return f"AwsError({self.code!r}, {str(self)!r})"


class ErrorCatalogue:
    """The errors one service can answer, looked up by their JSON name."""

    def __init__(self, specs: Iterable[ErrorSpec]) -> None:
        self._specs: dict[str, ErrorSpec] = {}
        for spec in specs:
            self._specs[spec.code] = spec
        # Handlers may also name an error by its legacy code (the Query code,
        # e.g. "InvalidParameterValue"), which is the name most AWS
        # documentation and client logs use.
        self._aliases = {s.query_code: s for s in self._specs.values() if s.query_code not in self._specs}

    def __call__(self, code: str, message: str | None = None) -> AwsError:
        """``raise errors("QueueDoesNotExist")`` — KeyError for unknown codes."""
        return AwsError(self.spec(code), message)

    def __contains__(self, code: object) -> bool:
        return code in self._specs or code in self._aliases

    def __iter__(self) -> Iterator[ErrorSpec]:
        return iter(self._specs.values())

    def spec(self, code: str) -> ErrorSpec:
        """The spec named ``code`` (JSON name first, then legacy code)."""
        spec = self._specs.get(code) or self._aliases.get(code)
        if spec is None:
            raise KeyError(code)
        return spec

    def merged(self, other: ErrorCatalogue) -> ErrorCatalogue:
        """This catalogue plus ``other``, whose specs win by JSON name or
        legacy code — so a service can answer a common error under its own
        JSON name and still be asked for it by the common one."""
        shadowed = {s.code for s in other} | {s.query_code for s in other}
        return ErrorCatalogue([*(s for s in self if s.code not in shadowed), *other])

    @classmethod
    def from_models(
        cls,
        json_model: ServiceModel,
        query_model: ServiceModel,
        *,
        namespace: str,
        messages: Mapping[str, str],
        query_messages: Mapping[str, str] | None = None,
    ) -> ErrorCatalogue:
        """Specs for every exception shape the service models.

        Names come from the JSON model (that is what ``__type`` carries);
        legacy codes, statuses and fault from the Query model's ``error``
        trait, which is where botocore keeps them. A shape without the trait
        answers its own name, 400, Sender — what AWS does for those.
        """
        query_messages = query_messages or {}
        specs = []
        for shape in json_model.error_shapes:
            name = shape.name
            trait = query_model.shape_for(name).metadata.get("error", {})
            specs.append(
                ErrorSpec(
                    code=name,
                    query_code=trait.get("code", name),
                    status=trait.get("httpStatusCode", 400),
                    sender_fault=trait.get("senderFault", True),
                    message=messages.get(name, ""),
                    namespace=namespace,
                    query_message=query_messages.get(name),
                )
            )
        return cls(specs)


def _common(
    code: str,
    status: int,
    message: str,
    *,
    sender: bool = True,
    query_compatible: bool = True,
) -> ErrorSpec:
    return ErrorSpec(
        code=code,
        query_code=code,
        status=status,
        sender_fault=sender,
        message=message,
        query_compatible=query_compatible,
    )


#: Errors every AWS service answers (AWS "Common Errors"), plus the ones the
#: request framework produces before a service sees the request.
COMMON_ERRORS = ErrorCatalogue(
    [
        _common("AccessDenied", 403, "Access to the resource is denied."),
        _common("IncompleteSignature", 400, "The request signature does not conform to AWS standards."),
        _common(
            "InternalFailure",
            500,
            "The request processing has failed because of an unknown error, exception or failure.",
            sender=False,
        ),
        _common("InvalidAction", 400, "The action or operation requested is invalid."),
        _common(
            "InvalidClientTokenId",
            403,
            "The security token included in the request is invalid.",
        ),
        _common("InvalidParameterCombination", 400, "Parameters that must not be used together were used together."),
        _common("InvalidParameterValue", 400, "An invalid or out-of-range value was supplied for the input parameter."),
        _common("InvalidQueryParameter", 400, "The AWS query string is malformed or does not adhere to AWS standards."),
        _common("MissingAction", 400, "The request is missing an action or a required parameter."),
        _common("MissingAuthenticationToken", 403, "Request is missing Authentication Token"),
        _common("MissingParameter", 400, "A required parameter for the specified action is not supplied."),
        _common(
            "SignatureDoesNotMatch",
            403,
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details.",
        ),
        _common("RequestEntityTooLarge", 413, "Request entity too large."),
        _common("ServiceUnavailable", 503, "The request has failed due to a temporary failure of the server.",
                sender=False),
        _common("ThrottlingException", 400, "Rate exceeded"),
        _common("ValidationError", 400, "A request parameter does not satisfy its constraints."),
        _common("SerializationException", 400, "", query_compatible=False),
        _common("UnknownOperationException", 400, "", query_compatible=False),
    ]
)


def common_error(code: str, message: str | None = None) -> AwsError:
    """An error that needs no service: auth, framing, unknown operations."""
    return COMMON_ERRORS(code, message)
