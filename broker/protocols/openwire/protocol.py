"""One OpenWire connection: negotiation, keep-alives, and the client's commands as engine calls.

Behaviour follows what the ActiveMQ 5.17 JMS client expects of an ActiveMQ broker: every
command that asks for a response gets a Response (or an ExceptionResponse naming the
javax.jms exception the client raises), a synchronous persistent send is answered only
once the message is committed, and a connection's unacknowledged messages go back to their
queues when it closes or goes silent.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Iterable

from twisted.internet import defer
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
from zope.interface import implementer

from broker.engine.broker import DestinationError
from broker.engine.consumer import Lease
from broker.engine.limits import ADMITTED, Refused
from broker.engine.message import Message
from broker.engine.queue import EXPIRED_CAUSE, Queue
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
from broker.protocols.activemq.transactions import TransactionError, Transactions
from broker.protocols.openwire import access, scheduler
from broker.protocols.openwire import primitives as p
from broker.protocols.openwire import schema as s
from broker.protocols.openwire.codec import MAX_VERSION, FrameParser, OpenWireError, Struct, encode
from broker.protocols.openwire.consumer import OpenWireConsumer
from broker.protocols.openwire.convert import JmsError, destinations, id_text, to_engine

if TYPE_CHECKING:
    from broker.protocols.openwire.factory import OpenWireFactory

log = logging.getLogger("mqgate.openwire")

# MessageAck types.
DELIVERED, POISON, STANDARD, REDELIVERED, INDIVIDUAL, UNMATCHED, EXPIRED = range(7)
# TransactionInfo types.
BEGIN, PREPARE, COMMIT_ONE_PHASE, COMMIT_TWO_PHASE, ROLLBACK, RECOVER, FORGET, END = range(8)
# DestinationInfo operations.
ADD, REMOVE = 0, 1

INVALID_DESTINATION = "javax.jms.InvalidDestinationException"
# Commands held behind a send that waits for room before the broker stops reading the
# connection (the client then blocks in its socket, as with ActiveMQ).
HOLD_LIMIT = 16


def _key(ident: Struct) -> tuple[Any, ...]:
    return tuple(ident.values())


def _tx_key(tx: Struct) -> str:
    if tx.type != s.LOCAL_TRANSACTION_ID:
        raise JmsError("XA transactions are not supported", "javax.jms.TransactionRolledBackException")
    conn = tx.connection_id.value if tx.connection_id is not None else ""
    return f"TX:{conn}:{tx.value}"


class _SendPlan:
    """What sends to one destination need, worked out once: a producer names the same
    few destinations over and over."""

    __slots__ = ("targets", "names", "addressed", "queues")

    def __init__(self, targets: list[dest.Destination]) -> None:
        self.targets = targets
        self.names = [d.name for d in targets]
        # A send to ActiveMQ's scheduler management destination manages jobs instead.
        self.addressed = scheduler.addressed(targets)
        # Each target's queue (None: a topic) as last found, checked before each use
        # (OpenWireProtocol._send_queues).
        self.queues: list[Queue | None] | None = None


@implementer(IPushProducer)
class OpenWireProtocol(Protocol):
    def __init__(self, factory: "OpenWireFactory") -> None:
        self.factory = factory
        self.broker = factory.broker
        self.parser = FrameParser(factory.max_frame)
        self.version = MAX_VERSION
        self.negotiated = False
        self.closing = False
        self.lost = False
        # Persistent async sends, watched for a store that refuses them.
        self._async_sends: CommitWatch[Struct] = CommitWatch(self._store_failed, lambda: not self.lost)
        self.paused = False
        self.peer = "?"
        self.connection_id: str | None = None
        self.client_id: str | None = None
        self.consumers: dict[tuple[Any, ...], OpenWireConsumer] = {}
        # Producers that asked for flow control (producerWindowSize): their async sends
        # are acknowledged with ProducerAck, or the client stops once its window is used.
        self.windowed_producers: set[tuple[Any, ...]] = set()
        # Producers with a destination, as advisories name them: key -> (id, destinations).
        self.producers: dict[tuple[Any, ...], tuple[str, list[dest.Destination]]] = {}
        self._parsed: dict[Any, _SendPlan] = {}   # see _plan
        self._last_destination: Struct | None = None
        self._last_plan: _SendPlan | None = None
        # The consumer the last ack named, and the ConsumerId struct it named it with.
        self._acking_id: Struct | None = None
        self._acking: OpenWireConsumer | None = None
        # Consumers whose acks gave credit back during the commands being handled: each is
        # dispatched once after them (_handle_all), not once per ack, so a read of many acks
        # delivers what they make room for in one pass of the queue.
        self._acked: dict[OpenWireConsumer, None] = {}
        self.transactions = Transactions()
        self.temp_queues: dict[str, Queue] = {}
        self.temp_topics: set[str] = set()
        self.monitor: InactivityMonitor | None = None
        # What the broker writes while a read is handled (or the consumers are dispatched
        # to once the transport drained) goes out in one transport call at its end
        # (_batched); what it writes otherwise goes at once.
        self._writes = GatheredWrites(self)
        self.output = CommitOrderedOutput(self.broker, self._writes.write, factory.gathering)
        self._negotiation_timer: Any = None
        # Security (see access.py): who logged in, and the admission bookkeeping.
        self.identity: Any = None
        self.granted = access.Granted()   # authorization checks passed (access.py)
        self.counted_user = False
        self.address: str | None = None
        self.connect_timer: Any = None
        self.close_timer: Any = None
        self.held: list[Struct | None] | None = None   # commands waiting for a login to finish
        # Producer flow control: a send waiting for room, and the commands behind it.
        self.waiting: list[Struct] | None = None
        self.reading_paused = False
        # Whether the connection advisory announced this connection (and not yet its end):
        # a failover client's new connection reuses the id of the old one it replaces.
        self.advertised = False

    # -- connection life cycle ---------------------------------------------------------------
    def connectionMade(self) -> None:
        peer = self.transport.getPeer()
        self.peer = f"{getattr(peer, 'host', '?')}:{getattr(peer, 'port', '?')}"
        self.transport.registerProducer(self, True)
        if hasattr(self.transport, "setTcpNoDelay"):
            self.transport.setTcpNoDelay(True)
        # The client sends nothing until it has the broker's WireFormatInfo.
        self.transport.write(self.factory.wire_format_frame)
        self._negotiation_timer = self.factory.clock.callLater(
            self.factory.negotiate_timeout, self._negotiation_timed_out)
        log.info("event=connection_opened door=openwire remote=%s", self.peer)

    def _negotiation_timed_out(self) -> None:
        self._negotiation_timer = None
        log.warning("event=negotiation_timeout door=openwire remote=%s", self.peer)
        self.abort()

    def abort(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.abortConnection()

    def connectionLost(self, reason: Any = None) -> None:
        self.closing = self.lost = True
        for timer in (self._negotiation_timer, self.close_timer):
            if timer is not None and timer.active():
                timer.cancel()
        if self.monitor is not None:
            self.monitor.stop()
        self.close_session_state(None)
        self.factory.connection_closed(self)
        log.info("event=connection_closed door=openwire remote=%s connection=%s", self.peer,
                 self.connection_id)

    def close_session_state(self, last_delivered: int | None) -> None:
        """Everything the connection holds ends: transactions, consumers (their messages go
        back), temporary destinations, the client id."""
        self.transactions.clear()
        for consumer in list(self.consumers.values()):
            self._remove_consumer(consumer, last_delivered)
        self.consumers.clear()
        for name in list(self.temp_queues):
            self._drop_temp(name, is_topic=False)
        for name in list(self.temp_topics):
            self._drop_temp(name, is_topic=True)
        for key in list(self.producers):
            self._remove_producer(key)
        if self.client_id:
            self.factory.client_ids.release(self.client_id, self)
        if self.advertised and self.connection_id:
            self.advertised = False
            advisories.connection_changed(self.broker, self.connection_id, False, self.factory.broker_name)

    # IPushProducer: the transport's write buffer is full (or drained again).
    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self._batched(self._dispatch_all)

    def _dispatch_all(self) -> None:
        for consumer in list(self.consumers.values()):
            consumer.dispatch()

    def stopProducing(self) -> None:
        self.paused = True

    # -- input ----------------------------------------------------------------------------------
    def dataReceived(self, data: bytes) -> None:
        if self.monitor is not None:
            self.monitor.read()
        if self.closing:
            return
        self._batched(self._handle_all, self.parser.feed(data))

    def _batched(self, action: Callable[..., None], *args: Any) -> None:
        """Run `action(*args)` gathering what it writes into one transport write."""
        writes = self._writes
        if writes.gathering:   # inside another batch: that one writes
            action(*args)
            return
        writes.open()
        gathering = self.factory.gathering
        gathering.open()
        try:
            action(*args)
        finally:
            # The deliveries held during the read ask for one commit wait (activemq/output.py):
            # if it is already met, they join this read's write.
            gathering.close()
            writes.close()

    def _handle_all(self, commands: Iterable[Struct | None]) -> None:
        try:
            for command in commands:
                if self.closing:
                    return
                if self.held is not None:
                    self.held.append(command)
                    continue
                if command is None:
                    continue
                if self.waiting is not None and not _consumes_only(command):
                    self._hold_behind_send(command)
                    continue
                if not self.negotiated and command.type != s.WIRE_FORMAT_INFO:
                    raise OpenWireError(f"{command.type_name} before WireFormatInfo")
                handler = _HANDLERS.get(command.type)
                if handler is None or (self.identity is None and command.type not in _BEFORE_LOGIN):
                    handler = _refused
                try:   # run_handler's work, without a call of its own for every command
                    handler(self, command)
                except Exception as exc:
                    self._failed(command, exc)
        except (OpenWireError, p.PrimitiveError) as exc:
            log.warning("event=bad_frame door=openwire remote=%s reason=%r", self.peer, str(exc))
            self.abort()
        finally:
            if self._acked:
                acked, self._acked = self._acked, {}
                for consumer in acked:
                    consumer.dispatch()

    def hold_input(self) -> None:
        """Keep the commands that arrive from now on until `release_input`."""
        if self.held is None:
            self.held = []

    def release_input(self) -> None:
        held, self.held = self.held, None
        if held:
            self._handle_all(held)

    def run_handler(self, command: Struct, handler: Callable[..., None], *args: Any) -> None:
        """Run what `command` asks for (`handler(*args)`); its failures are answered (`_failed`)."""
        try:
            handler(*args)
        except Exception as exc:
            self._failed(command, exc)

    def _failed(self, command: Struct, exc: Exception) -> None:
        """The handler of `command` raised `exc` (called while it is handled): its JMS
        failures become ExceptionResponses, a bad frame goes on up to end the connection,
        and a bug is logged and refused rather than taking the broker down with it."""
        if isinstance(exc, JmsError):
            self.refuse(command, exc.exception, str(exc))
        elif isinstance(exc, TransactionError):
            self.refuse(command, "javax.jms.TransactionRolledBackException", str(exc))
        elif isinstance(exc, OpenWireError):
            raise exc
        else:
            log.exception("event=command_failed door=openwire remote=%s command=%s", self.peer,
                          command.type_name)
            self.refuse(command, "javax.jms.JMSException", str(exc) or type(exc).__name__)

    def refuse(self, command: Struct, exception: str, message: str) -> None:
        log.warning("event=command_refused door=openwire remote=%s command=%s exception=%s message=%r",
                    self.peer, command.type_name, exception, message)
        if command.get("response_required"):
            self.send(Struct(s.EXCEPTION_RESPONSE, command_id=0, response_required=False,
                             correlation_id=command.command_id, exception=(exception, message)))
        elif command.type in s.MESSAGE_TYPES:
            # An async send has no response to fail: as ActiveMQ, the client's connection
            # gets a ConnectionError, which reaches its ExceptionListener.
            self.send(Struct(s.CONNECTION_ERROR, command_id=0, response_required=False,
                             exception=(exception, message)))

    # -- output ---------------------------------------------------------------------------------
    def send(self, command: Struct, after_commit: bool = False) -> None:
        """Write a command; `after_commit` holds it (and what follows) until the store has
        committed what the broker did for it (a dispatch's delivery count)."""
        self.output.write(encode(command, self.version), after_commit)

    def _lose_connection(self) -> None:
        self._writes.flush()
        self.transport.loseConnection()

    def respond(self, command: Struct) -> None:
        if command.get("response_required"):
            self.send(Struct(s.RESPONSE, command_id=0, response_required=False,
                             correlation_id=command.command_id))

    def respond_when_committed(self, command: Struct) -> None:
        if not command.get("response_required"):
            if command.type in s.MESSAGE_TYPES:
                self._async_sends.watch(self.broker, command)
            return
        self.broker.committed().addCallbacks(lambda _: self.respond(command), self._store_failed,
                                             errbackArgs=(command,))

    def _store_failed(self, failure: Any, command: Struct) -> None:
        if failure.check(Refused) and command.get("destination") is not None:
            # The store filled up before the message was written: ActiveMQ's answer.
            d = self._targets(command.destination)[0]
            producer = id_text(command.get("producer_id"))
            self.refuse(command, RESOURCE_ALLOCATION, refusal_text(
                failure.value.refusal, "topic" if d.is_topic else "queue", d.name, producer))
            return
        self.refuse(command, "javax.jms.JMSException",
                    "Could not store the message: " + failure.getErrorMessage())

    # -- negotiation ------------------------------------------------------------------------------
    def on_wire_format(self, info: Struct) -> None:
        if self.negotiated:
            return
        if not info.version or info.version < 1:
            raise OpenWireError(f"unsupported OpenWire version {info.version}")
        self.version = self.parser.version = min(MAX_VERSION, info.version)
        options = p.decode_map(info.marshalled_properties) if info.marshalled_properties else {}
        theirs = options.get("MaxInactivityDuration", (p.LONG, 0))[1]
        ours = self.factory.max_inactivity_ms
        if not isinstance(theirs, int) or isinstance(theirs, bool):
            theirs = 0
        duration = min(ours, theirs) if ours > 0 and theirs > 0 else 0
        self.negotiated = True
        if self._negotiation_timer is not None and self._negotiation_timer.active():
            self._negotiation_timer.cancel()
        self._negotiation_timer = None
        if duration > 0:
            self.monitor = InactivityMonitor(self.factory.clock, duration / 1000.0, duration / 3000.0,
                                             self._keep_alive, self._inactive,
                                             held=lambda: self.reading_paused)
            self.monitor.start()
        self.send(self.factory.broker_info())

    def _keep_alive(self) -> None:
        self.send(Struct(s.KEEP_ALIVE_INFO, command_id=0, response_required=False))

    def _inactive(self) -> None:
        log.warning("event=inactivity_timeout door=openwire remote=%s connection=%s", self.peer,
                    self.connection_id)
        self.abort()

    # -- connection, session, producer ------------------------------------------------------------
    def on_connection_info(self, info: Struct) -> None:
        conn = info.connection_id.value if info.connection_id is not None else None
        if not conn:
            raise JmsError("ConnectionInfo without a connection id")
        access.login(self, info, lambda: self._connected(info, conn))

    def _connected(self, info: Struct, conn: str) -> None:
        client_id = info.client_id or conn
        ids = self.factory.client_ids
        if not ids.claim(client_id, self):
            holder = ids.owner(client_id)
            if info.failover_reconnect and getattr(holder, "connection_id", None) == conn:
                # A failover client came back before its old socket was noticed dead.
                holder.abort()
                holder.close_session_state(None)
                ids.claim(client_id, self)
            else:
                remote = getattr(holder, "peer", None)
                raise JmsError(already_connected(self.factory.broker_name, client_id,
                                                 f"tcp://{remote}" if remote else None),
                               "javax.jms.InvalidClientIDException")
        self.connection_id, self.client_id = conn, client_id
        self.advertised = True
        advisories.connection_changed(self.broker, conn, True, self.factory.broker_name, client_id,
                                      info.user_name)
        self.respond(info)

    def on_ignored(self, command: Struct) -> None:
        """Commands that need nothing from the broker but an answer when asked."""
        self.respond(command)

    def on_producer_info(self, info: Struct) -> None:
        targets = destinations(info.destination) if info.destination is not None else []
        if targets:
            access.check_write(self, targets)
        if info.producer_id is not None:
            key = _key(info.producer_id)
            if (info.window_size or 0) > 0:
                self.windowed_producers.add(key)
            if targets and key not in self.producers:
                self.producers[key] = (id_text(info.producer_id), targets)
                self._producer_advisories(key, True)
        self.respond(info)

    def _producer_advisories(self, key: tuple[Any, ...], added: bool) -> None:
        producer_id, targets = self.producers[key]
        for d in targets:
            advisories.producer_changed(self.broker, advisories.kind_of(d), d.name, producer_id,
                                        added, self.connection_id or "", self.factory.broker_name)

    def _remove_producer(self, key: tuple[Any, ...]) -> None:
        self.windowed_producers.discard(key)
        if key in self.producers:
            self._producer_advisories(key, False)
            del self.producers[key]

    def _producer_ack(self, command: Struct) -> None:
        """Give back the window an async send used: ActiveMQ's message size (1024 bytes of
        overhead plus properties and body), as the client counted it."""
        if not self.windowed_producers or command.response_required or command.producer_id is None:
            return
        if _key(command.producer_id) not in self.windowed_producers:
            return
        size = 1024 + len(command.marshalled_properties or b"") + len(command.content or b"")
        self.send(Struct(s.PRODUCER_ACK, command_id=0, response_required=False,
                         producer_id=command.producer_id, size=size))

    def on_keep_alive(self, command: Struct) -> None:
        if command.response_required:
            self._keep_alive()

    def on_shutdown(self, command: Struct) -> None:
        self.closing = True
        self.output.when_flushed(self._lose_connection)

    def on_remove(self, command: Struct) -> None:
        target = command.object_id
        last = command.last_delivered_sequence_id
        last_delivered = last if isinstance(last, int) else None
        if target is None:
            raise JmsError("RemoveInfo without an object id")
        if target.type == s.CONSUMER_ID:
            consumer = self.consumers.pop(_key(target), None)
            if consumer is not None:
                self._remove_consumer(consumer, last_delivered)
        elif target.type == s.PRODUCER_ID:
            self._remove_producer(_key(target))
        elif target.type == s.SESSION_ID:
            for key, consumer in list(self.consumers.items()):
                cid = consumer.consumer_id
                if (cid.connection_id, cid.session_id) == (target.connection_id, target.value):
                    del self.consumers[key]
                    self._remove_consumer(consumer, last_delivered)
        elif target.type == s.CONNECTION_ID:
            self.close_session_state(last_delivered)
            self.client_id = None
        self.respond(command)

    # -- destinations -------------------------------------------------------------------------------
    def _queue(self, d: dest.Destination) -> Queue:
        if d.kind == dest.REMOTE_TEMP_QUEUE:
            queue = self.broker.queue(d.name, create=False)
            if queue is None:
                raise JmsError(f"Cannot publish to a deleted Destination: temp-queue://{d.name}",
                               INVALID_DESTINATION)
            return queue
        queue = self.broker.queue(d.name)
        assert queue is not None
        return queue

    def on_destination_info(self, info: Struct) -> None:
        d = info.destination
        if d is None or not d.physical_name:
            raise JmsError("DestinationInfo without a destination", INVALID_DESTINATION)
        name = d.physical_name
        access.check_destination(self, info, adding=info.operation_type == ADD)
        if d.type in (s.TEMP_QUEUE, s.TEMP_TOPIC):
            is_topic = d.type == s.TEMP_TOPIC
            if info.operation_type == ADD:
                if is_topic:
                    self.temp_topics.add(name)
                    advisories.temp_topic_added(self.broker, name, self.connection_id or "",
                                                self.factory.broker_name)
                elif name not in self.temp_queues:
                    self.temp_queues[name] = self.broker.temporary_queue(name)
                    self._announce_temp_queue(name, True)
            elif info.operation_type == REMOVE:
                queue = self.temp_queues.get(name)
                if queue is not None and queue.consumer_count:
                    raise JmsError(f"Destination still has an active subscription: temp-queue://{name}")
                self._drop_temp(name, is_topic)
        self.respond(info)

    def _announce_temp_queue(self, name: str, added: bool) -> None:
        advisories.announce_temp_destination(self.broker, name, False, added,
                                             self.connection_id or "", self.factory.broker_name)

    def _drop_temp(self, name: str, is_topic: bool) -> None:
        if is_topic:
            if name in self.temp_topics:
                self.temp_topics.discard(name)
                advisories.temp_topic_removed(self.broker, name, self.connection_id or "",
                                              self.factory.broker_name)
        elif self.temp_queues.pop(name, None) is not None:
            self.broker.delete_queue(name)
            self._announce_temp_queue(name, False)

    # -- consumers -------------------------------------------------------------------------------------
    def on_consumer_info(self, info: Struct) -> None:
        if info.consumer_id is None:
            raise JmsError("ConsumerInfo without a consumer id")
        targets = destinations(info.destination)
        access.check_read(self, targets)
        selector = None
        if info.selector:
            try:
                # JMS properties keep their types, so ActiveMQ converts strings only for a
                # client that asks with the convert_string_expressions: prefix.
                selector = parse_selector(info.selector, convert_strings=False)
            except InvalidSelector as exc:
                raise JmsError(str(exc), "javax.jms.InvalidSelectorException") from None
        consumer = OpenWireConsumer(self, info, targets, selector)
        key = _key(info.consumer_id)
        old = self.consumers.pop(key, None)
        if old is not None:
            self._remove_consumer(old, None)
        if consumer.browser:
            self._consumer_advisories(consumer, True)
            self.consumers[key] = consumer
            self.respond(info)
            self._browse(consumer).addErrback(
                lambda f: log.error("event=browse_failed error=%s", f.getErrorMessage()))
            return
        durable = info.subscription_name
        if durable and not all(d.is_topic for d in targets):
            raise JmsError("Durable subscriptions are only supported on topics", INVALID_DESTINATION)
        queues = {d: self._queue(d) for d in targets
                  if not d.is_topic and not dest.is_wildcard_queue(d)}
        durables = {}
        for d in targets:
            if d.is_topic and durable:
                queue = self.broker.durable_subscription(self.client_id or "", durable, d.name,
                                                         selector, bool(info.no_local), self)
                if queue.consumer_count:
                    raise JmsError(f"Durable consumer is in use for client: {self.client_id} "
                                   f"and subscriptionName: {durable}")
                durables[d] = queue
        if all(d.is_topic for d in targets):
            consumer.selector = None  # the topic applies it at publish time
        self._consumer_advisories(consumer, True)
        self.consumers[key] = consumer
        self.respond(info)
        for d in targets:
            if not d.is_topic:
                if d in queues:
                    consumer.attach(queues[d])
                else:
                    consumer.attach_wildcard(self.broker, d.name)
            elif d in durables:
                consumer.attach(durables[d])
            else:
                tsub = consumer.subscribe(self.broker, d.name, selector, bool(info.no_local), self)
                if d.name.startswith(advisories.ADVISORY_PREFIX):
                    advisories.replay(self.broker, d.name, tsub.queue, self.factory.broker_name)

    def _consumer_advisories(self, consumer: OpenWireConsumer, added: bool) -> None:
        info = consumer.info
        for d in consumer.targets:
            advisories.consumer_changed(self.broker, advisories.kind_of(d), d.name,
                                        id_text(info.consumer_id), added, self.connection_id or "",
                                        self.factory.broker_name, info.selector, consumer.prefetch)

    @defer.inlineCallbacks
    def _browse(self, consumer: OpenWireConsumer) -> Any:
        """What the queues hold now, a page at a time, then the end-of-browse dispatch;
        nothing is consumed."""
        for d in consumer.targets:
            queue = None if d.is_topic else self.broker.queue(d.name, create=False)
            if queue is None:
                continue
            yield browse(queue, consumer.selector, self.broker.now_ms,
                         lambda message, queue=queue: consumer.send(queue, message, self.broker.next_token(),
                                                                       self.broker.now_ms()),
                         lambda: consumer.closed or self.closing)
        if not (consumer.closed or self.closing):
            consumer.end_of_browse()

    def _remove_consumer(self, consumer: OpenWireConsumer, last_delivered: int | None) -> None:
        """Close a consumer: what its application saw comes back redelivered, what only sat
        in its prefetch buffer comes back as it was."""
        if not consumer.closed:
            self._consumer_advisories(consumer, False)
        consumer.closed = True
        consumer.cancel_pull_timer()
        held, consumer.pending = list(consumer.pending.values()), type(consumer.pending)()
        consumer.seen.clear()
        consumer.window = 0
        for lease in held:
            delivered = last_delivered is None or lease.token <= last_delivered
            lease.queue.release(lease, dispatch=False, delivered=delivered)
        consumer.detach(self.broker)

    def on_message_pull(self, pull: Struct) -> None:
        consumer = self.consumers.get(_key(pull.consumer_id)) if pull.consumer_id else None
        if consumer is None or consumer.prefetch > 0 or consumer.browser:
            return
        consumer.cancel_pull_timer()
        consumer.pulls = 1
        consumer.dispatch()
        if consumer.pulls == 0:
            return
        timeout = pull.timeout or 0
        if timeout < 0:
            consumer.pulls = 0
            consumer.end_of_browse()
        elif timeout > 0:
            def expired() -> None:
                consumer.pull_timer = None
                if consumer.pulls and not consumer.closed:
                    consumer.pulls = 0
                    consumer.end_of_browse()
            consumer.pull_timer = self.factory.clock.callLater(timeout / 1000.0, expired)

    # -- acks ----------------------------------------------------------------------------------------
    def on_message_ack(self, ack: Struct) -> None:
        removed = self._ack(ack)
        if ack["response_required"]:
            # Acks sent synchronously (jms.sendAcksAsync=false): the client waits for the
            # answer ActiveMQ gives every command that asks for one, once a persistent
            # message the ack removed is gone from the store for good (messages another
            # connection sent that the store refused meanwhile are no concern of this ack).
            if removed:
                self.broker.committed(refusable=False).addCallbacks(
                    lambda _: self.respond(ack), self._store_failed, errbackArgs=(ack,))
            else:
                self.respond(ack)

    def _ack(self, ack: Struct) -> bool:
        """Apply the ack: whether it removed a persistent message."""
        # Fields read as items, not attributes (a Struct's attributes cost more): this runs
        # once per message consumed.
        consumer = self._acking
        consumer_id = ack["consumer_id"]
        if consumer_id is not self._acking_id or consumer is None or consumer.closed:
            # The codec gives the same ConsumerId struct for the same bytes: a consumer's
            # run of acks looks it up once. A closed consumer has left self.consumers.
            consumer = self.consumers.get(_key(consumer_id)) if consumer_id else None
            self._acking_id, self._acking = consumer_id, consumer
        if consumer is None or consumer.browser:
            return False
        leases = consumer.leases_between(ack["first_message_id"], ack["last_message_id"])
        kind = ack["ack_type"]
        # What the ack frees is delivered once the read's commands are handled (_acked).
        self._acked[consumer] = None
        if kind in (DELIVERED, REDELIVERED):
            consumer.mark_seen(leases)
            return False
        if kind == INDIVIDUAL:
            last = ack.last_message_id.broker_sequence_id
            leases = [lease for lease in leases if lease.token == last]
        cause = None
        if kind == POISON:
            cause = ": ".join(filter(None, ack.poison_cause or ())) or "Delivery poisoned by the client"
        if ack["transaction_id"] is not None:
            tx = self.transactions.get(_tx_key(ack["transaction_id"]))
            consumer.mark_seen(leases)
            tx.acks.append((consumer, leases, kind, cause))
            return False
        return self._settle(consumer, leases, kind, cause)

    def _settle(self, consumer: OpenWireConsumer, leases: list[Lease], kind: int, cause: str | None) -> bool:
        """Apply a consuming ack, without dispatching the queues it gives credit back to
        (the caller has `consumer` dispatched): whether a persistent message was removed."""
        durable = False
        for lease in consumer.take(leases):
            durable = durable or lease.message.persistent
            if kind == POISON:
                self.factory.redelivery.give_up(lease, cause or "Delivery poisoned by the client")
            elif kind == EXPIRED:
                lease.queue.dead_letter(lease, EXPIRED_CAUSE)
            else:
                lease.queue.ack(lease, dispatch=False)
        return durable

    # -- sends ---------------------------------------------------------------------------------------
    def _targets(self, d: Struct | None) -> list[dest.Destination]:
        """A producer names the same few destinations over and over: parse each once."""
        return self._plan(d).targets

    def _plan(self, d: Struct | None) -> _SendPlan:
        """What sends to `d` need, kept per destination (see _SendPlan)."""
        if d is self._last_destination and d is not None:
            return self._last_plan   # type: ignore[return-value]  # the codec gave the same struct for the same bytes
        key = (d.type, d.physical_name) if d is not None else None
        found = self._parsed.get(key)
        if found is None:
            found = _SendPlan(destinations(d))
            if len(self._parsed) >= 64:
                self._parsed.clear()
            self._parsed[key] = found
        self._last_destination, self._last_plan = d, found
        return found

    def _send_queues(self, plan: _SendPlan) -> list[Queue | None]:
        """The queues a send's targets name (None for a topic), as `_queue` gives them:
        those found last time while the broker still holds the same ones under their names
        (a deleted queue is made again, or a deleted temporary one refused, by `_queue`)."""
        queues = plan.queues
        if queues is not None:
            held = self.broker.queues
            for name, queue in zip(plan.names, queues):
                if queue is not None and held.get(name) is not queue:
                    break
            else:
                return queues
        queues = plan.queues = self._queues(plan.targets)
        return queues

    def _queues(self, targets: list[dest.Destination]) -> list[Queue | None]:
        """The queue of each target as `_queue` gives it, None for a topic."""
        return [None if d.is_topic else self._queue(d) for d in targets]

    def on_message(self, command: Struct) -> None:
        # Fields read as items, not attributes (a Struct's attributes cost more): this runs
        # once per message sent.
        plan = self._plan(command["destination"])
        targets = plan.targets
        tx_id = command["transaction_id"]
        access.check_write(self, targets, self.transactions.find(_tx_key(tx_id)) if tx_id is not None else None)
        now = self.broker.now_ms()
        message = to_engine(command, now, self)
        if plan.addressed:
            scheduler.manage(self, command, message)
            return
        copies = [message]
        if message.properties:   # scheduling is asked for by properties only
            try:
                copies = scheduled_copies(message, message.properties, now, self._scheduled_id(message))
            except BadHeader as exc:
                raise JmsError(str(exc)) from None
        queues = self._send_queues(plan)
        content = command["content"]
        size = len(content) if content is not None else 0
        if not (self.broker.unlimited(size) or self._admitted(command, plan, queues, message.persistent, size)):
            return
        if tx_id is not None:
            tx = self.transactions.get(_tx_key(tx_id))
            tx.sends.extend((targets, m) for m in copies)
            self.respond(command)
            self._producer_ack(command)
            return
        for m in copies:
            self._route(targets, queues, m, now)
        if self.windowed_producers:
            self._producer_ack(command)
        if message.persistent:
            self.respond_when_committed(command)
        elif command["response_required"]:
            self.respond(command)

    # -- producer flow control ------------------------------------------------------------------------
    def _admitted(self, command: Struct, plan: _SendPlan, queues: list[Queue | None],
                  persistent: bool, size: int) -> bool:
        """Whether every destination has room for the message now. A full one refuses
        (sendFailIfNoSpace: ActiveMQ's ResourceAllocationException) or makes the send wait:
        it is handled again once there is room, and only then answered (its Response, or
        the ProducerAck a windowed producer needs to send more), so the client blocks as
        with ActiveMQ. Until then the connection's other commands wait behind it, except
        those that only consume, so a consumer on the same connection can make the room.
        Asked once `Broker.unlimited` did not let the send (of `size` bytes) through."""
        admit = self.broker.admit
        for name, queue in zip(plan.names, queues):
            kind = "topic" if queue is None else "queue"
            admission = admit(kind, name if queue is None else queue.name, size, persistent)
            if admission is ADMITTED:
                continue
            if admission.refused is not None:
                raise JmsError(refusal_text(admission.refused, kind, name, id_text(command.producer_id)),
                               RESOURCE_ALLOCATION)
            if admission.wait is not None:
                self.waiting = [command]
                admission.wait.addCallback(lambda _: self._resume_input()).addErrback(
                    lambda f: log.error("event=resume_failed door=openwire error=%s", f.getErrorMessage()))
                return False
        return True

    def _hold_behind_send(self, command: Struct) -> None:
        assert self.waiting is not None
        self.waiting.append(command)
        if len(self.waiting) >= HOLD_LIMIT and not self.reading_paused:
            self.reading_paused = True
            self.transport.pauseProducing()

    def _resume_input(self) -> None:
        """There is room again: handle the waiting send and what came after it, and read
        the connection again unless a send waits once more."""
        commands, self.waiting = self.waiting or [], None
        self._handle_all(commands)
        if self.waiting is None and self.reading_paused and not self.closing:
            self.reading_paused = False
            self.transport.resumeProducing()

    def _route(self, targets: list[dest.Destination], queues: list[Queue | None], message: Message,
               now: int | None = None) -> None:
        """Deliver `message` to each target (`queues`: theirs, None for a topic), a copy to
        each but the last; `now`, the time of this reactor turn if already read."""
        broker, clock = self.broker, self.factory.clock
        last = len(targets) - 1
        for i, d in enumerate(targets):
            queue = queues[i]
            route(broker, clock, d.name if queue is None else None, queue,
                  message if i == last else message.copy(), now)

    @staticmethod
    def _scheduled_id(message: Message) -> Callable[[], str]:
        """Ids for the repeats of a scheduled message: the first one's, numbered on."""
        count = iter(range(1, 1 << 62))
        return lambda: f"{message.message_id}-{next(count)}"

    # -- transactions --------------------------------------------------------------------------------------
    def on_transaction_info(self, info: Struct) -> None:
        if info.transaction_id is None:
            raise JmsError("TransactionInfo without a transaction id")
        tx_id = _tx_key(info.transaction_id)
        kind = info.get("type")
        if kind == BEGIN:
            self.transactions.begin(tx_id)
        elif kind == COMMIT_ONE_PHASE:
            tx = self.transactions.end(tx_id)
            if tx.rollback_only is not None:
                raise JmsError(access.COMMIT_FAILED, "javax.jms.TransactionRolledBackException")
            durable = False
            for targets, message in tx.sends:
                try:
                    queues = self._queues(targets)
                except JmsError:
                    continue  # its temporary queue is gone: ActiveMQ drops it too
                self._route(targets, queues, message)
                durable = durable or message.persistent
            for consumer, leases, ack_kind, cause in tx.acks:
                durable = self._settle(consumer, leases, ack_kind, cause) or durable
                self._acked[consumer] = None
            if durable:
                self.respond_when_committed(info)
                return
        elif kind == ROLLBACK:
            # Acked messages stay with their consumers: the client redelivers them from its
            # own buffer and acks them again in its next transaction.
            self.transactions.end(tx_id)
        elif kind == COMMIT_TWO_PHASE:
            raise JmsError("XA transactions are not supported", "javax.jms.TransactionRolledBackException")
        self.respond(info)

    def on_remove_subscription(self, info: Struct) -> None:
        client_id = info.client_id or self.client_id or ""
        name = info.subscription_name or ""
        try:
            found = self.broker.drop_durable(client_id, name)
        except DestinationError as exc:
            raise JmsError(str(exc)) from None
        if not found:
            raise JmsError(f"No durable subscription exists for clientID: {client_id} and "
                           f"subscriptionName: {name}", INVALID_DESTINATION)
        self.respond(info)


def _refused(protocol: OpenWireProtocol, command: Struct) -> None:
    """The handler of a command the broker does not take (now): raises its refusal."""
    if command.type not in _HANDLERS:
        raise JmsError(f"Unsupported command: {command.type_name}")
    access.logged_in(protocol, command)


def _consumes_only(command: Struct) -> bool:
    """Commands handled even while a send of the connection waits for room: they only
    consume, and may be what makes the room."""
    if command.type == s.MESSAGE_ACK:
        return command.transaction_id is None
    return command.type in (s.MESSAGE_PULL, s.KEEP_ALIVE_INFO)


# What a client may send before its ConnectionInfo was accepted.
_BEFORE_LOGIN = frozenset({s.WIRE_FORMAT_INFO, s.CONNECTION_INFO, s.KEEP_ALIVE_INFO, s.SHUTDOWN_INFO})
_MESSAGES = {code: OpenWireProtocol.on_message for code in s.MESSAGE_TYPES}
_HANDLERS: dict[int, Callable[[OpenWireProtocol, Struct], None]] = {
    s.WIRE_FORMAT_INFO: OpenWireProtocol.on_wire_format,
    s.CONNECTION_INFO: OpenWireProtocol.on_connection_info,
    s.SESSION_INFO: OpenWireProtocol.on_ignored,
    s.PRODUCER_INFO: OpenWireProtocol.on_producer_info,
    s.CONSUMER_INFO: OpenWireProtocol.on_consumer_info,
    s.REMOVE_INFO: OpenWireProtocol.on_remove,
    s.DESTINATION_INFO: OpenWireProtocol.on_destination_info,
    s.TRANSACTION_INFO: OpenWireProtocol.on_transaction_info,
    s.REMOVE_SUBSCRIPTION_INFO: OpenWireProtocol.on_remove_subscription,
    s.MESSAGE_ACK: OpenWireProtocol.on_message_ack,
    s.MESSAGE_PULL: OpenWireProtocol.on_message_pull,
    s.KEEP_ALIVE_INFO: OpenWireProtocol.on_keep_alive,
    s.SHUTDOWN_INFO: OpenWireProtocol.on_shutdown,
    s.CONNECTION_CONTROL: OpenWireProtocol.on_ignored,
    s.CONSUMER_CONTROL: OpenWireProtocol.on_ignored,
    s.PRODUCER_ACK: OpenWireProtocol.on_ignored,
    s.FLUSH_COMMAND: OpenWireProtocol.on_ignored,
    s.CONTROL_COMMAND: OpenWireProtocol.on_ignored,
    **_MESSAGES,
}
