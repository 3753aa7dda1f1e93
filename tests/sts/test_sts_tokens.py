"""GetSessionToken, GetFederationToken, cross-account AssumeRole and the AWS CLI's role profiles."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from sts_helpers import (
    allow,
    current_code,
    enable_mfa,
    error_code,
    error_message,
    make_role,
    make_user,
    policy,
    put_user_policy,
    second_account,
    session_clients,
    trust,
)


def test_get_session_token_acts_as_the_user(server, iam):
    user, sts, _ = make_user(server, iam)
    put_user_policy(iam, user["UserName"], "List", policy(allow("iam:ListUsers")))
    before = datetime.now(UTC)
    creds = sts.get_session_token()["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert timedelta(hours=11, minutes=59) < creds["Expiration"] - before <= timedelta(hours=12, seconds=2)
    session_sts, session_iam = session_clients(server, creds)
    assert session_sts.get_caller_identity()["Arn"] == user["Arn"]
    # AWS: GetSessionToken credentials cannot call IAM unless the session was made with MFA
    with pytest.raises(ClientError) as denied:
        session_iam.list_users()
    assert error_code(denied) == "AccessDenied"
    assert "without MFA authentication" in error_message(denied)
    with pytest.raises(ClientError) as denied:
        session_iam.list_roles()
    assert error_code(denied) == "AccessDenied"
    with pytest.raises(ClientError) as denied:
        session_sts.get_session_token()
    assert error_code(denied) == "AccessDenied"
    assert error_message(denied) == "Cannot call GetSessionToken with session credentials"
    with pytest.raises(ClientError) as denied:
        session_sts.get_access_key_info(AccessKeyId=creds["AccessKeyId"])
    assert error_code(denied) == "AccessDenied"
    # AssumeRole is allowed, as role chaining: at most an hour
    role = make_role(iam, trust(user["Arn"]), MaxSessionDuration=7200)
    with pytest.raises(ClientError) as bad:
        session_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="from-session", DurationSeconds=7200)
    assert error_code(bad) == "ValidationError"
    hop = session_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="from-session")
    assert hop["AssumedRoleUser"]["Arn"].endswith("/from-session")


def test_get_session_token_for_root_lasts_at_most_an_hour(server):
    before = datetime.now(UTC)
    creds = server.client("sts").get_session_token(DurationSeconds=7200)["Credentials"]
    assert creds["Expiration"] - before <= timedelta(hours=1, seconds=2)
    root_sts, _ = session_clients(server, creds)
    assert root_sts.get_caller_identity()["UserId"] == server.account_id


def test_get_session_token_with_mfa_satisfies_mfa_conditions(server, iam):
    user, sts, _ = make_user(server, iam)
    put_user_policy(
        iam,
        user["UserName"],
        "MfaOnly",
        policy(allow("iam:ListUsers", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})),
    )
    _, plain_iam = session_clients(server, sts.get_session_token(DurationSeconds=900)["Credentials"])
    with pytest.raises(ClientError) as denied:
        plain_iam.list_users()
    assert error_code(denied) == "AccessDenied"
    serial, seed = enable_mfa(iam, user["UserName"])
    with pytest.raises(ClientError) as missing:
        sts.get_session_token(SerialNumber=serial)
    assert error_code(missing) == "AccessDenied"
    creds = sts.get_session_token(SerialNumber=serial, TokenCode=current_code(seed))["Credentials"]
    _, mfa_iam = session_clients(server, creds)
    assert "Users" in mfa_iam.list_users()


def test_get_federation_token(server, iam):
    user, sts, _ = make_user(server, iam)
    with pytest.raises(ClientError) as denied:
        sts.get_federation_token(Name="carol")
    assert error_code(denied) == "AccessDenied"
    put_user_policy(
        iam,
        user["UserName"],
        "Fed",
        policy(allow(["sts:GetFederationToken", "iam:ListUsers", "iam:ListRoles"])),
    )
    out = sts.get_federation_token(Name="carol", Policy=policy(allow("iam:ListUsers")), DurationSeconds=900)
    assert out["FederatedUser"] == {
        "FederatedUserId": f"{server.account_id}:carol",
        "Arn": f"arn:aws:sts::{server.account_id}:federated-user/carol",
    }
    assert 0 < out["PackedPolicySize"] <= 100
    fed_sts, fed_iam = session_clients(server, out["Credentials"])
    # AWS: a federated user's credentials cannot call IAM through the API at all
    with pytest.raises(ClientError) as denied:
        fed_iam.list_users()
    assert error_code(denied) == "AccessDenied"
    assert "a federated user" in error_message(denied)
    assert fed_sts.get_caller_identity()["Arn"].endswith(":federated-user/carol")
    with pytest.raises(ClientError) as denied:
        fed_iam.list_roles()  # the user may, the session policy does not
    assert error_code(denied) == "AccessDenied"
    with pytest.raises(ClientError) as denied:
        fed_sts.get_federation_token(Name="again")
    assert error_message(denied) == "Cannot call GetFederationToken with session credentials"
    with pytest.raises(ClientError) as denied:
        fed_sts.assume_role(RoleArn=f"arn:aws:iam::{server.account_id}:role/any", RoleSessionName="xx")
    assert error_code(denied) == "AccessDenied"
    # no session policy at all: no permissions
    bare = sts.get_federation_token(Name="dave")
    assert "PackedPolicySize" not in bare
    _, bare_iam = session_clients(server, bare["Credentials"])
    with pytest.raises(ClientError) as denied:
        bare_iam.list_users()
    assert error_code(denied) == "AccessDenied"


def test_cross_account_assume_role_needs_both_sides(server, iam):
    other = second_account(server)
    other_iam = server.client("iam", key=other["RootAccessKeyId"], secret=other["RootSecretAccessKey"])
    role = make_role(other_iam, trust(f"arn:aws:iam::{server.account_id}:root"))
    assert role["Arn"].startswith(f"arn:aws:iam::{other['AccountId']}:role/")
    user, sts, _ = make_user(server, iam)
    with pytest.raises(ClientError) as denied:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="cross")
    assert error_code(denied) == "AccessDenied"
    put_user_policy(iam, user["UserName"], "AssumeThere", policy(allow("sts:AssumeRole", role["Arn"])))
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="cross")
    cross_sts, _ = session_clients(server, out["Credentials"])
    identity = cross_sts.get_caller_identity()
    assert identity["Account"] == other["AccountId"]
    assert identity["Arn"] == f"arn:aws:sts::{other['AccountId']}:assumed-role/{role['RoleName']}/cross"
    # a role in the other account that does not trust this one: the identity policy is not enough
    closed = make_role(other_iam, trust(f"arn:aws:iam::{other['AccountId']}:root"))
    put_user_policy(iam, user["UserName"], "AssumeAll", policy(allow("sts:AssumeRole")))
    with pytest.raises(ClientError) as denied:
        sts.assume_role(RoleArn=closed["Arn"], RoleSessionName="cross")
    assert error_code(denied) == "AccessDenied"


def test_aws_cli_profile_with_role_arn_and_source_profile(server, iam, tmp_path):
    user, _, _ = make_user(server, iam)
    role = make_role(iam, trust(user["Arn"]))
    key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]
    (tmp_path / "credentials").write_text(
        f"[base]\naws_access_key_id = {key['AccessKeyId']}\naws_secret_access_key = {key['SecretAccessKey']}\n"
    )
    (tmp_path / "config").write_text(
        f"[profile base]\nregion = us-east-1\n\n[profile asrole]\nregion = us-east-1\n"
        f"role_arn = {role['Arn']}\nsource_profile = base\nrole_session_name = cli-session\n"
        f"endpoint_url = {server.endpoint}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials")
    )
    done = subprocess.run(
        [
            "aws",
            "--profile",
            "asrole",
            "--endpoint-url",
            server.endpoint,
            "--output",
            "json",
            "sts",
            "get-caller-identity",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Arn"] == (
        f"arn:aws:sts::{server.account_id}:assumed-role/{role['RoleName']}/cli-session"
    )
