"""The AWS wire's JSON gives the standard library's answers whichever library runs it."""
from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from facades.aws import fast_json

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                     st.text(max_size=8))
_DOCUMENTS = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=12)
_STDLIB = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _stdlib_loads(body: bytes) -> tuple[bool, Any]:
    try:
        return True, json.loads(body)
    except ValueError:
        return False, None


@settings(max_examples=400, deadline=None)
@given(_DOCUMENTS)
def test_dumps_writes_what_the_standard_library_writes(document: Any) -> None:
    try:
        expected = _STDLIB.encode(document).encode()
    except UnicodeEncodeError:  # a lone surrogate: neither can send it
        return
    assert fast_json.dumps(document) == expected


@settings(max_examples=400, deadline=None)
@given(st.one_of(_DOCUMENTS.map(lambda d: json.dumps(d).encode()), st.binary(max_size=30),
                 st.sampled_from([b"NaN", b"[1e400]", b'"\\ud800"', b'\xff\xfe{\x00}\x00',
                                  b"123456789012345678901234567890", b'{"a":1,"a":2}'])))
def test_loads_reads_what_the_standard_library_reads(body: bytes) -> None:
    _loads_as_the_standard_library(body)


@settings(max_examples=200, deadline=None)
@given(_DOCUMENTS, st.lists(st.sampled_from([1.5, 2.5e-3, 123456789012345678901, -(2**64)]), max_size=3),
       st.sampled_from([0, fast_json._SCAN_FIRST]))
def test_loads_reads_short_and_long_bodies_as_the_standard_library_does(
        document: Any, numbers: list[Any], padding: int) -> None:
    # Short bodies are scanned for long digit runs first, long ones looked through for a
    # float first: either way, the standard library's answer.
    _loads_as_the_standard_library(json.dumps([document, *numbers, " " * padding]).encode())


def _loads_as_the_standard_library(body: bytes) -> None:
    ok, expected = _stdlib_loads(body)
    try:
        got = (True, fast_json.loads(body))
    except ValueError:
        got = (False, None)
    assert repr(got) == repr((ok, expected))
