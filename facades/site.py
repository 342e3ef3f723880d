"""The AWS door: one twisted.web site serving every AWS facade on one port."""
from __future__ import annotations

from typing import Any

from twisted.web.http import HTTPChannel
from twisted.web.server import Site

from broker.config import Config
from broker.engine.broker import Broker
from facades.aws.dispatch import AwsDispatcher
from facades.aws.http import AwsResource
from facades.aws.sigv4 import SigV4Verifier
from facades.sqs import facade as sqs


class _Channel(HTTPChannel):
    """Small request/response exchanges: send each response at once (no Nagle delay)."""

    def connectionMade(self) -> None:
        super().connectionMade()
        self.transport.setTcpNoDelay(True)


def build_site(broker: Broker, config: Config, reactor: Any) -> Site:
    verifier = SigV4Verifier(config.credentials, config.account)
    dispatcher = AwsDispatcher([sqs.build(broker, config)], verifier, config.region,
                               max_body_size=config.aws_max_request)
    site = Site(AwsResource(dispatcher), reactor=reactor)
    site.protocol = _Channel
    site.noisy = False
    site.displayTracebacks = False
    return site
