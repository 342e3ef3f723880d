"""SQS actions on messages: send, receive, delete, change visibility (and their batches).

A send is answered only after the store has committed it; a receive leases messages in
the engine with the visibility timeout as the lease's deadline.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

from twisted.internet import defer
from twisted.python.failure import Failure

from broker.engine.consumer import Lease
from broker.engine.queue import Queue
from facades.aws.durability import after_commit
from facades.aws.errors import AwsError, common_error
from facades.aws.message_attributes import attributes_of
from facades.aws.service import AwsRequestContext, Params
from facades.sqs import convert, receipts
from facades.sqs import queue_attributes as qa
from facades.sqs.checksums import md5_of_message_attributes
from facades.sqs.errors import sqs_error
from facades.sqs.state import SqsState
from facades.sqs.validation import (QueueLimits, validate_batch_entries, validate_receipt_handle,
                                    validate_receive_message, validate_send_batch,
                                    validate_send_message, validate_visibility_timeout,
                                    visibility_limit_exceeded)

MAX_LEASE_S = 43_200


def _limits(queue: Queue) -> QueueLimits:
    attrs = qa.stored(queue)
    return QueueLimits(fifo=qa.is_fifo(queue),
                       content_based_deduplication=attrs.get("ContentBasedDeduplication") == "true",
                       maximum_message_size=int(attrs["MaximumMessageSize"]))


def _sender(ctx: AwsRequestContext) -> str:
    return ctx.access_key or ctx.account_id


def _enqueue(state: SqsState, ctx: AwsRequestContext, queue: Queue, entry: Params,
             limits: QueueLimits, now: int, entry_id: str | None = None) -> dict[str, Any]:
    """Send one message (a SendMessage or a batch entry, validated) at `now`; its result,
    which names `entry_id` first when it is a batch entry's."""
    message = convert.to_engine(entry, _sender(ctx), now, limits.fifo,
                                limits.content_based_deduplication)
    # SQS does not hold a sender: a full queue answers as AWS does when it throttles.
    refused = state.broker.admit("queue", queue.name, len(message.body), message.persistent,
                                 can_wait=False).refused
    if refused is not None:
        raise common_error("ServiceUnavailable") if refused.resource == "store" else sqs_error("RequestThrottled")
    kept = queue.enqueue(message)
    return convert.sent_result(kept, message.body_digest, entry, limits.fifo, entry_id)


def _after_commit(state: SqsState, result: Any, sends: bool = False) -> defer.Deferred[Any]:
    return after_commit(state.broker, result, sends)


def send_message(state: SqsState, ctx: AwsRequestContext, params: Params) -> defer.Deferred[Any]:
    queue = state.queue(params["QueueUrl"])
    limits = _limits(queue)
    validate_send_message(params, limits, escape_free=ctx.escape_free)
    return _after_commit(state, _enqueue(state, ctx, queue, params, limits, state.now_ms()), sends=True)


def send_message_batch(state: SqsState, ctx: AwsRequestContext, params: Params) -> defer.Deferred[Any]:
    queue = state.queue(params["QueueUrl"])
    limits = _limits(queue)
    entries = params.get("Entries") or []
    sizes = validate_send_batch(entries, limits, escape_free=ctx.escape_free)
    # The entries of one request are sent at one time, as one request is.
    now = state.now_ms()
    successful, failed = [], []
    for index, entry in enumerate(entries):
        try:
            if not limits.fifo:   # a FIFO batch's entries were validated with the batch
                validate_send_message(entry, limits, entry_prefix=f"SendMessageBatchRequestEntry.{index + 1}",
                                      size=sizes[index], escape_free=ctx.escape_free)
            successful.append(_enqueue(state, ctx, queue, entry, limits, now, entry["Id"]))
        except AwsError as error:
            failed.append(error.as_batch_entry(entry["Id"], ctx.protocol))
    return _after_commit(state, {"Successful": successful, "Failed": failed}, sends=True)


def receive_message(state: SqsState, ctx: AwsRequestContext, params: Params) -> defer.Deferred[Any]:
    queue = state.queue(params["QueueUrl"])
    validate_receive_message(params)
    attrs = qa.stored(queue)
    visibility = params.get("VisibilityTimeout")
    if visibility is None:
        visibility = int(attrs["VisibilityTimeout"])
    wait = params.get("WaitTimeSeconds")
    if wait is None:
        wait = int(attrs["ReceiveMessageWaitTimeSeconds"])
    count = params.get("MaxNumberOfMessages") or 1
    system_names = list(params.get("MessageSystemAttributeNames") or []) + list(params.get("AttributeNames") or [])
    attribute_names = list(params.get("MessageAttributeNames") or [])
    # A zero visibility timeout leases with an immediate deadline (-1 in the engine).
    d = queue.receive(count, visibility * 1000 or -1, wait * 1000)

    def answer(leases: list[Lease]) -> defer.Deferred[Any]:
        messages = [_received(state, ctx, queue, lease, system_names, attribute_names) for lease in leases]
        # The lease (receive count, visibility deadline) is committed before the answer, so
        # a receipt handle the client holds stays good across a broker restart.
        committed = _after_commit(state, {"Messages": messages} if messages else {})
        return committed.addErrback(_abandoned, queue, leases) if leases else committed
    if d.called:
        # Answered at once, the usual case: the answer is the commit's Deferred itself, not
        # one chained behind the receive's (one chain of callbacks to run, not two).
        taken: list[Lease] = []
        d.addCallback(taken.extend)
        return answer(taken)
    # Cancelled while it waits (the client went away): the engine gives back what it took.
    return d.addCallback(answer)


def _abandoned(failure: Failure, queue: Queue, leases: list[Lease]) -> Failure:
    """The client went away while its answer waited for the commit: the messages it would
    have got are visible again at once, as those of a long poll cancelled before it took
    them (nothing that never reached the client stays invisible)."""
    if failure.check(defer.CancelledError):
        queue.give_back(leases)
    return failure


def _received(state: SqsState, ctx: AwsRequestContext, queue: Queue, lease: Lease,
              system_names: list[str], attribute_names: list[str]) -> dict[str, Any]:
    message = lease.message
    body, digest = convert.body_and_digest(message)
    out: dict[str, Any] = {
        "MessageId": message.message_id,
        "ReceiptHandle": receipts.encode(queue.name, message.seq, lease.token),
        "MD5OfBody": digest,
        "Body": body,
    }
    if system_names:   # most receives ask for neither kind of attribute
        source = message.headers.get("dead-letter-source")
        system = convert.system_attributes(message, system_names, ctx.account_id,
                                           state.arn(ctx, source) if source else None)
        if system:
            out["Attributes"] = system
    if attribute_names:
        attributes = convert.wanted_attributes(attributes_of(message), attribute_names)
        if attributes:
            out["MessageAttributes"] = attributes
            out["MD5OfMessageAttributes"] = md5_of_message_attributes(attributes)
    return out


def _settle(state: SqsState, queue: Queue, handle: str, then: Callable[[Lease | None], Any]) -> Any:
    """then(the current lease a receipt handle names, or None when it is stale): at once
    when the lease is in memory, the common case, which so costs no Deferred; for a lease
    deep in flight, once it was read back from the store (a Deferred of then's result)."""
    validate_receipt_handle(handle)
    name, seq, token = receipts.decode(handle)
    if name != queue.name:
        raise sqs_error("ReceiptHandleIsInvalid", f'The input receipt handle "{handle}" is not a valid receipt handle.')
    lease = queue.lease_for(seq)
    if lease is not None:
        return then(_held(lease, token))
    return queue.find_lease(seq).addCallback(lambda found: then(_held(found, token)))


def _held(lease: Lease | None, token: int) -> Lease | None:
    """`lease` if a receipt handle with `token` holds it. A lease restored at start or read
    back from disk (consumer None) is held by whoever received it last: their handle counts."""
    return lease if lease is not None and (lease.token == token or lease.consumer is None) else None


def _then(outcome: Any, next_step: Callable[[Any], defer.Deferred[Any]]) -> defer.Deferred[Any]:
    """next_step(outcome), after it if outcome is still a Deferred."""
    if isinstance(outcome, defer.Deferred):
        return outcome.addCallback(next_step)
    return next_step(outcome)


def _ack(queue: Queue, lease: Lease | None, dispatch: bool = True) -> None:
    # A stale handle succeeds without deleting, as on SQS.
    if lease is not None:
        queue.ack(lease, dispatch)


def delete_message(state: SqsState, ctx: AwsRequestContext, params: Params) -> defer.Deferred[Any]:
    queue = state.queue(params["QueueUrl"])
    done = _settle(state, queue, params["ReceiptHandle"], lambda lease: _ack(queue, lease))
    return _then(done, lambda _: _after_commit(state, None))


def _batch(ctx: AwsRequestContext, operation: str, entries: list[Params],
           one: Callable[[Params], Any]) -> dict[str, Any] | defer.Deferred[dict[str, Any]]:
    """Each entry through `one`, which settles it at once or returns a Deferred; the answer
    lists the entries that succeeded and those that failed with an AwsError, in order,
    once the last is settled (at once, and no Deferred, when none had to wait)."""
    validate_batch_entries(operation, entries)
    outcomes: list[Failure | None] = []
    waiting: list[defer.Deferred[Any]] = []
    for index, entry in enumerate(entries):
        try:
            outcome = one(entry)
        except AwsError:
            outcomes.append(Failure())
            continue
        outcomes.append(None)
        if isinstance(outcome, defer.Deferred):
            waiting.append(outcome.addCallbacks(
                lambda _: None, lambda failure, i=index: outcomes.__setitem__(i, failure)))

    def answer(_: Any = None) -> dict[str, Any]:
        successful, failed = [], []
        for entry, failure in zip(entries, outcomes):
            if failure is None:
                successful.append({"Id": entry["Id"]})
            elif failure.check(AwsError):
                failed.append(failure.value.as_batch_entry(entry["Id"], ctx.protocol))
            else:
                failure.raiseException()
        return {"Successful": successful, "Failed": failed}
    if not waiting:
        return answer()
    return defer.gatherResults(waiting).addCallback(answer)


def delete_message_batch(state: SqsState, ctx: AwsRequestContext, params: Params) -> defer.Deferred[Any]:
    queue = state.queue(params["QueueUrl"])
    # The queue dispatches once after the batch's acks rather than after each.
    ack = partial(_ack, queue, dispatch=False)

    def one(entry: Params) -> Any:
        return _settle(state, queue, entry.get("ReceiptHandle") or "", ack)
    try:
        done = _batch(ctx, "DeleteMessageBatch", params.get("Entries") or [], one)
    finally:
        queue.dispatch()
    if isinstance(done, defer.Deferred):   # and once after those that waited for their lease
        done.addBoth(_dispatched, queue)
    return _then(done, lambda result: _after_commit(state, result))


def _dispatched(result: Any, queue: Queue) -> Any:
    queue.dispatch()
    return result


def _change_visibility(state: SqsState, queue: Queue, handle: str, timeout: int) -> Any:
    validate_visibility_timeout(timeout)

    def change(lease: Lease | None) -> None:
        if lease is None:
            # A deleted message, or one whose handle is stale: AWS's wording for both.
            raise sqs_error("InvalidParameterValue",
                            f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not "
                            "exist or is not available for visibility timeout change.")
        if (state.now_ms() + timeout * 1000) - lease.started > MAX_LEASE_S * 1000:
            raise visibility_limit_exceeded(timeout)
        queue.extend(lease, timeout * 1000)
    return _settle(state, queue, handle, change)


def change_message_visibility(state: SqsState, ctx: AwsRequestContext, params: Params) -> defer.Deferred[Any]:
    queue = state.queue(params["QueueUrl"])
    done = _change_visibility(state, queue, params["ReceiptHandle"], params["VisibilityTimeout"])
    return _then(done, lambda _: _after_commit(state, None))


def change_message_visibility_batch(state: SqsState, ctx: AwsRequestContext, params: Params) -> defer.Deferred[Any]:
    queue = state.queue(params["QueueUrl"])

    def one(entry: Params) -> Any:
        timeout = entry.get("VisibilityTimeout")
        if timeout is None:
            raise sqs_error("MissingParameter", "The request must contain the parameter VisibilityTimeout.")
        return _change_visibility(state, queue, entry.get("ReceiptHandle") or "", timeout)
    done = _batch(ctx, "ChangeMessageVisibilityBatch", params.get("Entries") or [], one)
    return _then(done, lambda result: _after_commit(state, result))
