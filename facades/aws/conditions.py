"""The ``Condition`` element of an IAM policy statement, judged against a request context
as AWS documents it, for every resource policy a facade evaluates.

Operators: ``String(Not)Equals``, ``String(Not)EqualsIgnoreCase``, ``String(Not)Like``,
``Numeric(Not)Equals``, ``NumericLessThan(Equals)``, ``NumericGreaterThan(Equals)``, the
same six ``Date…``, ``Bool``, ``BinaryEquals``, ``IpAddress``/``NotIpAddress``,
``Arn(Not)Equals``/``Arn(Not)Like`` and ``Null``; every one but ``Null`` takes the
``…IfExists`` suffix and the ``ForAnyValue:``/``ForAllValues:`` qualifiers.

Semantics: operators are ANDed, so are the keys under one operator; a key's values are
ORed (a negated operator holds when the request's value matches none of them). A key
the request does not carry makes a positive operator false and a negated one true,
``…IfExists`` true, ``ForAllValues:`` true and ``ForAnyValue:`` false. Keys are
case-blind (the context's keys are in lower case). AWS refuses a policy with an
operator it does not know; one reaching this evaluator never holds.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from typing import Any

# A request's condition keys (lower case) and their values (a list for a multivalued key).
Context = Mapping[str, "str | Sequence[str]"]


def glob(pattern: str, value: str) -> bool:
    """IAM's wildcards: ``*`` and ``?``, nothing else (fnmatch's ``[...]`` is escaped)."""
    return fnmatchcase(value, pattern.replace("[", "[[]"))


def _arn_like(pattern: str, value: str) -> bool:
    # Each of an ARN's six colon-separated parts is matched on its own: a wildcard never
    # spans a colon, and a pattern must name all six parts (ArnEquals is the same test).
    wanted, parts = pattern.split(":", 5), value.split(":", 5)
    return len(wanted) == len(parts) == 6 and all(map(glob, wanted, parts))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(text), timezone.utc)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _ip_in(value: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(cidr, strict=False)
    except (ValueError, TypeError):
        return False


def _ordered(parse: Callable[[str], Any], test: Callable[[Any, Any], bool]) -> Callable[[str, str], bool]:
    def compare(value: str, wanted: str) -> bool:
        have, want = parse(value), parse(wanted)
        return have is not None and want is not None and test(have, want)
    return compare


def _comparisons(prefix: str, parse: Callable[[str], Any]) -> dict[str, tuple[Callable[[str, str], bool], bool]]:
    return {
        f"{prefix}Equals": (_ordered(parse, lambda a, b: a == b), False),
        f"{prefix}NotEquals": (_ordered(parse, lambda a, b: a == b), True),
        f"{prefix}LessThan": (_ordered(parse, lambda a, b: a < b), False),
        f"{prefix}LessThanEquals": (_ordered(parse, lambda a, b: a <= b), False),
        f"{prefix}GreaterThan": (_ordered(parse, lambda a, b: a > b), False),
        f"{prefix}GreaterThanEquals": (_ordered(parse, lambda a, b: a >= b), False),
    }


def _equal(value: str, wanted: str) -> bool:
    return value == wanted


def _equal_folded(value: str, wanted: str) -> bool:
    return value.casefold() == wanted.casefold()


# operator -> (does the request's value match one policy value, is the operator negated)
OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (_equal, False), "StringNotEquals": (_equal, True),
    "StringEqualsIgnoreCase": (_equal_folded, False), "StringNotEqualsIgnoreCase": (_equal_folded, True),
    "StringLike": (lambda v, w: glob(w, v), False), "StringNotLike": (lambda v, w: glob(w, v), True),
    **_comparisons("Numeric", _number),
    **_comparisons("Date", _date),
    "Bool": (_equal_folded, False),
    "BinaryEquals": (_equal, False),
    "IpAddress": (_ip_in, False), "NotIpAddress": (_ip_in, True),
    "ArnEquals": (lambda v, w: _arn_like(w, v), False), "ArnLike": (lambda v, w: _arn_like(w, v), False),
    "ArnNotEquals": (lambda v, w: _arn_like(w, v), True), "ArnNotLike": (lambda v, w: _arn_like(w, v), True),
}


def _text(value: Any) -> str:
    # JSON true/false are written as policy values too ("Bool": {"aws:SecureTransport": true}).
    return str(value).lower() if isinstance(value, bool) else str(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _test_holds(operator: str, key: str, wanted: Any, context: Context) -> bool:
    qualifier, _, name = operator.rpartition(":")
    present = context.get(key.lower())
    values = None if present is None else [present] if isinstance(present, str) else list(present)
    if name == "Null" and not qualifier:
        return all((values is None) == (_text(w).lower() == "true") for w in _as_list(wanted))
    if_exists = name.endswith("IfExists")
    found = OPERATORS.get(name[:-len("IfExists")] if if_exists else name)
    if found is None or qualifier not in ("", "ForAnyValue", "ForAllValues"):
        return False
    compare, negated = found
    if not values:
        if qualifier == "ForAllValues" or if_exists:
            return True
        return negated and qualifier == ""
    wanted_texts = [_text(w) for w in _as_list(wanted)]

    def holds(value: str) -> bool:
        return any(compare(value, w) for w in wanted_texts) != negated

    if qualifier == "ForAllValues":
        return all(map(holds, values))
    if qualifier == "ForAnyValue" or not negated:
        return any(map(holds, values))
    return all(map(holds, values))


def conditions_hold(conditions: Any, context: Context) -> bool:
    """Whether a statement's ``Condition`` element (None: none) holds for `context`."""
    if conditions is None:
        return True
    if not isinstance(conditions, dict):
        return False
    for operator, tests in conditions.items():
        if not isinstance(tests, dict):
            return False
        for key, wanted in tests.items():
            if not _test_holds(str(operator), str(key), wanted, context):
                return False
    return True
