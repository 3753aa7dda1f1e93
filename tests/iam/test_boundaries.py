"""Permissions boundaries of users and roles, through boto3 and the AWS CLI."""

import json

import pytest
from botocore.exceptions import ClientError

from iam_helpers import error_of as error
from iam_helpers import unique

READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def new_policy(iam) -> str:
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    return iam.create_policy(PolicyName=unique("bound"), PolicyDocument=json.dumps(doc))["Policy"]["Arn"]


def test_put_and_delete_user_permissions_boundary(iam):
    user = unique("user")
    iam.create_user(UserName=user)
    own = new_policy(iam)
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=own)
    assert iam.get_user(UserName=user)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == own
    assert iam.get_policy(PolicyArn=own)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=READ_ONLY)  # replaces it
    assert iam.get_user(UserName=user)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == READ_ONLY
    assert iam.get_policy(PolicyArn=own)["Policy"]["PermissionsBoundaryUsageCount"] == 0
    iam.delete_user_permissions_boundary(UserName=user)
    assert "PermissionsBoundary" not in iam.get_user(UserName=user)["User"]


def test_user_permissions_boundary_errors(iam, server):
    user = unique("user")
    iam.create_user(UserName=user)
    missing = f"arn:aws:iam::{server.account_id}:policy/{unique('none')}"
    with pytest.raises(ClientError) as excinfo:
        iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=missing)
    assert error(excinfo) == ("NoSuchEntity", f"Scope ARN: {missing} does not exist or is not attachable.")
    with pytest.raises(ClientError) as excinfo:
        iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary="this-is-no-arn-at-all")
    assert error(excinfo) == ("InvalidInput", "ARN this-is-no-arn-at-all is not valid.")
    ghost = unique("ghost")
    with pytest.raises(ClientError) as excinfo:
        iam.put_user_permissions_boundary(UserName=ghost, PermissionsBoundary=READ_ONLY)
    assert error(excinfo) == ("NoSuchEntity", f"The user with name {ghost} cannot be found.")
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user_permissions_boundary(UserName=ghost)
    assert error(excinfo)[0] == "NoSuchEntity"


def test_put_and_delete_role_permissions_boundary(iam):
    role = unique("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    own = new_policy(iam)
    iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=own)
    boundary = iam.get_role(RoleName=role)["Role"]["PermissionsBoundary"]
    assert boundary == {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": own}
    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy(PolicyArn=own)
    assert error(excinfo)[0] == "DeleteConflict"
    iam.delete_role_permissions_boundary(RoleName=role)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=role)["Role"]
    iam.delete_policy(PolicyArn=own)
    with pytest.raises(ClientError) as excinfo:
        iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=own)
    assert error(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.delete_role_permissions_boundary(RoleName=unique("ghost"))
    assert error(excinfo)[0] == "NoSuchEntity"


def test_boundaries_through_the_aws_cli(server, iam):
    user = unique("cli")
    iam.create_user(UserName=user)
    put = server.aws(
        "iam", "put-user-permissions-boundary", "--user-name", user, "--permissions-boundary", READ_ONLY
    )
    assert put.returncode == 0, put.stderr
    got = json.loads(server.aws("iam", "get-user", "--user-name", user).stdout)
    assert got["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == READ_ONLY
