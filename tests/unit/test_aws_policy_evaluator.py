"""The shared IAM evaluator of resource policies: statement matching, Deny over Allow,
principals, wildcards, NotAction / NotResource / NotPrincipal, policy variables, and every
condition operator as AWS documents it."""
from __future__ import annotations

import pytest

from facades.aws.conditions import conditions_hold
from facades.aws.policy import Decision, Policy, Request, evaluate, malformed, parse

ARN = "arn:aws:sqs:us-east-1:111122223333:orders"


def stmt(effect: str = "Allow", **fields) -> dict:
    return {"Effect": effect, "Principal": "*", "Action": "sqs:SendMessage", "Resource": ARN, **fields}


def decide(*policy: dict, principal=None, variables: bool = False, action: str = "sqs:SendMessage",
           **context) -> Decision:
    return evaluate(Policy(policy, variables), Request(action, ARN, {k.lower(): v for k, v in context.items()},
                                                       principal=principal))


def test_deny_wins_and_nothing_allowing_is_not_allowed() -> None:
    assert decide(stmt()) is Decision.ALLOWED
    assert decide(stmt(), stmt("Deny")) is Decision.DENIED
    assert decide(stmt("Deny"), stmt()) is Decision.DENIED
    assert decide() is Decision.NOT_ALLOWED
    assert decide(stmt("Maybe")) is Decision.NOT_ALLOWED


def test_actions_are_case_blind_globs_and_resources_case_sensitive_globs() -> None:
    assert decide(stmt(Action="SQS:send*")) is Decision.ALLOWED
    assert decide(stmt(Action=["sqs:Receive*", "*"])) is Decision.ALLOWED
    assert decide(stmt(Action="sqs:SendMessag?")) is Decision.ALLOWED
    assert decide(stmt(Action="sqs:[S]endMessage")) is Decision.NOT_ALLOWED   # no [...] classes in IAM
    assert decide(stmt(Resource="arn:aws:sqs:*:111122223333:ord*")) is Decision.ALLOWED
    assert decide(stmt(Resource="arn:aws:sqs:*:111122223333:Orders")) is Decision.NOT_ALLOWED
    assert decide({k: v for k, v in stmt().items() if k != "Resource"}) is Decision.NOT_ALLOWED


def test_principals() -> None:
    sns = ("Service", "sns.amazonaws.com")
    assert decide(stmt(Principal={"Service": ["s3.amazonaws.com", "sns.amazonaws.com"]}), principal=sns) is Decision.ALLOWED
    assert decide(stmt(Principal={"AWS": ["*"]}), principal=sns) is Decision.ALLOWED
    assert decide(stmt(Principal={"AWS": "arn:aws:iam::111122223333:root"}), principal=sns) is Decision.NOT_ALLOWED
    assert decide({k: v for k, v in stmt().items() if k != "Principal"}, principal=sns) is Decision.NOT_ALLOWED
    # A facade that does not judge principals.
    assert decide(stmt(Principal={"AWS": "arn:aws:iam::111122223333:root"})) is Decision.ALLOWED


def test_statements_of_a_document() -> None:
    assert parse(None) == Policy() and parse("not json") == Policy() and parse("[1]") == Policy()
    assert parse('{"Statement": {"Effect": "Allow"}}') == Policy(({"Effect": "Allow"},), variables=False)
    assert parse('{"Statement": [{"Effect": "Deny"}, 3]}').statements == ({"Effect": "Deny"},)
    # Policy variables exist from the 2012-10-17 language on; older documents read ${...} as text.
    assert parse('{"Version": "2012-10-17", "Statement": []}').variables
    assert not parse('{"Version": "2008-10-17", "Statement": []}').variables


def without(statement: dict, *keys: str) -> dict:
    return {k: v for k, v in statement.items() if k not in keys}


def test_not_action_matches_every_other_action() -> None:
    deny_all_but_receive = without(stmt("Deny", NotAction="sqs:Receive*"), "Action")
    assert decide(stmt(), deny_all_but_receive) is Decision.DENIED
    assert decide(stmt(Action="sqs:*"), deny_all_but_receive, action="sqs:ReceiveMessage") is Decision.ALLOWED
    assert decide(without(stmt(NotAction=["SQS:delete*", "sqs:Purge*"]), "Action")) is Decision.ALLOWED  # case-blind
    assert decide(without(stmt(NotAction="sqs:send*"), "Action")) is Decision.NOT_ALLOWED


def test_not_resource_matches_every_other_resource() -> None:
    assert decide(stmt(), without(stmt("Deny", NotResource="arn:aws:sqs:*:*:audit"), "Resource")) is Decision.DENIED
    assert decide(stmt(), without(stmt("Deny", NotResource=["arn:aws:sqs:*:*:ord*"]), "Resource")) is Decision.ALLOWED
    assert decide(without(stmt(NotResource="arn:aws:sqs:*:*:audit"), "Resource")) is Decision.ALLOWED


def test_not_principal_denies_everyone_else() -> None:
    sns, other = ("Service", "sns.amazonaws.com"), ("AWS", "arn:aws:iam::111122223333:root")
    deny_others = without(stmt("Deny", NotPrincipal={"Service": "sns.amazonaws.com"}), "Principal")
    assert decide(stmt(), deny_others, principal=sns) is Decision.ALLOWED
    assert decide(stmt(), deny_others, principal=other) is Decision.DENIED
    assert decide(stmt(), without(stmt("Deny", NotPrincipal="*"), "Principal"), principal=other) is Decision.ALLOWED
    # A facade that does not judge principals: the Deny speaks of every caller.
    assert decide(stmt(), deny_others) is Decision.DENIED


@pytest.mark.parametrize("statement, reason", [
    (stmt(NotAction="sqs:ReceiveMessage"), "Action and NotAction in one statement"),
    (stmt(NotResource=ARN), "Resource and NotResource in one statement"),
    (stmt("Deny", NotPrincipal="*"), "Principal and NotPrincipal in one statement"),
    (without(stmt(), "Action"), "no Action or NotAction"),
    (without(stmt(NotPrincipal={"AWS": "1"}), "Principal"), "NotPrincipal with Allow"),
])
def test_statements_iam_refuses_make_the_policy_allow_nothing(statement: dict, reason: str) -> None:
    assert malformed(statement) == reason
    assert decide(stmt(), statement) is Decision.NOT_ALLOWED
    assert malformed(stmt()) is None and malformed(without(stmt("Deny", NotPrincipal="*"), "Principal")) is None


def test_policy_variables_in_resources() -> None:
    own = stmt(Resource="arn:aws:sqs:us-east-1:111122223333:${aws:username}")
    assert decide(own, variables=True, **{"aws:username": "orders"}) is Decision.ALLOWED
    assert decide(own, variables=True, **{"aws:username": "audit"}) is Decision.NOT_ALLOWED
    assert decide(own, **{"aws:username": "orders"}) is Decision.NOT_ALLOWED          # 2008-10-17: text
    # A variable with no value (absent, or a multivalued key) names no resource, not even in a Deny.
    assert decide(own, variables=True) is Decision.NOT_ALLOWED
    assert decide(own, variables=True, **{"aws:username": ["orders"]}) is Decision.NOT_ALLOWED
    not_own = without(stmt("Deny", NotResource="arn:aws:sqs:us-east-1:111122223333:${aws:username}"), "Resource")
    assert decide(stmt(), not_own, variables=True, **{"aws:username": "audit"}) is Decision.DENIED
    assert decide(stmt(), not_own, variables=True, **{"aws:username": "orders"}) is Decision.ALLOWED
    assert decide(stmt(), not_own, variables=True) is Decision.ALLOWED
    # The value is literal text: its * is no wildcard.
    assert decide(own, variables=True, **{"aws:username": "ord*"}) is Decision.NOT_ALLOWED
    assert decide(stmt(Resource="arn:aws:sqs:*:*:${aws:username}*"), variables=True,
                  **{"aws:username": "ord"}) is Decision.ALLOWED
    # Only past the fifth colon: before it ${...} stays text.
    assert decide(stmt(Resource="arn:aws:sqs:us-east-1:${aws:account}:orders"), variables=True,
                  **{"aws:account": "111122223333"}) is Decision.NOT_ALLOWED


def test_policy_variable_defaults_and_escapes() -> None:
    default = stmt(Resource="arn:aws:sqs:us-east-1:111122223333:${aws:username, 'orders'}")
    assert decide(default, variables=True) is Decision.ALLOWED
    assert decide(default, variables=True, **{"aws:username": "audit"}) is Decision.NOT_ALLOWED
    assert decide(stmt(Resource="arn:aws:sqs:us-east-1:111122223333:${ AWS:UserName ,'x'}"), variables=True,
                  **{"aws:username": "orders"}) is Decision.ALLOWED
    assert holds("StringEquals", "${aws:Missing, 'it''s'}", variables=True, **{"aws:key": "it's"})
    assert holds("StringEquals", "a${*}b${?}c${$}", variables=True, **{"aws:key": "a*b?c$"})
    assert not holds("StringLike", "a${*}", variables=True, **{"aws:key": "ab"})      # ${*} is a literal *
    assert holds("StringLike", "a${*}*", variables=True, **{"aws:key": "a*b"})


def test_policy_variables_in_conditions() -> None:
    context = {"aws:key": "arn:aws:sns:us-east-1:1:orders", "aws:sourceaccount": "1", "aws:username": "orders"}
    assert holds("StringLike", "*:${aws:username}", variables=True, **context)
    assert holds("StringEqualsIgnoreCase", "ARN:AWS:SNS:US-EAST-1:1:${aws:username}", variables=True, **context)
    assert holds("ArnEquals", "arn:aws:sns:*:${aws:SourceAccount}:${aws:username}", variables=True, **context)
    assert not holds("ArnLike", "arn:aws:sns:*:${aws:SourceAccount}:${aws:username}", **context)   # 2008-10-17
    # Only string and ARN operators take variables.
    assert not holds("NumericEquals", "${aws:sourceaccount}", variables=True, **{"aws:key": "1", "aws:sourceaccount": "1"})
    # A variable with no value makes the test false, a negated operator's too.
    assert not holds("StringEquals", "${aws:nothing}", variables=True, **context)
    assert not holds("StringNotEquals", "${aws:nothing}", variables=True, **context)
    assert not holds("ArnNotLike", "arn:aws:sns:*:*:${aws:nothing}", variables=True, **context)


def holds(operator: str, wanted, variables: bool = False, **context) -> bool:
    return conditions_hold({operator: {"aws:Key": wanted}}, {k.lower(): v for k, v in context.items()}, variables)


@pytest.mark.parametrize("operator, wanted, value, expected", [
    ("StringEquals", ["a", "b"], "b", True), ("StringEquals", "A", "a", False),
    ("StringNotEquals", ["a", "b"], "c", True), ("StringNotEquals", ["a", "b"], "a", False),
    ("StringEqualsIgnoreCase", "ABC", "abc", True), ("StringNotEqualsIgnoreCase", "ABC", "abc", False),
    ("StringLike", "a*c?", "abbcd", True), ("StringLike", "a*", "ba", False), ("StringNotLike", "a*", "ba", True),
    ("NumericEquals", 10, "10.0", True), ("NumericNotEquals", "10", "11", True),
    ("NumericLessThan", "10", "9", True), ("NumericLessThanEquals", "10", "10", True),
    ("NumericGreaterThan", "10", "10", False), ("NumericGreaterThanEquals", "10", "10", True),
    ("NumericEquals", "ten", "10", False),
    ("DateLessThan", "2030-01-01T00:00:00Z", "2029-12-31T23:59:59Z", True),
    ("DateGreaterThan", "2030-01-01", "1893456000", False), ("DateEquals", "2030-01-01T00:00:00Z", "1893456000", True),
    ("DateGreaterThanEquals", "2030-01-01T00:00:00+01:00", "2029-12-31T23:00:00Z", True),
    ("DateNotEquals", "2030-01-01", "2030-01-02", True), ("DateLessThanEquals", "garbage", "2030-01-01", False),
    ("Bool", True, "true", True), ("Bool", "false", "true", False),
    ("BinaryEquals", "QmluYXJ5", "QmluYXJ5", True),
    ("IpAddress", ["10.0.0.0/8", "2001:db8::/32"], "2001:db8::1", True), ("IpAddress", "10.0.0.0/8", "11.0.0.1", False),
    ("IpAddress", "10.1.2.3", "10.1.2.3", True), ("IpAddress", "10.0.0.0/8", "not an address", False),
    ("NotIpAddress", "10.0.0.0/8", "11.0.0.1", True), ("NotIpAddress", "10.0.0.0/8", "10.0.0.1", False),
    ("ArnLike", "arn:aws:sns:*:*:t", "arn:aws:sns:us-east-1:1:t", True),
    ("ArnEquals", "arn:aws:sns:*:*:t*", "arn:aws:sns:us-east-1:1:topic", True),   # ArnEquals takes wildcards too
    ("ArnLike", "arn:aws:sns:*", "arn:aws:sns:us-east-1:1:t", False),            # all six parts are named
    ("ArnLike", "arn:aws:sns:*:1:t", "arn:aws:sns:us-east-1:x:1:t", False),       # * never spans a colon
    ("ArnNotLike", "arn:aws:sns:*:*:t", "arn:aws:sns:us-east-1:1:u", True),
    ("ArnNotEquals", "arn:aws:sns:*:*:t", "arn:aws:sns:us-east-1:1:t", False),
])
def test_operators(operator: str, wanted, value: str, expected: bool) -> None:
    assert holds(operator, wanted, **{"aws:key": value}) is expected


def test_a_key_the_request_lacks() -> None:
    assert not holds("StringEquals", "a") and not holds("IpAddress", "10.0.0.0/8")
    assert holds("StringNotEquals", "a") and holds("NotIpAddress", "10.0.0.0/8") and holds("ArnNotLike", "*")
    assert holds("StringEqualsIfExists", "a") and holds("NumericLessThanIfExists", "1")
    assert not holds("StringEqualsIfExists", "a", **{"aws:key": "b"})
    assert holds("Null", "true") and not holds("Null", "false")
    assert holds("Null", "false", **{"aws:key": "x"}) and not holds("Null", "true", **{"aws:key": "x"})
    assert holds("ForAllValues:StringEquals", "a") and not holds("ForAnyValue:StringEquals", "a")


def test_set_qualifiers_over_multivalued_keys() -> None:
    tags = {"aws:key": ["a", "b"]}
    assert holds("ForAnyValue:StringEquals", ["b", "c"], **tags)
    assert not holds("ForAllValues:StringEquals", ["b", "c"], **tags)
    assert holds("ForAllValues:StringLike", ["a", "b*"], **tags)
    assert holds("ForAnyValue:StringNotEquals", "a", **tags)
    assert not holds("ForAllValues:StringNotEquals", "a", **tags)
    assert holds("ForAllValues:StringEquals", "a", **{"aws:key": []})


def test_keys_are_case_blind_operators_and_tests_are_anded() -> None:
    context = {"aws:sourcearn": "arn:aws:sns:us-east-1:1:t", "aws:sourceaccount": "1"}
    assert conditions_hold({"ArnEquals": {"AWS:SourceArn": "arn:aws:sns:us-east-1:1:t"},
                            "StringEquals": {"aws:SourceAccount": "1"}}, context)
    assert not conditions_hold({"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:1:t"},
                                "StringEquals": {"aws:SourceAccount": "2"}}, context)
    assert not conditions_hold({"StringEquals": {"aws:SourceAccount": "1", "aws:Other": "x"}}, context)


def test_what_cannot_be_judged_never_holds() -> None:
    assert not holds("StringEqualz", "a", **{"aws:key": "a"})
    assert not holds("ForSomeValues:StringEquals", "a", **{"aws:key": "a"})
    assert not holds("ForAnyValue:Null", "true")
    assert not conditions_hold({"StringEquals": ["aws:Key", "a"]}, {"aws:key": "a"})
    assert not conditions_hold("StringEquals", {})
    assert conditions_hold(None, {})
