"""GetContextKeysForCustomPolicy / GetContextKeysForPrincipalPolicy through boto3, and the
context-key helpers behind them and behind the simulator's ContextEntries."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from iam_helpers import error_of, unique
from ironkeep.errors import InvalidInput
from ironkeep.policy import parse_policy
from ironkeep.services.iam_context_keys import context_from_entries, referenced_keys

CLI_EXAMPLE = (
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*",'
    '"Resource":"arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}",'
    '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2015-08-16T12:00:00Z"}}}}'
)


def conditioned(key: str, operator: str = "StringEquals", value: str = "x", resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": resource,
                    "Condition": {operator: {key: value}},
                }
            ],
        }
    )


def test_custom_policy_cli_example(iam):
    assert iam.get_context_keys_for_custom_policy(PolicyInputList=[CLI_EXAMPLE])["ContextKeyNames"] == [
        "aws:username",
        "aws:CurrentTime",
    ]


def test_custom_policy_keys_once_regardless_of_case_in_document_order(iam):
    first = conditioned(
        "s3:prefix", value="home/${aws:userid}/*", resource="arn:aws:s3:::b/${aws:PrincipalTag/team}"
    )
    second = conditioned("AWS:UserID", operator="ForAnyValue:StringLike")
    third = json.dumps(  # Version 2008-10-17: ${...} is literal text, not a variable
        {
            "Version": "2008-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::${aws:Other}"}],
        }
    )
    names = iam.get_context_keys_for_custom_policy(PolicyInputList=[first, second, third])["ContextKeyNames"]
    assert names == ["aws:PrincipalTag/team", "s3:prefix", "aws:userid"]
    assert iam.get_context_keys_for_custom_policy(PolicyInputList=[third])["ContextKeyNames"] == []


def test_custom_policy_malformed(iam):
    with pytest.raises(ClientError) as excinfo:
        iam.get_context_keys_for_custom_policy(PolicyInputList=['{"Version":"2012-10-17"'])
    assert error_of(excinfo)[0] == "MalformedPolicyDocument"


def test_principal_policy_keys_of_user_groups_boundary_and_inputs(iam, server):
    user = iam.create_user(
        UserName=unique("keys"), PermissionsBoundary="arn:aws:iam::aws:policy/IAMUserChangePassword"
    )["User"]
    group = iam.create_group(GroupName=unique("keysgroup"))["Group"]
    iam.add_user_to_group(GroupName=group["GroupName"], UserName=user["UserName"])
    iam.put_user_policy(
        UserName=user["UserName"],
        PolicyName="mine",
        PolicyDocument=conditioned("aws:SourceIp", "IpAddress", "10.0.0.0/8"),
    )
    iam.put_group_policy(
        GroupName=group["GroupName"], PolicyName="ours", PolicyDocument=conditioned("aws:RequestedRegion")
    )
    names = iam.get_context_keys_for_principal_policy(
        PolicySourceArn=user["Arn"], PolicyInputList=[conditioned("ec2:InstanceType")]
    )["ContextKeyNames"]
    # the user's, its group's, its boundary's (aws:username in a Resource), then the inputs'
    assert names == ["aws:SourceIp", "aws:RequestedRegion", "aws:username", "ec2:InstanceType"]
    assert iam.get_context_keys_for_principal_policy(PolicySourceArn=group["Arn"])["ContextKeyNames"] == [
        "aws:RequestedRegion"
    ]


def test_principal_policy_unknown_source(iam, server):
    name = unique("nobody")
    with pytest.raises(ClientError) as excinfo:
        iam.get_context_keys_for_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{server.account_id}:role/{name}"
        )
    assert error_of(excinfo) == ("NoSuchEntity", f"The role with name {name} cannot be found.")
    with pytest.raises(ClientError) as excinfo:
        iam.get_context_keys_for_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{server.account_id}:mfa/{name}"
        )
    assert error_of(excinfo)[0] == "InvalidInput"


def test_context_keys_through_the_cli(server):
    done = server.aws("iam", "get-context-keys-for-custom-policy", "--policy-input-list", CLI_EXAMPLE)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"ContextKeyNames": ["aws:username", "aws:CurrentTime"]}


# --- the helpers, as properties ------------------------------------------------------------------

KEY = st.from_regex(r"[a-z][a-z0-9]{0,6}:[A-Za-z][A-Za-z0-9/]{0,10}", fullmatch=True)


@settings(max_examples=80, deadline=None)
@given(keys=st.lists(st.lists(KEY, min_size=1, max_size=3), min_size=1, max_size=4))
def test_every_condition_key_listed_once_as_first_written(keys):
    policies = [parse_policy(conditioned_many(group)) for group in keys]
    listed = referenced_keys(policies)
    flat = [k for group in keys for k in group]
    first: dict[str, str] = {}
    for key in flat:
        first.setdefault(key.lower(), key)
    assert listed == list(first.values())


def conditioned_many(keys: list[str]) -> str:
    conditions: dict[str, dict[str, str]] = {}
    for i, key in enumerate(keys):  # one operator per key: keys may repeat regardless of case
        conditions[["StringEquals", "StringLike", "StringNotEquals"][i]] = {key: "v"}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "a:b", "Resource": "*", "Condition": conditions}],
        }
    )


@settings(max_examples=80, deadline=None)
@given(
    kind=st.sampled_from(["string", "numeric", "boolean", "ip", "binary", "date"]),
    as_list=st.booleans(),
    values=st.lists(st.text(max_size=12), min_size=1, max_size=3),
)
def test_context_entries_accept_or_refuse_never_crash(kind, as_list, values):
    entry = {
        "ContextKeyName": "test:key",
        "ContextKeyType": kind + ("List" if as_list else ""),
        "ContextKeyValues": values,
    }
    try:
        context = context_from_entries([entry])
    except InvalidInput:
        return
    value = context["test:key"]
    assert (
        value == ([v.lower() for v in values] if kind == "boolean" else values)
        if as_list
        else isinstance(value, str)
    )
    if not as_list:
        assert len(values) == 1


def test_context_entries_shapes():
    context = context_from_entries(
        [
            {
                "ContextKeyName": "aws:MultiFactorAuthPresent",
                "ContextKeyType": "boolean",
                "ContextKeyValues": ["True"],
            },
            {"ContextKeyName": "aws:TagKeys", "ContextKeyType": "stringList", "ContextKeyValues": ["a", "b"]},
            {"ContextKeyName": "aws:SourceIp", "ContextKeyType": "ip", "ContextKeyValues": ["2001:db8::/32"]},
            {
                "ContextKeyName": "aws:CurrentTime",
                "ContextKeyType": "date",
                "ContextKeyValues": [],
            },  # ignored
        ]
    )
    assert context == {
        "aws:MultiFactorAuthPresent": "true",
        "aws:TagKeys": ["a", "b"],
        "aws:SourceIp": "2001:db8::/32",
    }
    with pytest.raises(InvalidInput):
        context_from_entries(
            [
                {"ContextKeyName": "aws:a1", "ContextKeyType": "string", "ContextKeyValues": ["x"]},
                {"ContextKeyName": "AWS:A1", "ContextKeyType": "string", "ContextKeyValues": ["y"]},
            ]
        )
