"""Local transactions of the ActiveMQ doors: sends and acks held until COMMIT.

What a transaction holds is the door's business (its own destinations and ack records);
the bookkeeping and ActiveMQ's wording for a bad transaction id are shared.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class TransactionError(Exception):
    """A transaction id the connection has not begun, or begins twice."""


@dataclass
class Transaction:
    sends: list[Any] = field(default_factory=list)
    acks: list[Any] = field(default_factory=list)
    # Why the COMMIT must fail (a refused send inside the transaction), if it must.
    rollback_only: str | None = None


class Transactions:
    """One connection's open transactions; all of them end with the connection."""

    def __init__(self) -> None:
        self._open: dict[str, Transaction] = {}

    def begin(self, tx_id: str) -> Transaction:
        if tx_id in self._open:
            raise TransactionError(f"The transaction was already started: {tx_id}")
        tx = self._open[tx_id] = Transaction()
        return tx

    def get(self, tx_id: str) -> Transaction:
        tx = self._open.get(tx_id)
        if tx is None:
            raise TransactionError(f"Invalid transaction id: {tx_id}")
        return tx

    def find(self, tx_id: str | None) -> Transaction | None:
        """The open transaction of that id, or None (no id, or not begun)."""
        return self._open.get(tx_id) if tx_id is not None else None

    def end(self, tx_id: str) -> Transaction:
        """Take the transaction out (COMMIT or ROLLBACK)."""
        tx = self.get(tx_id)
        del self._open[tx_id]
        return tx

    def clear(self) -> None:
        self._open.clear()
