"""The SQS facade: every implemented action bound to the engine through one SqsState."""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

from broker.auth.security import Security
from broker.config import Config
from broker.engine.broker import Broker
from facades.sqs import messages, moves, queues
from facades.sqs.access import guarded, visibility
from facades.sqs.service import SqsService, sqs_service
from facades.sqs.state import SqsState

_ACTIONS: dict[str, Callable[..., Any]] = {
    "CreateQueue": queues.create_queue,
    "GetQueueUrl": queues.get_queue_url,
    "ListQueues": queues.list_queues,
    "DeleteQueue": queues.delete_queue,
    "GetQueueAttributes": queues.get_queue_attributes,
    "SetQueueAttributes": queues.set_queue_attributes,
    "PurgeQueue": queues.purge_queue,
    "TagQueue": queues.tag_queue,
    "UntagQueue": queues.untag_queue,
    "ListQueueTags": queues.list_queue_tags,
    "ListDeadLetterSourceQueues": queues.list_dead_letter_source_queues,
    "AddPermission": queues.add_permission,
    "RemovePermission": queues.remove_permission,
    "SendMessage": messages.send_message,
    "SendMessageBatch": messages.send_message_batch,
    "ReceiveMessage": messages.receive_message,
    "DeleteMessage": messages.delete_message,
    "DeleteMessageBatch": messages.delete_message_batch,
    "ChangeMessageVisibility": messages.change_message_visibility,
    "ChangeMessageVisibilityBatch": messages.change_message_visibility_batch,
    "StartMessageMoveTask": moves.start_message_move_task,
    "CancelMessageMoveTask": moves.cancel_message_move_task,
    "ListMessageMoveTasks": moves.list_message_move_tasks,
}


def implemented_actions() -> list[str]:
    return list(_ACTIONS)


def build(broker: Broker, config: Config, security: Security) -> SqsService:
    state = SqsState(broker, config.region, config.account, config.aws_public_url)
    state.visible = visibility(security)
    return sqs_service({name: guarded(security, state, name, partial(fn, state)) for name, fn in _ACTIONS.items()})
