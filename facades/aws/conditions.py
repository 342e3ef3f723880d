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

Policy variables (a policy of ``Version`` 2012-10-17 only; older ones read them as
text): ``${key}`` in the values of the string and ARN operators stands for the
request's value of that key, taken as literal text (its ``*`` and ``?`` are no
wildcards); ``${key, 'default'}`` stands for the default where the request has no
single value of the key (``''`` in a default is one quote); ``${*}``, ``${?}`` and
``${$}`` stand for those characters, literally. A variable without a value (no
default) makes its test false, negated operators included, as IAM documents.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

# A request's condition keys (lower case) and their values (a list for a multivalued key).
Context = Mapping[str, "str | Sequence[str]"]


# ``${...}``, or a colon outside one (where an ARN pattern is cut into its parts).
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ARN_TOKEN = re.compile(r"\$\{[^}]*\}|:")
_DEFAULT = re.compile(r"\s*(.*?)\s*,\s*'((?:[^']|'')*)'\s*", re.DOTALL)
_ESCAPES = frozenset("*?$")


@lru_cache(maxsize=4096)
def _wildcards(text: str) -> str:
    """The regular expression of IAM's wildcards in `text`: ``*`` and ``?``, nothing else."""
    return ".*".join(".".join(map(re.escape, part.split("?"))) for part in text.split("*"))


def _variable_value(inner: str, context: Context) -> str | None:
    """What ``${inner}`` stands for in `context`; None for a key with no single value and
    no default."""
    if inner in _ESCAPES:
        return inner
    found = _DEFAULT.fullmatch(inner)
    key, default = (found[1], found[2].replace("''", "'")) if found else (inner.strip(), None)
    value = context.get(key.lower())
    return value if isinstance(value, str) else default


def _pieces(text: str, context: Context | None, regex: bool) -> str | None:
    """`text` with its policy variables replaced by their values: as a regular expression
    of its wildcards with the values as literal text (`regex`), or as plain text; None when
    one has no value. Without a context (a policy older than 2012-10-17) ``${...}`` is text."""
    def between(part: str) -> str:
        return _wildcards(part) if regex else part

    if context is None:
        return between(text)
    out, end = [], 0
    for found in _VARIABLE.finditer(text):
        value = _variable_value(found[1], context)
        if value is None:
            return None
        out += [between(text[end:found.start()]), re.escape(value) if regex else value]
        end = found.end()
    out.append(between(text[end:]))
    return "".join(out)


def substitute(text: str, context: Context | None) -> str | None:
    """`text` with its policy variables replaced (no wildcards); None when one has no value."""
    return _pieces(text, context, regex=False)


def pattern(text: str, context: Context | None = None, start: int = 0) -> re.Pattern[str] | None:
    """The IAM wildcard pattern `text` as a regular expression, its policy variables from
    `start` on replaced by their values as literal text; None when one has no value."""
    rest = _pieces(text[start:], context, regex=True)
    return None if rest is None else re.compile(_wildcards(text[:start]) + rest, re.DOTALL)


def glob(wanted: str, value: str) -> bool:
    """IAM's wildcards: ``*`` and ``?``, nothing else."""
    return re.fullmatch(_wildcards(wanted), value, re.DOTALL) is not None


def arn_parts(text: str) -> list[str]:
    """An ARN (pattern) cut at its first five colons, a colon inside ``${...}`` aside."""
    cuts = [m.start() for m in _ARN_TOKEN.finditer(text) if m[0] == ":"][:5]
    return [text[a + 1:b] for a, b in zip([-1, *cuts], [*cuts, len(text)])]


def _arn_like(value: str, wanted: str, context: Context | None) -> bool:
    # Each of an ARN's six colon-separated parts is matched on its own: a wildcard never
    # spans a colon, and a pattern must name all six parts (ArnEquals is the same test).
    wanted_parts, parts = arn_parts(wanted), value.split(":", 5)
    if not len(wanted_parts) == len(parts) == 6:
        return False
    found = [pattern(w, context) for w in wanted_parts]
    return all(p is not None and p.fullmatch(v) is not None for p, v in zip(found, parts))


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


# A test of a request's value against one policy value, with the context its policy
# variables are read from (None: the operator takes none, or the policy is too old).
Compare = Callable[[str, str, "Context | None"], bool]


def _plain(test: Callable[[str, str], bool]) -> Compare:
    return lambda value, wanted, _context: test(value, wanted)


def _equal(value: str, wanted: str, context: Context | None) -> bool:
    return value == substitute(wanted, context)


def _equal_folded(value: str, wanted: str, context: Context | None) -> bool:
    found = substitute(wanted, context)
    return found is not None and value.casefold() == found.casefold()


def _like(value: str, wanted: str, context: Context | None) -> bool:
    found = pattern(wanted, context)
    return found is not None and found.fullmatch(value) is not None


def _comparisons(prefix: str, parse: Callable[[str], Any]) -> dict[str, tuple[Compare, bool]]:
    return {
        f"{prefix}Equals": (_plain(_ordered(parse, lambda a, b: a == b)), False),
        f"{prefix}NotEquals": (_plain(_ordered(parse, lambda a, b: a == b)), True),
        f"{prefix}LessThan": (_plain(_ordered(parse, lambda a, b: a < b)), False),
        f"{prefix}LessThanEquals": (_plain(_ordered(parse, lambda a, b: a <= b)), False),
        f"{prefix}GreaterThan": (_plain(_ordered(parse, lambda a, b: a > b)), False),
        f"{prefix}GreaterThanEquals": (_plain(_ordered(parse, lambda a, b: a >= b)), False),
    }


# operator -> (does the request's value match one policy value, is the operator negated)
OPERATORS: dict[str, tuple[Compare, bool]] = {
    "StringEquals": (_equal, False), "StringNotEquals": (_equal, True),
    "StringEqualsIgnoreCase": (_equal_folded, False), "StringNotEqualsIgnoreCase": (_equal_folded, True),
    "StringLike": (_like, False), "StringNotLike": (_like, True),
    **_comparisons("Numeric", _number),
    **_comparisons("Date", _date),
    "Bool": (_plain(lambda v, w: v.casefold() == w.casefold()), False),
    "BinaryEquals": (_plain(lambda v, w: v == w), False),
    "IpAddress": (_plain(_ip_in), False), "NotIpAddress": (_plain(_ip_in), True),
    "ArnEquals": (_arn_like, False), "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True), "ArnNotLike": (_arn_like, True),
}
#: The operators whose policy values may hold policy variables.
_TAKE_VARIABLES = ("String", "Arn")


def _text(value: Any) -> str:
    # JSON true/false are written as policy values too ("Bool": {"aws:SecureTransport": true}).
    return str(value).lower() if isinstance(value, bool) else str(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _test_holds(operator: str, key: str, wanted: Any, context: Context, variables: bool) -> bool:
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
    scope = context if variables and name.startswith(_TAKE_VARIABLES) else None
    if scope is not None and any(substitute(w, scope) is None for w in wanted_texts):
        return False

    def holds(value: str) -> bool:
        return any(compare(value, w, scope) for w in wanted_texts) != negated

    if qualifier == "ForAllValues":
        return all(map(holds, values))
    if qualifier == "ForAnyValue" or not negated:
        return any(map(holds, values))
    return all(map(holds, values))


def conditions_hold(conditions: Any, context: Context, variables: bool = False) -> bool:
    """Whether a statement's ``Condition`` element (None: none) holds for `context`;
    `variables`: its string and ARN values may hold policy variables (a policy of
    ``Version`` 2012-10-17)."""
    if conditions is None:
        return True
    if not isinstance(conditions, dict):
        return False
    for operator, tests in conditions.items():
        if not isinstance(tests, dict):
            return False
        for key, wanted in tests.items():
            if not _test_holds(str(operator), str(key), wanted, context, variables):
                return False
    return True
