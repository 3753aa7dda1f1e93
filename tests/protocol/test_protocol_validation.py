"""AWS's request validation: exact codes and messages for the cases AWS's own errors show.

Message forms are those of real IAM/STS answers quoted in public issues, e.g.
``1 validation error detected: Value '20' at 'durationSeconds' failed to satisfy constraint:
Member must have value greater than or equal to 900`` and ``Value '...' at 'tags.6.member.value'
failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ironkeep.errors import AWSError, ValidationError
from ironkeep.protocol import InvalidAction, MissingAction, decode_query

IAM = {"Version": "2010-05-08"}
STS = {"Version": "2011-06-15"}
TAG_PATTERN = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*"

MESSAGES: list[tuple[str, dict[str, str], str]] = [
    (
        "iam",
        {"Action": "CreateUser"},
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: "
        "Member must not be null",
    ),
    (
        "iam",
        {"Action": "CreateRole", "RoleName": "r" * 65, "AssumeRolePolicyDocument": "{}"},
        f"1 validation error detected: Value '{'r' * 65}' at 'roleName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64",
    ),
    (
        "iam",
        {"Action": "GetRole", "RoleName": "/service-role/visitor-counter-role"},
        "1 validation error detected: Value '/service-role/visitor-counter-role' at 'roleName' failed to "
        r"satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+",
    ),
    (
        "iam",
        {"Action": "GetUser", "UserName": ""},
        "2 validation errors detected: Value '' at 'userName' failed to satisfy constraint: Member must "
        "have length greater than or equal to 1; Value '' at 'userName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\w+=,.@-]+",
    ),
    (
        "iam",
        {"Action": "UpdateAccessKey", "AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "Status": "active"},
        "1 validation error detected: Value 'active' at 'status' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Active, Inactive, Expired]",
    ),
    (
        "iam",
        {"Action": "ListUsers", "MaxItems": "1001"},
        "1 validation error detected: Value '1001' at 'maxItems' failed to satisfy constraint: "
        "Member must have value less than or equal to 1000",
    ),
    (
        "sts",
        {
            "Action": "AssumeRole",
            "RoleArn": "arn:aws:iam::123456789012:role/demo",
            "RoleSessionName": "s1",
            "DurationSeconds": "20",
        },
        "1 validation error detected: Value '20' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 900",
    ),
    (
        "iam",
        {
            "Action": "TagUser",
            "UserName": "bob",
            "Tags.member.1.Key": "ok",
            "Tags.member.1.Value": "fine",
            "Tags.member.2.Key": "src",
            "Tags.member.2.Value": "SourceIP: 10.0.0.1, UserAgent: aws-cli/2.1.17",
        },
        "1 validation error detected: Value 'SourceIP: 10.0.0.1, UserAgent: aws-cli/2.1.17' at "
        "'tags.2.member.value' failed to satisfy constraint: Member must satisfy regular expression "
        f"pattern: {TAG_PATTERN}",
    ),
    (
        "iam",
        {"Action": "TagUser", "UserName": "bob", "Tags.member.1.Value": "v"},
        "1 validation error detected: Value null at 'tags.1.member.key' failed to satisfy constraint: "
        "Member must not be null",
    ),
    (
        # sensitive members never echo their value
        "iam",
        {"Action": "CreateLoginProfile", "UserName": "bob", "Password": ""},
        "2 validation errors detected: Value at 'password' failed to satisfy constraint: Member must have "
        "length greater than or equal to 1; Value at 'password' failed to satisfy constraint: Member must "
        r"satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+",
    ),
    (
        # several members, reported in model order
        "sts",
        {"Action": "AssumeRole", "RoleSessionName": "x", "DurationSeconds": "50000"},
        "3 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must "
        "not be null; Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length "
        "greater than or equal to 2; Value '50000' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value less than or equal to 43200",
    ),
    (
        "iam",
        {
            "Action": "TagUser",
            "UserName": "bob",
            **{f"Tags.member.{i}.{f}": f"k{i}" for i in range(1, 51) for f in ("Key", "Value")},
            "Tags.member.51.Key": "k#51",
            "Tags.member.51.Value": "v",
        },
        # a list of structures is not echoed; the list's own size comes before its elements
        "2 validation errors detected: Value at 'tags' failed to satisfy constraint: Member must have length "
        "less than or equal to 50; Value 'k#51' at 'tags.51.member.key' failed to satisfy constraint: Member "
        r"must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+",
    ),
    (
        # a list of strings is shown the way Java prints it (as in SSM's "Value '[list, of, ten, items]'")
        "sts",
        {
            "Action": "AssumeRole",
            "RoleArn": "arn:aws:iam::123456789012:role/demo",
            "RoleSessionName": "s1",
            **{f"TransitiveTagKeys.member.{i}": f"k{i}" for i in range(1, 52)},
        },
        "1 validation error detected: Value '["
        + ", ".join(f"k{i}" for i in range(1, 52))
        + "]' at 'transitiveTagKeys' failed to satisfy constraint: Member must have length less than or equal to 50",
    ),
    (
        "iam",
        {"Action": "ListUsers", "MaxItems": "ten"},
        "1 validation error detected: Value 'ten' at 'maxItems' failed to satisfy constraint: "
        "Member must be an integer",
    ),
    (
        "iam",
        {"Action": "ListPolicies", "OnlyAttached": "yes"},
        "1 validation error detected: Value 'yes' at 'onlyAttached' failed to satisfy constraint: "
        "Member must be a boolean",
    ),
    (
        # Java's \w is ASCII: 'é' is not a word character in a user name
        "iam",
        {"Action": "GetUser", "UserName": "josé"},
        "1 validation error detected: Value 'josé' at 'userName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\w+=,.@-]+",
    ),
    (
        # lengths count UTF-16 code units, as Java's String.length() does: 65 emoji = 130
        "iam",
        {
            "Action": "TagUser",
            "UserName": "bob",
            "Tags.member.1.Key": "k",
            "Tags.member.1.Value": "v",
            "Tags.member.1.Value.x": "ignored",
            "Tags.member.2.Key": "\U0001f600" * 65,
            "Tags.member.2.Value": "",
        },
        "2 validation errors detected: Value '" + "\U0001f600" * 65 + "' at 'tags.2.member.key' failed to "
        "satisfy constraint: Member must have length less than or equal to 128; Value '"
        + "\U0001f600"
        * 65
        + "' at 'tags.2.member.key' failed to satisfy constraint: Member must satisfy "
        r"regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+",
    ),
]


@pytest.mark.parametrize(
    ("service", "params", "message"), MESSAGES, ids=[str(i) for i in range(len(MESSAGES))]
)
def test_validation_messages(service: str, params: dict[str, str], message: str) -> None:
    version = IAM if service == "iam" else STS
    with pytest.raises(ValidationError) as caught:
        decode_query(service, {**version, **params})
    assert caught.value.code == "ValidationError"
    assert caught.value.status == 400
    assert caught.value.message == message


def test_unknown_action_is_invalid_action() -> None:
    with pytest.raises(InvalidAction) as caught:
        decode_query("iam", {**IAM, "Action": "ReplaceIamInstanceProfileAssociation"})
    assert (caught.value.code, caught.value.status) == ("InvalidAction", 400)
    assert caught.value.message == (
        "Could not find operation ReplaceIamInstanceProfileAssociation for version 2010-05-08"
    )


def test_action_names_are_case_sensitive() -> None:
    with pytest.raises(InvalidAction, match="Could not find operation getuser for version 2010-05-08"):
        decode_query("iam", {**IAM, "Action": "getuser"})
    with pytest.raises(InvalidAction):
        decode_query("sts", {**STS, "Action": "GetUser"})  # an IAM action sent to STS


def test_wrong_version_is_invalid_action() -> None:
    with pytest.raises(InvalidAction, match="Could not find operation GetUser for version 2011-06-15"):
        decode_query("iam", {"Action": "GetUser", "Version": "2011-06-15"})


def test_missing_version_is_accepted() -> None:
    assert decode_query("sts", {"Action": "GetCallerIdentity"}) == ("GetCallerIdentity", {})


def test_missing_action() -> None:
    for params in ({}, {"Version": "2010-05-08"}, {"Action": ""}):
        with pytest.raises(MissingAction) as caught:
            decode_query("iam", params)
        assert (caught.value.code, caught.value.status) == ("MissingAction", 400)


def test_parameter_names_are_case_sensitive_and_extras_ignored() -> None:
    name, decoded = decode_query(
        "iam",
        {
            **IAM,
            "Action": "ListUsers",
            "maxitems": "5",
            "PathPrefix": "/a/",
            "X-Amz-Date": "20240101T000000Z",
            "MaxItems.member.1": "3",
        },
    )
    assert (name, decoded) == ("ListUsers", {"PathPrefix": "/a/"})


def test_types_and_lists() -> None:
    _, decoded = decode_query(
        "iam",
        {
            **IAM,
            "Action": "SimulateCustomPolicy",
            "PolicyInputList.member.1": "{}",
            "ActionNames.member.10": "s3:PutObject",
            "ActionNames.member.2": "s3:GetObject",
            "ActionNames.member.01": "ignored",
            "ActionNames.member.x": "ignored",
            "MaxItems": "+7",
            "ContextEntries.member.1.ContextKeyName": "aws:MultiFactorAuthPresent",
            "ContextEntries.member.1.ContextKeyType": "boolean",
            "ContextEntries.member.1.ContextKeyValues.member.1": "true",
            "ResourceArns": "",
        },
    )
    assert decoded == {
        "PolicyInputList": ["{}"],
        "ActionNames": ["s3:GetObject", "s3:PutObject"],
        "ResourceArns": [],
        "ContextEntries": [
            {
                "ContextKeyName": "aws:MultiFactorAuthPresent",
                "ContextKeyValues": ["true"],
                "ContextKeyType": "boolean",
            }
        ],
        "MaxItems": 7,
    }
    _, decoded = decode_query(
        "iam",
        {
            **IAM,
            "Action": "CreatePolicyVersion",
            "PolicyArn": "arn:aws:iam::123456789012:policy/p",
            "PolicyDocument": "{}",
            "SetAsDefault": "TRUE",
        },
    )
    assert decoded["SetAsDefault"] is True


def test_integer_overflow_is_rejected() -> None:
    with pytest.raises(
        ValidationError, match=r"Value '2147483648' at 'maxItems' .* Member must be an integer"
    ):
        decode_query("iam", {**IAM, "Action": "ListUsers", "MaxItems": "2147483648"})


@settings(max_examples=200, deadline=None)
@given(
    action=st.sampled_from(["CreateUser", "TagRole", "SimulateCustomPolicy", "UpdateAccountPasswordPolicy"]),
    params=st.dictionaries(
        st.sampled_from(
            [
                "UserName",
                "Path",
                "RoleName",
                "Tags",
                "Tags.member.1.Key",
                "Tags.member.2.Value",
                "Tags.member.1",
                "ActionNames.member.1",
                "PolicyInputList.member.3",
                "MaxItems",
                "MinimumPasswordLength",
                "RequireSymbols",
                "ContextEntries.member.1.ContextKeyType",
                "ContextEntries.member.1.ContextKeyValues.member.1",
                "Tags.member..Key",
                ".",
            ]
        )
        | st.text(max_size=12),
        st.text(max_size=20),
        max_size=8,
    ),
)
def test_untrusted_input_only_raises_aws_errors(action: str, params: dict[str, str]) -> None:
    """Whatever arrives, the decoder answers with data or an AWS error, never a crash."""
    try:
        name, decoded = decode_query("iam", {**IAM, **params, "Action": action})
    except AWSError as error:
        assert error.code == "ValidationError"
        assert error.message.split(" ", 1)[0].isdigit()
        return
    assert name == action
    assert isinstance(decoded, dict)
