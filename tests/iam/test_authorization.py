"""Enforcement end to end: an IAM user calls with its own keys, and what its policies say holds at
once (inline, attached customer-managed and AWS-managed, through a group; explicit deny, permissions
boundary, policy variables, IAM's condition keys)."""

import json
import re

import pytest
from botocore.exceptions import ClientError

from iam_helpers import policy, unique

READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def statement(action, resource="*", effect="Allow", **extra) -> dict:
    return {"Effect": effect, "Action": action, "Resource": resource, **extra}


class Principal:
    """An IAM user of the account (made by root) and a client signing with its own access key."""

    def __init__(self, server, iam) -> None:
        self.name = unique("caller")
        self.arn = iam.create_user(UserName=self.name)["User"]["Arn"]
        key = iam.create_access_key(UserName=self.name)["AccessKey"]
        self.key, self.secret = key["AccessKeyId"], key["SecretAccessKey"]
        self.client = server.client("iam", key=self.key, secret=self.secret)


@pytest.fixture()
def caller(server, iam) -> Principal:
    return Principal(server, iam)


def denied(call) -> tuple[str, int]:
    with pytest.raises(ClientError) as excinfo:
        call()
    response = excinfo.value.response
    assert response["Error"]["Code"] == "AccessDenied"
    return response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_user_with_no_policy_is_denied(caller, server):
    message, status = denied(caller.client.list_users)
    assert status == 403
    pattern = (
        rf"User: {re.escape(caller.arn)} is not authorized to perform: iam:ListUsers on resource: "
        rf"arn:aws:iam::{server.account_id}:user/\S* because no identity-based policy allows the "
        r"iam:ListUsers action"
    )
    assert re.fullmatch(pattern, message), message


def test_an_inline_policy_grants_at_once_and_its_removal_takes_effect_at_once(caller, iam):
    iam.put_user_policy(
        UserName=caller.name, PolicyName="list", PolicyDocument=policy(statement("iam:ListUsers"))
    )
    assert "Users" in caller.client.list_users(MaxItems=1)
    denied(lambda: caller.client.list_groups())  # only what was granted
    iam.delete_user_policy(UserName=caller.name, PolicyName="list")
    denied(caller.client.list_users)


def test_an_attached_customer_policy_grants_until_detached(caller, iam):
    arn = iam.create_policy(PolicyName=unique("get"), PolicyDocument=policy(statement("iam:GetUser")))[
        "Policy"
    ]["Arn"]
    denied(lambda: caller.client.get_user(UserName=caller.name))
    iam.attach_user_policy(UserName=caller.name, PolicyArn=arn)
    assert caller.client.get_user(UserName=caller.name)["User"]["Arn"] == caller.arn
    iam.detach_user_policy(UserName=caller.name, PolicyArn=arn)
    denied(lambda: caller.client.get_user(UserName=caller.name))


def test_a_new_default_version_takes_effect_at_once(caller, iam):
    arn = iam.create_policy(PolicyName=unique("ver"), PolicyDocument=policy(statement("iam:GetUser")))[
        "Policy"
    ]["Arn"]
    iam.attach_user_policy(UserName=caller.name, PolicyArn=arn)
    denied(lambda: caller.client.list_users())
    iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=policy(statement("iam:ListUsers")), SetAsDefault=True
    )
    caller.client.list_users(MaxItems=1)
    denied(lambda: caller.client.get_user(UserName=caller.name))
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    caller.client.get_user(UserName=caller.name)


def test_the_aws_managed_read_only_policy(caller, iam):
    iam.attach_user_policy(UserName=caller.name, PolicyArn=READ_ONLY)
    caller.client.list_users(MaxItems=1)
    caller.client.get_policy(PolicyArn=READ_ONLY)
    caller.client.list_attached_user_policies(UserName=caller.name)
    message, _ = denied(lambda: caller.client.create_user(UserName=unique("nope")))
    assert "iam:CreateUser" in message
    denied(lambda: caller.client.detach_user_policy(UserName=caller.name, PolicyArn=READ_ONLY))


def test_a_groups_policies_apply_to_its_members(caller, iam):
    group = unique("readers")
    iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName=group, PolicyArn=READ_ONLY)
    iam.put_group_policy(GroupName=group, PolicyName="tag", PolicyDocument=policy(statement("iam:TagUser")))
    denied(caller.client.list_users)
    iam.add_user_to_group(GroupName=group, UserName=caller.name)
    caller.client.list_users(MaxItems=1)
    caller.client.tag_user(UserName=caller.name, Tags=[{"Key": "k", "Value": "v"}])
    iam.remove_user_from_group(GroupName=group, UserName=caller.name)
    denied(caller.client.list_users)


def test_an_explicit_deny_wins(caller, iam):
    iam.put_user_policy(
        UserName=caller.name,
        PolicyName="all-but-list",
        PolicyDocument=policy(statement("iam:*"), statement("iam:ListUsers", effect="Deny")),
    )
    caller.client.get_user(UserName=caller.name)
    message, status = denied(caller.client.list_users)
    assert status == 403
    assert message.startswith(f"User: {caller.arn} is not authorized to perform: iam:ListUsers on resource: ")
    assert message.endswith("with an explicit deny in an identity-based policy")
    # a deny in an attached policy beats an allow in another
    arn = iam.create_policy(
        PolicyName=unique("deny"), PolicyDocument=policy(statement("iam:GetUser", effect="Deny"))
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName=caller.name, PolicyArn=arn)
    message, _ = denied(lambda: caller.client.get_user(UserName=caller.name))
    assert "explicit deny" in message


def test_a_permissions_boundary_caps_what_identity_policies_grant(caller, iam):
    iam.put_user_policy(
        UserName=caller.name,
        PolicyName="wide",
        PolicyDocument=policy(statement(["iam:ListUsers", "iam:GetUser"])),
    )
    boundary = iam.create_policy(PolicyName=unique("cap"), PolicyDocument=policy(statement("iam:GetUser")))[
        "Policy"
    ]
    iam.put_user_permissions_boundary(UserName=caller.name, PermissionsBoundary=boundary["Arn"])
    caller.client.get_user(UserName=caller.name)  # allowed by both
    message, _ = denied(caller.client.list_users)  # allowed by the identity policy only
    assert message.endswith("because no permissions boundary allows the iam:ListUsers action")
    # the boundary grants nothing by itself
    iam.delete_user_policy(UserName=caller.name, PolicyName="wide")
    message, _ = denied(lambda: caller.client.get_user(UserName=caller.name))
    assert message.endswith("because no identity-based policy allows the iam:GetUser action")
    iam.put_user_policy(
        UserName=caller.name, PolicyName="wide", PolicyDocument=policy(statement("iam:ListUsers"))
    )
    iam.delete_user_permissions_boundary(UserName=caller.name)
    caller.client.list_users(MaxItems=1)


def test_policy_variables_let_a_user_act_on_itself_only(caller, iam, server):
    other = unique("other")
    iam.create_user(UserName=other)
    own = f"arn:aws:iam::{server.account_id}:user/${{aws:username}}"
    iam.put_user_policy(
        UserName=caller.name,
        PolicyName="self",
        PolicyDocument=policy(statement(["iam:GetUser", "iam:ListAttachedUserPolicies"], own)),
    )
    assert caller.client.get_user(UserName=caller.name)["User"]["UserName"] == caller.name
    caller.client.list_attached_user_policies(UserName=caller.name)
    message, _ = denied(lambda: caller.client.get_user(UserName=other))
    assert f"on resource: arn:aws:iam::{server.account_id}:user/{other}" in message


def test_iam_policy_arn_limits_which_policies_a_user_may_attach(caller, iam):
    target = unique("target")
    iam.create_user(UserName=target)
    iam.put_user_policy(
        UserName=caller.name,
        PolicyName="delegate",
        PolicyDocument=policy(
            statement(
                ["iam:AttachUserPolicy", "iam:DetachUserPolicy"],
                Condition={"ArnEquals": {"iam:PolicyARN": READ_ONLY}},
            )
        ),
    )
    caller.client.attach_user_policy(UserName=target, PolicyArn=READ_ONLY)
    assert iam.list_attached_user_policies(UserName=target)["AttachedPolicies"][0]["PolicyArn"] == READ_ONLY
    denied(
        lambda: caller.client.attach_user_policy(
            UserName=target, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
        )
    )
    caller.client.detach_user_policy(UserName=target, PolicyArn=READ_ONLY)


def test_iam_permissions_boundary_limits_which_boundary_a_user_may_set(caller, iam):
    target = unique("target")
    iam.create_user(UserName=target)
    iam.put_user_policy(
        UserName=caller.name,
        PolicyName="boundaries",
        PolicyDocument=policy(
            statement(
                ["iam:PutUserPermissionsBoundary", "iam:PutUserPolicy"],
                Condition={"StringEquals": {"iam:PermissionsBoundary": READ_ONLY}},
            )
        ),
    )
    denied(
        lambda: caller.client.put_user_permissions_boundary(
            UserName=target, PermissionsBoundary=READ_ONLY.replace("IAMReadOnly", "Administrator")
        )
    )
    # while the target has no boundary, the caller may not write its inline policies
    denied(
        lambda: caller.client.put_user_policy(
            UserName=target, PolicyName="p", PolicyDocument=policy(statement("s3:*"))
        )
    )
    caller.client.put_user_permissions_boundary(UserName=target, PermissionsBoundary=READ_ONLY)
    caller.client.put_user_policy(UserName=target, PolicyName="p", PolicyDocument=policy(statement("s3:*")))
    assert iam.list_user_policies(UserName=target)["PolicyNames"] == ["p"]


def test_a_denied_user_through_the_aws_cli(server, iam, caller):
    result = server.aws("iam", "list-users", key=caller.key, secret=caller.secret)
    assert result.returncode != 0 and "AccessDenied" in result.stderr
    iam.attach_user_policy(UserName=caller.name, PolicyArn=READ_ONLY)
    result = server.aws("iam", "list-users", "--max-items", "1", key=caller.key, secret=caller.secret)
    assert result.returncode == 0, result.stderr


def test_a_role_sessions_permissions_follow_the_roles_policies(caller, iam, server):
    role = unique("worker")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": caller.arn}, "Action": "sts:AssumeRole"}],
    }
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_user_policy(
        UserName=caller.name, PolicyName="assume", PolicyDocument=policy(statement("sts:AssumeRole", arn))
    )
    sts = server.client("sts", key=caller.key, secret=caller.secret)
    creds = sts.assume_role(RoleArn=arn, RoleSessionName="s1")["Credentials"]
    session = server.client(
        "iam", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"]
    )
    message, _ = denied(session.list_users)
    assert f":assumed-role/{role}/s1 is not authorized to perform: iam:ListUsers" in message
    iam.attach_role_policy(RoleName=role, PolicyArn=READ_ONLY)
    session.list_users(MaxItems=1)
    boundary = iam.create_policy(PolicyName=unique("rb"), PolicyDocument=policy(statement("iam:GetUser")))[
        "Policy"
    ]
    iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=boundary["Arn"])
    message, _ = denied(session.list_users)
    assert message.endswith("because no permissions boundary allows the iam:ListUsers action")
    iam.delete_role_permissions_boundary(RoleName=role)
    session.list_users(MaxItems=1)
    iam.detach_role_policy(RoleName=role, PolicyArn=READ_ONLY)
    denied(session.list_users)


def test_resource_tags_of_the_user_decide_who_may_change_its_policies(caller, iam):
    blue, red = unique("blue"), unique("red")
    iam.create_user(UserName=blue, Tags=[{"Key": "team", "Value": "blue"}])
    iam.create_user(UserName=red, Tags=[{"Key": "team", "Value": "red"}])
    iam.put_user_policy(
        UserName=caller.name,
        PolicyName="blue-admin",
        PolicyDocument=policy(
            statement(
                ["iam:PutUserPolicy", "iam:AttachUserPolicy"],
                Condition={"StringEquals": {"aws:ResourceTag/team": "blue"}},
            )
        ),
    )
    caller.client.put_user_policy(UserName=blue, PolicyName="p", PolicyDocument=policy(statement("s3:*")))
    caller.client.attach_user_policy(UserName=blue, PolicyArn=READ_ONLY)
    denied(
        lambda: caller.client.put_user_policy(
            UserName=red, PolicyName="p", PolicyDocument=policy(statement("s3:*"))
        )
    )
    denied(lambda: caller.client.attach_user_policy(UserName=red, PolicyArn=READ_ONLY))
