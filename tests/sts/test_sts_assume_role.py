"""AssumeRole through boto3 against the real server: trust, the role's policies in the session,
session policies, boundaries, durations and chaining, ExternalId, tags, source identity, MFA."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from sts_helpers import (
    allow,
    attach_role_policy,
    current_code,
    enable_mfa,
    error_code,
    error_message,
    make_role,
    make_user,
    policy,
    put_role_policy,
    put_user_policy,
    session_clients,
    trust,
    uid,
)

READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def _user_and_role(server, iam, *actions, condition=None, **role_args):
    user, sts, _user_iam = make_user(server, iam)
    role = make_role(iam, trust(user["Arn"], *actions, condition=condition), **role_args)
    return user, sts, role


def test_assume_role_response_and_the_role_policies_apply(server, iam):
    _user, sts, role = _user_and_role(server, iam)
    attach_role_policy(iam, role["RoleName"], READ_ONLY)
    before = datetime.now(UTC).replace(microsecond=0)
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="reader@example.com", DurationSeconds=900)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["SecretAccessKey"]) == 40
    assert timedelta(seconds=899) <= creds["Expiration"] - before <= timedelta(seconds=902)
    assert out["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:reader@example.com",
        "Arn": f"arn:aws:sts::{server.account_id}:assumed-role/{role['RoleName']}/reader@example.com",
    }
    assert "PackedPolicySize" not in out and "SourceIdentity" not in out
    _, role_iam = session_clients(server, creds)
    assert "Users" in role_iam.list_users()
    with pytest.raises(ClientError) as denied:
        role_iam.create_user(UserName=uid("nope"))
    assert error_code(denied) == "AccessDenied"
    assert out["AssumedRoleUser"]["Arn"] in error_message(denied)
    used = iam.get_role(RoleName=role["RoleName"])["Role"]["RoleLastUsed"]
    assert used["Region"] == "us-east-1" and used["LastUsedDate"] >= before


def test_role_last_used_moves_once_a_minute_per_region(server, iam):
    """Assumed again within the minute, from the same region, the role keeps its RoleLastUsed;
    from another region, it moves at once."""
    user, _, _ = make_user(server, iam)
    role = make_role(iam, trust(user["Arn"]))
    key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]

    def sts_in(region):
        return server.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"], region=region)

    def last_used():
        return iam.get_role(RoleName=role["RoleName"])["Role"]["RoleLastUsed"]

    sts_in("us-east-1").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    first = last_used()
    time.sleep(1.1)  # a later second: a write would show
    sts_in("us-east-1").assume_role(RoleArn=role["Arn"], RoleSessionName="s2")
    assert last_used() == first
    sts_in("eu-west-3").assume_role(RoleArn=role["Arn"], RoleSessionName="s3")
    moved = last_used()
    assert moved["Region"] == "eu-west-3" and moved["LastUsedDate"] > first["LastUsedDate"]


def test_trust_policy_denial_and_unknown_role_answer_alike(server, iam):
    user, sts, _ = make_user(server, iam)
    someone_else, _, _ = make_user(server, iam)
    other = make_role(iam, trust(someone_else["Arn"]))
    for arn in (other["Arn"], f"arn:aws:iam::{server.account_id}:role/missing-{uid()}"):
        with pytest.raises(ClientError) as denied:
            sts.assume_role(RoleArn=arn, RoleSessionName="s1")
        assert error_code(denied) == "AccessDenied"
        assert error_message(denied) == (
            f"User: {user['Arn']} is not authorized to perform: sts:AssumeRole on resource: {arn}"
        )


def test_trust_naming_the_account_needs_an_identity_policy_too(server, iam):
    user, sts, _ = make_user(server, iam)
    role = make_role(iam, trust(f"arn:aws:iam::{server.account_id}:root"))
    with pytest.raises(ClientError) as denied:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    assert error_code(denied) == "AccessDenied"
    put_user_policy(iam, user["UserName"], "Assume", policy(allow("sts:AssumeRole", role["Arn"])))
    assert sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["Credentials"]


def test_root_cannot_assume_roles(server, iam):
    role = make_role(iam, trust(f"arn:aws:iam::{server.account_id}:root"))
    with pytest.raises(ClientError) as denied:
        server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    assert error_code(denied) == "AccessDenied"
    assert error_message(denied) == "Roles may not be assumed by root accounts."


def test_session_policy_and_policy_arns_narrow_the_session(server, iam):
    _user, sts, role = _user_and_role(server, iam)
    attach_role_policy(iam, role["RoleName"], READ_ONLY)
    only_roles = policy(allow(["iam:ListRoles", "iam:CreateUser"]))
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="narrow", Policy=only_roles)
    assert 0 < out["PackedPolicySize"] <= 100
    _, narrowed = session_clients(server, out["Credentials"])
    assert "Roles" in narrowed.list_roles()
    for call in (narrowed.list_users, lambda: narrowed.create_user(UserName=uid("x"))):
        with pytest.raises(ClientError) as denied:
            call()  # ListUsers: not in the session policy; CreateUser: not in the role's
        assert error_code(denied) == "AccessDenied"
    out = sts.assume_role(
        RoleArn=role["Arn"],
        RoleSessionName="arns",
        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/IAMUserChangePassword"}],
    )
    _, by_arn = session_clients(server, out["Credentials"])
    with pytest.raises(ClientError) as denied:
        by_arn.list_users()
    assert error_code(denied) == "AccessDenied"


def test_session_policy_errors(server, iam):
    user, sts, role = _user_and_role(server, iam)
    with pytest.raises(ClientError) as bad:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", Policy='{"Statement": [')
    assert error_code(bad) == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as bad:
        sts.assume_role(
            RoleArn=role["Arn"],
            RoleSessionName="s1",
            PolicyArns=[{"arn": f"arn:aws:iam::{server.account_id}:policy/missing-{uid()}"}],
        )
    assert error_code(bad) == "ValidationError"
    too_long = policy(*[allow(f"iam:Get{'X' * 40}{i}") for i in range(60)])
    with pytest.raises(ClientError) as bad:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", Policy=too_long)
    assert error_code(bad) == "ValidationError"
    incompressible = [{"Key": f"k{i}", "Value": secrets.token_hex(120)} for i in range(45)]
    role2 = make_role(iam, trust(user["Arn"], "sts:AssumeRole", "sts:TagSession"))
    with pytest.raises(ClientError) as bad:
        sts.assume_role(RoleArn=role2["Arn"], RoleSessionName="s1", Tags=incompressible)
    assert error_code(bad) == "PackedPolicyTooLarge"


def test_permissions_boundary_on_the_role_caps_the_session(server, iam):
    _user, sts, role = _user_and_role(
        server, iam, PermissionsBoundary="arn:aws:iam::aws:policy/IAMUserChangePassword"
    )
    attach_role_policy(iam, role["RoleName"], READ_ONLY)
    creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="capped")["Credentials"]
    _, capped = session_clients(server, creds)
    with pytest.raises(ClientError) as denied:
        capped.list_users()
    assert error_code(denied) == "AccessDenied"


def test_the_callers_permissions_boundary_must_allow_assume_role(server, iam):
    user, sts, role = _user_and_role(server, iam)
    iam.put_user_permissions_boundary(
        UserName=user["UserName"], PermissionsBoundary="arn:aws:iam::aws:policy/IAMUserChangePassword"
    )
    with pytest.raises(ClientError) as denied:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="bounded")
    assert error_code(denied) == "AccessDenied"
    iam.put_user_permissions_boundary(
        UserName=user["UserName"], PermissionsBoundary="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    assert sts.assume_role(RoleArn=role["Arn"], RoleSessionName="bounded")["Credentials"]


def test_durations_and_role_chaining(server, iam):
    _user, sts, role = _user_and_role(server, iam, MaxSessionDuration=7200)
    with pytest.raises(ClientError) as bad:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=7201)
    assert error_code(bad) == "ValidationError"
    assert (
        error_message(bad)
        == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    )
    first = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=7200)
    assert first["Credentials"]["Expiration"] - datetime.now(UTC) > timedelta(seconds=7000)
    # the role may assume the next one (trust names the first role)
    second = make_role(iam, trust(role["Arn"]), MaxSessionDuration=43200)
    role_sts, _ = session_clients(server, first["Credentials"])
    with pytest.raises(ClientError) as bad:
        role_sts.assume_role(RoleArn=second["Arn"], RoleSessionName="hop", DurationSeconds=3601)
    assert error_code(bad) == "ValidationError"
    assert "1 hour session limit for roles assumed by role chaining" in error_message(bad)
    hop = role_sts.assume_role(RoleArn=second["Arn"], RoleSessionName="hop", DurationSeconds=3600)
    hop_sts, _ = session_clients(server, hop["Credentials"])
    assert hop_sts.get_caller_identity()["Arn"].endswith(f"assumed-role/{second['RoleName']}/hop")


def test_external_id_guards_against_the_confused_deputy(server, iam):
    condition = {"StringEquals": {"sts:ExternalId": "customer-4711"}}
    _user, sts, role = _user_and_role(server, iam, condition=condition)
    for external_id in (None, "customer-0815"):
        extra = {} if external_id is None else {"ExternalId": external_id}
        with pytest.raises(ClientError) as denied:
            sts.assume_role(RoleArn=role["Arn"], RoleSessionName="deputy", **extra)
        assert error_code(denied) == "AccessDenied"
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="deputy", ExternalId="customer-4711")
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_session_tags_need_tag_session_and_reach_the_role_policies(server, iam):
    user, sts, untagged = _user_and_role(server, iam)
    tags = [{"Key": "team", "Value": "blue"}]
    with pytest.raises(ClientError) as denied:
        sts.assume_role(RoleArn=untagged["Arn"], RoleSessionName="tt", Tags=tags)
    assert error_code(denied) == "AccessDenied" and "sts:TagSession" in error_message(denied)
    role = make_role(iam, trust(user["Arn"], "sts:AssumeRole", "sts:TagSession"))
    iam.tag_role(RoleName=role["RoleName"], Tags=[{"Key": "team", "Value": "red"}])
    put_role_policy(
        iam,
        role["RoleName"],
        "ByTeam",
        policy(allow("iam:ListUsers", Condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}})),
    )
    with pytest.raises(ClientError) as bad:
        sts.assume_role(
            RoleArn=role["Arn"], RoleSessionName="tt", Tags=[*tags, {"Key": "TEAM", "Value": "x"}]
        )
    assert error_code(bad) == "InvalidParameterValue"
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="tt", Tags=tags)
    assert 0 < out["PackedPolicySize"] <= 100
    _, tagged = session_clients(server, out["Credentials"])
    assert "Users" in tagged.list_users()  # the session tag overrides the role's own "team" tag
    plain = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="tt")
    _, untagged_session = session_clients(server, plain["Credentials"])
    with pytest.raises(ClientError) as denied:
        untagged_session.list_users()
    assert error_code(denied) == "AccessDenied"


def test_transitive_tags_pass_down_a_chain_and_cannot_be_overridden(server, iam):
    user, sts, _ = make_user(server, iam)
    first = make_role(iam, trust(user["Arn"], "sts:AssumeRole", "sts:TagSession"))
    second = make_role(iam, trust(first["Arn"], "sts:AssumeRole", "sts:TagSession"))
    put_role_policy(
        iam,
        second["RoleName"],
        "ByProject",
        policy(allow("iam:ListUsers", Condition={"StringEquals": {"aws:PrincipalTag/Project": "apollo"}})),
    )
    out = sts.assume_role(
        RoleArn=first["Arn"],
        RoleSessionName="aa",
        Tags=[{"Key": "Project", "Value": "apollo"}, {"Key": "Scratch", "Value": "1"}],
        TransitiveTagKeys=["Project"],
    )
    first_sts, _ = session_clients(server, out["Credentials"])
    with pytest.raises(ClientError) as bad:
        first_sts.assume_role(
            RoleArn=second["Arn"], RoleSessionName="bb", Tags=[{"Key": "project", "Value": "x"}]
        )
    assert error_code(bad) == "InvalidParameterValue"
    hop = first_sts.assume_role(RoleArn=second["Arn"], RoleSessionName="bb")
    hop_sts, hop_iam = session_clients(server, hop["Credentials"])
    assert "Users" in hop_iam.list_users()
    # still transitive one hop further: a role whose trust lacks sts:TagSession refuses them
    third = make_role(iam, trust(second["Arn"]))
    with pytest.raises(ClientError) as denied:
        hop_sts.assume_role(RoleArn=third["Arn"], RoleSessionName="cc")
    assert error_code(denied) == "AccessDenied"


def test_source_identity_needs_permission_and_persists_through_chaining(server, iam):
    user, sts, plain = _user_and_role(server, iam)
    with pytest.raises(ClientError) as denied:
        sts.assume_role(RoleArn=plain["Arn"], RoleSessionName="ss", SourceIdentity="alice")
    assert error_code(denied) == "AccessDenied" and "sts:SetSourceIdentity" in error_message(denied)
    role = make_role(iam, trust(user["Arn"], "sts:AssumeRole", "sts:SetSourceIdentity"))
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", SourceIdentity="alice")
    assert out["SourceIdentity"] == "alice"
    next_role = make_role(iam, trust(role["Arn"], "sts:AssumeRole", "sts:SetSourceIdentity"))
    role_sts, _ = session_clients(server, out["Credentials"])
    with pytest.raises(ClientError) as denied:
        role_sts.assume_role(RoleArn=next_role["Arn"], RoleSessionName="nn", SourceIdentity="mallory")
    assert error_code(denied) == "AccessDenied"
    hop = role_sts.assume_role(RoleArn=next_role["Arn"], RoleSessionName="nn")
    assert hop["SourceIdentity"] == "alice"


def test_mfa_in_the_trust_policy_and_replayed_codes(server, iam):
    condition = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    user, sts, role = _user_and_role(server, iam, condition=condition)
    with pytest.raises(ClientError) as denied:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="mm")
    assert error_code(denied) == "AccessDenied"
    serial, seed = enable_mfa(iam, user["UserName"])
    with pytest.raises(ClientError) as denied:
        sts.assume_role(
            RoleArn=role["Arn"],
            RoleSessionName="mm",
            SerialNumber=serial,
            TokenCode="000000" if current_code(seed) != "000000" else "111111",
        )
    assert error_code(denied) == "AccessDenied"
    code = current_code(seed)
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="mm", SerialNumber=serial, TokenCode=code)
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
    with pytest.raises(ClientError) as replay:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="mm", SerialNumber=serial, TokenCode=code)
    assert error_code(replay) == "AccessDenied"
    assert "MultiFactorAuthentication failed" in error_message(replay)


def test_revoking_older_sessions_with_aws_revoke_older_sessions(server, iam):
    _user, sts, role = _user_and_role(server, iam)
    attach_role_policy(iam, role["RoleName"], READ_ONLY)
    old = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="old")["Credentials"]
    _, old_iam = session_clients(server, old)
    assert "Users" in old_iam.list_users()
    # AWS's "Revoke active sessions": deny everything to sessions issued before now (whole seconds)
    cutoff = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    put_role_policy(
        iam,
        role["RoleName"],
        "AWSRevokeOlderSessions",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": ["*"],
                        "Resource": ["*"],
                        "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}},
                    }
                ],
            }
        ),
    )
    with pytest.raises(ClientError) as denied:
        old_iam.list_users()
    assert error_code(denied) == "AccessDenied"
    time.sleep(
        max(
            0.0,
            (
                datetime.strptime(cutoff, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) - datetime.now(UTC)
            ).total_seconds(),
        )
        + 0.05
    )
    new = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="new")["Credentials"]
    _, new_iam = session_clients(server, new)
    assert "Users" in new_iam.list_users()
