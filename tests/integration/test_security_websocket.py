"""STOMP over WebSocket: the same STOMP door behind ActiveMQ's ws transport, tested with
a real WebSocket client (the `websockets` package) and with stomp.js under node."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from websockets.sync.client import connect as ws_connect

from tests.conftest import ROOT, BrokerProcess, unique
from tests.integration.security_support import USERS, config_text, module_broker
from tests.integration.stomp_client import build

STOMPJS_DIR = ROOT / "tests" / "js"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def secure(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    yield from module_broker(request, tmp_path_factory, config_text())


def ws_url(broker: BrokerProcess) -> str:
    return f"ws://127.0.0.1:{broker.ports['ws']}/"


def frames(ws, n: int) -> list[tuple[str, dict[str, str], str]]:
    """The next `n` STOMP frames (heart-beat EOLs skipped)."""
    out = []
    while len(out) < n:
        raw = ws.recv(timeout=10)
        text = raw.decode() if isinstance(raw, bytes) else raw
        for chunk in filter(lambda c: c.strip("\n"), text.split("\0")):
            head, _, body = chunk.lstrip("\n").partition("\n\n")
            command, *lines = head.split("\n")
            headers = dict(line.split(":", 1) for line in lines)
            out.append((command, {k: v.replace("\\c", ":") for k, v in headers.items()}, body))
    return out


@pytest.mark.parametrize("subprotocol", ["v12.stomp", "v11.stomp", "v10.stomp"])
def test_websocket_stomp_negotiates_and_delivers(secure, subprotocol):
    q = f"/queue/open.{unique('ws')}"
    with ws_connect(ws_url(secure), subprotocols=[subprotocol], open_timeout=10) as ws:
        assert ws.subprotocol == subprotocol
        ws.send(build("CONNECT", {"accept-version": "1.0,1.1,1.2", "host": "localhost",
                                  "login": "reader", "passcode": USERS["reader"][0]}).decode())
        (command, headers, _), = frames(ws, 1)
        assert command == "CONNECTED" and headers["server"].startswith("ActiveMQ/")
        ws.send(build("SUBSCRIBE", {"destination": q, "id": "s", "receipt": "sub"}).decode())
        assert frames(ws, 1)[0][0] == "RECEIPT"
        ws.send(build("SEND", {"destination": q, "receipt": "sent"}, "über websocket").decode())
        got = frames(ws, 2)
        assert sorted(f[0] for f in got) == ["MESSAGE", "RECEIPT"]
        assert next(f for f in got if f[0] == "MESSAGE")[2] == "über websocket"


def test_websocket_logins_and_rights_are_the_same(secure):
    with ws_connect(ws_url(secure), subprotocols=["v12.stomp"], open_timeout=10) as ws:
        ws.send(build("CONNECT", {"accept-version": "1.2", "host": "x", "login": "reader", "passcode": "bad"}).decode())
        (command, headers, _), = frames(ws, 1)
        assert command == "ERROR" and headers["message"] == "User name [reader] or password is invalid."
    with ws_connect(ws_url(secure), subprotocols=["v12.stomp"], open_timeout=10) as ws:
        ws.send(build("CONNECT", {"accept-version": "1.2", "host": "x", "login": "reader",
                                  "passcode": USERS["reader"][0]}).decode())
        assert frames(ws, 1)[0][0] == "CONNECTED"
        ws.send(build("SEND", {"destination": "/queue/vault", "receipt": "r"}, "x").decode())
        (command, headers, _), = frames(ws, 1)
        assert command == "ERROR" and headers["message"] == "User reader is not authorized to write to: queue://vault"
        assert headers["receipt-id"] == "r"


def _node_ready() -> str | None:
    """Why stomp.js cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (STOMPJS_DIR / "node_modules" / "@stomp" / "stompjs").exists():
        return f"@stomp/stompjs is not installed (npm ci --prefix {STOMPJS_DIR.relative_to(ROOT)})"
    return None


def test_stompjs_under_node(secure):
    reason = _node_ready()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires stomp.js: {reason}")
        pytest.skip(reason)
    q = f"/queue/open.{unique('js')}"
    result = subprocess.run(["node", str(STOMPJS_DIR / "roundtrip.mjs"), ws_url(secure), q, "reader",
                             USERS["reader"][0]], capture_output=True, text=True, timeout=60, cwd=STOMPJS_DIR)
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads(result.stdout)
    assert report == {"connected": True, "body": "hello from stomp.js", "denied": "User reader is not authorized to write to: queue://vault"}


def test_websocket_and_tcp_stomp_are_one_broker_wide_door(secure):
    """Client ids and connection ids are unique across TCP and WebSocket connections."""
    from tests.integration.stomp_client import RawStomp
    client_id = unique("cid")
    with RawStomp(secure.stomp_port) as tcp:
        session = tcp.connect("1.2", login="reader", passcode=USERS["reader"][0]).headers["session"]
        with ws_connect(ws_url(secure), subprotocols=["v12.stomp"], open_timeout=10) as ws:
            ws.send(build("CONNECT", {"accept-version": "1.2", "host": "x", "login": "reader",
                                      "passcode": USERS["reader"][0]}).decode())
            (command, headers, _), = frames(ws, 1)
            assert command == "CONNECTED" and headers["session"] != session
        tcp.send("DISCONNECT", {})
    with RawStomp(secure.stomp_port) as tcp:
        tcp.connect("1.2", login="reader", passcode=USERS["reader"][0], **{"client-id": client_id})
        with ws_connect(ws_url(secure), subprotocols=["v12.stomp"], open_timeout=10) as ws:
            ws.send(build("CONNECT", {"accept-version": "1.2", "host": "x", "login": "reader",
                                      "passcode": USERS["reader"][0], "client-id": client_id}).decode())
            (command, headers, _), = frames(ws, 1)
            assert command == "ERROR" and "InvalidClientIDException" in headers["message"]


def test_binary_bodies_travel_as_binary_messages(secure):
    q = f"/queue/open.{unique('bin')}"
    body = b"\xff\x00\xfe binary"
    with ws_connect(ws_url(secure), subprotocols=["v12.stomp"], open_timeout=10) as ws:
        ws.send(build("CONNECT", {"accept-version": "1.2", "host": "x", "login": "reader",
                                  "passcode": USERS["reader"][0]}))         # a binary message in
        assert frames(ws, 1)[0][0] == "CONNECTED"
        ws.send(build("SUBSCRIBE", {"destination": q, "id": "s", "receipt": "sub"}).decode())
        assert frames(ws, 1)[0][0] == "RECEIPT"
        ws.send(build("SEND", {"destination": q, "content-length": str(len(body))}, body))
        raw = ws.recv(timeout=10)
        assert isinstance(raw, bytes) and raw.startswith(b"MESSAGE\n")   # not valid UTF-8: binary
        assert raw.rstrip(b"\n").endswith(body + b"\0")
