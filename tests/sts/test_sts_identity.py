"""GetCallerIdentity and GetAccessKeyInfo, through boto3 and the AWS CLI against the real server."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from sts_helpers import (
    error_code,
    make_role,
    make_user,
    policy,
    put_user_policy,
    second_account,
    session_clients,
    trust,
)


def test_get_caller_identity_as_root(server):
    out = server.client("sts").get_caller_identity()
    assert out["UserId"] == server.account_id
    assert out["Account"] == server.account_id
    assert out["Arn"] == f"arn:aws:iam::{server.account_id}:root"


def test_get_caller_identity_as_user_even_with_an_explicit_deny(server, iam):
    user, sts, _ = make_user(server, iam)
    put_user_policy(
        iam, user["UserName"], "DenyAll", policy({"Effect": "Deny", "Action": "*", "Resource": "*"})
    )
    out = sts.get_caller_identity()
    assert out["UserId"] == user["UserId"] and out["UserId"].startswith("AIDA")
    assert out["Arn"] == user["Arn"]
    assert out["Account"] == server.account_id


def test_get_caller_identity_as_role_session_and_federated_user(server, iam):
    user, sts, _ = make_user(server, iam)
    role = make_role(iam, trust(user["Arn"]))
    assumed = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="who-am-i")
    role_sts, _ = session_clients(server, assumed["Credentials"])
    out = role_sts.get_caller_identity()
    assert out["UserId"] == f"{role['RoleId']}:who-am-i" and out["UserId"].startswith("AROA")
    assert out["Arn"] == f"arn:aws:sts::{server.account_id}:assumed-role/{role['RoleName']}/who-am-i"

    put_user_policy(
        iam,
        user["UserName"],
        "Federate",
        policy({"Effect": "Allow", "Action": "sts:GetFederationToken", "Resource": "*"}),
    )
    federated = sts.get_federation_token(Name="bob")
    fed_sts, _ = session_clients(server, federated["Credentials"])
    out = fed_sts.get_caller_identity()
    assert out["UserId"] == f"{server.account_id}:bob"
    assert out["Arn"] == f"arn:aws:sts::{server.account_id}:federated-user/bob"


def test_get_caller_identity_through_the_cli(server):
    done = server.aws("sts", "get-caller-identity")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Account"] == server.account_id


def test_get_access_key_info(server, iam):
    user, sts, _ = make_user(server, iam)
    key = iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"][0]["AccessKeyId"]
    root_sts = server.client("sts")
    assert root_sts.get_access_key_info(AccessKeyId=key)["Account"] == server.account_id
    other = second_account(server)
    assert root_sts.get_access_key_info(AccessKeyId=other["RootAccessKeyId"])["Account"] == other["AccountId"]
    # a key the server does not know: the caller's own account, revealing nothing
    unknown = "AKIA" + "Q" * 16
    assert root_sts.get_access_key_info(AccessKeyId=unknown)["Account"] == server.account_id
    # a temporary key: its own session knows it
    role = make_role(iam, trust(user["Arn"]))
    creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["Credentials"]
    role_sts, _ = session_clients(server, creds)
    put_user_policy(
        iam,
        user["UserName"],
        "KeyInfo",
        policy({"Effect": "Allow", "Action": "sts:GetAccessKeyInfo", "Resource": "*"}),
    )
    assert sts.get_access_key_info(AccessKeyId=key)["Account"] == server.account_id
    with pytest.raises(ClientError) as denied:
        role_sts.get_access_key_info(AccessKeyId=creds["AccessKeyId"])
    assert error_code(denied) == "AccessDenied"  # the role has no policy allowing it


def test_get_access_key_info_is_validated(server):
    with pytest.raises(ClientError) as bad:
        server.client("sts").get_access_key_info(AccessKeyId="AKIA-not-a-key-id!")
    assert error_code(bad) == "ValidationError"


def test_tampered_session_token_is_invalid_client_token_id(server, iam):
    _user, sts, _ = make_user(server, iam)
    creds = sts.get_session_token(DurationSeconds=900)["Credentials"]
    token = creds["SessionToken"]
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    client = server.client("sts", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=tampered)
    with pytest.raises(ClientError) as bad:
        client.get_caller_identity()
    assert error_code(bad) == "InvalidClientTokenId"
    # the token does not open with another ASIA key id either
    other = sts.get_session_token(DurationSeconds=900)["Credentials"]
    swapped = server.client("sts", key=other["AccessKeyId"], secret=creds["SecretAccessKey"], token=token)
    with pytest.raises(ClientError) as bad:
        swapped.get_caller_identity()
    assert error_code(bad) == "InvalidClientTokenId"
