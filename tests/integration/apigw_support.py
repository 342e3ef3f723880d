"""Helpers for the API Gateway integration tests: boto3's ``apigateway`` client, a real HTTP
client for invoking stages, a local HTTP backend and a stand-in Lambda Invoke server.

The backend and the Lambda stand-in are threaded ``http.server`` servers on 127.0.0.1
ephemeral ports started by the tests; they record what reached them so tests can count
backend calls (cache hits do not reach them).
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

import boto3
from botocore.config import Config

REGION = "us-east-1"


def apigw_client(url: str) -> Any:
    return boto3.client("apigateway", endpoint_url=url, region_name=REGION, aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                                      connect_timeout=5, read_timeout=30))


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(method: str, url: str, body: bytes | str | None = None, headers: dict[str, str] | None = None,
         timeout: float = 30.0) -> Reply:
    """One HTTP request with urllib (a real HTTP client); any status is returned, not raised."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def stage_url(aws_url: str, api_id: str, stage: str, path: str = "/") -> str:
    return f"{aws_url}/restapis/{api_id}/{stage}/_user_request_{path}"


class _Quiet(ThreadingHTTPServer):
    """Clients hanging up (the gateway abandoning a timed-out call) are not errors here."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = _Quiet(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _BackendHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        owner: Backend = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        record = {"method": self.command, "path": parts.path, "query": dict(parse_qsl(parts.query)),
                  "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body.decode("utf-8", "replace")}
        owner.record(record)
        document = owner.documents.get(parts.path)
        if document is not None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)
            return
        if parts.path.startswith("/reset"):
            self.close_connection = True
            self.connection.shutdown(2)  # a backend dying mid-request: no answer at all
            return
        if parts.path.startswith("/big/"):
            self._big(int(parts.path.rsplit("/", 1)[1]), chunked="chunked" in parts.query)
            return
        status = 200
        if parts.path.startswith("/slow"):
            time.sleep(2.0)
        if "/status/" in parts.path:
            status = int(parts.path.rsplit("/", 1)[1])
        payload = json.dumps(record).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend", "yes")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _big(self, size: int, chunked: bool) -> None:
        """``size`` bytes of a repeating pattern, with a length or chunked in 64 KiB pieces."""
        data = bytes(i % 251 for i in range(size))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, size, 65536):
                piece = data[start:start + 65536]
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


class Backend(_Server):
    """Echoes each request as JSON; ``/slow...`` answers after 2 s, ``.../status/NNN`` with NNN,
    ``/big/N`` with N bytes (``?chunked`` for a chunked body of unknown length); ``/reset`` hangs up."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.documents: dict[str, bytes] = {}
        """Fixed answers by path (e.g. a JWKS document)."""
        self._lock = threading.Lock()
        super().__init__(_BackendHandler)

    def record(self, request: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(request)

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r["path"] == path)


class _LambdaHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        owner: LambdaStandIn = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        event = json.loads(self.rfile.read(length) or b"{}")
        parts = self.path.split("/")
        name = parts[3] if len(parts) > 4 and parts[1] == "2015-03-31" else ""
        function = owner.functions.get(name)
        headers = {"Content-Type": "application/json"}
        if function is None:
            status, payload = 404, {"Type": "User", "message": f"Function not found: {name}"}
        elif self.headers.get("X-Amz-Invocation-Type") == "Event":  # asynchronous: queued, no result
            owner.record(name, event)
            status, payload = 202, b""
        else:
            owner.record(name, event)
            status = 200
            try:
                payload = function(event)
            except Exception as error:  # the function failed: Lambda's error answer
                payload = {"errorMessage": str(error), "errorType": type(error).__name__}
                headers["X-Amz-Function-Error"] = "Unhandled"
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@dataclass
class LambdaStandIn(_Server):
    """The Lambda Invoke API for Python callables: ``functions[name] = fn(event) -> result``."""

    functions: dict[str, Callable[[dict[str, Any]], Any]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        _Server.__init__(self, _LambdaHandler)

    def record(self, name: str, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.setdefault(name, []).append(event)

    def calls(self, name: str) -> int:
        with self._lock:
            return len(self.events.get(name, []))


def lambda_uri(function: str) -> str:
    arn = f"arn:aws:lambda:{REGION}:000000000000:function:{function}"
    return f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations"


def build_api(client: Any, name: str, paths: dict[str, dict[str, dict[str, Any]]],
              stage: str = "test") -> dict[str, str]:
    """A REST API built call by call, the way Terraform does it: resources, methods,
    integrations and responses, then a deployment to ``stage``.

    ``paths``: ``{"/pets/{id}": {"GET": {"integration": {...PutIntegration args...},
    "method": {...PutMethod args...}, "responses": {"200": {...integration response...}}}}}``.
    Returns the ids (api id under ``"api"``, resource ids by path).
    """
    api = client.create_rest_api(name=name)
    ids = {"api": api["id"], "/": api["rootResourceId"]}
    for path in sorted(paths):
        parent = "/"
        for part in [p for p in path.split("/") if p]:
            current = parent.rstrip("/") + "/" + part
            if current not in ids:
                ids[current] = client.create_resource(restApiId=api["id"], parentId=ids[parent],
                                                      pathPart=part)["id"]
            parent = current
        for http_method, spec in paths[path].items():
            resource_id = ids[path]
            client.put_method(restApiId=api["id"], resourceId=resource_id, httpMethod=http_method,
                              **{"authorizationType": "NONE", **spec.get("method", {})})
            client.put_integration(restApiId=api["id"], resourceId=resource_id, httpMethod=http_method,
                                   **spec["integration"])
            for status, response in spec.get("responses", {}).items():
                client.put_method_response(restApiId=api["id"], resourceId=resource_id, httpMethod=http_method,
                                           statusCode=status)
                client.put_integration_response(restApiId=api["id"], resourceId=resource_id,
                                                httpMethod=http_method, statusCode=status, **response)
    client.create_deployment(restApiId=api["id"], stageName=stage)
    return ids


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


