"""Filter policies: AWS's documented examples, both scopes, limits and error messages."""
from __future__ import annotations

import json

import pytest

from facades.sns.filter_policy import FilterPolicyError, parse

# The message attributes of AWS's filter policy documentation.
ATTRIBUTES = {
    "customer_interests": {"DataType": "String.Array", "StringValue": '["soccer", "rugby", "hockey"]'},
    "store": {"DataType": "String", "StringValue": "example_corp"},
    "event": {"DataType": "String", "StringValue": "order_placed"},
    "price_usd": {"DataType": "Number", "StringValue": "210.75"},
    "encrypted": {"DataType": "Binary", "BinaryValue": b"\x00"},
}
BODY = {"store": "example_corp", "event": "order_placed", "price_usd": 210.75,
        "customer_interests": ["soccer", "rugby", "hockey"], "order": {"shipping": {"country": "DE"}, "paid": True},
        "items": [{"sku": "A-1"}, {"sku": "B-2"}], "note": None}

CASES = [
    # (policy, matches)
    ({"store": ["example_corp"], "event": [{"anything-but": "order_cancelled"}],
      "customer_interests": ["rugby", "football", "baseball"], "price_usd": [{"numeric": [">=", 100]}]}, True),
    ({"customer_interests": ["rugby"]}, True),
    ({"customer_interests": ["tennis"]}, False),
    ({"store": ["other_corp"]}, False),
    ({"event": [{"anything-but": ["order_placed", "order_cancelled"]}]}, False),
    ({"event": [{"anything-but": {"prefix": "order-"}}]}, True),
    ({"event": [{"anything-but": {"prefix": "order_"}}]}, False),
    ({"event": [{"anything-but": {"suffix": "_placed"}}]}, False),
    ({"price_usd": [{"anything-but": [100, 500]}]}, True),
    ({"price_usd": [{"anything-but": [210.75]}]}, False),
    ({"store": [{"equals-ignore-case": "EXAMPLE_CORP"}]}, True),
    ({"store": [{"exists": True}]}, True),
    ({"store": [{"exists": False}]}, False),
    ({"missing": [{"exists": False}]}, True),
    ({"missing": [{"exists": True}]}, False),
    ({"missing": [{"anything-but": "x"}]}, False),
    ({"customer_interests": [{"prefix": "hoc"}]}, True),
    ({"store": [{"suffix": "_corp"}]}, True),
    ({"price_usd": [{"numeric": [">", 0, "<=", 150]}]}, False),
    ({"price_usd": [{"numeric": [">", 200, "<", 300]}]}, True),
    ({"price_usd": [{"numeric": ["=", 210.75]}]}, True),
    ({"price_usd": [210.75]}, True),
    ({"price_usd": ["210.75"]}, False),
    ({"store": ["nope"], "$or": [{"event": ["order_placed"]}, {"price_usd": [1]}]}, False),
    ({"store": ["example_corp"], "$or": [{"event": ["nope"]}, {"price_usd": [{"numeric": [">", 200]}]}]}, True),
    ({"encrypted": [{"exists": True}]}, False),   # Binary attributes take no part
]


@pytest.mark.parametrize("policy, expected", CASES)
def test_attribute_scope(policy, expected):
    assert parse(json.dumps(policy)).matches("body is not used", ATTRIBUTES) is expected


BODY_CASES = [
    ({"store": ["example_corp"]}, True),
    ({"order": {"shipping": {"country": ["DE", "FR"]}}}, True),
    ({"order": {"shipping": {"country": ["US"]}}}, False),
    ({"order": {"paid": [True]}}, True),
    ({"order": {"paid": [False]}}, False),
    ({"items": {"sku": [{"prefix": "B-"}]}}, True),
    ({"note": [None]}, True),
    ({"customer_interests": ["hockey"], "price_usd": [{"numeric": [">", 100]}]}, True),
    ({"order": {"missing": [{"exists": False}]}}, True),
    ({"$or": [{"store": ["x"]}, {"order": {"shipping": {"country": ["DE"]}}}]}, True),
]


@pytest.mark.parametrize("policy, expected", BODY_CASES)
def test_body_scope(policy, expected):
    assert parse(json.dumps(policy), "MessageBody").matches(json.dumps(BODY), {}) is expected


def test_body_scope_needs_a_json_object():
    policy = parse('{"a": ["b"]}', "MessageBody")
    assert policy.matches("not json", {}) is False
    assert policy.matches("[1, 2]", {}) is False


ERRORS = [
    ("{not json", "failed to parse JSON."),
    (json.dumps({f"k{i}": ["v"] for i in range(6)}), "Filter policy can not have more than 5 keys"),
    (json.dumps({"a": [str(i) for i in range(15)], "b": [str(i) for i in range(11)]}), "Filter policy is too complex"),
    (json.dumps({"a": [{"regex": "x"}]}), "Unrecognized match type regex"),
    (json.dumps({"a": [["nested"]]}), "Match value must be String, number, true, false, or null"),
    (json.dumps({"a": [{"exists": "yes"}]}), "exists match pattern must be either true or false."),
    (json.dumps({"a": [{"prefix": 1}]}), "prefix match pattern must be a string"),
    (json.dumps({"a": [{"numeric": [">", "x"]}]}), "Value of > must be numeric"),
    (json.dumps({"a": [{"numeric": ["!", 1]}]}), "Unrecognized numeric range operator: !"),
    # the numeric and cidr faults AWS was recorded giving
    (json.dumps({"a": [{"cidr": ["bad-filter"]}]}), "prefix match pattern must be a string"),
    (json.dumps({"a": [{"cidr": "bad-filter"}]}), "Malformed CIDR, one '/' required"),
    (json.dumps({"a": [{"cidr": "bad-filter/"}]}), "Nonstandard IP address: bad-filter"),
    (json.dumps({"a": [{"cidr": "10.0.0.0/xx"}]}), "Malformed CIDR, mask bits must be an integer"),
    (json.dumps({"a": [{"cidr": "xx.11.xx/8"}]}), "Nonstandard IP address: xx.11.xx"),
    (json.dumps({"a": [{"cidr": "xxxx:db8:1234:1a00::/64"}]}), "Nonstandard IP address: xxxx:db8:1234:1a00::"),
    (json.dumps({"a": [{"numeric": []}]}), "Invalid member in numeric match: ]"),
    (json.dumps({"a": [{"numeric": ["operator"]}]}), "Unrecognized numeric range operator: operator"),
    (json.dumps({"a": [{"numeric": [1, "<="]}]}), "Invalid member in numeric match: 1"),
    (json.dumps({"a": [{"numeric": ["=", "000"]}]}), "Value of equals must be numeric"),
    (json.dumps({"a": [{"numeric": [">="]}]}), "Value of >= must be numeric"),
    (json.dumps({"a": [{"numeric": ["<", 100, ">", 10]}]}), "Too many elements in numeric expression"),
    (json.dumps({"a": [{"numeric": [">=", 1, ">", 2]}]}), "Bad numeric range operator: >"),
    (json.dumps({"a": [{"numeric": [">", 3, "<", 1]}]}), "Bottom must be less than top"),
    (json.dumps({"a": [{"numeric": [">", 20, "<="]}]}), "Value of <= must be numeric"),
    (json.dumps({"a": [{"numeric": [">", 20, 30]}]}), "Bad value in numeric range: 30"),
    (json.dumps({"a": [{"numeric": [">", 20, "test"]}]}), "Bad numeric range operator: test"),
    (json.dumps({"a": [{"numeric": [">", 20, "<", "30"]}]}), "Value of < must be numeric"),
    (json.dumps({"a": [{"numeric": [">", 20, "<", 30, "<", 50]}]}), "Too many terms in numeric range expression"),
    (json.dumps({"a": [1e10]}), "Numeric value must be between -1.0E9 and 1.0E9 with at most 5 decimal places"),
    (json.dumps({"a": []}), "Empty arrays are not allowed"),
    (json.dumps({"a": "b"}), '"a" must be an object or an array'),
    (json.dumps({"a": {"b": ["c"]}}), "Filter policy scope MessageAttributes does not support nested filter policy"),
]


@pytest.mark.parametrize("text, message", ERRORS)
def test_invalid_policies(text, message):
    with pytest.raises(FilterPolicyError) as caught:
        parse(text)
    assert str(caught.value) == message


def test_nested_keys_count_toward_the_limit_in_body_scope():
    with pytest.raises(FilterPolicyError, match="more than 5 keys"):
        parse(json.dumps({"a": {"b": ["1"], "c": ["1"], "d": ["1"]}, "e": ["1"], "f": ["1"], "g": ["1"]}),
              "MessageBody")
    parse(json.dumps({"a": {"b": ["1"], "c": ["1"]}, "e": ["1"], "f": ["1"], "g": ["1"]}), "MessageBody")


@pytest.mark.parametrize("policy,matches", [
    ({"price": [100]}, False),
    ({"price": [{"numeric": [">", 0]}]}, False),
    ({"price": [{"anything-but": [100]}]}, True),
    ({"price": ["100"]}, True),
])
def test_numeric_conditions_compare_numbers_not_strings_that_spell_them(policy, matches):
    """SNS matches by type: a String attribute "100" is not the number 100."""
    attributes = {"price": {"DataType": "String", "StringValue": "100"}}
    assert parse(json.dumps(policy)).matches("", attributes) is matches
    assert parse(json.dumps(policy), "MessageBody").matches(json.dumps({"price": "100"}), {}) is matches
    numbers = {"price": {"DataType": "Number", "StringValue": "100"}}
    assert parse(json.dumps(policy)).matches("", numbers) is (not matches)


@pytest.mark.parametrize("policy, matches", [
    ({"price": [100.123456789]}, True),
    ({"price": [100.12346]}, False),
    ({"price": [{"numeric": ["=", 100.1234599]}]}, True),
    ({"price": [{"numeric": [">", 100.123451]}]}, False),
    ({"price": [{"anything-but": [100.123459]}]}, False),
])
def test_numbers_compare_to_five_decimal_places(policy, matches):
    """A policy may hold numbers with more than five decimals, as AWS accepts them; SNS
    compares numbers to five decimal places, so digits past those do not count."""
    attributes = {"price": {"DataType": "Number", "StringValue": "100.1234567"}}
    assert parse(json.dumps(policy)).matches("", attributes) is matches
    assert parse(json.dumps(policy), "MessageBody").matches(json.dumps({"price": 100.1234567}), {}) is matches
