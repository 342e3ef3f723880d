"""The AWS door: one twisted.web site serving every AWS facade on one port."""
from __future__ import annotations

from typing import Any

from twisted.web.http import HTTPChannel
from twisted.web.server import Site

from broker.auth.security import Security
from broker.config import Config
from broker.engine.broker import Broker
from facades.aws.dispatch import AwsDispatcher
from facades.aws.http import AwsResource
from facades.aws.sigv4 import SigV4Verifier
from facades.apigateway import facade as apigateway
from facades.sns import facade as sns
from facades.sqs import facade as sqs


class _Channel(HTTPChannel):
    """Small request/response exchanges: send each response at once (no Nagle delay)."""

    address: str | None = None   # counted against max_connections_per_address

    def connectionMade(self) -> None:
        super().connectionMade()
        self.transport.setTcpNoDelay(True)

    def connectionLost(self, reason: Any) -> None:
        super().connectionLost(reason)
        if self.address is not None:
            self.site.security.connections.release_address(self.address)
            self.address = None


class _AwsSite(Site):
    """A Site without the per-request work the AWS door never uses.

    - No access log: Twisted's default writes a Combined Log Format line per
      request into the global log (formatting it costs ~0.1 ms a request);
      the broker logs events of its own instead.
    - No form parsing: bodies (JSON or form-encoded Query) are parsed by the
      dispatcher. Twisted's own form parsing would parse the Content-Type
      with ``email.message`` (~0.25 ms a request) and decode the body a
      second time.
    """

    security: Security

    def log(self, request: Any) -> None:
        pass

    def buildProtocol(self, addr: Any) -> Any:
        address = str(getattr(addr, "host", addr))
        if not self.security.connections.admit_address(address):
            return None   # the address has its maximum of connections open
        channel = super().buildProtocol(addr)
        channel.address = address
        return channel


def build_site(broker: Broker, config: Config, reactor: Any, security: Security) -> Site:
    verifier = SigV4Verifier(security, config.account)
    sns_service, sns_documents = sns.build(broker, config, reactor, security)
    gateway = apigateway.build(broker, config, reactor, verifier)
    dispatcher = AwsDispatcher([sqs.build(broker, config, security), sns_service, gateway.service], verifier,
                               config.region, max_body_size=config.aws_max_request)
    gateway.connect(dispatcher, security.acting_as)
    resource = AwsResource(dispatcher, sns_documents, front_routes=[gateway.route],
                           max_front_body=gateway.max_body_size)
    site = _AwsSite(resource, reactor=reactor, parsePOSTFormSubmission=False)
    site.protocol = _Channel
    site.security = security
    site.noisy = False
    site.displayTracebacks = False
    return site
