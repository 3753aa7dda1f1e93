"""Every condition operator, IfExists, the set qualifiers, Null and missing keys.

Semantics from the IAM User Guide: *IAM JSON policy elements: Condition operators*, *Multivalued
context keys* (ForAllValues / ForAnyValue) and *Policy variables*.
"""

from __future__ import annotations

from typing import Any

import pytest

from ironkeep.engine import Principal, Request, authorize, compile_policy_set
from ironkeep.engine.conditions import OPERATORS
from ironkeep.policy import CONDITION_OPERATORS

USER = Principal(arn="arn:aws:iam::111122223333:user/alice", id="AIDAEXAMPLE", tags={"Team": "blue"})


def holds(condition: dict[str, Any], context: dict[str, Any] | None, version: str = "2012-10-17") -> bool:
    policy = {
        "Version": version,
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition}],
    }
    request = Request(principal=USER, action="s3:GetObject", resource="arn:aws:s3:::b/k", context=context)
    decision = authorize(request, compile_policy_set(identity=[policy]))
    assert decision.decision in ("Allow", "ImplicitDeny")
    return decision.decision == "Allow"


def test_the_operator_table_covers_every_documented_operator() -> None:
    assert set(OPERATORS) | {"Null"} == set(CONDITION_OPERATORS)


# (operator, policy values, request value(s) or None for missing, holds?)
CASES: list[tuple[str, Any, Any, bool]] = [
    ("StringEquals", "abc", "abc", True),
    ("StringEquals", "abc", "ABC", False),
    ("StringEquals", ["x", "abc"], "abc", True),
    ("StringEquals", "a*", "abc", False),
    ("StringEquals", "abc", None, False),
    ("StringNotEquals", "abc", "abd", True),
    ("StringNotEquals", ["abc", "abd"], "abd", False),
    ("StringNotEquals", "abc", None, True),
    ("StringEqualsIgnoreCase", "ABC", "abc", True),
    ("StringEqualsIgnoreCase", "ABC", "abd", False),
    ("StringNotEqualsIgnoreCase", "ABC", "abc", False),
    ("StringNotEqualsIgnoreCase", "ABC", "x", True),
    ("StringNotEqualsIgnoreCase", "ABC", None, True),
    ("StringLike", "home/*", "home/a/b", True),
    ("StringLike", "home/*", "Home/a", False),
    ("StringLike", "a?c", "abc", True),
    ("StringLike", "a.c", "abc", False),
    ("StringLike", "a+c", "a+c", True),
    ("StringNotLike", "home/*", "tmp/x", True),
    ("StringNotLike", "home/*", "home/x", False),
    ("StringNotLike", "home/*", None, True),
    ("NumericEquals", "10", "10", True),
    ("NumericEquals", "10", "10.0", True),
    ("NumericEquals", 10, "11", False),
    ("NumericEquals", "10", "ten", False),
    ("NumericNotEquals", "10", "11", True),
    ("NumericNotEquals", "10", "10", False),
    ("NumericNotEquals", "10", None, True),
    ("NumericLessThan", "10", "9", True),
    ("NumericLessThan", "10", "10", False),
    ("NumericLessThanEquals", "10", "10", True),
    ("NumericLessThanEquals", "10", "11", False),
    ("NumericGreaterThan", "10", "11", True),
    ("NumericGreaterThan", "10", "10", False),
    ("NumericGreaterThanEquals", "10", "10", True),
    ("NumericGreaterThanEquals", "10", "9.5", False),
    ("NumericLessThan", "10", None, False),
    ("DateEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", True),
    ("DateEquals", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00", True),
    ("DateEquals", "2026-01-01T00:00:00Z", "1767225600", True),
    ("DateEquals", "2026-01-01", "2026-01-01T00:00:00.000Z", True),
    ("DateNotEquals", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", True),
    ("DateNotEquals", "2026-01-01T00:00:00Z", None, True),
    ("DateLessThan", "2026-01-01T00:00:00Z", "2025-12-31T23:59:59Z", True),
    ("DateLessThan", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", False),
    ("DateLessThanEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", True),
    ("DateGreaterThan", "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z", True),
    ("DateGreaterThan", "1767225600", "2025-06-01T00:00:00Z", False),
    ("DateGreaterThanEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", True),
    ("DateGreaterThan", "2026-01-01T00:00:00Z", "not a date", False),
    ("Bool", "true", "true", True),
    ("Bool", True, "TRUE", True),
    ("Bool", "true", "false", False),
    ("Bool", "false", None, False),
    ("BinaryEquals", "QmluYXJ5VmFsdWU=", "QmluYXJ5VmFsdWU=", True),
    ("BinaryEquals", "QmluYXJ5VmFsdWU=", "QmluYXJ5VmFsdWF=", False),
    ("IpAddress", "203.0.113.0/24", "203.0.113.5", True),
    ("IpAddress", "203.0.113.0/24", "203.0.114.5", False),
    ("IpAddress", ["10.0.0.0/8", "2001:db8::/32"], "2001:db8::1", True),
    ("IpAddress", "203.0.113.7", "203.0.113.7", True),
    ("IpAddress", "203.0.113.0/24", "not-an-ip", False),
    ("IpAddress", "203.0.113.0/24", None, False),
    ("NotIpAddress", "203.0.113.0/24", "198.51.100.1", True),
    ("NotIpAddress", "203.0.113.0/24", "203.0.113.1", False),
    ("NotIpAddress", "203.0.113.0/24", None, True),
    (
        "ArnEquals",
        "arn:aws:sns:us-east-1:111122223333:topic",
        "arn:aws:sns:us-east-1:111122223333:topic",
        True,
    ),
    ("ArnEquals", "arn:aws:sns:*:111122223333:topic", "arn:aws:sns:eu-west-1:111122223333:topic", True),
    ("ArnLike", "arn:aws:iam::*:role/admin-*", "arn:aws:iam::444455556666:role/admin-1", True),
    ("ArnLike", "arn:aws:iam::*:role/admin-*", "arn:aws:iam::444455556666:role/dev", False),
    ("ArnLike", "arn:aws:iam::*:role/x", "arn:aws:iam::4:5:role/x", False),
    ("ArnNotEquals", "arn:aws:s3:::b", "arn:aws:s3:::c", True),
    ("ArnNotLike", "arn:aws:s3:::b*", "arn:aws:s3:::bucket", False),
    ("ArnNotLike", "arn:aws:s3:::b*", None, True),
]


@pytest.mark.parametrize(("operator", "wanted", "given", "expected"), CASES)
def test_operator(operator: str, wanted: Any, given: Any, expected: bool) -> None:
    context = None if given is None else {"test:key": given}
    assert holds({operator: {"test:Key": wanted}}, context) is expected


@pytest.mark.parametrize(("operator", "wanted", "given", "expected"), CASES)
def test_if_exists_holds_on_a_missing_key_and_otherwise_acts_alike(
    operator: str, wanted: Any, given: Any, expected: bool
) -> None:
    context = None if given is None else {"test:key": given}
    assert holds({operator + "IfExists": {"test:Key": wanted}}, context) is (
        True if given is None else expected
    )


@pytest.mark.parametrize(
    ("operator", "wanted", "given", "expected"),
    [
        # ForAnyValue: at least one request value satisfies; missing or empty: false
        ("ForAnyValue:StringEquals", ["a", "b"], ["x", "b"], True),
        ("ForAnyValue:StringEquals", ["a", "b"], ["x", "y"], False),
        ("ForAnyValue:StringEquals", ["a"], [], False),
        ("ForAnyValue:StringEquals", ["a"], None, False),
        ("ForAnyValue:StringNotEquals", ["a"], ["a", "b"], True),
        ("ForAnyValue:StringNotEquals", ["a"], ["a"], False),
        ("ForAnyValue:StringLike", ["home/*"], ["tmp/", "home/x"], True),
        # ForAllValues: every request value satisfies; missing or empty: true
        ("ForAllValues:StringEquals", ["a", "b"], ["a", "b"], True),
        ("ForAllValues:StringEquals", ["a", "b"], ["a", "c"], False),
        ("ForAllValues:StringEquals", ["a"], [], True),
        ("ForAllValues:StringEquals", ["a"], None, True),
        ("ForAllValues:StringNotEquals", ["a", "b"], ["c", "d"], True),
        ("ForAllValues:StringNotEquals", ["a", "b"], ["c", "a"], False),
        ("ForAllValues:StringEqualsIgnoreCase", ["A"], ["a", "A"], True),
        ("ForAllValues:NumericLessThan", ["10"], ["1", "2"], True),
        ("ForAnyValue:IpAddress", ["10.0.0.0/8"], ["192.0.2.1", "10.1.1.1"], True),
        # IfExists with a qualifier
        ("ForAnyValue:StringEqualsIfExists", ["a"], None, True),
        # no qualifier on a multivalued key: any value may match
        ("StringEquals", ["a"], ["x", "a"], True),
        ("StringNotEquals", ["a"], ["x", "a"], False),
        ("StringNotEquals", ["a"], ["x", "y"], True),
    ],
)
def test_set_qualifiers(operator: str, wanted: list[str], given: list[str] | None, expected: bool) -> None:
    context = None if given is None else {"test:tags": given}
    assert holds({operator: {"test:tags": wanted}}, context) is expected


@pytest.mark.parametrize(
    ("wanted", "context", "expected"),
    [
        ("true", None, True),
        ("true", {"test:key": "x"}, False),
        ("false", {"test:key": "x"}, True),
        ("false", None, False),
        ("true", {"test:key": []}, True),
        (["true", "false"], None, True),
    ],
)
def test_null(wanted: Any, context: dict | None, expected: bool) -> None:
    assert holds({"Null": {"test:key": wanted}}, context) is expected


def test_several_keys_in_a_block_and_several_operators_must_all_hold() -> None:
    condition = {"StringEquals": {"test:a": "1", "test:b": "2"}, "Bool": {"test:c": "true"}}
    assert holds(condition, {"test:a": "1", "test:b": "2", "test:c": "true"})
    assert not holds(condition, {"test:a": "1", "test:b": "3", "test:c": "true"})
    assert not holds(condition, {"test:a": "1", "test:b": "2", "test:c": "false"})


def test_keys_are_case_insensitive_values_are_not() -> None:
    assert holds({"StringEquals": {"AWS:SOURCEVPC": "vpc-1"}}, {"aws:SourceVpc": "vpc-1"})
    assert not holds({"StringEquals": {"aws:SourceVpc": "VPC-1"}}, {"aws:SourceVpc": "vpc-1"})


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringEquals": {"s3:prefix": "home/${aws:username}/"}}, {"s3:prefix": "home/alice/"}, True),
        ({"StringEquals": {"s3:prefix": "home/${aws:username}/"}}, {"s3:prefix": "home/bob/"}, False),
        ({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}, {"s3:prefix": "home/alice/x"}, True),
        ({"StringEquals": {"s3:prefix": "${aws:PrincipalTag/team}"}}, {"s3:prefix": "blue"}, True),
        ({"StringEquals": {"s3:prefix": "${test:missing}"}}, {"s3:prefix": "${test:missing}"}, False),
        ({"StringEquals": {"s3:prefix": "${test:missing, 'dflt'}"}}, {"s3:prefix": "dflt"}, True),
        ({"StringEquals": {"s3:prefix": "${test:other}"}}, {"s3:prefix": "v", "test:other": "v"}, True),
        ({"StringEquals": {"s3:prefix": "${*}"}}, {"s3:prefix": "*"}, True),
        ({"StringLike": {"s3:prefix": "${*}"}}, {"s3:prefix": "x"}, False),
        # only String and ARN operators substitute
        ({"NumericEquals": {"test:n": "${test:m}"}}, {"test:n": "1", "test:m": "1"}, False),
        ({"ArnEquals": {"aws:SourceArn": "arn:aws:iam::${aws:PrincipalAccount}:role/x"}},
         {"aws:SourceArn": "arn:aws:iam::111122223333:role/x"}, True),
    ],
)  # fmt: skip
def test_policy_variables_in_condition_values(condition: dict, context: dict, expected: bool) -> None:
    assert holds(condition, context) is expected


def test_variables_are_literal_in_2008_policies() -> None:
    condition = {"StringEquals": {"s3:prefix": "${aws:username}"}}
    assert holds(condition, {"s3:prefix": "${aws:username}"}, version="2008-10-17")
    assert not holds(condition, {"s3:prefix": "alice"}, version="2008-10-17")


def _missing(condition: dict, context: dict | None) -> tuple[str, ...]:
    policy = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": condition}]}
    request = Request(principal=USER, action="s3:GetObject", resource="arn:aws:s3:::b/k", context=context)
    return authorize(request, compile_policy_set(identity=[policy])).missing_context


def test_missing_context_records_keys_the_request_lacked() -> None:
    condition = {
        "StringEquals": {"aws:RequestedRegion": "us-east-1", "aws:username": "alice"},
        "BoolIfExists": {"aws:MultiFactorAuthPresent": "true"},
        "Null": {"test:absent": "true"},
    }
    # aws:username is derived from the principal; Null only asks whether a key is there
    assert _missing(condition, None) == ("aws:MultiFactorAuthPresent", "aws:RequestedRegion")
    assert _missing(condition, {"aws:requestedregion": "us-east-1"}) == ("aws:MultiFactorAuthPresent",)
