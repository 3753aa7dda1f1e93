"""Untrusted input: any JSON value or any text gives a Policy or MalformedPolicyDocument."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ironkeep.errors import MalformedPolicyDocument
from ironkeep.policy import KINDS, Policy, parse_policy

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
ELEMENT_NAMES = ["Version", "Statement", "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
                 "Principal", "NotPrincipal", "Condition", "AWS", "Service", "StringEquals", "Null",
                 "ForAnyValue:StringLike", "aws:username", "Allow", "Deny", "*", "s3:GetObject"]  # fmt: skip
keys = st.sampled_from(ELEMENT_NAMES) | st.text(max_size=8)
json_values = st.recursive(
    scalars
    | st.sampled_from(["Allow", "Deny", "*", "s3:Get*", "arn:aws:s3:::b/*", "2012-10-17", "${aws:username}"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=30,
)


def _check(value: object, kind: str) -> None:
    try:
        result = parse_policy(value, kind=kind)  # type: ignore[arg-type]
    except MalformedPolicyDocument as error:
        assert error.message
    else:
        assert isinstance(result, Policy)


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from(sorted(KINDS)))
def test_any_json_value_gives_a_policy_or_the_aws_error(value: object, kind: str) -> None:
    _check(value, kind)
    _check(json.dumps(value), kind)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60) | st.binary(max_size=60))
def test_any_text_gives_a_policy_or_the_aws_error(text: str | bytes) -> None:
    _check(text, "identity")


statement = st.fixed_dictionaries(
    {
        "Effect": st.sampled_from(["Allow", "Deny"]),
        "Action": st.sampled_from(["*", "s3:*", ["ec2:Run*", "s3:Get?bject"]]),
    },
    optional={
        "Resource": st.sampled_from(
            ["*", "arn:aws:s3:::b/${aws:username}/*", ["arn:aws:s3:::a", "arn:aws:s3:::x?"]]
        ),
        "Condition": st.dictionaries(
            st.sampled_from(
                ["StringEquals", "ForAllValues:StringLike", "NumericLessThanIfExists", "Null", "Bool"]
            ),
            st.dictionaries(
                st.sampled_from(["aws:username", "s3:prefix", "aws:SecureTransport"]), json_values, max_size=2
            ),
            max_size=2,
        ),
        "Sid": st.text(max_size=5),
    },
)


@settings(max_examples=200, deadline=None)
@given(st.lists(statement, max_size=3), st.sampled_from(sorted(KINDS)))
def test_near_valid_documents(statements: list, kind: str) -> None:
    _check({"Version": "2012-10-17", "Statement": statements}, kind)
