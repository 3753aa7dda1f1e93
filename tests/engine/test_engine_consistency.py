"""The hot path (action-indexed candidates) and the full analysis behind ``explain()`` agree."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ironkeep.engine import Principal, Request, analyze, authorize, compile_policy_set

ACCT, OTHER = "111122223333", "444455556666"
PRINCIPALS = [
    f"arn:aws:iam::{ACCT}:user/alice",
    f"arn:aws:sts::{ACCT}:assumed-role/app/s1",
    f"arn:aws:sts::{ACCT}:federated-user/fred",
    f"arn:aws:iam::{ACCT}:root",
    f"arn:aws:iam::{OTHER}:user/bob",
]
ACTIONS = ["s3:GetObject", "s3:PutObject", "ec2:RunInstances", "iam:CreateUser", "sqs:SendMessage"]
PATTERNS = ["*", "s3:*", "s3:Get*", "s3:GetObject", "ec2:*", "*:Create*", "s?s:*", "iam:CreateUser"]
RESOURCES = [
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/${aws:username}/*",
    "arn:aws:s3:::c*",
    "arn:aws:*:*:*:*",
]
CONDITIONS = [
    {"StringEquals": {"aws:username": "alice"}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"StringLikeIfExists": {"s3:prefix": "home/*"}},
    {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}},
    {"Null": {"aws:MultiFactorAuthPresent": "false"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
]
PRINCIPAL_ELEMENTS = [
    {"Principal": "*"},
    {"Principal": {"AWS": ACCT}},
    {"Principal": {"AWS": PRINCIPALS[0]}},
    {"Principal": {"AWS": f"arn:aws:iam::{ACCT}:role/app"}},
    {"Principal": {"AWS": OTHER}},
    {"NotPrincipal": {"AWS": [PRINCIPALS[0], ACCT]}},
]


def statement(with_principal: bool):
    base = {
        "Effect": st.sampled_from(["Allow", "Allow", "Deny"]),
        "Action": st.sampled_from(PATTERNS) | st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3),
        "Resource": st.sampled_from(RESOURCES) | st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=2),
    }
    optional = {"Condition": st.sampled_from(CONDITIONS), "Sid": st.sampled_from(["A", "B", "C"])}
    strategy = st.fixed_dictionaries(base, optional=optional)
    if with_principal:
        strategy = st.tuples(strategy, st.sampled_from(PRINCIPAL_ELEMENTS)).map(lambda t: {**t[0], **t[1]})
    return strategy.map(_maybe_not_action)


def _maybe_not_action(s: dict) -> dict:
    if s.get("Sid") == "C":  # use NotAction now and then
        s = {**s, "NotAction": s["Action"]}
        del s["Action"]
        del s["Sid"]
    return s


def policy(with_principal: bool = False):
    return st.lists(statement(with_principal), min_size=1, max_size=3).map(
        lambda sts: {"Version": "2012-10-17", "Statement": [_unique_sid(s, i) for i, s in enumerate(sts)]}
    )


def _unique_sid(s: dict, index: int) -> dict:
    return {**s, "Sid": f"{s['Sid']}{index}"} if "Sid" in s else s


policy_sets = st.fixed_dictionaries(
    {
        "identity": st.lists(policy(), max_size=3),
        "permissions_boundary": st.none() | policy(),
        "session": st.lists(policy(), max_size=1),
        "resource": st.none() | policy(True),
        "scps": st.lists(st.lists(policy(), min_size=1, max_size=2), max_size=2),
        "rcps": st.lists(st.lists(policy(), min_size=1, max_size=1), max_size=1),
    }
)
requests = st.builds(
    lambda arn, action, res, acct, ctx: Request(
        principal=Principal(arn=arn, id="AIDAX"),
        action=action,
        resource=res,
        resource_account=acct,
        context=ctx,
    ),
    st.sampled_from(PRINCIPALS),
    st.sampled_from(ACTIONS),
    st.sampled_from(["arn:aws:s3:::b/alice/k", "arn:aws:s3:::c1", f"arn:aws:sqs:us-east-1:{OTHER}:q", "*"]),
    st.sampled_from([None, ACCT, OTHER]),
    st.none()
    | st.fixed_dictionaries(
        {},
        optional={
            "aws:SecureTransport": st.sampled_from(["true", "false"]),
            "s3:prefix": st.sampled_from(["home/x", "tmp/"]),
            "aws:TagKeys": st.lists(st.sampled_from(["a", "c"]), max_size=2),
            "aws:SourceIp": st.sampled_from(["10.1.2.3", "192.0.2.1"]),
            "aws:MultiFactorAuthPresent": st.just("true"),
        },
    ),
)


@settings(max_examples=300, deadline=None)
@given(policy_sets, requests, st.sampled_from([None, ACCT, "999988887777"]))
def test_hot_path_and_full_analysis_agree(policies: dict, request: Request, management: str | None) -> None:
    request.management_account = management
    compiled = compile_policy_set(**policies)
    fast = authorize(request, compiled)
    full = analyze(request, compiled).decision
    assert fast.decision == full.decision
    assert fast.matched == full.matched
    assert fast.missing_context == full.missing_context
    assert fast.blocked_by == full.blocked_by
    assert fast.allowed_by_permissions_boundary == full.allowed_by_permissions_boundary
    assert fast.allowed_by_organizations == full.allowed_by_organizations
    assert f"Decision: {fast.decision}" in fast.explain()
    # the cached plan gives the same answer the second time
    again = authorize(request, compile_policy_set(**policies))
    assert (again.decision, again.matched) == (fast.decision, fast.matched)


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10)
odd_contexts = st.dictionaries(
    st.sampled_from(
        ["aws:SourceIp", "aws:username", "s3:prefix", "aws:TagKeys", "aws:MultiFactorAuthPresent"]
    )
    | st.text(max_size=12),
    json_scalars | st.lists(json_scalars | st.lists(json_scalars, max_size=2), max_size=3),
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(policy_sets, requests, odd_contexts)
def test_any_request_context_gives_a_decision(policies: dict, request: Request, context: dict) -> None:
    request.context = context
    decision = authorize(request, compile_policy_set(**policies))
    assert decision.decision in ("Allow", "ExplicitDeny", "ImplicitDeny")
    assert decision.explain()
