"""The AWS door: every AWS facade on one HTTP/1.1 port."""
from __future__ import annotations

from typing import Any

from broker.auth.security import Security
from broker.config import Config
from broker.engine.broker import Broker
from facades.aws.dispatch import AwsDispatcher
from facades.aws.http import AwsPort
from facades.aws.httpserver import HttpServerFactory
from facades.aws.sigv4 import SigV4Verifier
from facades.apigateway import facade as apigateway
from facades.sns import facade as sns
from facades.sqs import facade as sqs


def build_port(broker: Broker, config: Config, reactor: Any, security: Security) -> HttpServerFactory:
    verifier = SigV4Verifier(security, config.account)
    sns_service, sns_documents = sns.build(broker, config, reactor, security)
    gateway = apigateway.build(broker, config, reactor, verifier)
    dispatcher = AwsDispatcher([sqs.build(broker, config, security), sns_service, gateway.service], verifier,
                               config.region, max_body_size=config.aws_max_request)
    gateway.connect(dispatcher, security.acting_as)
    port = AwsPort(dispatcher, sns_documents, front_routes=[gateway.route], max_front_body=gateway.max_body_size)
    return HttpServerFactory(port, reactor, port.max_body, security.connections)
