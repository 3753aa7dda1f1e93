"""Access keys through boto3 and the AWS CLI against the real server, on SQLite and PostgreSQL:
users acting with their own keys, keys made inactive or deleted refused at once, last use."""

import json
import re
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from iam_helpers import error_of, unique

# What the IAM User Guide's "manage your own access keys" example grants.
SELF_KEYS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "iam:CreateAccessKey",
                "iam:ListAccessKeys",
                "iam:UpdateAccessKey",
                "iam:DeleteAccessKey",
                "iam:GetAccessKeyLastUsed",
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        }
    ],
}


def user_with_key(iam, *, policy: dict | None = None) -> tuple[str, dict]:
    name = unique("keyholder")
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="self", PolicyDocument=json.dumps(policy))
    return name, iam.create_access_key(UserName=name)["AccessKey"]


def authenticated(client) -> bool:
    """Whether the server knows the client's key as active: a user without policies is denied
    (AccessDenied) once authenticated, and refused (InvalidClientTokenId) when it is not."""
    with pytest.raises(ClientError) as excinfo:
        client.list_access_keys()
    code = excinfo.value.response["Error"]["Code"]
    assert code in ("AccessDenied", "InvalidClientTokenId"), code
    return code == "AccessDenied"


def own_client(server, key: dict, region: str = "us-east-1"):
    return boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 1}),
    )


def test_create_and_list_access_keys(iam, server):
    name = unique("keys")
    iam.create_user(UserName=name)
    first = iam.create_access_key(UserName=name)["AccessKey"]
    assert first["UserName"] == name and first["Status"] == "Active"
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", first["AccessKeyId"])
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", first["SecretAccessKey"])
    assert first["CreateDate"].tzinfo is not None
    second = iam.create_access_key(UserName=name.upper())["AccessKey"]
    assert second["AccessKeyId"] != first["AccessKeyId"]
    assert second["SecretAccessKey"] != first["SecretAccessKey"]

    listed = iam.list_access_keys(UserName=name)
    assert listed["IsTruncated"] is False
    assert {k["AccessKeyId"] for k in listed["AccessKeyMetadata"]} == {
        first["AccessKeyId"],
        second["AccessKeyId"],
    }
    for meta in listed["AccessKeyMetadata"]:
        assert set(meta) == {"UserName", "AccessKeyId", "Status", "CreateDate"}  # never the secret
    page = iam.list_access_keys(UserName=name, MaxItems=1)
    assert page["IsTruncated"] is True and len(page["AccessKeyMetadata"]) == 1
    rest = iam.list_access_keys(UserName=name, MaxItems=1, Marker=page["Marker"])
    assert rest["IsTruncated"] is False
    assert page["AccessKeyMetadata"] + rest["AccessKeyMetadata"] == listed["AccessKeyMetadata"]

    with pytest.raises(ClientError) as excinfo:
        iam.create_access_key(UserName=name)
    assert error_of(excinfo) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409

    # the secret is shown once: not in any later response, nor in the server's log
    assert first["SecretAccessKey"] not in server.log()


def test_access_key_errors(iam):
    missing = unique("nobody")
    with pytest.raises(ClientError) as excinfo:
        iam.create_access_key(UserName=missing)
    assert error_of(excinfo) == ("NoSuchEntity", f"The user with name {missing} cannot be found.")
    with pytest.raises(ClientError) as excinfo:
        iam.list_access_keys(UserName=missing)
    assert error_of(excinfo)[0] == "NoSuchEntity"

    name, key = user_with_key(iam)
    other, _ = user_with_key(iam)
    unknown = "AKIA" + "Q" * 16
    with pytest.raises(ClientError) as excinfo:
        iam.update_access_key(UserName=name, AccessKeyId=unknown, Status="Inactive")
    assert error_of(excinfo) == ("NoSuchEntity", f"The Access Key with id {unknown} cannot be found.")
    with pytest.raises(ClientError) as excinfo:  # a key is managed through its own user only
        iam.delete_access_key(UserName=other, AccessKeyId=key["AccessKeyId"])
    assert error_of(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Expired")
    assert error_of(excinfo)[0] == "InvalidInput"
    with pytest.raises(ClientError) as excinfo:
        iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Sleeping")
    assert error_of(excinfo)[0] == "ValidationError"
    with pytest.raises(ClientError) as excinfo:
        iam.get_access_key_last_used(AccessKeyId=unknown)
    assert error_of(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName=name)
    assert error_of(excinfo) == ("DeleteConflict", "Cannot delete entity, must delete access keys first.")


def test_inactive_key_is_refused_on_the_next_request(iam, server):
    name, key = user_with_key(iam)
    own = own_client(server, key)
    assert authenticated(own)

    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"][0]["Status"] == "Inactive"
    with pytest.raises(ClientError) as excinfo:
        own.list_access_keys()
    assert error_of(excinfo) == (
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    )
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
    assert authenticated(own)


def test_deleted_key_is_refused_at_once(iam, server):
    name, key = user_with_key(iam)
    own = own_client(server, key)
    assert authenticated(own)
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"] == []
    assert not authenticated(own)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    assert error_of(excinfo)[0] == "NoSuchEntity"
    iam.delete_user(UserName=name)  # no key holds the user any more


def test_a_user_manages_its_own_keys_when_its_policies_allow(iam, server):
    name, key = user_with_key(iam, policy=SELF_KEYS)
    other, _ = user_with_key(iam)
    own = own_client(server, key)

    second = own.create_access_key()["AccessKey"]  # no UserName: the caller's own
    assert second["UserName"] == name
    listed = {k["AccessKeyId"] for k in own.list_access_keys()["AccessKeyMetadata"]}
    assert listed == {key["AccessKeyId"], second["AccessKeyId"]}
    own.update_access_key(AccessKeyId=second["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as excinfo:
        own_client(server, second).list_access_keys()
    assert error_of(excinfo)[0] == "InvalidClientTokenId"
    own.delete_access_key(AccessKeyId=second["AccessKeyId"])
    assert [k["AccessKeyId"] for k in own.list_access_keys(UserName=name)["AccessKeyMetadata"]] == [
        key["AccessKeyId"]
    ]

    # another user's keys are out of reach: the policy names the caller's own ARN only
    with pytest.raises(ClientError) as excinfo:
        own.list_access_keys(UserName=other)
    code, message = error_of(excinfo)
    assert code == "AccessDenied"
    assert f"iam:ListAccessKeys on resource: arn:aws:iam::{server.account_id}:user/{other}" in message
    with pytest.raises(ClientError) as excinfo:
        own.create_access_key(UserName=other)
    assert error_of(excinfo)[0] == "AccessDenied"


def test_a_user_without_policies_is_authenticated_but_denied(iam, server):
    name, key = user_with_key(iam)
    own = own_client(server, key)
    with pytest.raises(ClientError) as excinfo:
        own.list_access_keys()
    code, message = error_of(excinfo)
    assert code == "AccessDenied"
    assert message.startswith(f"User: arn:aws:iam::{server.account_id}:user/{name} is not authorized")


def test_a_users_own_key_use_is_recorded(iam, server):
    name, key = user_with_key(iam, policy=SELF_KEYS)
    before = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert before["UserName"] == name
    assert before["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}  # never used: no date
    started = time.time()
    own_client(server, key, region="eu-west-2").list_access_keys()
    after = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert after["ServiceName"] == "iam" and after["Region"] == "eu-west-2"
    assert abs(after["LastUsedDate"].timestamp() - started) < 60
    mine = own_client(server, key).get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert mine["UserName"] == name and mine["AccessKeyLastUsed"]["ServiceName"] == "iam"


def test_root_manages_its_own_keys(iam, server):
    root_keys = iam.list_access_keys()["AccessKeyMetadata"]  # no UserName: root's own
    assert server.access_key_id in [k["AccessKeyId"] for k in root_keys]
    assert all("UserName" not in k for k in root_keys)
    if len(root_keys) > 1:
        pytest.skip("the root user already holds two keys")
    created = iam.create_access_key()["AccessKey"]
    try:
        assert re.fullmatch(r"AKIA[A-Z2-7]{16}", created["AccessKeyId"])
        unused = iam.get_access_key_last_used(AccessKeyId=created["AccessKeyId"])
        assert unused["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}  # no date yet
        started = time.time()
        as_root = own_client(server, created, region="eu-west-2")
        assert as_root.get_user()["User"]["Arn"] == f"arn:aws:iam::{server.account_id}:root"
        used = iam.get_access_key_last_used(AccessKeyId=created["AccessKeyId"])
        assert "UserName" not in used  # the root user's key
        assert used["AccessKeyLastUsed"]["ServiceName"] == "iam"
        assert used["AccessKeyLastUsed"]["Region"] == "eu-west-2"
        assert abs(used["AccessKeyLastUsed"]["LastUsedDate"].timestamp() - started) < 60
        with pytest.raises(ClientError) as excinfo:
            iam.create_access_key()
        assert error_of(excinfo) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
        iam.update_access_key(AccessKeyId=created["AccessKeyId"], Status="Inactive")
        with pytest.raises(ClientError) as excinfo:
            as_root.get_user()
        assert error_of(excinfo)[0] == "InvalidClientTokenId"
    finally:
        iam.delete_access_key(AccessKeyId=created["AccessKeyId"])
    assert created["AccessKeyId"] not in [
        k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]
    ]


def test_aws_cli_access_keys(server):
    name = unique("cli-keys")
    assert server.aws("iam", "create-user", "--user-name", name).returncode == 0
    result = server.aws("iam", "create-access-key", "--user-name", name)
    assert result.returncode == 0, result.stderr
    key = json.loads(result.stdout)["AccessKey"]
    assert key["UserName"] == name and len(key["SecretAccessKey"]) == 40
    result = server.aws("iam", "list-access-keys", "--user-name", name)
    assert [k["AccessKeyId"] for k in json.loads(result.stdout)["AccessKeyMetadata"]] == [key["AccessKeyId"]]
    # the user's own key through the CLI: authenticated, and denied without a policy
    result = server.aws("iam", "list-access-keys", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assert result.returncode != 0 and "AccessDenied" in result.stderr
    result = server.aws(
        "iam",
        "update-access-key",
        "--user-name",
        name,
        "--access-key-id",
        key["AccessKeyId"],
        "--status",
        "Inactive",
    )
    assert result.returncode == 0, result.stderr
    result = server.aws("iam", "list-access-keys", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assert result.returncode != 0 and "InvalidClientTokenId" in result.stderr


def test_role_sessions_must_name_the_user(iam, server):
    """A role session has no access keys of its own: without UserName the call is InvalidInput,
    and ChangePassword is InvalidUserType."""
    role, user = unique("keymaker"), unique("assumer")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="all", PolicyDocument=json.dumps(everything))
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=json.dumps(everything))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    sts = server.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="keys")["Credentials"]
    session = server.client(
        "iam", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"]
    )
    with pytest.raises(ClientError) as excinfo:
        session.create_access_key()
    assert error_of(excinfo) == (
        "InvalidInput",
        "Must specify userName when calling with non-User credentials",
    )
    with pytest.raises(ClientError) as excinfo:
        session.list_access_keys()
    assert error_of(excinfo)[0] == "InvalidInput"
    with pytest.raises(ClientError) as excinfo:
        session.change_password(OldPassword="Whatever-Passw0rd", NewPassword="Another-Passw0rd")
    assert error_of(excinfo)[0] == "InvalidUserType"
    # naming the user works: the session's policies allow it
    listed = session.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
