"""A raw OpenWire client: a socket speaking the frames the ActiveMQ client sends, so tests
can check exactly what the broker answers (negotiation, logins, refusals)."""
from __future__ import annotations

import socket
import time

from broker.protocols.openwire import primitives as p
from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import FrameParser, Struct, encode
from broker.protocols.openwire.convert import text_content
from tests.conftest import unique


class RawClient:
    def __init__(self, port: int, inactivity_ms: int = 0, version: int = 12) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.version = version
        self.parser = FrameParser()
        self.pending: list[Struct | None] = []
        self.conn = unique("ID:raw") + ":1"
        self.next_id = 0
        options = {"TightEncodingEnabled": (p.BOOLEAN, True), "CacheEnabled": (p.BOOLEAN, True),
                   "MaxInactivityDuration": (p.LONG, inactivity_ms)}
        self.sock.sendall(encode(Struct(s.WIRE_FORMAT_INFO, magic=None, version=version,
                                        marshalled_properties=p.encode_map(options))))

    def write(self, command: Struct) -> None:
        self.sock.sendall(encode(command, self.version))

    def command(self, type_code: int, rr: bool = True, **fields: object) -> int:
        self.next_id += 1
        self.write(Struct(type_code, command_id=self.next_id, response_required=rr, **fields))
        return self.next_id

    def read(self, timeout: float = 5.0) -> Struct | None:
        deadline = time.monotonic() + timeout
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame")
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the broker")
            self.pending.extend(self.parser.feed(data))
        return self.pending.pop(0)

    def read_until(self, type_code: int, timeout: float = 5.0) -> Struct:
        deadline = time.monotonic() + timeout
        while True:
            frame = self.read(max(0.01, deadline - time.monotonic()))
            if frame is not None and frame.type == type_code:
                return frame

    def connection_info(self, client_id: str | None = None, user: str | None = None,
                        password: str | None = None) -> Struct:
        """Negotiate and send a ConnectionInfo; its answer (Response or ExceptionResponse)."""
        assert self.read().type == s.WIRE_FORMAT_INFO
        self.parser.version = self.version   # the lower of both sides' versions
        cid = self.command(s.CONNECTION_INFO, connection_id=Struct(s.CONNECTION_ID, value=self.conn),
                           client_id=client_id, user_name=user, password=password)
        while True:
            answer = self.read()
            if answer is not None and answer.type in (s.RESPONSE, s.EXCEPTION_RESPONSE):
                assert answer.correlation_id == cid
                return answer

    def open(self, client_id: str | None = None, user: str | None = None, password: str | None = None) -> None:
        assert self.connection_info(client_id, user, password).type == s.RESPONSE
        self.command(s.SESSION_INFO, rr=False, session_id=Struct(s.SESSION_ID, connection_id=self.conn, value=1))

    def consumer(self, queue: str, prefetch: int = 10) -> Struct:
        consumer_id = Struct(s.CONSUMER_ID, connection_id=self.conn, session_id=1, value=1)
        self.command(s.CONSUMER_INFO, consumer_id=consumer_id, destination=Struct(s.QUEUE, physical_name=queue),
                     prefetch_size=prefetch)
        return consumer_id

    def send_text(self, queue: str, text: str, seq: int, rr: bool = True) -> int:
        """A persistent TextMessage; `rr` False: an async send, answered by nothing."""
        return self.send_text_to(Struct(s.QUEUE, physical_name=queue), text, seq, rr)

    def send_text_to(self, destination: Struct, text: str, seq: int, rr: bool = True) -> int:
        producer = Struct(s.PRODUCER_ID, connection_id=self.conn, value=1, session_id=1)
        return self.command(s.TEXT_MESSAGE, rr, producer_id=producer, destination=destination,
                            message_id=Struct(s.MESSAGE_ID, producer_id=producer, producer_sequence_id=seq,
                                              broker_sequence_id=0),
                            persistent=True, priority=4, content=text_content(text))

    def close(self) -> None:
        self.sock.close()
