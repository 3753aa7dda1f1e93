"""The hot path's shortcuts give the answers of the full analysis, request after request.

``authorize`` reads condition values inline, settles statements that apply whatever the request
in the plan, caches the outcome of each mask of applying statements and each Resource pattern
resolved from policy variables. These tests alternate requests against one compiled policy set so
that a cache keyed on too little would hand one request another's answer.
"""

from __future__ import annotations

from typing import Any

import pytest

from ironkeep.engine import Principal, Request, analyze, authorize, compile_policy_set
from ironkeep.engine.request import EvalContext, derivable, principal_info

ACCT = "111122223333"
ALICE = Principal(arn=f"arn:aws:iam::{ACCT}:user/alice", id="AIDAALICE", tags={"team": "blue"})
BOB = Principal(arn=f"arn:aws:iam::{ACCT}:user/bob", id="AIDABOB", tags={"Team": "red"})


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _decide(policies: Any, principal: Principal, resource: str, context: dict[str, Any] | None = None) -> Any:
    request = Request(principal, "s3:GetObject", resource, context=context)
    decision = authorize(request, policies)
    full = analyze(request, policies).decision  # the slow path, statement by statement
    assert (decision.decision, decision.matched, decision.missing_context, decision.blocked_by) == (
        full.decision,
        full.matched,
        full.missing_context,
        full.blocked_by,
    )
    return decision


def test_resource_variables_resolve_per_request() -> None:
    policies = compile_policy_set(
        identity=[
            _policy(
                {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username}/*"},
                {
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": "arn:aws:s3:::t/${aws:PrincipalTag/team}/*",
                },
            )
        ]
    )
    for _ in range(2):
        assert _decide(policies, ALICE, "arn:aws:s3:::b/alice/k").decision == "Allow"
        assert _decide(policies, BOB, "arn:aws:s3:::b/alice/k").decision == "ImplicitDeny"
        assert _decide(policies, BOB, "arn:aws:s3:::b/bob/k").decision == "Allow"
        assert _decide(policies, ALICE, "arn:aws:s3:::t/blue/k").decision == "Allow"
        assert _decide(policies, BOB, "arn:aws:s3:::t/blue/k").decision == "ImplicitDeny"
        assert _decide(policies, BOB, "arn:aws:s3:::t/red/k").decision == "Allow"


def test_an_unresolvable_variable_ends_the_lookups_of_its_resource() -> None:
    resource = "arn:aws:s3:::b/${aws:PrincipalTag/missing}/${aws:PrincipalTag/other}/*"
    policies = compile_policy_set(
        identity=[_policy({"Effect": "Allow", "Action": "s3:*", "Resource": resource})]
    )
    decision = _decide(policies, ALICE, "arn:aws:s3:::b/x/y/k")
    assert decision.decision == "ImplicitDeny"
    assert decision.missing_context == ("aws:PrincipalTag/missing",)
    defaulted = "arn:aws:s3:::b/${aws:PrincipalTag/missing, 'none'}/*"
    policies = compile_policy_set(
        identity=[_policy({"Effect": "Allow", "Action": "s3:*", "Resource": defaulted})]
    )
    assert _decide(policies, ALICE, "arn:aws:s3:::b/none/k").decision == "Allow"
    assert _decide(policies, ALICE, "arn:aws:s3:::b/blue/k").decision == "ImplicitDeny"


def test_the_outcome_of_each_mask_is_its_own() -> None:
    region = {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}
    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    policies = compile_policy_set(
        identity=[
            _policy(
                {"Sid": "Always", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                {
                    "Sid": "InRegion",
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": "*",
                    "Condition": region,
                },
                {
                    "Sid": "NoMfa",
                    "Effect": "Deny",
                    "Action": "s3:*",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
                },
                {"Sid": "WithMfa", "Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": mfa},
            )
        ]
    )
    contexts = [
        (
            {"aws:RequestedRegion": "us-east-1", "aws:MultiFactorAuthPresent": "true"},
            "Allow",
            ["Always", "InRegion", "WithMfa"],
        ),
        (
            {"aws:RequestedRegion": "eu-west-1", "aws:MultiFactorAuthPresent": "TRUE"},
            "Allow",
            ["Always", "WithMfa"],
        ),
        ({"aws:RequestedRegion": "us-east-1"}, "Allow", ["Always", "InRegion"]),
        ({"aws:MultiFactorAuthPresent": "false"}, "ExplicitDeny", ["NoMfa"]),
        (
            {"aws:MultiFactorAuthPresent": "False", "aws:RequestedRegion": "us-east-1"},
            "ExplicitDeny",
            ["NoMfa"],
        ),
    ]
    for _ in range(2):
        for context, outcome, sids in contexts:
            decision = _decide(policies, ALICE, "arn:aws:s3:::b/k", context)
            assert decision.decision == outcome
            assert [m.sid for m in decision.matched] == sids


@pytest.mark.parametrize(
    ("context", "expected", "missing"),
    [
        ({"aws:userid": "AIDAALICE"}, "Allow", ()),
        ({"AWS:UserId": "nope"}, "ImplicitDeny", ()),  # given wins over derived, in any case
        ({"aws:userid": "nope", "AWS:USERID": "AIDAALICE"}, "Allow", ()),  # the later spelling wins
        ({"aws:userid": None}, "ImplicitDeny", ("aws:userid",)),  # given as null: not derived
        ({"aws:userid": ["x", "AIDAALICE"]}, "Allow", ()),
        ({"aws:userid": []}, "ImplicitDeny", ()),
        (None, "Allow", ()),  # derived from the principal's id
        ({}, "Allow", ()),
    ],
)
def test_condition_values_given_derived_or_missing(
    context: dict[str, Any] | None, expected: str, missing: tuple[str, ...]
) -> None:
    statement = {
        "Effect": "Allow",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:userid": "AIDAALICE"}},
    }
    policies = compile_policy_set(identity=[_policy(statement)])
    decision = _decide(policies, ALICE, "arn:aws:s3:::b/k", context)
    assert decision.decision == expected
    assert decision.missing_context == missing


def test_non_string_values_and_missing_keys_in_a_condition_block() -> None:
    condition = {
        "NumericLessThan": {"s3:max-keys": "100"},
        "Bool": {"aws:SecureTransport": "true"},
        "StringEqualsIfExists": {"aws:RequestedRegion": "us-east-1"},
        "StringEquals": {"aws:PrincipalType": "User"},
    }
    policies = compile_policy_set(
        identity=[_policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": condition})]
    )
    allowed = _decide(policies, ALICE, "arn:aws:s3:::b/k", {"s3:max-keys": 10, "aws:SecureTransport": True})
    assert allowed.decision == "Allow"
    assert allowed.missing_context == ("aws:RequestedRegion",)
    denied = _decide(
        policies, ALICE, "arn:aws:s3:::b/k", {"s3:max-keys": "1000", "aws:SecureTransport": "true"}
    )
    assert denied.decision == "ImplicitDeny"
    missing = _decide(policies, ALICE, "arn:aws:s3:::b/k", {"s3:max-keys": "1"})
    assert missing.decision == "ImplicitDeny"
    assert missing.missing_context == ("aws:RequestedRegion", "aws:SecureTransport")


def test_a_deny_for_everyone_in_a_resource_policy_is_listed() -> None:
    bucket = _policy(
        {"Sid": "Everyone", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"},
        {
            "Sid": "Alice",
            "Effect": "Allow",
            "Principal": {"AWS": ALICE.arn},
            "Action": "s3:*",
            "Resource": "*",
        },
    )
    policies = compile_policy_set(resource=bucket)
    decision = _decide(policies, ALICE, "arn:aws:s3:::b/k")
    assert decision.decision == "ExplicitDeny"
    assert [m.sid for m in decision.matched] == ["Everyone"]
    assert decision.blocked_by == ("resource",)


@pytest.mark.parametrize(
    "key",
    ["aws:userid", "aws:resourceaccount", "aws:principaltag/team", "aws:username", "aws:principalarn", "x:y"],
)
def test_derivable_names_exactly_the_keys_derived_beyond_the_arn(key: str) -> None:
    info = principal_info(ALICE.arn, None)
    ctx = EvalContext(Request(ALICE, "s3:GetObject", "*"), info, ACCT)
    derived_beyond_the_arn = key not in info.derived and ctx.peek(key) is not None
    assert derivable(key) is derived_beyond_the_arn
