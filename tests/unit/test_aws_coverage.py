"""The coverage page is generated from the model and the handler table; it must match."""
from facades.coverage import PAGE, render
from facades.sqs.facade import implemented_actions
from facades.sqs.models import sqs_json_model


def test_coverage_page_is_current():
    assert PAGE.read_text() == render(), "run: python -m facades.coverage"


def test_every_operation_the_issue_lists_is_implemented():
    wanted = {"CreateQueue", "GetQueueUrl", "ListQueues", "DeleteQueue", "GetQueueAttributes",
              "SetQueueAttributes", "PurgeQueue", "TagQueue", "UntagQueue", "ListQueueTags",
              "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage",
              "DeleteMessageBatch", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch",
              "ListDeadLetterSourceQueues", "StartMessageMoveTask", "CancelMessageMoveTask",
              "ListMessageMoveTasks", "AddPermission", "RemovePermission"}
    assert wanted <= set(implemented_actions()) <= set(sqs_json_model().operation_names)
