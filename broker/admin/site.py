"""The admin HTTP door (ActiveMQ's web console port): `/metrics` for Prometheus, Jolokia
reads under `/api/jolokia`, and the REST message API under `/api/message`.

Every request logs in first (HTTP Basic through the broker's portal, `access.py`); metrics
and MBeans then need one of the `admin_groups`, messages the destination's rights.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable
from urllib.parse import unquote

from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from twisted.internet import defer
from twisted.python.failure import Failure
from twisted.web import resource, server

from broker.admin import access, jolokia
from broker.admin.messages import MessageApi, MessageApiError, destination, build_message, posted_text
from broker.admin.metrics import BrokerCollector, registry
from broker.auth.authorization import NotAuthorized
from broker.auth.security import Security
from broker.config import Config
from broker.engine.broker import Broker

log = logging.getLogger("mqgate.admin")
MAX_BODY = 10 * 1024 * 1024


def _params(request: Any) -> dict[str, str]:
    """Query and form parameters, first value of each (as a servlet's getParameter)."""
    out: dict[str, str] = {}
    for key, values in (request.args or {}).items():
        if values:
            out.setdefault(key.decode("utf-8", "replace"), values[0].decode("utf-8", "replace"))
    return out


class _Guarded(resource.Resource):
    """A leaf that logs the request in, then answers it (`answer` may return a Deferred)."""

    isLeaf = True
    console = True   # needs one of the admin groups (metrics, MBeans)

    def __init__(self, security: Security, config: Config) -> None:
        super().__init__()
        self.security = security
        self.config = config

    def render(self, request: server.Request) -> Any:
        d = access.login(self.security, request)

        def allowed(identity: Any) -> Any:
            if self.console and not access.may_administer(self.security, identity, self.config.admin_groups):
                # Anonymous: ask for a login (a browser then prompts); a user: forbidden.
                raise access.Refused(401 if identity.anonymous else 403, f"User {identity.name} may not use the console")
            return self.answer(request, identity)

        gone: list[bool] = []

        def lost(_: Failure) -> None:
            gone.append(True)   # the client went away: stop waiting for it (a long GET)
            d.cancel()

        d.addCallback(allowed)
        d.addCallbacks(lambda body: gone or self._write(request, body),
                       lambda f: gone or self._failed(request, f))
        request.notifyFinish().addErrback(lost)
        return server.NOT_DONE_YET

    def answer(self, request: server.Request, identity: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def _write(request: server.Request, body: bytes | None) -> None:
        if body is not None:
            request.write(body)
        request.finish()

    def _failed(self, request: server.Request, failure: Failure) -> None:
        exc = failure.value
        if isinstance(exc, access.Refused):
            status, text = exc.status, exc.text
            if status == 401:
                request.setHeader(b"www-authenticate", f'Basic realm="{access.REALM}"'.encode())
        elif isinstance(exc, NotAuthorized):
            status, text = 403, exc.message
        elif isinstance(exc, MessageApiError):
            status, text = exc.status, exc.text
        else:
            log.error("event=admin_request_failed path=%r error=%s", request.path, failure.getTraceback())
            status, text = 500, "Internal error"
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        self._write(request, (text + "\n").encode())


class Metrics(_Guarded):
    def __init__(self, security: Security, config: Config, collector: BrokerCollector) -> None:
        super().__init__(security, config)
        self.registry = registry(collector)

    def answer(self, request: server.Request, identity: Any) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode())
        return generate_latest(self.registry)


class Jolokia(_Guarded):
    """GET `/api/jolokia/read/MBEAN/ATTRIBUTE` (and `search`, `version`), POST a JSON request
    or a list of them. As Jolokia, the HTTP status is 200 and each answer carries its own."""

    def __init__(self, security: Security, config: Config, agent: jolokia.Agent) -> None:
        super().__init__(security, config)
        self.agent = agent

    def answer(self, request: server.Request, identity: Any) -> bytes:
        if request.method == b"POST":
            try:
                body = json.loads(request.content.read(MAX_BODY) or b"null")
            except ValueError:
                body = None
            result = self.agent.handle_all(body)
        else:
            # The raw path: Jolokia's own escapes (`!/`) must be read before %-decoding.
            raw = request.path.decode("latin-1").split("/api/jolokia", 1)[1]
            result = self.agent.handle(jolokia.request_from_path(unquote(raw)))
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"cache-control", b"no-cache")
        return json.dumps(result).encode()


class Messages(_Guarded):
    console = False   # the authorization map decides, per destination

    def __init__(self, security: Security, config: Config, api: MessageApi, clock: Any) -> None:
        super().__init__(security, config)
        self.api = api
        self.clock = clock

    @defer.inlineCallbacks
    def answer(self, request: server.Request, identity: Any) -> Any:
        params = _params(request)
        path = [unquote(p.decode("utf-8", "replace")) for p in request.postpath]
        target = destination(path, params)
        if request.method == b"POST":
            if params.get("action") == "unsubscribe":
                return b""
            content = request.content.read(MAX_BODY + 1)
            if len(content) > MAX_BODY:
                raise MessageApiError(413, "Message too large")
            text = posted_text(params, request.getHeader(b"content-type"), content)
            now = int(self.clock.seconds() * 1000)
            message_id = yield self.api.send(identity, target, build_message(params, text, "", now))
            request.setHeader(b"messageID", message_id.encode())
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"Message sent"
        if request.method not in (b"GET", b"DELETE"):
            raise MessageApiError(405, "Method not allowed")
        found = yield self.api.receive(identity, target, params)
        request.setHeader(b"cache-control", b"no-cache, no-store, must-revalidate")
        request.setHeader(b"pragma", b"no-cache")
        request.setHeader(b"expires", b"Thu, 01 Jan 1970 00:00:00 GMT")
        if found is None:
            request.setResponseCode(204)
            return None
        request.setHeader(b"content-type", found.content_type.encode())
        for name, value in found.headers.items():
            request.setHeader(name.encode("utf-8"), value.encode("utf-8"))
        return found.body


def build_site(broker: Broker, config: Config, reactor: Any, security: Security,
               connections: Callable[[], dict[str, int]]) -> server.Site:
    """The door's factory: a twisted.web site of its own."""
    started = reactor.seconds()
    version = config.stomp_server.rpartition("/")[2] or config.stomp_server

    def beans() -> dict[jolokia.ObjectName, dict[str, Any]]:
        return jolokia.mbeans(broker.stats(), config.broker_name, version,
                              int((reactor.seconds() - started) * 1000), sum(connections().values()))

    root = resource.Resource()
    api = resource.Resource()
    root.putChild(b"metrics", Metrics(security, config,
                                      BrokerCollector(broker.stats, security.login_failures, connections)))
    root.putChild(b"api", api)
    api.putChild(b"jolokia", Jolokia(security, config, jolokia.Agent(beans, reactor.seconds)))
    api.putChild(b"message", Messages(security, config, MessageApi(broker, security), reactor))
    site = server.Site(root)
    site.displayTracebacks = False
    site.noisy = False
    return site
