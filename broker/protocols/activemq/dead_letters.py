"""What ActiveMQ stamps on a message it moves to a dead-letter queue, rendered from the
engine's neutral `DeadLetter` facts for the ActiveMQ doors."""
from __future__ import annotations

from broker.engine.message import DeadLetter
from broker.engine.queue import EXPIRED_CAUSE


def dead_letter_headers(dead: DeadLetter) -> dict[str, str]:
    """ActiveMQ's headers (STOMP) / properties (JMS) of a dead letter, in its wording."""
    cause = dead.cause
    if cause == EXPIRED_CAUSE:
        cause = f"java.lang.Throwable: Message Expired. Expiration:{dead.expires}"
    headers = {"original-destination": f"/{dead.kind}/{dead.name}",
               "originalExpiration": str(dead.expires),
               "dlqDeliveryFailureCause": cause}
    if not dead.was_persistent:
        headers["originalDeliveryMode"] = "NON_PERSISTENT"
    return headers
