"""Wildcards and policy variables, as AWS applies them."""

from __future__ import annotations

import pytest

from ironkeep.policy import ACTION, RESOURCE, STRING, PatternSet, parse_template
from ironkeep.policy.patterns import ARN, compile_pattern, match_all

# (flavour, pattern, value, matches?)
CASES = [
    # actions: case-insensitive, * and ? anywhere
    (ACTION, "s3:GetObject", "s3:getobject", True),
    (ACTION, "S3:GET*", "s3:getobjectacl", True),
    (ACTION, "s3:Get*", "s3:putobject", False),
    (ACTION, "s3:Get?bject", "s3:getobject", True),
    (ACTION, "s3:Get?bject", "s3:getbject", False),
    (ACTION, "*", "iam:createuser", True),
    (ACTION, "s3:*Object", "s3:getobject", True),
    (ACTION, "s*:Get*", "sqs:getqueueurl", True),
    (ACTION, "s3:*", "s3x:getobject", False),
    # resources: case-sensitive
    (RESOURCE, "*", "arn:aws:s3:::b/k", True),
    (RESOURCE, "*", "*", True),
    (RESOURCE, "arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c.txt", True),
    (RESOURCE, "arn:aws:s3:::b/*", "arn:aws:s3:::B/a", False),
    (RESOURCE, "arn:aws:s3:::b/*", "arn:aws:s3:::b", False),
    (RESOURCE, "arn:aws:iam::111122223333:user/Bob", "arn:aws:iam::111122223333:user/bob", False),
    (RESOURCE, "arn:aws:s3:::b?", "arn:aws:s3:::b1", True),
    (RESOURCE, "arn:aws:s3:::b?", "arn:aws:s3:::b", False),
    # every other character is literal
    (RESOURCE, "arn:aws:s3:::my.bucket", "arn:aws:s3:::myxbucket", False),
    (RESOURCE, "arn:aws:s3:::a+b(1)[x]", "arn:aws:s3:::a+b(1)[x]", True),
    (RESOURCE, "arn:aws:s3:::a+b", "arn:aws:s3:::aab", False),
    (RESOURCE, "arn:aws:s3:::a|*", "arn:aws:s3:::b", False),
    (RESOURCE, "arn:aws:s3:::^b$", "arn:aws:s3:::^b$", True),
    # a * inside a segment stays in it; a * ending a segment crosses colons
    (
        RESOURCE,
        "arn:aws:ec2:*:111122223333:instance/*",
        "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
        True,
    ),
    (RESOURCE, "arn:aws:logs:us-east-1:*", "arn:aws:logs:us-east-1:111122223333:log-group:g:*", True),
    (RESOURCE, "arn:aws:logs:us-east-1:1*3:log-group:*", "arn:aws:logs:us-east-1:1:2:3:log-group:x", False),
    (RESOURCE, "arn:aws:logs:us-east-1:1*3:log-group:*", "arn:aws:logs:us-east-1:123:log-group:x", True),
    (RESOURCE, "arn:aws:s3:::*/key", "arn:aws:s3:::bucket/key", True),
    (RESOURCE, "arn:aws:s3:::*/key", "arn:aws:s3:::bucket/dir/key", True),
    (RESOURCE, "arn:aws:sqs:*:*:queue", "arn:aws:sqs:us-east-1:111122223333:queue", True),
    (RESOURCE, "arn:aws:sqs:us-?ast-1:*:q", "arn:aws:sqs:us-east-1:1:q", True),
    # StringLike: case-sensitive, wildcards cross everything
    (STRING, "home/*", "home/a/b", True),
    (STRING, "home/*", "Home/a", False),
    (STRING, "*.txt", "a:b.txt", True),
    (STRING, "a?c", "abc", True),
    (STRING, "a.c", "abc", False),
    (STRING, "", "", True),
    # ArnLike: each of the six components on its own
    (ARN, "arn:aws:iam::*:role/x", "arn:aws:iam::111122223333:role/x", True),
    (ARN, "arn:aws:iam::*:role/x", "arn:aws:iam::1:2:role/x", False),
    (ARN, "arn:aws:sns:*:*:topic*", "arn:aws:sns:eu-west-1:111122223333:topic:sub", True),
    (ARN, "arn:aws:s3:::b", "arn:aws:s3:::b", True),
    (ARN, "arn:aws:s3:::b", "arn:aws:s3:::B", False),
]


@pytest.mark.parametrize(("flavour", "pattern", "value", "expected"), CASES)
def test_wildcards(flavour: str, pattern: str, value: str, expected: bool) -> None:
    assert bool(match_all(pattern, value, flavour)) is expected
    # the grouped matcher agrees with the single one, and so does its one-call form
    assert bool(PatternSet([((pattern, True),)], flavour)(value)) is expected
    assert bool(PatternSet([((pattern, True),)], flavour).fast(value)) is expected


def test_pattern_set_mixes_fast_paths_and_regexes() -> None:
    patterns = ["arn:aws:s3:::exact", "arn:aws:s3:::pre/*", "arn:aws:s3:::a?c", "arn:aws:s3:::x*y"]
    matcher = PatternSet([((p, True),) for p in patterns], RESOURCE)
    assert matcher("arn:aws:s3:::exact")
    assert matcher("arn:aws:s3:::pre/deep/key")
    assert matcher("arn:aws:s3:::abc")
    assert matcher("arn:aws:s3:::x123y")
    assert not matcher("arn:aws:s3:::exact2")
    assert not matcher("arn:aws:s3:::x123")


@pytest.mark.parametrize("exact", [1, 3, 40])
def test_pattern_set_in_one_call_agrees(exact: int) -> None:
    patterns = [f"arn:aws:s3:::e{i}.x" for i in range(exact)] + ["arn:aws:s3:::pre/*", "arn:aws:s3:::a?c(1)"]
    values = [
        *(f"arn:aws:s3:::e{i}.x" for i in range(exact + 1)),
        "arn:aws:s3:::e0ax",
        "arn:aws:s3:::pre/",
        "arn:aws:s3:::pre/a\nb",
        "arn:aws:s3:::pre",
        "arn:aws:s3:::abc(1)",
        "arn:aws:s3:::abc1",
        "",
    ]
    for some in (patterns, patterns[:exact], patterns[exact:], patterns[-1:]):
        matcher = PatternSet([((p, True),) for p in some], RESOURCE)
        for value in values:
            assert bool(matcher.fast(value)) is matcher(value), (some, value)


def _lookup(values: dict[str, str]):
    return lambda key, name: values.get(key)


@pytest.mark.parametrize(
    ("text", "values", "resolved", "value", "expected"),
    [
        ("arn:aws:s3:::b/${aws:username}/*", {"aws:username": "alice"}, "arn:aws:s3:::b/alice/*",
         "arn:aws:s3:::b/alice/x", True),
        ("arn:aws:s3:::b/${aws:username}/*", {}, None, "arn:aws:s3:::b/alice/x", False),
        ("arn:aws:s3:::b/${aws:username, 'none'}/*", {}, "arn:aws:s3:::b/none/*", "arn:aws:s3:::b/none/x", True),
        ("arn:aws:s3:::b/${ aws:PrincipalTag/team , 'x y' }", {"aws:principaltag/team": "blue"},
         "arn:aws:s3:::b/blue", "arn:aws:s3:::b/blue", True),
        # a resolved value is literal: its * is not a wildcard
        ("arn:aws:s3:::b/${aws:username}", {"aws:username": "*"}, "arn:aws:s3:::b/*", "arn:aws:s3:::b/anyone",
         False),
        # escapes
        ("arn:aws:s3:::b/${*}${?}${$}", {}, "arn:aws:s3:::b/*?$", "arn:aws:s3:::b/*?$", True),
        ("arn:aws:s3:::b/${*}", {}, "arn:aws:s3:::b/*", "arn:aws:s3:::b/x", False),
        # not a variable AWS recognises: literal
        ("arn:aws:s3:::b/${}", {}, "arn:aws:s3:::b/${}", "arn:aws:s3:::b/${}", True),
    ],
)  # fmt: skip
def test_policy_variables(text: str, values: dict, resolved: str | None, value: str, expected: bool) -> None:
    pieces = parse_template(text, True).resolve(_lookup(values))
    if resolved is None:
        assert pieces is None
        return
    assert pieces is not None
    assert "".join(t for t, _ in pieces) == resolved
    assert bool(compile_pattern(pieces, RESOURCE)(value)) is expected


def test_variables_are_literal_text_in_2008_policies() -> None:
    template = parse_template("arn:aws:s3:::b/${aws:username}", False)
    assert template.variables == ()
    assert template.resolve(_lookup({})) == (("arn:aws:s3:::b/${aws:username}", True),)
