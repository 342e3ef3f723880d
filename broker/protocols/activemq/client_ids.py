"""Client-id ownership shared by the ActiveMQ doors.

In ActiveMQ a JMS clientID and a STOMP `client-id` are the same thing: one live connection
per id, whichever protocol it speaks, and the durable subscriptions of that id belong to
it. The registry hangs off the engine's Broker so both doors see the same one without
knowing about each other.
"""
from __future__ import annotations

from typing import Any

from broker.protocols.activemq.per_broker import PerBroker


class ClientIds:
    def __init__(self) -> None:
        self._owners: dict[str, Any] = {}

    def claim(self, client_id: str, owner: Any) -> bool:
        """Take `client_id` for `owner`; False when another live connection holds it."""
        holder = self._owners.get(client_id)
        if holder is not None and holder is not owner:
            return False
        self._owners[client_id] = owner
        return True

    def owner(self, client_id: str) -> Any:
        return self._owners.get(client_id)

    def release(self, client_id: str, owner: Any) -> None:
        if self._owners.get(client_id) is owner:
            del self._owners[client_id]


client_ids: PerBroker[ClientIds] = PerBroker(ClientIds)
"""The registry of one engine Broker."""


def already_connected(broker_name: str, client_id: str, remote: str | None = None) -> str:
    """ActiveMQ's InvalidClientIDException message."""
    text = f"Broker: {broker_name} - Client: {client_id} already connected"
    return f"{text} from {remote}" if remote else text
