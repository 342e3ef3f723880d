"""What a facade registers with the AWS port, and what its handlers receive.

A facade (SQS, SNS, ...) is an :class:`AwsService`: its botocore model(s),
its error catalogue and one handler per operation it implements::

    def send_message(ctx: AwsRequestContext, params: dict) -> dict | Deferred[dict]:
        ...  # params typed by the model: {"QueueUrl": str, "DelaySeconds": int, ...}
        raise sqs_error("QueueDoesNotExist")     # -> the protocol's error reply
        return {"MessageId": ..., "MD5OfMessageBody": ...}

    port = AwsPort(AwsDispatcher([sqs_service({"SendMessage": send_message})],
                                 SigV4Verifier(security, default_account), default_region))

Handlers get parsed, typed params keyed by model member names — the same
dict whichever protocol the client spoke, with top-level required members
already checked — and return the output shape's members (``None`` for
operations without output), directly or through a Deferred. They never see
the wire. An :class:`~facades.aws.errors.AwsError` (raised, or as the
Deferred's failure) becomes that error's reply; anything else becomes a
logged ``InternalFailure``. When the client disconnects first, the
handler's Deferred is cancelled. ``ctx.protocol`` is there only for the few
answers AWS words differently per protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Union

from botocore.model import OperationModel, ServiceModel
from twisted.internet.defer import Deferred

from facades.aws.errors import AwsError, ErrorCatalogue, Protocol, common_error
from facades.aws.rest_json import RestRouter

Params = dict[str, Any]
Result = Union[Mapping[str, Any], None]
Handler = Callable[["AwsRequestContext", Params], Union[Result, "Deferred[Result]"]]


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, ~3x
# the cost of a plain one, and one is built for every request.
@dataclass
class AwsRequestContext:
    """Per-request facts a handler may need besides its params."""

    service: str
    """Registered service name, e.g. ``"sqs"``."""
    action: str
    """Operation name from the model, e.g. ``"SendMessage"``."""
    protocol: Protocol
    region: str
    """From the SigV4 credential scope, else the configured default."""
    account_id: str
    """Account of the access key (or the default account when unchecked)."""
    access_key: str | None
    request_id: str
    host: str
    """Host header as sent (``localhost:4566``), for URLs the client can use."""
    scheme: str
    path: str
    """Request path; Query clients may address a queue by its URL path."""
    client_address: str
    headers: Mapping[str, str] = field(default_factory=dict)
    """Lower-case request headers (e.g. ``x-amzn-trace-id`` for AWSTraceHeader)."""
    identity: Any = None
    """The portal's avatar (``broker.auth.identity.Identity``) the authorization map checks."""
    escape_free: bool = False
    """True when no string in the params holds a control character, known without looking
    at them: a JSON body without a backslash has no escape sequence, and JSON allows no
    control character raw. Checks of text (an SQS message body) then skip their scan."""

    @property
    def base_url(self) -> str:
        """``http://HOST`` — prefix of queue URLs this client can reach."""
        return f"{self.scheme}://{self.host}"


@dataclass
class AwsService:
    """One AWS API served on the shared port.

    ``json_model`` / ``query_model`` are the models for the protocols the
    service speaks (either may be ``None``); they must describe the same
    operations and shapes, since both parse into the same params. The
    operation allow-list is their operation list. Subclasses adjust the
    three hooks where their service's AWS behaviour differs from the
    generic one.
    """

    name: str
    json_model: ServiceModel | None
    query_model: ServiceModel | None
    errors: ErrorCatalogue
    handlers: Mapping[str, Handler]
    anonymous_actions: frozenset[str] = frozenset()
    """Operations an unsigned request may call even when signatures are enforced."""
    rest_model: ServiceModel | None = None
    """Model of a REST-JSON service (API Gateway); routed by method and URI."""
    _operations: dict[tuple[str, str], OperationModel] = field(default_factory=dict, init=False, repr=False,
                                                              compare=False)
    """`operation`'s answers (botocore's own cache costs more per request than a dict)."""

    @property
    def model(self) -> ServiceModel:
        model = self.json_model or self.query_model or self.rest_model
        assert model is not None, "a service needs at least one protocol"
        return model

    @cached_property
    def rest_router(self) -> RestRouter | None:
        return None if self.rest_model is None else RestRouter(self.rest_model)

    @property
    def target_prefix(self) -> str | None:
        """``X-Amz-Target`` prefix of JSON requests (``AmazonSQS``)."""
        return None if self.json_model is None else self.json_model.metadata.get("targetPrefix")

    @property
    def signing_names(self) -> frozenset[str]:
        """Names a SigV4 credential scope may use for this service."""
        metadata = self.model.metadata
        return frozenset(
            n for n in (self.name, metadata.get("signingName"), metadata.get("endpointPrefix")) if n
        )

    @property
    def xml_namespace(self) -> str | None:
        return None if self.query_model is None else self.query_model.metadata.get("xmlNamespace")

    def has_operation(self, name: str) -> bool:
        return name in self._operation_names

    @cached_property
    def _operation_names(self) -> frozenset[str]:
        return frozenset(self.model.operation_names)

    def operation(self, protocol: Protocol, name: str) -> OperationModel:
        found = self._operations.get((protocol, name))
        if found is None:
            model = {"json": self.json_model, "query": self.query_model, "rest-json": self.rest_model}[protocol]
            assert model is not None
            found = self._operations[(protocol, name)] = model.operation_model(name)
        return found

    # -- hooks ---------------------------------------------------------

    def complete_params(self, ctx: AwsRequestContext, params: Params) -> None:
        """Fill params the request carried outside the body (default: none)."""

    def missing_parameter(self, operation: str, member: str) -> AwsError:
        """The error for a required top-level member that is absent or ``""``."""
        return self.errors("MissingParameter", f"The request must contain the parameter {member}.")

    def unimplemented(self, operation: str, protocol: Protocol) -> AwsError:
        """The error for a modeled operation without a handler.

        Default: what AWS answers for an operation it does not know.
        """
        return unknown_operation(operation, protocol)


def unknown_operation(name: str, protocol: Protocol) -> AwsError:
    if protocol != "query":
        return common_error("UnknownOperationException")
    return common_error("InvalidAction", f"The action {name} is not valid for this web service.")
