"""ActiveMQ's words for a send refused at a limit, shared by the STOMP and OpenWire doors
(the client's exception is javax.jms.ResourceAllocationException either way)."""
from __future__ import annotations

from broker.engine.limits import Refusal

RESOURCE_EXCEPTION = "javax.jms.ResourceAllocationException"


def refusal_text(refusal: Refusal, producer: str, qualified: str) -> str:
    """ActiveMQ's text: `producer` its producer id, `qualified` the destination as
    queue://name or topic://name ("" for a refusal of several, as a transaction's commit:
    the cause alone)."""
    if refusal.resource == "store":
        cause = f"Persistent store is Full, 100% of {refusal.limit}."
    else:
        cause = "Usage Manager Memory Limit reached."
    if not qualified:
        return cause
    return (f"{cause} Stopping producer ({producer}) to prevent flooding {qualified}. "
            "See http://activemq.apache.org/producer-flow-control.html for more info")
