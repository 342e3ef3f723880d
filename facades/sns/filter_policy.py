"""SNS subscription filter policies: validation at Subscribe, matching at publish.

Pure logic. A policy maps keys to a list of conditions (any one matches) and every key
must match (AND); ``$or`` offers alternatives at any level. With the MessageAttributes
scope the keys are message attribute names (String, Number, String.Array values); with
the MessageBody scope the policy mirrors the JSON body, nested objects included, and an
array in the body matches when any element does. Limits are AWS's: 5 keys, 150
combinations, numbers within ±1e9. Numbers are compared to five decimal places, SNS's
documented accuracy; a policy may hold more (AWS takes them), they just do not count.
"""
from __future__ import annotations

import ipaddress
import json
import math
from decimal import ROUND_DOWN, Decimal
from typing import Any, Callable, Mapping

MAX_KEYS = 5
MAX_COMBINATIONS = 150
MAX_NUMBER = 1e9
_ACCURACY = Decimal("1e-5")
# Past this, a float has no digits left at the fifth decimal place to drop.
_EXACT_BEYOND = 1e11

_MISSING = object()
Matcher = Callable[[Any], bool]   # called with the value found (or _MISSING)


class FilterPolicyError(ValueError):
    """An invalid policy; the text is what follows ``Invalid parameter: FilterPolicy:``."""


class NestedPolicyError(FilterPolicyError):
    """A nested policy where the scope has no nesting; AWS's text for it stands alone."""


# -- validation ----------------------------------------------------------------------------
def parse(text: str, scope: str = "MessageAttributes") -> "FilterPolicy":
    """The policy ``text`` compiled for matching; FilterPolicyError when AWS refuses it."""
    try:
        policy = json.loads(text)
    except (ValueError, TypeError):
        raise FilterPolicyError("failed to parse JSON.") from None
    if not isinstance(policy, dict):
        raise FilterPolicyError("Filter policy must be a JSON object")
    nested = scope == "MessageBody"
    keys, combinations = _measure(policy, nested)
    if keys > MAX_KEYS:
        raise FilterPolicyError(f"Filter policy can not have more than {MAX_KEYS} keys")
    if combinations > MAX_COMBINATIONS:
        raise FilterPolicyError("Filter policy is too complex")
    return FilterPolicy(_compile_object(policy, nested), nested)


def _measure(policy: dict[str, Any], nested: bool) -> tuple[int, int]:
    """(leaf keys, combinations) of a policy object, validating its shape on the way."""
    keys, combinations = 0, 1
    for key, value in policy.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
                raise FilterPolicyError("$or must be an array of at least 2 objects")
            measured = [_measure(v, nested) for v in value]
            keys += max(m[0] for m in measured)
            combinations *= sum(m[1] for m in measured)
        elif isinstance(value, dict):
            if not nested:
                raise NestedPolicyError("Filter policy scope MessageAttributes does not support nested filter policy")
            sub_keys, sub_combinations = _measure(value, nested)
            keys += sub_keys
            combinations *= sub_combinations
        elif isinstance(value, list):
            if not value:
                raise FilterPolicyError("Empty arrays are not allowed")
            for condition in value:
                _check_condition(condition)
            keys += 1
            combinations *= len(value)
        else:
            raise FilterPolicyError(f'"{key}" must be an object or an array')
    return keys, combinations


def _check_number(value: float) -> None:
    if not -MAX_NUMBER <= value <= MAX_NUMBER:
        raise FilterPolicyError("Numeric value must be between -1.0E9 and 1.0E9 with at most 5 decimal places")


def _check_condition(condition: Any) -> None:
    if condition is None or isinstance(condition, (str, bool)):
        return
    if isinstance(condition, (int, float)):
        _check_number(condition)
        return
    if not isinstance(condition, dict):
        raise FilterPolicyError("Match value must be String, number, true, false, or null")
    if len(condition) != 1:
        raise FilterPolicyError("Only one key allowed in match expression")
    (kind, operand), = condition.items()
    if kind in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(operand, str):
            raise FilterPolicyError(f"{kind} match pattern must be a string")
    elif kind == "exists":
        if not isinstance(operand, bool):
            raise FilterPolicyError("exists match pattern must be either true or false.")
    elif kind == "anything-but":
        _check_anything_but(operand)
    elif kind == "numeric":
        _check_numeric(operand)
    elif kind == "cidr":
        _check_cidr(operand)
    else:
        raise FilterPolicyError(f"Unrecognized match type {kind}")


def _check_cidr(operand: Any) -> None:
    """Checked part by part, as AWS words it: the slash, the address, the mask."""
    if not isinstance(operand, str):
        raise FilterPolicyError("prefix match pattern must be a string")   # sic: AWS's text
    if operand.count("/") != 1:
        raise FilterPolicyError("Malformed CIDR, one '/' required")
    address, bits = operand.split("/")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise FilterPolicyError(f"Nonstandard IP address: {address}") from None
    if not bits.isdigit():
        raise FilterPolicyError("Malformed CIDR, mask bits must be an integer")
    try:
        ipaddress.ip_network(operand, strict=False)
    except ValueError:
        raise FilterPolicyError("Malformed CIDR, mask bits must be an integer") from None


def _check_anything_but(operand: Any) -> None:
    if isinstance(operand, dict):
        if len(operand) != 1 or next(iter(operand)) not in ("prefix", "suffix"):
            raise FilterPolicyError("Unsupported anything-but pattern: " + ",".join(operand))
        if not isinstance(next(iter(operand.values())), str):
            raise FilterPolicyError("prefix match pattern must be a string")
        return
    values = operand if isinstance(operand, list) else [operand]
    if not values:
        raise FilterPolicyError("Empty arrays are not allowed")
    for value in values:
        if isinstance(value, (dict, list)) or value is None or isinstance(value, bool):
            raise FilterPolicyError("Inside anything but list, start|null|boolean is not supported.")
        if isinstance(value, (int, float)):
            _check_number(value)


_OPERATORS = {"=": lambda a, b: a == b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
              ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _check_numeric(operand: Any) -> None:
    """``[op, n]`` or a range ``[">"|">=", low, "<"|"<=", high]``, refused at the first
    element that does not fit, with the texts SNS's streaming parser gives."""
    if not isinstance(operand, list):
        raise FilterPolicyError("Value of numeric must be an array.")
    if not operand or not isinstance(operand[0], str):
        raise FilterPolicyError(f"Invalid member in numeric match: {_token(operand[0]) if operand else ']'}")
    first = operand[0]
    if first not in _OPERATORS:
        raise FilterPolicyError(f"Unrecognized numeric range operator: {first}")
    _check_operand_number(operand, 1, "equals" if first == "=" else first)
    if len(operand) == 2:
        return
    if first not in (">", ">="):
        raise FilterPolicyError("Too many elements in numeric expression")
    second = operand[2]
    if not isinstance(second, str):
        raise FilterPolicyError(f"Bad value in numeric range: {_token(second)}")
    if second not in ("<", "<="):
        raise FilterPolicyError(f"Bad numeric range operator: {second}")
    _check_operand_number(operand, 3, second)
    if len(operand) > 4:
        raise FilterPolicyError("Too many terms in numeric range expression")
    if operand[1] >= operand[3]:
        raise FilterPolicyError("Bottom must be less than top")


def _check_operand_number(operand: list[Any], index: int, name: str) -> None:
    """The number after operator `name` (``equals`` for ``=``)."""
    number = operand[index] if index < len(operand) else None
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise FilterPolicyError(f"Value of {name} must be numeric")
    _check_number(number)


def _token(value: Any) -> str:
    """A JSON value as the policy spells it (the parser's token)."""
    return json.dumps(value)


# -- matching ------------------------------------------------------------------------------
def _number(text: str) -> float | None:
    """A Number attribute's value as a number (None: not a finite number)."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _accurate(number: float) -> float:
    """`number` cut to the five decimal places SNS compares numbers to (from its decimal
    spelling, so 0.3 stays 0.3): 100.123456789 and 100.1234567 are the same number."""
    if not abs(number) < _EXACT_BEYOND:
        return number
    return float(Decimal(repr(number)).quantize(_ACCURACY, rounding=ROUND_DOWN))


def _numeric(value: Any) -> float | None:
    """What a numeric condition compares: a number (a Number attribute, a JSON number in the
    body), never a string that spells one, as SNS matches by type."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return _accurate(float(value))


def _condition(condition: Any) -> Matcher:
    """A matcher of one present value (absent values are handled by `exists`)."""
    if condition is None:
        return lambda v: v is None
    if isinstance(condition, bool):
        return lambda v: v is condition
    if isinstance(condition, str):
        return lambda v: isinstance(v, str) and v == condition
    if isinstance(condition, (int, float)):
        target = _accurate(float(condition))
        return lambda v: _numeric(v) == target
    (kind, operand), = condition.items()
    if kind == "prefix":
        return lambda v: isinstance(v, str) and v.startswith(operand)
    if kind == "suffix":
        return lambda v: isinstance(v, str) and v.endswith(operand)
    if kind == "equals-ignore-case":
        lowered = operand.lower()
        return lambda v: isinstance(v, str) and v.lower() == lowered
    if kind == "numeric":
        checks = [(_OPERATORS[operand[i]], _accurate(float(operand[i + 1]))) for i in range(0, len(operand), 2)]

        def numeric(v: Any) -> bool:
            number = _numeric(v)
            return number is not None and all(op(number, bound) for op, bound in checks)
        return numeric
    if kind == "anything-but":
        return _anything_but(operand)
    if kind == "cidr":
        network = ipaddress.ip_network(str(operand), strict=False)

        def cidr(v: Any) -> bool:
            try:
                return isinstance(v, str) and ipaddress.ip_address(v) in network
            except ValueError:
                return False
        return cidr
    raise FilterPolicyError(f"Unrecognized match type {kind}")


def _anything_but(operand: Any) -> Matcher:
    if isinstance(operand, dict):
        (kind, text), = operand.items()
        if kind == "prefix":
            return lambda v: isinstance(v, str) and not v.startswith(text)
        return lambda v: isinstance(v, str) and not v.endswith(text)
    values = operand if isinstance(operand, list) else [operand]
    strings = {v for v in values if isinstance(v, str)}
    numbers = {_accurate(float(v)) for v in values if not isinstance(v, str)}

    def anything_but(v: Any) -> bool:
        if isinstance(v, str) and v in strings:
            return False
        number = _numeric(v) if numbers else None
        return number is None or number not in numbers
    return anything_but


def _key_matcher(conditions: list[Any]) -> Callable[[Any], bool]:
    """Matches the value found under one key (a list: any element), or _MISSING."""
    exists = [c["exists"] for c in conditions if isinstance(c, dict) and "exists" in c]
    others = [_condition(c) for c in conditions if not (isinstance(c, dict) and "exists" in c)]

    def match(found: Any) -> bool:
        if found is _MISSING:
            return any(flag is False for flag in exists)
        if any(flag is True for flag in exists):
            return True
        values = found if isinstance(found, list) else [found]
        return any(m(v) for m in others for v in values)
    return match


Node = Callable[[Mapping[str, Any]], bool]


def _compile_object(policy: dict[str, Any], nested: bool) -> Node:
    parts: list[Node] = []
    for key, value in policy.items():
        if key == "$or":
            alternatives = [_compile_object(v, nested) for v in value]
            parts.append(lambda doc, alts=alternatives: any(a(doc) for a in alts))
        elif isinstance(value, dict):
            inner = _compile_object(value, nested)
            parts.append(lambda doc, k=key, f=inner: _nested(doc.get(k, _MISSING), f))
        else:
            matcher = _key_matcher(value)
            parts.append(lambda doc, k=key, m=matcher: m(doc.get(k, _MISSING)))
    return lambda doc: all(p(doc) for p in parts)


def _nested(found: Any, inner: Node) -> bool:
    if isinstance(found, dict):
        return inner(found)
    if isinstance(found, list):
        return any(inner(item) for item in found if isinstance(item, dict))
    return inner({})


class FilterPolicy:
    """A compiled policy; ``matches`` is called once per publication and subscription."""

    def __init__(self, root: Node, body_scope: bool) -> None:
        self._root = root
        self.body_scope = body_scope

    def matches(self, message: str, attributes: Mapping[str, Mapping[str, Any]]) -> bool:
        if self.body_scope:
            try:
                doc = json.loads(message)
            except ValueError:
                return False
            return isinstance(doc, dict) and self._root(doc)
        return self._root(attribute_values(attributes))


def attribute_values(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Message attributes as the values a policy compares: Number as numbers, String.Array
    as its elements; Binary attributes take no part in filtering."""
    out: dict[str, Any] = {}
    for name, value in attributes.items():
        kind = value.get("DataType", "String")
        if kind.startswith("Binary"):
            continue
        text = value.get("StringValue", "")
        if kind.startswith("Number"):
            number = _number(text)
            out[name] = number if number is not None else text
        elif kind == "String.Array":
            try:
                items = json.loads(text)
            except ValueError:
                items = text
            out[name] = items if isinstance(items, list) else text
        else:
            out[name] = text
    return out
