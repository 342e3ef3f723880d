"""How the ActiveMQ doors word a send the engine refuses for lack of room.

Both doors give the text ActiveMQ 5.17's destinations throw as a
`javax.jms.ResourceAllocationException` (sendFailIfNoSpace, or a store found full when the
message was written): a JMS client gets it as that exception, a STOMP client in its ERROR
frame.
"""
from __future__ import annotations

from broker.engine.limits import Refusal

RESOURCE_ALLOCATION = "javax.jms.ResourceAllocationException"
_MORE = " See http://activemq.apache.org/producer-flow-control.html for more info"


def refusal_text(refusal: Refusal, kind: str, name: str, producer: str) -> str:
    """ActiveMQ's words for a send to the queue or topic `name` refused by `refusal`;
    `producer` is the producer id as ActiveMQ prints it. With no `name` (a refusal of
    several sends, as a transaction's commit) the cause alone."""
    qualified = f"{kind}://{name}"
    if refusal.resource == "store":
        cause = f"Persistent store is Full, 100% of {refusal.limit}."
        return f"{cause} Stopping producer ({producer}) to prevent flooding {qualified}.{_MORE}" if name else cause
    if not name:
        return "Usage Manager Memory Limit reached."
    if kind == "topic":
        return (f"Usage Manager memory limit ({refusal.limit}) reached. Rejecting send for producer "
                f"({producer}) to prevent flooding {qualified}.{_MORE}")
    return f"Usage Manager Memory Limit reached on {qualified}.{_MORE}"
