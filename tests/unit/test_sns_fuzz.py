"""Filter policies from the wire: any JSON is either a policy or a FilterPolicyError, and a
policy never fails on any message."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from facades.sns.filter_policy import FilterPolicyError, parse

_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**10, 10**10), st.floats(allow_nan=False),
                  st.text(max_size=8))
_json = st.recursive(_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(["a", "b", "$or", "prefix", "suffix", "anything-but", "numeric",
                                     "exists", "equals-ignore-case", "cidr", "x"]), inner, max_size=4)),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(policy=_json, scope=st.sampled_from(["MessageAttributes", "MessageBody"]), body=_json,
       value=st.text(max_size=8), kind=st.sampled_from(["String", "Number", "String.Array", "Binary"]))
def test_any_json_is_a_policy_or_an_aws_error(policy, scope, body, value, kind):
    try:
        compiled = parse(json.dumps(policy), scope)
    except FilterPolicyError as error:
        assert str(error)
        return
    attribute = {"DataType": kind, "BinaryValue": b"x"} if kind == "Binary" else \
        {"DataType": kind, "StringValue": value}
    assert compiled.matches(json.dumps(body), {"a": attribute, "b": attribute}) in (True, False)
