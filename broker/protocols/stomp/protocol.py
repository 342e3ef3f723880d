"""One STOMP connection: negotiation, heart-beats, and the client frames as engine calls.

Behaviour follows the STOMP 1.2 spec and, where the spec leaves room, what ActiveMQ 5.17
does (docs/activemq-compatibility.md): which errors close the connection, header rules, ack
forms per version, receipts only after the commit that makes a message durable.
"""
from __future__ import annotations

import logging
import traceback
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from twisted.internet import defer
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
from zope.interface import implementer

from broker.auth.authorization import NotAuthorized
from broker.auth.identity import Identity
from broker.engine.broker import DestinationError
from broker.engine.consumer import Lease
from broker.engine.limits import ADMITTED, Refusal, Refused
from broker.engine.message import Message
from broker.engine.queue import Queue
from broker.engine.selector import InvalidSelector, parse as parse_selector
from broker.protocols.activemq import advisories
from broker.protocols.activemq import destinations as dest
from broker.protocols.activemq.client_ids import already_connected
from broker.protocols.activemq.commit_watch import CommitWatch
from broker.protocols.activemq.consumers import browse
from broker.protocols.activemq.flow_control import RESOURCE_ALLOCATION, refusal_text
from broker.protocols.activemq.gathered_writes import GatheredWrites
from broker.protocols.activemq.inactivity import InactivityMonitor
from broker.protocols.activemq.output import CommitOrderedOutput
from broker.protocols.activemq.scheduling import BadHeader, route, scheduled_copies
from broker.protocols.activemq.transactions import Transaction, TransactionError, Transactions
from broker.protocols.stomp import access, scheduler
from broker.protocols.stomp.codec import FrameParser, encode, receipt as receipt_frame
from broker.protocols.stomp.convert import message_from_send
from broker.protocols.stomp.frame import Frame, FrameError
from broker.protocols.stomp.subscription import ACK_MODES, AUTO, CLIENT, StompSubscription

if TYPE_CHECKING:
    from broker.protocols.stomp.factory import StompFactory

log = logging.getLogger("mqgate.stomp")

SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2")
# A client is dropped after this many times its announced heart-beat interval of silence.
# ActiveMQ checks a flag once per interval, so it drops a client somewhere between 1x and 2x;
# a fixed 1.5x never drops a client that beats on time but a little late.
HEARTBEAT_GRACE = 1.5


class StompError(Exception):
    """A frame the broker refuses; `fatal` ones close the connection after the ERROR."""

    def __init__(self, message: str, detail: str | None = None, fatal: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or message
        self.fatal = fatal


@implementer(IPushProducer)
class StompProtocol(Protocol):
    def __init__(self, factory: "StompFactory", number: int) -> None:
        self.factory = factory
        self.broker = factory.broker
        self.number = number
        self.connection_id = f"{factory.id_prefix}:{number}"
        self.parser = FrameParser(factory.limits)
        self.version = "1.0"
        self.session_open = False
        self.closing = False    # no more input is handled (DISCONNECT, fatal ERROR, lost)
        self.lost = False       # the transport is gone: nothing can be written
        self.paused = False
        self.session = self.connection_id
        self.client_id: str | None = None
        self.subscriptions: dict[str, StompSubscription] = {}
        # sends: (destinations, message); acks: (subscription, leases taken, nack) in order
        self.transactions = Transactions()
        self.temp_queues: dict[str, Queue] = {}
        self.temp_topics: set[str] = set()
        self._message_count = 0
        self._consumer_count = 0     # numbers the consumer ids advisories give subscriptions
        self._receipts_waiting = 0
        # Persistent frames sent without a receipt, watched for a store that refuses them.
        self._unreceipted: CommitWatch[Frame] = CommitWatch(self._store_failed, lambda: not self.lost)
        # Producer flow control: frames that wait for a destination to have room again
        # (reading from the client is paused meanwhile); None when not waiting.
        self._held_frames: list[Frame] | None = None
        self._parsed_destinations: dict[str, tuple[dest.Destination, ...]] = {}
        self.monitor: InactivityMonitor | None = None   # heart-beats, when negotiated
        # Everything one reactor turn writes to this connection goes out in one
        # writeSequence, handed over when the factory flushes (flush_output).
        self._writes = GatheredWrites(self, partial(factory.output_pending, self))
        self.output = CommitOrderedOutput(self.broker, self._writes.write)
        self.peer = "?"
        # Security (see access.py): who logged in, and the admission bookkeeping.
        self.identity: Identity | None = None
        self.counted_user = False
        self.address: str | None = None
        self.connect_timer: Any = None
        self._held: list[bytes] | None = None   # input waiting for a login to finish

    # -- connection life cycle ---------------------------------------------------------------
    def connectionMade(self) -> None:
        peer = self.transport.getPeer()
        self.peer = f"{getattr(peer, 'host', '?')}:{getattr(peer, 'port', '?')}"
        self.transport.registerProducer(self, True)
        if hasattr(self.transport, "setTcpNoDelay"):
            self.transport.setTcpNoDelay(True)  # frames are small and latency-bound
        log.info("event=connection_opened door=stomp remote=%s connection=%s", self.peer, self.connection_id)

    def connectionLost(self, reason: Any = None) -> None:
        self.closing = self.lost = True
        if self.monitor is not None:
            self.monitor.stop()
        self.transactions.clear()
        self._drop_subscriptions()
        if self.session_open:
            advisories.connection_changed(self.broker, self.connection_id, False, self.factory.broker_name)
        for name in list(self.temp_queues):
            self.broker.delete_queue(name)
            self._announce_temp_queue(name, added=False)
        self.temp_queues.clear()
        for name in self.temp_topics:
            advisories.temp_topic_removed(self.broker, name, self.connection_id, self.factory.broker_name)
        self.temp_topics.clear()
        self.factory.connection_closed(self)
        log.info("event=connection_closed door=stomp remote=%s connection=%s", self.peer, self.connection_id)

    # IPushProducer: the transport's write buffer is full (or drained again).
    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        for sub in list(self.subscriptions.values()):
            sub.dispatch()

    def stopProducing(self) -> None:
        self.paused = True

    # -- input ------------------------------------------------------------------------------------
    def dataReceived(self, data: bytes) -> None:
        try:
            self._received(data)
        finally:
            # What this input made the broker write (replies, deliveries to every
            # connection) leaves now, in one write per connection.
            self.factory.flush_outputs()

    def _received(self, data: bytes) -> None:
        if self.monitor is not None:
            self.monitor.read()
        if self.closing:
            return
        if self._held is not None:
            self._held.append(data)
            return
        # The parser stops after a CONNECT so that what follows is decoded with the
        # negotiated version: feed it again until it has nothing more.
        while True:
            try:
                frames = self.parser.feed(data)
                error = None
            except FrameError as exc:
                frames, error = exc.frames, exc
            data = b""
            for frame in frames:
                if self.closing:
                    return
                if self._held_frames is not None:
                    self._held_frames.append(frame)
                    continue
                self._handle(frame)
            if error is not None:
                if not self.closing:
                    self.send_error(error.message, error.detail, None, fatal=True, receipt=error.receipt)
                return
            if not frames or frames[-1].command not in ("CONNECT", "STOMP") or self._held is not None:
                return

    def hold_input(self) -> None:
        """Keep input unparsed until `release_input` (the CONNECT's login is pending)."""
        self._held = []

    def release_input(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self.closing:
            self.dataReceived(b"".join(held))

    def _handle(self, frame: Frame) -> None:
        command = frame.command
        try:
            if not self.session_open and command not in ("CONNECT", "STOMP"):
                raise StompError("Not connected.")
            handler = _HANDLERS.get(command)
            if handler is None:  # the parser's allow-list makes this unreachable
                raise StompError(f"Unknown STOMP action: {command}", fatal=True)
            handler(self, frame)
        except StompError as exc:
            self.send_error(exc.message, exc.detail, frame, fatal=exc.fatal)
        except NotAuthorized as exc:
            self.send_error(*access.refusal(exc), frame, fatal=False)
        except Exception as exc:  # a bug must not take the broker down with it
            log.exception("event=frame_failed door=stomp remote=%s command=%s", self.peer, command)
            self.send_error(str(exc) or type(exc).__name__, traceback.format_exc(), frame, fatal=True)

    # -- output ---------------------------------------------------------------------------------
    def send_frame(self, frame: Frame, after_commit: bool = False) -> None:
        """Write a frame; `after_commit` holds it (and what follows) until the store has
        committed what the broker did for it (a delivery's count)."""
        self.output.write(encode(frame, self.version), after_commit)

    def send_encoded(self, data: bytes, after_commit: bool = False) -> None:
        """`send_frame` for a frame already encoded for this connection's version."""
        self.output.write(data, after_commit)

    def flush_output(self) -> None:
        """Hand this turn's output to the transport (the factory flushes)."""
        self._writes.close()

    def _close(self) -> None:
        """Close the connection once what was written to it has gone to the transport."""
        self.flush_output()
        self.transport.loseConnection()

    def send_error(self, message: str, detail: str, frame: Frame | None, fatal: bool,
                   receipt: str | None = None) -> None:
        headers = {"content-type": "text/plain", "message": message}
        if frame is not None and "receipt" in frame.headers:
            receipt = frame.headers["receipt"]
        if receipt is not None:
            headers["receipt-id"] = receipt
        body = detail.encode("utf-8")
        headers["content-length"] = str(len(body))
        log.warning("event=stomp_error remote=%s connection=%s fatal=%s message=%r",
                    self.peer, self.connection_id, fatal, message)
        self.send_frame(Frame("ERROR", headers, body))
        if fatal:
            self.closing = True
            self.output.when_flushed(self._close)

    def _receipt(self, frame: Frame, durable: bool, then: Callable[[], None] | None = None) -> None:
        """RECEIPT once what the frame did is committed; receipts keep their order.

        `then` runs right after the RECEIPT is written (at once when no receipt was asked
        for), so a SUBSCRIBE's RECEIPT precedes its first MESSAGE even when it has to wait
        behind the receipt of a persistent SEND."""
        receipt = frame.headers.get("receipt")
        if receipt is None or (not durable and not self._receipts_waiting):
            if receipt is not None:
                self.send_encoded(receipt_frame(receipt, self.version))
            elif durable and frame.command not in ("ACK", "NACK"):
                self._unreceipted.watch(self.broker, frame)
            if then is not None:
                then()
            return
        self._receipts_waiting += 1

        def sent(_: Any) -> None:
            # Still answered after a DISCONNECT: its own RECEIPT comes after this one.
            self._receipts_waiting -= 1
            if not self.lost:
                self.send_encoded(receipt_frame(receipt, self.version))
                if then is not None and not self.closing:
                    then()

        def failed(failure: Any) -> None:
            self._receipts_waiting -= 1
            if not self.lost:
                self._store_failed(failure, frame)
        # An ACK's receipt waits for its delete, which a full store still commits.
        self.broker.committed(refusable=frame.command not in ("ACK", "NACK")).addCallbacks(sent, failed)

    def _store_failed(self, failure: Any, frame: Frame) -> None:
        if failure.check(Refused):
            # The store filled up before the message was written: ActiveMQ's words.
            text = self._refused_send(failure.value.refusal, frame)
            self.send_error(text, f"{RESOURCE_ALLOCATION}: {text}", frame, fatal=False)
        else:
            self.send_error("Could not store the message", failure.getErrorMessage(), frame, fatal=False)

    # -- CONNECT ----------------------------------------------------------------------------------
    def on_connect(self, frame: Frame) -> None:
        if self.session_open:
            raise StompError("Already connected.")
        h = frame.headers
        accepted = [v.strip() for v in h.get("accept-version", "1.0").split(",")]
        common = [v for v in SUPPORTED_VERSIONS if v in accepted]
        if not common:
            supported = ",".join(SUPPORTED_VERSIONS)
            # ActiveMQ's words (StompCodec), with the `version` header STOMP 1.2 asks for.
            text = (f"Invalid Protocol version[{h.get('accept-version', '1.0')}], supported versions are: "
                    f"[{', '.join(reversed(SUPPORTED_VERSIONS))}]")
            body = text.encode()
            self.send_frame(Frame("ERROR", {"version": supported, "content-type": "text/plain",
                                            "message": text,
                                            **({"receipt-id": h["receipt"]} if "receipt" in h else {}),
                                            "content-length": str(len(body))}, body))
            log.warning("event=stomp_error remote=%s connection=%s fatal=True message=%r",
                        self.peer, self.connection_id, "unsupported version")
            self.closing = True
            self._close()
            return
        heart_beat = h.get("heart-beat", "0,0")
        try:
            cx, cy = (int(x) for x in heart_beat.split(","))
            if cx < 0 or cy < 0:
                raise ValueError
        except ValueError:
            raise StompError(f"Invalid heart-beat header:{heart_beat}", fatal=True) from None
        access.login(self, frame, lambda: self._open_session(frame, common[-1], cx, cy))

    def _open_session(self, frame: Frame, version: str, cx: int, cy: int) -> None:
        h = frame.headers
        client_id = h.get("client-id")
        if client_id:
            if not self.factory.claim_client_id(client_id, self):
                raise StompError("javax.jms.InvalidClientIDException: "
                                 + already_connected(self.factory.broker_name, client_id), fatal=True)
            self.client_id = self.session = client_id
        self.version = self.parser.version = version
        self.session_open = True
        advisories.connection_changed(self.broker, self.connection_id, True, self.factory.broker_name,
                                      self.client_id, self.identity.name if self.identity else h.get("login"))
        reply = {"server": self.factory.server_header, "heart-beat": f"{cy},{cx}",
                 "session": self.session, "version": self.version}
        # As ActiveMQ: `request-id` (or else `receipt`) comes back as both headers.
        request_id = h.get("request-id", h.get("receipt"))
        if request_id is not None:
            reply["response-id"] = reply["receipt-id"] = request_id
        self.send_frame(Frame("CONNECTED", reply))
        self._start_heartbeats(cx, cy)

    on_stomp = on_connect

    def _start_heartbeats(self, client_sends_ms: int, client_wants_ms: int) -> None:
        if client_sends_ms <= 0 and client_wants_ms <= 0:
            return
        self.monitor = InactivityMonitor(self.factory.clock, client_sends_ms * HEARTBEAT_GRACE / 1000.0,
                                         client_wants_ms / 1000.0, self._beat, self._heartbeat_timeout,
                                         held=lambda: self._held_frames is not None)
        self.monitor.start()

    def _beat(self) -> None:
        if not self.closing:
            self.transport.write(b"\n")

    def _heartbeat_timeout(self) -> None:
        """The client sent nothing for HEARTBEAT_GRACE x `cx` ms."""
        if self.closing:
            return
        log.warning("event=heartbeat_timeout remote=%s connection=%s", self.peer, self.connection_id)
        self.closing = True
        self.transport.abortConnection()

    # -- destinations ------------------------------------------------------------------------------
    def _destinations(self, frame: Frame) -> list[dest.Destination]:
        raw = frame.headers.get("destination")
        if not raw:
            if frame.command == "SEND":
                raise StompError("SEND received without a Destination specified!")
            raise StompError("Invalid empty or 'null' Destination header")
        # A producer names the same few destinations over and over: parse each once.
        cache = self._parsed_destinations
        found = cache.get(raw)
        if found is not None:
            return list(found)
        try:
            parsed = dest.parse(raw)
        except dest.BadDestination as exc:
            raise StompError(str(exc)) from None
        if len(cache) >= 64:
            cache.clear()
        cache[raw] = tuple(parsed)
        return parsed

    def _temp_name(self, name: str) -> str:
        return dest.temp_name(self.connection_id, name)

    def _queue_for(self, d: dest.Destination, create: bool = True) -> Queue:
        if d.kind == dest.TEMP_QUEUE:
            name = self._temp_name(d.name)
            queue = self.temp_queues.get(name)
            if queue is None:
                queue = self.temp_queues[name] = self.broker.temporary_queue(name)
                self._announce_temp_queue(name, added=True)
            return queue
        if d.kind == dest.REMOTE_TEMP_QUEUE:
            queue = self.broker.queue(d.name, create=False)
            if queue is None:
                raise StompError(f"DestinationDoesNotExistException: temp-queue://{d.name}",
                                 "org.apache.activemq.DestinationDoesNotExistException: "
                                 f"temp-queue://{d.name}\n"
                                 "The temporary queue was deleted when the connection that "
                                 "created it closed.")
            return queue
        queue = self.broker.queue(d.name, create=create)
        assert queue is not None
        return queue

    def _announce_temp_queue(self, name: str, added: bool) -> None:
        """JMS clients only send to temporary queues they have seen announced."""
        advisories.announce_temp_destination(self.broker, name, False, added, self.connection_id,
                                             self.factory.broker_name)

    def _topic_name(self, d: dest.Destination) -> str:
        if d.kind != dest.TEMP_TOPIC:
            return d.name
        name = self._temp_name(d.name)
        if name not in self.temp_topics:
            # JMS clients only publish to temporary topics they have seen announced.
            self.temp_topics.add(name)
            advisories.temp_topic_added(self.broker, name, self.connection_id, self.factory.broker_name)
        return name

    def outbound_destination(self, sub: StompSubscription, queue: Queue, message: Message) -> str:
        """The `destination` of a MESSAGE: where the message was sent, as this client names it.

        Decided by the queue it comes from, not by the subscription, so a composite
        subscription mixing queues and topics names each message's own destination."""
        if queue.kind == "subscription":
            topic = message.topic
            if topic is None:
                return sub.destination
            own = self.connection_id + ":"
            if topic.startswith(own):
                return f"/temp-topic/{topic[len(own):]}"
            if topic.startswith(self.factory.id_prefix + ":"):
                return f"/remote-temp-topic/{topic}"
            return f"/topic/{topic}"
        name = queue.name
        if name in self.temp_queues:
            return f"/temp-queue/{name[len(self.connection_id) + 1:]}"
        if not queue.durable:
            return f"/remote-temp-queue/{name}"
        return f"/queue/{name}"

    def outbound_reply_to(self, reply_to: str) -> str:
        return dest.localize(reply_to, self.connection_id)

    # -- SEND ----------------------------------------------------------------------------------------
    def _next_message_id(self) -> str:
        self._message_count += 1
        return f"{self.connection_id}:-1:1:{self._message_count}"

    def on_send(self, frame: Frame) -> None:
        targets = self._destinations(frame)
        access.check_send(self, frame, targets)
        if scheduler.addressed(targets):
            scheduler.manage(self, frame)
            return
        h = frame.headers
        now = self.broker.now_ms()
        try:
            message = message_from_send(h, frame.body, self._next_message_id(), now, self)
            copies = scheduled_copies(message, h, now, self._next_message_id)
        except (BadHeader, ValueError) as exc:
            raise StompError(str(exc)) from None
        queues = self._admitted(frame, targets, message.persistent)
        if queues is None:
            return
        if "reply-to" in message.headers:
            reply_to = dest.globalize(message.headers["reply-to"], self.connection_id)
            for m in copies:
                m.headers["reply-to"] = reply_to
        tx_id = h.get("transaction")
        if tx_id is not None:
            tx = self._transaction(tx_id)
            tx.sends.extend((targets, m) for m in copies)
            self._receipt(frame, durable=False)
            return
        for m in copies:
            self._deliver_send(targets, m, queues)
        if message.persistent or "receipt" in h:   # else `_receipt` has nothing to do
            self._receipt(frame, durable=message.persistent)

    # -- producer flow control ------------------------------------------------------------------------
    def _admitted(self, frame: Frame, targets: list[dest.Destination],
                  persistent: bool) -> list[Queue | None] | None:
        """Whether every destination has room for the message now: the queue of each
        (None for a topic), resolved once for the send, or None. A full one either
        refuses (an ERROR, as ActiveMQ's sendFailIfNoSpace) or makes this client wait: its
        input is paused, and this frame and what follows are handled once there is room."""
        queues: list[Queue | None] = []
        admit = self.broker.admit
        size = len(frame.body)
        unlimited = self.broker.unlimited(size)   # no destination is asked then
        for d in targets:
            if d.is_topic:
                kind, name, queue = "topic", self._topic_name(d), None
            else:
                queue = self._queue_for(d)
                kind, name = "queue", queue.name
            queues.append(queue)
            if unlimited:
                continue
            admission = admit(kind, name, size, persistent)
            if admission is ADMITTED:
                continue
            if admission.refused is not None:
                text = self._refusal(admission.refused, kind, d.name)
                raise StompError(text, f"{RESOURCE_ALLOCATION}: {text}")
            if admission.wait is not None:
                self._held_frames = [frame]
                self.transport.pauseProducing()
                admission.wait.addCallback(lambda _: self._resume_input())
                return None
        return queues

    def _refusal(self, refusal: Refusal, kind: str, name: str) -> str:
        return refusal_text(refusal, kind, name, f"ID:{self.connection_id}:-1:1")

    def _refused_send(self, refusal: Refusal, frame: Frame) -> str:
        """ActiveMQ's words for the frame's send, refused when the store was found full."""
        if not frame.headers.get("destination"):
            return self._refusal(refusal, "queue", "")
        d = self._destinations(frame)[0]
        if d.is_topic:
            return self._refusal(refusal, "topic", d.name)
        return self._refusal(refusal, "queue", self._queue_for(d).name)

    def _resume_input(self) -> None:
        frames, self._held_frames = self._held_frames or [], None
        for i, frame in enumerate(frames):
            if self.closing:
                return
            self._handle(frame)
            if self._held_frames is not None:     # waits again: keep the rest behind it
                self._held_frames.extend(frames[i + 1:])
                return
        if not self.closing:
            self.transport.resumeProducing()

    def _deliver_send(self, targets: list[dest.Destination], message: Message,
                      queues: list[Queue | None] | None = None) -> None:
        """Route the message to each destination; `queues`: each target's queue as the
        send's admission resolved it (else resolved here)."""
        broker, clock = self.broker, self.factory.clock
        if len(targets) == 1:
            # The common send: one destination (a queue the admission found), no copy.
            queue = queues[0] if queues else None
            if queue is not None:
                route(broker, clock, None, queue, message)
                return
            d = targets[0]
            if d.is_topic:
                route(broker, clock, self._topic_name(d), None, message)
            else:
                route(broker, clock, None, self._queue_for(d), message)
            return
        broker.share_content(message)
        last = len(targets) - 1
        for i, d in enumerate(targets):
            m = message if i == last else message.copy()
            if d.is_topic:
                route(broker, clock, self._topic_name(d), None, m)
            else:
                route(broker, clock, None, queues[i] if queues else self._queue_for(d), m)

    # -- SUBSCRIBE / UNSUBSCRIBE ---------------------------------------------------------------
    def on_subscribe(self, frame: Frame) -> None:
        h = frame.headers
        sub_id = h.get("id")
        if sub_id is None and self.version != "1.0":
            raise StompError("SUBSCRIBE received without a subscription id!")
        targets = self._destinations(frame)
        key = sub_id if sub_id is not None else "dest:" + h["destination"]
        if key in self.subscriptions:
            # ActiveMQ 5.17 makes a second consumer that UNSUBSCRIBE can no longer reach;
            # refused here, in the words of ActiveMQ's other brokers (Artemis).
            raise StompError(f"There already is a subscription for: {sub_id or h['destination']}. Either use "
                             "unique subscription IDs or do not create multiple subscriptions for the same destination")
        ack_mode = h.get("ack", AUTO)
        if ack_mode not in ACK_MODES:
            ack_mode = AUTO  # ActiveMQ 5.17 reads any other value (`Client`, `bogus`) as auto
        selector = None
        if h.get("selector"):
            try:
                selector = parse_selector(h["selector"])
            except InvalidSelector as exc:
                # ActiveMQ's message is the selector itself; the body says what is wrong.
                raise StompError(h["selector"], f"javax.jms.InvalidSelectorException: {exc}") from None
        try:
            prefetch = int(h.get("activemq.prefetchSize") or self.factory.prefetch)
            priority = int(h.get("activemq.priority") or 0)
        except ValueError as exc:
            raise StompError(str(exc)) from None
        browser = h.get("browser") == "true"
        if browser and self.version == "1.0":
            raise StompError("Queue Browser feature only valid for Stomp v1.1+ clients!")
        durable_name = h.get("activemq.subscriptionName") or h.get("durable-subscription-name")
        if durable_name:
            if any(not d.is_topic for d in targets):
                raise StompError("Invalid Subscription: cannot durably subscribe to a Queue destination!")
            if not self.client_id:
                raise StompError("Durable subscribers must set a client-id on CONNECT")
        access.check_subscribe(self, targets)
        # Resolve every destination before answering: a failure is an ERROR, not a RECEIPT.
        queues = {d: self._queue_for(d) for d in targets
                  if not d.is_topic and not dest.is_wildcard_queue(d)}
        if browser:
            self._receipt(frame, durable=False,
                          then=lambda: self._browse(sub_id, targets, queues, selector).addErrback(
                              lambda f: log.error("event=browse_failed error=%s", f.getErrorMessage())))
            return
        sub = StompSubscription(self, sub_id, h["destination"], ack_mode, prefetch, selector,
                                durable=bool(durable_name), is_topic=targets[0].is_topic,
                                priority=priority, exclusive=h.get("activemq.exclusive") == "true")
        no_local = h.get("activemq.noLocal") == "true"
        self.subscriptions[key] = sub

        def attach() -> None:
            if self.closing or self.subscriptions.get(key) is not sub:
                return  # unsubscribed or disconnected before its turn came
            if all(d.is_topic for d in targets):
                sub.selector = None  # the topic applies it at publish time
            try:
                for d in targets:
                    if not d.is_topic:
                        if d in queues:
                            sub.attach(queues[d])
                        else:
                            sub.attach_wildcard(self.broker, d.name)
                    elif durable_name:
                        assert self.client_id is not None
                        sub.durable_name = durable_name
                        sub.attach(self.broker.durable_subscription(self.client_id, durable_name, d.name,
                                                                    selector, no_local, self))
                    else:
                        topic = self._topic_name(d)
                        tsub = sub.subscribe(self.broker, topic, selector, no_local, self)
                        if topic.startswith(advisories.ADVISORY_PREFIX):
                            advisories.replay(self.broker, topic, tsub.queue, self.factory.broker_name)
            except DestinationError as exc:
                self.subscriptions.pop(key, None)
                self._drop_subscription(sub)
                self.send_error(str(exc), str(exc), None, fatal=False)
                return
            self._consumer_count += 1
            sub.advisory_id = f"{self.connection_id}:-1:{self._consumer_count}"
            sub.advised = [(advisories.kind_of(d), self._topic_name(d) if d.is_topic
                            else queues[d].name if d in queues else d.name) for d in targets]
            self._consumer_advisories(sub, True)
        self._receipt(frame, durable=False, then=attach)

    @defer.inlineCallbacks
    def _browse(self, sub_id: str | None, targets: list[dest.Destination],
                queues: dict[dest.Destination, Queue], selector: Any) -> Any:
        """Send what the queues hold now, a page at a time, then the `browser:end`
        MESSAGE; nothing is consumed."""
        for d in targets:
            queue = queues.get(d)
            if queue is None:
                continue
            sub = StompSubscription(self, sub_id, d.stomp(), AUTO, 1, None)
            yield browse(queue, selector, self.broker.now_ms,
                         lambda message, sub=sub, queue=queue: sub.deliver(queue, message, None),
                         lambda: self.closing)
        if self.closing:
            return
        end = {"subscription": sub_id or "", "message-id": "0", "browser": "end",
               "destination": targets[0].stomp()}
        self.send_frame(Frame("MESSAGE", end, b""))

    def on_unsubscribe(self, frame: Frame) -> None:
        h = frame.headers
        durable_name = h.get("activemq.subscriptionName") or h.get("durable-subscription-name")
        key = h.get("id")
        if key is None:
            if "destination" in h and (self.version == "1.0" or durable_name):
                key = "dest:" + h["destination"]
            elif durable_name:
                pass  # destroying an offline durable subscription needs no id
            elif self.version != "1.0":
                raise StompError("UNSUBSCRIBE received without a subscription id!")
            else:
                raise StompError("Must specify the subscriptionId or the destination you are unsubscribing from")
        sub = self.subscriptions.pop(key, None) if key is not None else None
        if sub is None and not durable_name:
            raise StompError("No subscription matched.")
        if sub is not None:
            self._drop_subscription(sub)
        if durable_name and self.client_id:
            try:
                self.broker.drop_durable(self.client_id, durable_name)
            except DestinationError as exc:
                raise StompError(str(exc)) from None
        self._receipt(frame, durable=False)

    def _consumer_advisories(self, sub: StompSubscription, added: bool) -> None:
        for kind, name in sub.advised:
            advisories.consumer_changed(self.broker, kind, name, sub.advisory_id, added, self.connection_id,
                                        self.factory.broker_name, sub.selector.text if sub.selector else None,
                                        sub.prefetch)

    def _drop_subscription(self, sub: StompSubscription) -> None:
        self._consumer_advisories(sub, False)
        sub.advised = []
        sub.detach(self.broker)
        sub.pending.clear()

    # -- ACK / NACK -------------------------------------------------------------------------------
    def _find_ack(self, frame: Frame) -> tuple[StompSubscription, str]:
        h = frame.headers
        command = frame.command
        if self.version == "1.2":
            key = h.get("id")
            if key is None:
                raise StompError("ACK received without a ack id for acknowledge!" if command == "ACK"
                                 else "NACK received without an ack header to acknowledge!")
            candidates = self.subscriptions.values()
            shown = h.get("message-id", "null")
        else:
            key = h.get("message-id")
            sub_id = h.get("subscription")
            if command == "NACK" and sub_id is None:
                raise StompError("NACK received without a subscription id for acknowledge!")
            if key is None:
                raise StompError(f"{command} received without a message-id to acknowledge!")
            if sub_id is None and self.version == "1.1":
                raise StompError("ACK received without a subscription id for acknowledge!")
            if sub_id is not None:
                found = self.subscriptions.get(sub_id)
                candidates = [found] if found is not None else []
            else:
                candidates = self.subscriptions.values()
            shown = key
        for sub in candidates:
            if key in sub.pending:
                return sub, key
        raise StompError(f"Unexpected {command} received for message-id [{shown}]")

    def on_ack(self, frame: Frame) -> None:
        self._settle(frame, nack=False)

    def on_nack(self, frame: Frame) -> None:
        if self.version == "1.0":
            raise StompError("NACK received but connection is in v1.0 mode.")
        self._settle(frame, nack=True)

    def _settle(self, frame: Frame, nack: bool) -> None:
        sub, key = self._find_ack(frame)
        tx_id = frame.headers.get("transaction")
        tx = self._transaction(tx_id) if tx_id is not None else None
        leases = sub.take(key, cumulative=sub.ack_mode == CLIENT and not nack)
        if tx is not None:
            tx.acks.append((sub, leases, nack))
            self._receipt(frame, durable=False)
            return
        durable = self._apply_settle(leases, nack)
        self._receipt(frame, durable=durable)

    def _apply_settle(self, leases: list[Lease], nack: bool) -> bool:
        durable = False
        for lease in leases:
            durable = durable or lease.message.persistent
            queue = lease.queue
            if not nack:
                queue.ack(lease)
            elif queue.settings.max_deliveries:
                queue.release(lease)
            else:
                self.factory.redelivery.give_up(lease, "Delivery poisoned by the client (NACK)")
        return durable

    # -- transactions ----------------------------------------------------------------------------------
    def _transaction(self, tx_id: str) -> Transaction:
        try:
            return self.transactions.get(tx_id)
        except TransactionError as exc:
            raise StompError(str(exc)) from None

    @staticmethod
    def _tx_id(frame: Frame, doing: str) -> str:
        tx_id = frame.headers.get("transaction")
        if tx_id is None:
            raise StompError(f"Must specify the transaction you are {doing}")
        return tx_id

    def on_begin(self, frame: Frame) -> None:
        try:
            self.transactions.begin(self._tx_id(frame, "beginning"))
        except TransactionError as exc:
            raise StompError(str(exc)) from None
        self._receipt(frame, durable=False)

    def _end_transaction(self, frame: Frame) -> Transaction:
        tx_id = self._tx_id(frame, "committing")   # ActiveMQ's wording for ABORT too
        tx = self._transaction(tx_id)
        self.transactions.end(tx_id)
        return tx

    def on_commit(self, frame: Frame) -> None:
        tx = self._end_transaction(frame)
        if tx.rollback_only is not None:
            self._roll_back(tx)
            raise StompError(access.COMMIT_FAILED, tx.rollback_only)
        durable = False
        for targets, message in tx.sends:
            self._deliver_send(targets, message)
            durable = durable or message.persistent
        for _, leases, nack in tx.acks:
            durable = self._apply_settle(leases, nack) or durable
        self._receipt(frame, durable=durable)

    def on_abort(self, frame: Frame) -> None:
        tx = self._end_transaction(frame)
        self._roll_back(tx)
        self._receipt(frame, durable=False)

    def _roll_back(self, tx: Transaction) -> None:
        # The acked messages stay with their subscriptions: their ack ids work again, in
        # their delivery order (a later cumulative ACK must cover the same messages).
        touched = []
        for sub, leases, _ in tx.acks:
            for lease in leases:
                if lease.queue.is_current(lease):
                    sub.pending[key_of(lease, self.version)] = lease
                    touched.append(sub)
        for sub in set(touched):
            sub.reorder()

    # -- DISCONNECT ----------------------------------------------------------------------------------
    def _drop_subscriptions(self) -> None:
        for sub in list(self.subscriptions.values()):
            self._drop_subscription(sub)
        self.subscriptions.clear()

    def on_disconnect(self, frame: Frame) -> None:
        receipt = frame.headers.get("receipt")
        self.closing = True
        # As ActiveMQ, the session's consumers go before the RECEIPT: nothing sent after it
        # reaches this connection (an automatic ack would lose it), and what it held
        # unacknowledged is back in its queue by then.
        self._drop_subscriptions()

        def close(_: Any = None) -> None:
            if self.lost:
                return
            if receipt is not None:
                self.send_encoded(receipt_frame(receipt, self.version))
            self.output.when_flushed(self._close)
        if receipt is None:
            close()
        else:
            self.broker.committed().addBoth(close)


def key_of(lease: Lease, version: str) -> str:
    return str(lease.token) if version == "1.2" else lease.message.message_id


_HANDLERS: dict[str, Callable[[StompProtocol, Frame], None]] = {
    "CONNECT": StompProtocol.on_connect, "STOMP": StompProtocol.on_stomp,
    "SEND": StompProtocol.on_send, "SUBSCRIBE": StompProtocol.on_subscribe,
    "UNSUBSCRIBE": StompProtocol.on_unsubscribe, "ACK": StompProtocol.on_ack,
    "NACK": StompProtocol.on_nack, "BEGIN": StompProtocol.on_begin,
    "COMMIT": StompProtocol.on_commit, "ABORT": StompProtocol.on_abort,
    "DISCONNECT": StompProtocol.on_disconnect,
}
