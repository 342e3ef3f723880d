"""Small facts about model shapes that both wire protocols share."""

from __future__ import annotations

from typing import Final


class ResponseShapeError(ValueError):
    """A handler returned data its operation's output shape cannot carry.

    This is a bug in the handler, not bad input, so it surfaces as
    ``InternalFailure`` (and is logged) rather than as a client error.
    """


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


#: What a parser returns for a member the request did not carry, so that a
#: present-but-empty value ("" or []) stays distinguishable from a missing one.
ABSENT: Final = _Absent()

_BOUNDS = {"integer": 2**31, "long": 2**63}


def integer_bounds(kind: str) -> tuple[int, int]:
    """Inclusive range of botocore's ``integer`` (32-bit) / ``long`` (64-bit)."""
    limit = _BOUNDS[kind]
    return -limit, limit - 1
