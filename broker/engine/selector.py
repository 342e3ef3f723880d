"""JMS message selectors (the SQL92 subset of JMS 1.1 §3.8.1) as ActiveMQ 5.x runs them.

Apps written against ActiveMQ depend on its behaviour as much as on the spec, so the
grammar, the parse-time checks and the type rules follow ActiveMQ's SelectorParser.jj and
its filter/*Expression.java, including their oddities:

* Precedence, loosest first: OR, AND, equality (= <> IS [NOT] NULL), comparison
  (< <= > >= [NOT] LIKE, [NOT] BETWEEN, [NOT] IN), + -, * / %, then the prefix
  operators + - NOT. NOT binds tightest: ``NOT a = 1`` is ``(NOT a) = 1``.
* Identifiers are ASCII ``[A-Za-z_$][A-Za-z0-9_$]*`` (no dots); keywords are
  case-insensitive and reserved, XPATH and XQUERY included (those are refused).
  Integers are decimal (optional L), hex (0x..) or octal (0..); hex and octal must fit
  in a long. Floats are 1.5, 1., .5, 1e3 (no F/D suffix). ``--`` comments run to a line
  end, ``/* */`` comments anywhere.
* Parse-time checks: < <= > >= and BETWEEN refuse string, boolean and NULL literals and
  boolean expressions; = and <> refuse NULL, and ``TRUE = 'x'`` (a boolean literal on
  the left of another literal); IN takes a property and string literals only; ESCAPE
  takes one character; operands of AND, OR, NOT and the selector itself must be boolean
  (a bare property is read as a boolean: TRUE only if it is the boolean true).
* Types: numbers widen (int, long, double) to compare; any other mismatch compares
  FALSE, not UNKNOWN (so ``NOT (s > 1)`` is TRUE for s = 'abc'). With string conversion
  on (ActiveMQ's STOMP mode, see `parse`), a string compared with a number is read as
  that number's Java type: '10' > 6 is TRUE, '-2.5' < 0 is FALSE (not an int) and
  '-2.5' < 0.0 is TRUE; a string compared with a boolean is TRUE only if it is 'true'
  in any case. LIKE on a non-string is FALSE (NOT LIKE TRUE); IN on a non-string is
  UNKNOWN. NOT BETWEEN is ``a < low OR a > high``, so a mismatch makes both FALSE.

Deliberate differences from ActiveMQ: trailing tokens after a complete expression are an
error (ActiveMQ silently ignores them, so ``a = 1)`` matches there); = and <> with a NULL
operand are UNKNOWN on either side (ActiveMQ answers FALSE when only the right side is
NULL, and TRUE when both are); arithmetic on a non-number is UNKNOWN (ActiveMQ
concatenates strings for + and throws for the rest); integer arithmetic does not wrap
at 32/64 bits, since a property value does not say whether it was an int or a long.

A selector is compiled once into nested closures that return True, False or None
(UNKNOWN), so a queue can run it against many messages without re-reading a tree.
"""
from __future__ import annotations

import functools
import math
import operator
import re
from enum import Enum
from typing import Callable, NamedTuple

__all__ = ["InvalidSelector", "Lookup", "Selector", "parse"]

Lookup = Callable[[str], object | None]
_Evaluate = Callable[[Lookup], object]

# JMS clients of ActiveMQ prefix a selector with this to ask for string conversion.
_CONVERT_PREFIX = "convert_string_expressions:"
# Bounds both parser recursion and closure nesting, well inside Python's stack limit.
_MAX_NESTING = 64
_INT_RANGE = range(-(2**31), 2**31)
_LONG_RANGE = range(-(2**63), 2**63)
# bool is deliberately absent: Java's Boolean is not a Number.
_NUMBER_TYPES = frozenset({int, float})


class InvalidSelector(ValueError):
    """A selector that does not compile; the message is written for the client, since the
    STOMP door sends it in a non-fatal ERROR frame and OpenWire in InvalidSelectorException.
    """


class Selector:
    """A compiled selector, cheap to run against every message a queue offers."""

    __slots__ = ("text", "convert_strings", "_evaluate")

    def __init__(self, text: str, convert_strings: bool, evaluate: _Evaluate) -> None:
        self.text = text
        # Part of what the selector means: a durable subscription keeps it with the text.
        self.convert_strings = convert_strings
        self._evaluate = evaluate

    def matches(self, lookup: Lookup) -> bool:
        """Whether the message is selected; UNKNOWN selects nothing, as FALSE does.

        `lookup(name)` gives a property's value (str, int, float or bool), None if absent.
        """
        return self._evaluate(lookup) is True

    def __repr__(self) -> str:
        return f"Selector({self.text!r})"


@functools.lru_cache(maxsize=1024)
def parse(text: str, *, convert_strings: bool = True) -> Selector:
    """Compile `text`, or raise InvalidSelector.

    `convert_strings` is ActiveMQ's conversion of string properties to the type of what
    they are compared with. ActiveMQ turns it on for every STOMP subscription (headers
    are all strings), which is why it is the default; a JMS door that keeps typed
    properties passes False, and its clients can still opt in with the
    ``convert_string_expressions:`` prefix, as on ActiveMQ.
    """
    if text.startswith(_CONVERT_PREFIX):
        convert_strings = True
    try:
        evaluate = _Parser(text.removeprefix(_CONVERT_PREFIX), convert_strings).selector()
    except InvalidSelector as error:
        raise InvalidSelector(f"invalid selector {text!r}: {error}") from None
    return Selector(text, convert_strings, evaluate)


# -- tokens -------------------------------------------------------------------------------

_KEYWORDS = frozenset({"NOT", "AND", "OR", "BETWEEN", "LIKE", "ESCAPE", "IN", "IS",
                       "TRUE", "FALSE", "NULL", "XPATH", "XQUERY"})

# Alternatives are ordered so that the first match is JavaCC's longest match.
_TOKEN_RE = re.compile(r"""
    (?P<skip> [ \t\n\r\f]+ | --[^\n\r]*(?:\r\n|\n|\r) | /\*[^*]*\*+(?:[^*/][^*]*\*+)*/ )
  | (?P<float> [0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)? | \.[0-9]+(?:[eE][+-]?[0-9]+)?
             | [0-9]+[eE][+-]?[0-9]+ )
  | (?P<hex> 0[xX][0-9a-fA-F]+ )
  | (?P<decimal> [1-9][0-9]*[lL]? )
  | (?P<octal> 0[0-7]* )
  | (?P<string> '[^']*(?:''[^']*)*' )
  | (?P<word> [A-Za-z_$][A-Za-z0-9_$]* )
  | (?P<symbol> <> | <= | >= | [=<>+\-*/%(),] )
""", re.VERBOSE)


class _Token(NamedTuple):
    kind: str  # "number", "string", "name", "end", a keyword or a symbol
    value: object
    text: str
    position: int  # 1-based, for messages

    def describe(self) -> str:
        return "end of selector" if self.kind == "end" else repr(self.text)


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    offset = 0
    while offset < len(text):
        match = _TOKEN_RE.match(text, offset)
        if match is None:
            what = ("unterminated string literal" if text[offset] == "'"
                    else f"unexpected character {text[offset]!r}")
            raise InvalidSelector(f"{what} at position {offset + 1}")
        kind, source = match.lastgroup, match.group()
        if kind != "skip":
            tokens.append(_token(kind, source, offset + 1))
        offset = match.end()
    tokens.append(_Token("end", None, "", len(text) + 1))
    return tokens


def _token(kind: str | None, source: str, position: int) -> _Token:
    if kind == "float":
        return _Token("number", float(source), source, position)
    if kind == "decimal":
        # Any size, as ActiveMQ falls back to BigDecimal; Python refuses > 4300 digits.
        try:
            return _Token("number", int(source.rstrip("lL")), source, position)
        except ValueError:
            raise InvalidSelector(f"integer literal too long at position {position}") from None
    if kind in ("hex", "octal"):
        value = int(source[2:], 16) if kind == "hex" else int(source, 8)
        if value not in _LONG_RANGE:
            raise InvalidSelector(f"integer literal {source} does not fit in a long"
                                  f" at position {position}")
        return _Token("number", value, source, position)
    if kind == "string":
        return _Token("string", source[1:-1].replace("''", "'"), source, position)
    if kind == "word" and source.upper() in _KEYWORDS:
        return _Token(source.upper(), None, source, position)
    if kind == "word":
        return _Token("name", source, source, position)
    return _Token(source, None, source, position)


# -- compiled nodes -------------------------------------------------------------------------

class _Kind(Enum):
    """What the parse-time checks need to know about an operand."""

    LITERAL = "string or number literal"
    BOOLEAN_LITERAL = "boolean or NULL literal"
    PROPERTY = "property"
    BOOLEAN = "boolean expression"
    VALUE = "computed value"


class _Node(NamedTuple):
    evaluate: _Evaluate
    kind: _Kind
    value: object = None  # the literal's value or the property's name
    depth: int = 1


def _derive(evaluate: _Evaluate, kind: _Kind, *operands: _Node) -> _Node:
    depth = 1 + max(operand.depth for operand in operands)
    if depth > _MAX_NESTING:
        raise InvalidSelector(f"expression nests deeper than {_MAX_NESTING} operators")
    return _Node(evaluate, kind, None, depth)


def _constant(value: object, kind: _Kind) -> _Node:
    return _Node(lambda lookup: value, kind, value)


def _property(name: str) -> _Node:
    return _Node(lambda lookup: lookup(name), _Kind.PROPERTY, name)


def _boolean_property(node: _Node) -> _Node:
    get = node.evaluate

    def evaluate(lookup: Lookup) -> bool | None:
        value = get(lookup)
        return None if value is None else value is True

    return _derive(evaluate, _Kind.BOOLEAN, node)


def _not(node: _Node) -> _Node:
    operand = node.evaluate

    def evaluate(lookup: Lookup) -> bool | None:
        value = operand(lookup)
        return None if value is None else not value

    return _derive(evaluate, _Kind.BOOLEAN, node)


def _any(nodes: list[_Node]) -> _Node:
    terms = tuple(node.evaluate for node in nodes)

    def evaluate(lookup: Lookup) -> bool | None:
        unknown = False
        for term in terms:
            value = term(lookup)
            if value:
                return True
            unknown = unknown or value is None
        return None if unknown else False

    return _derive(evaluate, _Kind.BOOLEAN, *nodes)


def _all(nodes: list[_Node]) -> _Node:
    terms = tuple(node.evaluate for node in nodes)

    def evaluate(lookup: Lookup) -> bool | None:
        unknown = False
        for term in terms:
            value = term(lookup)
            if value is False:
                return False
            unknown = unknown or value is None
        return None if unknown else True

    return _derive(evaluate, _Kind.BOOLEAN, *nodes)


def _is_null(node: _Node, negated: bool) -> _Node:
    operand = node.evaluate
    if negated:
        return _derive(lambda lookup: operand(lookup) is not None, _Kind.BOOLEAN, node)
    return _derive(lambda lookup: operand(lookup) is None, _Kind.BOOLEAN, node)


def _comparison(compare: Callable[[object, object], bool], left: _Node, right: _Node,
                convert_strings: bool) -> _Node:
    """A comparison that is FALSE, not UNKNOWN, when the types do not meet (ActiveMQ's rule)."""
    get_left, get_right = left.evaluate, right.evaluate
    coerce = _coerce_converting if convert_strings else _coerce

    def evaluate(lookup: Lookup) -> bool | None:
        a = get_left(lookup)
        if a is None:
            return None
        b = get_right(lookup)
        if b is None:
            return None
        if type(a) is not type(b):
            pair = coerce(a, b)
            if pair is None:
                return False
            a, b = pair
        return compare(a, b)

    return _derive(evaluate, _Kind.BOOLEAN, left, right)


def _coerce(a: object, b: object) -> tuple[object, object] | None:
    """Java's numeric widening: int, long and double meet; nothing else does."""
    if type(a) in _NUMBER_TYPES and type(b) in _NUMBER_TYPES:
        return a, b
    return None


def _coerce_converting(a: object, b: object) -> tuple[object, object] | None:
    if type(a) is str:
        converted = _string_as(a, b)
        return None if converted is None else (converted, b)
    if type(b) is str:
        converted = _string_as(b, a)
        return None if converted is None else (a, converted)
    return _coerce(a, b)


def _string_as(text: str, other: object) -> object | None:
    """`text` read by the valueOf of `other`'s Java class, or None where Java throws."""
    kind = type(other)
    if kind is int:
        return _java_integer(text, _INT_RANGE if other in _INT_RANGE else _LONG_RANGE)
    if kind is float:
        return _java_double(text)
    if kind is bool:
        return text.lower() == "true"
    return None


_JAVA_INTEGER = re.compile(r"[+-]?\d+")
# Double.valueOf trims every character up to U+0020 and accepts a type suffix.
_JAVA_BLANKS = "".join(map(chr, range(0x21)))
_JAVA_DOUBLE = re.compile(
    r"[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?)")


def _java_integer(text: str, bounds: range) -> int | None:
    if _JAVA_INTEGER.fullmatch(text) is None:
        return None
    try:
        value = int(text)
    except ValueError:  # more digits than Python will convert: no int or long anyway
        return None
    return value if value in bounds else None


def _java_double(text: str) -> float | None:
    text = text.strip(_JAVA_BLANKS)
    if _JAVA_DOUBLE.fullmatch(text) is None:
        return None
    return float(text.rstrip("fFdD"))


def _arithmetic(compute: Callable[[object, object], object], left: _Node,
                right: _Node) -> _Node:
    get_left, get_right = left.evaluate, right.evaluate

    def evaluate(lookup: Lookup) -> object:
        a, b = get_left(lookup), get_right(lookup)
        if type(a) not in _NUMBER_TYPES or type(b) not in _NUMBER_TYPES:
            return None
        try:
            return compute(a, b)
        except OverflowError:  # an integer beyond any double
            return None

    return _derive(evaluate, _Kind.VALUE, left, right)


def _divide(a: float, b: float) -> float:
    """Java divides as doubles, so x / 0 is an infinity or NaN rather than an error."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _modulo(a: float, b: float) -> float:
    """Java's % on doubles: the sign of the dividend, NaN where fmod has no answer."""
    try:
        return math.fmod(a, b)
    except ValueError:
        return math.nan


def _negate(node: _Node) -> _Node:
    operand = node.evaluate

    def evaluate(lookup: Lookup) -> object:
        value = operand(lookup)
        return -value if type(value) in _NUMBER_TYPES else None

    return _derive(evaluate, _Kind.VALUE, node)


def _like(node: _Node, pattern: str, escape: str | None) -> _Node:
    operand = node.evaluate
    match = _like_matcher(pattern, escape)

    def evaluate(lookup: Lookup) -> bool | None:
        value = operand(lookup)
        if value is None:
            return None
        return type(value) is str and match(value) is not None

    return _derive(evaluate, _Kind.BOOLEAN, node)


def _like_matcher(pattern: str, escape: str | None) -> Callable[[str], object]:
    """A regex for a LIKE pattern that cannot backtrack catastrophically.

    Each ``%`` splits the pattern into fixed-width pieces; placing every inner piece at
    its leftmost match is always a solution if one exists, so those pieces go in atomic
    groups and a pattern like '%a%a%a%b' stays linear in the value's length. As in
    ActiveMQ, the escape character escapes only %, _ and itself, and is literal elsewhere.
    """
    pieces: list[list[str]] = [[]]
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == escape and pattern[index + 1:index + 2] in ("%", "_", escape):
            index += 1
            pieces[-1].append(re.escape(pattern[index]))
        elif char == "%":
            pieces.append([])
        else:
            pieces[-1].append("." if char == "_" else re.escape(char))
        index += 1
    regexes = ["".join(piece) for piece in pieces]
    if len(regexes) > 1:
        inner = "".join(f"(?>.*?{regex})" for regex in regexes[1:-1] if regex)
        regexes = [regexes[0], inner, ".*", regexes[-1]]
    return re.compile("".join(regexes), re.DOTALL).fullmatch


def _in(node: _Node, values: frozenset[str]) -> _Node:
    operand = node.evaluate

    def evaluate(lookup: Lookup) -> bool | None:
        value = operand(lookup)
        return value in values if type(value) is str else None

    return _derive(evaluate, _Kind.BOOLEAN, node)


# -- parser ---------------------------------------------------------------------------------

# Binding levels of infix operators between AND and the prefix operators.
_LEVELS = {"=": 1, "<>": 1, "IS": 1,
           "<": 2, "<=": 2, ">": 2, ">=": 2, "LIKE": 2, "BETWEEN": 2, "IN": 2, "NOT": 2,
           "+": 3, "-": 3, "*": 4, "/": 4, "%": 4}
_ORDERINGS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul,
               "/": _divide, "%": _modulo}
_BOOLEAN_LITERALS = {"TRUE": True, "FALSE": False, "NULL": None}


def _fail(reason: str, position: int) -> InvalidSelector:
    return InvalidSelector(f"{reason} at position {position}")


class _Parser:
    """Recursive descent for OR and AND, precedence climbing for the levels below them."""

    def __init__(self, text: str, convert_strings: bool) -> None:
        self._tokens = _tokenize(text)
        self._next = 0
        self._convert = convert_strings
        self._nesting = 0

    def selector(self) -> _Evaluate:
        node = self._or()
        token = self._peek()
        if token.kind != "end":
            raise _fail(f"unexpected {token.describe()}", token.position)
        return self._as_boolean(node, "the selector must be a boolean expression", 1).evaluate

    # -- token stream
    def _peek(self, ahead: int = 0) -> _Token:
        return self._tokens[min(self._next + ahead, len(self._tokens) - 1)]

    def _advance(self) -> _Token:
        token = self._peek()
        if token.kind != "end":
            self._next += 1
        return token

    def _accept(self, kind: str) -> _Token | None:
        return self._advance() if self._peek().kind == kind else None

    def _expect(self, kind: str, what: str) -> _Token:
        token = self._advance()
        if token.kind != kind:
            raise _fail(f"expected {what} but found {token.describe()}", token.position)
        return token

    # -- grammar
    def _or(self) -> _Node:
        return self._chain("OR", self._and, _any)

    def _and(self) -> _Node:
        return self._chain("AND", self._binary, _all)

    def _chain(self, keyword: str, operand: Callable[[], _Node],
               combine: Callable[[list[_Node]], _Node]) -> _Node:
        """A flat AND/OR, so long chains cost neither recursion nor nested calls."""
        node = operand()
        terms: list[_Node] = []
        while (token := self._accept(keyword)) is not None:
            reason = f"{keyword} needs boolean operands"
            if not terms:
                terms.append(self._as_boolean(node, reason, token.position))
            terms.append(self._as_boolean(operand(), reason, token.position))
        return combine(terms) if terms else node

    def _binary(self, min_level: int = 0) -> _Node:
        left = self._unary()
        while True:
            token = self._peek()
            level = _LEVELS.get(token.kind, 0)
            if level <= min_level:
                return left
            if token.kind == "NOT" and self._peek(1).kind not in ("LIKE", "BETWEEN", "IN"):
                return left
            self._advance()
            left = self._infix(token, left, level)

    def _infix(self, token: _Token, left: _Node, level: int) -> _Node:
        kind = token.kind
        if kind in _ARITHMETIC:
            return _arithmetic(_ARITHMETIC[kind], left, self._binary(level))
        if kind == "IS":
            negated = self._accept("NOT") is not None
            self._expect("NULL", "NULL")
            return _is_null(left, negated)
        if kind in ("=", "<>"):
            right = self._binary(level)
            self._check_equality(token, left, right)
            equal = _comparison(operator.eq, left, right, self._convert)
            return equal if kind == "=" else _not(equal)
        if kind in _ORDERINGS:
            right = self._binary(level)
            self._check_ordering(token, left, right)
            return _comparison(_ORDERINGS[kind], left, right, self._convert)
        negated = kind == "NOT"
        if negated:
            token = self._advance()
        if token.kind == "BETWEEN":
            return self._between(token, left, level, negated)
        node = self._like(left) if token.kind == "LIKE" else self._in(token, left)
        return _not(node) if negated else node

    def _between(self, token: _Token, value: _Node, level: int, negated: bool) -> _Node:
        low = self._binary(level)
        self._expect("AND", "AND")
        high = self._binary(level)
        self._check_ordering(token, value, low, high)
        if negated:
            return _any([_comparison(operator.lt, value, low, self._convert),
                         _comparison(operator.gt, value, high, self._convert)])
        return _all([_comparison(operator.ge, value, low, self._convert),
                     _comparison(operator.le, value, high, self._convert)])

    def _like(self, value: _Node) -> _Node:
        pattern = self._expect("string", "a string pattern").value
        escape = None
        if (token := self._accept("ESCAPE")) is not None:
            escape = self._expect("string", "an escape string").value
            if len(escape) != 1:
                raise _fail("ESCAPE takes exactly one character", token.position)
        return _like(value, pattern, escape)

    def _in(self, token: _Token, value: _Node) -> _Node:
        if value.kind is not _Kind.PROPERTY:
            raise _fail("IN needs a property on its left", token.position)
        self._expect("(", "'('")
        values = [self._expect("string", "a string literal").value]
        while self._accept(",") is not None:
            values.append(self._expect("string", "a string literal").value)
        self._expect(")", "',' or ')'")
        return _in(value, frozenset(values))

    def _unary(self) -> _Node:
        self._nesting += 1
        token = self._advance()
        if self._nesting > _MAX_NESTING:
            raise _fail(f"more than {_MAX_NESTING} nested parentheses or prefix operators",
                        token.position)
        kind = token.kind
        if kind == "+":
            node = self._unary()
        elif kind == "-":
            node = _negate(self._unary())
        elif kind == "NOT":
            node = _not(self._as_boolean(self._unary(), "NOT needs a boolean operand",
                                         token.position))
        elif kind == "(":
            node = self._or()
            self._expect(")", "')'")
        elif kind in ("number", "string"):
            node = _constant(token.value, _Kind.LITERAL)
        elif kind in _BOOLEAN_LITERALS:
            node = _constant(_BOOLEAN_LITERALS[kind], _Kind.BOOLEAN_LITERAL)
        elif kind == "name":
            node = _property(token.text)
        elif kind in ("XPATH", "XQUERY"):
            raise _fail(f"{kind} selectors are not supported", token.position)
        else:
            raise _fail(f"expected an expression but found {token.describe()}", token.position)
        self._nesting -= 1
        return node

    # -- ActiveMQ's parse-time checks
    def _as_boolean(self, node: _Node, reason: str, position: int) -> _Node:
        if node.kind is _Kind.BOOLEAN or node.kind is _Kind.BOOLEAN_LITERAL:
            return node
        if node.kind is _Kind.PROPERTY:
            return _boolean_property(node)
        raise _fail(f"{reason}, not a {node.kind.value}", position)

    def _check_equality(self, token: _Token, left: _Node, right: _Node) -> None:
        for node in (left, right):
            if node.kind is _Kind.BOOLEAN_LITERAL and node.value is None:
                raise _fail(f"NULL cannot be compared with {token.text}; use IS NULL",
                            token.position)
        # ActiveMQ checks this order only: 1 = TRUE parses (and is FALSE).
        if left.kind is _Kind.BOOLEAN_LITERAL and right.kind is _Kind.LITERAL:
            raise _fail(f"a boolean literal cannot be compared with a {right.kind.value}",
                        token.position)

    def _check_ordering(self, token: _Token, *operands: _Node) -> None:
        for node in operands:
            if (node.kind in (_Kind.BOOLEAN, _Kind.BOOLEAN_LITERAL)
                    or (node.kind is _Kind.LITERAL and type(node.value) is str)):
                what = "string literal" if node.kind is _Kind.LITERAL else node.kind.value
                raise _fail(f"{token.text} cannot order a {what}", token.position)
