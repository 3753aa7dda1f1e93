"""Inline policies of users, groups and roles, through boto3 and the AWS CLI."""

import json
import re
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError

from iam_helpers import error_of as error
from iam_helpers import unique

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def document(action: str = "s3:GetObject", *, padding: int = 0) -> dict:
    actions = [action] + [f"s3:Get{'x' * 20}{i:04d}" for i in range(padding)]
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}


def test_put_get_list_delete_user_policy(iam):
    user = unique("user")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="ReadObjects", PolicyDocument=json.dumps(document()))
    iam.put_user_policy(
        UserName=user, PolicyName="another", PolicyDocument=json.dumps(document("s3:PutObject"))
    )
    bodies: list[bytes] = []
    iam.meta.events.register(
        "before-parse.iam.GetUserPolicy", lambda response_dict, **kw: bodies.append(response_dict["body"])
    )
    got = iam.get_user_policy(UserName=user.upper(), PolicyName="readobjects")
    assert got["UserName"] == user and got["PolicyName"] == "ReadObjects"
    assert got["PolicyDocument"] == document()
    encoded = re.search(rb"<PolicyDocument>([^<]*)</PolicyDocument>", bodies[-1]).group(1).decode()
    assert encoded.startswith("%7B") and json.loads(unquote(encoded)) == document()

    assert iam.list_user_policies(UserName=user)["PolicyNames"] == ["another", "ReadObjects"]
    page = iam.list_user_policies(UserName=user, MaxItems=1)
    assert page["PolicyNames"] == ["another"] and page["IsTruncated"] is True
    assert iam.list_user_policies(UserName=user, Marker=page["Marker"])["PolicyNames"] == ["ReadObjects"]

    # a second Put with the same name (in any case) replaces the document
    iam.put_user_policy(
        UserName=user, PolicyName="READOBJECTS", PolicyDocument=json.dumps(document("s3:ListBucket"))
    )
    assert iam.get_user_policy(UserName=user, PolicyName="ReadObjects")["PolicyDocument"] == document(
        "s3:ListBucket"
    )
    assert len(iam.list_user_policies(UserName=user)["PolicyNames"]) == 2

    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName=user)
    assert error(excinfo) == ("DeleteConflict", "Cannot delete entity, must delete policies first.")
    iam.delete_user_policy(UserName=user, PolicyName="readobjects")
    iam.delete_user_policy(UserName=user, PolicyName="another")
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == []
    with pytest.raises(ClientError) as excinfo:
        iam.get_user_policy(UserName=user, PolicyName="another")
    assert error(excinfo) == ("NoSuchEntity", "The user policy with name another cannot be found.")
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user_policy(UserName=user, PolicyName="another")
    assert error(excinfo)[0] == "NoSuchEntity"
    iam.delete_user(UserName=user)


def test_user_policy_errors(iam):
    ghost = unique("ghost")
    with pytest.raises(ClientError) as excinfo:
        iam.put_user_policy(UserName=ghost, PolicyName="p", PolicyDocument=json.dumps(document()))
    assert error(excinfo) == ("NoSuchEntity", f"The user with name {ghost} cannot be found.")
    with pytest.raises(ClientError) as excinfo:
        iam.list_user_policies(UserName=ghost)
    assert error(excinfo)[0] == "NoSuchEntity"
    user = unique("user")
    iam.create_user(UserName=user)
    with pytest.raises(ClientError) as excinfo:
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument='{"Version": "2012-10-17"}')
    assert error(excinfo)[0] == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as excinfo:
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument="not json")
    assert error(excinfo)[0] == "MalformedPolicyDocument"


def test_inline_size_quota_counts_all_of_a_users_policies(iam):
    user = unique("size")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="one", PolicyDocument=json.dumps(document(padding=30)))
    with pytest.raises(ClientError) as excinfo:
        iam.put_user_policy(UserName=user, PolicyName="two", PolicyDocument=json.dumps(document(padding=30)))
    assert error(excinfo) == ("LimitExceeded", f"Maximum policy size of 2048 bytes exceeded for user {user}")
    # replacing the one there is measured without its old document
    iam.put_user_policy(UserName=user, PolicyName="one", PolicyDocument=json.dumps(document(padding=50)))


def test_role_policies(iam):
    role = unique("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    big = document(padding=150)  # over a user's or group's quota, within a role's 10,240
    iam.put_role_policy(RoleName=role, PolicyName="Big", PolicyDocument=json.dumps(big))
    got = iam.get_role_policy(RoleName=role, PolicyName="big")
    assert got == {**got, "RoleName": role, "PolicyName": "Big", "PolicyDocument": big}
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["Big"]
    with pytest.raises(ClientError) as excinfo:
        iam.delete_role(RoleName=role)
    assert error(excinfo)[0] == "DeleteConflict"
    iam.delete_role_policy(RoleName=role, PolicyName="Big")
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []
    with pytest.raises(ClientError) as excinfo:
        iam.get_role_policy(RoleName=role, PolicyName="Big")
    assert error(excinfo) == ("NoSuchEntity", "The role policy with name Big cannot be found.")
    with pytest.raises(ClientError) as excinfo:
        iam.delete_role_policy(RoleName=role, PolicyName="Big")
    assert error(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.put_role_policy(RoleName=unique("ghost"), PolicyName="p", PolicyDocument=json.dumps(document()))
    assert error(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.list_role_policies(RoleName=unique("ghost"))
    assert error(excinfo)[0] == "NoSuchEntity"
    iam.delete_role(RoleName=role)


def test_group_policies(iam):
    group = unique("group")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="Readers", PolicyDocument=json.dumps(document()))
    got = iam.get_group_policy(GroupName=group, PolicyName="Readers")
    assert got == {**got, "GroupName": group, "PolicyName": "Readers", "PolicyDocument": document()}
    assert iam.list_group_policies(GroupName=group)["PolicyNames"] == ["Readers"]
    with pytest.raises(ClientError) as excinfo:
        iam.put_group_policy(
            GroupName=group, PolicyName="Huge", PolicyDocument=json.dumps(document(padding=200))
        )
    assert error(excinfo) == (
        "LimitExceeded",
        f"Maximum policy size of 5120 bytes exceeded for group {group}",
    )
    iam.delete_group_policy(GroupName=group, PolicyName="readers")
    with pytest.raises(ClientError) as excinfo:
        iam.get_group_policy(GroupName=group, PolicyName="Readers")
    assert error(excinfo) == ("NoSuchEntity", "The group policy with name Readers cannot be found.")
    with pytest.raises(ClientError) as excinfo:
        iam.delete_group_policy(GroupName=group, PolicyName="Readers")
    assert error(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.list_group_policies(GroupName=unique("ghost"))
    assert error(excinfo)[0] == "NoSuchEntity"
    iam.delete_group(GroupName=group)


def test_inline_policies_through_the_aws_cli(server, iam):
    user = unique("cli")
    iam.create_user(UserName=user)
    put = server.aws(
        "iam",
        "put-user-policy",
        "--user-name",
        user,
        "--policy-name",
        "p1",
        "--policy-document",
        json.dumps(document()),
    )
    assert put.returncode == 0, put.stderr
    got = server.aws("iam", "get-user-policy", "--user-name", user, "--policy-name", "p1")
    assert json.loads(got.stdout)["PolicyDocument"] == document()
