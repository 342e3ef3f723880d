"""State the ActiveMQ doors keep beside one engine Broker (client ids, advisory
registries, scheduled jobs): made on first use, and gone with the Broker, so a test or an
embedding that starts several brokers in one process never sees another's."""
from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar
from weakref import WeakKeyDictionary

T = TypeVar("T")


class PerBroker(Generic[T]):
    """Called with a Broker: its own T, made by `make` the first time it is asked."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._by_broker: "WeakKeyDictionary[Any, T]" = WeakKeyDictionary()

    def __call__(self, broker: Any) -> T:
        found = self._by_broker.get(broker)
        if found is None:
            found = self._by_broker[broker] = self._make()
        return found
