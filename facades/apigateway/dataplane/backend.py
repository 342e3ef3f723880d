"""What an integration answered, whatever kind of backend it was."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class BackendResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    """Header names as the backend sent them."""
    body: bytes = b""
    error_message: str | None = None
    """A Lambda function's ``errorMessage`` (what selection patterns match for Lambda)."""
    stream: Callable[[Any], Any] | None = None
    """For a large or unsized body: relays it into the client's response body as it arrives."""

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lower), None)
