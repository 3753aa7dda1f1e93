"""GetAccountAuthorizationDetails through boto3 and the AWS CLI."""

import json

import pytest
from botocore.exceptions import ClientError

from iam_helpers import unique

READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def everything(iam, **kwargs) -> dict:
    """Every page of GetAccountAuthorizationDetails merged."""
    merged: dict = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
    for page in iam.get_paginator("get_account_authorization_details").paginate(**kwargs):
        for key in merged:
            merged[key] += page[key]
    return merged


def by_name(items: list[dict], key: str, name: str) -> dict:
    found = [item for item in items if item[key] == name]
    assert len(found) == 1, f"{name} appears {len(found)} times"
    return found[0]


def test_users_roles_and_policies_in_detail(iam, server):
    path = f"/{unique('details')}/"
    policy = iam.create_policy(
        PolicyName=unique("local"), Path=path, PolicyDocument=json.dumps(DOC), Description="all of s3"
    )["Policy"]
    iam.create_policy_version(PolicyArn=policy["Arn"], PolicyDocument=json.dumps(DOC), SetAsDefault=True)
    user = unique("user")
    iam.create_user(UserName=user, Path=path, Tags=[{"Key": "team", "Value": "red"}])
    iam.put_user_policy(UserName=user, PolicyName="inline", PolicyDocument=json.dumps(DOC))
    iam.attach_user_policy(UserName=user, PolicyArn=policy["Arn"])
    iam.attach_user_policy(UserName=user, PolicyArn=READ_ONLY)
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=policy["Arn"])
    role = unique("role")
    iam.create_role(RoleName=role, Path=path, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=role, PolicyName="role-inline", PolicyDocument=json.dumps(DOC))
    profile = unique("profile")
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)

    details = everything(iam, PaginationConfig={"PageSize": 7})
    got_user = by_name(details["UserDetailList"], "UserName", user)
    assert got_user["Path"] == path and got_user["UserId"].startswith("AIDA")
    assert got_user["UserPolicyList"] == [{"PolicyName": "inline", "PolicyDocument": DOC}]
    assert sorted(p["PolicyArn"] for p in got_user["AttachedManagedPolicies"]) == sorted(
        [policy["Arn"], READ_ONLY]
    )
    assert got_user["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": policy["Arn"],
    }
    assert got_user["Tags"] == [{"Key": "team", "Value": "red"}]
    assert got_user["GroupList"] == []

    got_role = by_name(details["RoleDetailList"], "RoleName", role)
    assert got_role["AssumeRolePolicyDocument"] == TRUST
    assert got_role["RolePolicyList"] == [{"PolicyName": "role-inline", "PolicyDocument": DOC}]
    assert [p["InstanceProfileName"] for p in got_role["InstanceProfileList"]] == [profile]
    assert got_role["InstanceProfileList"][0]["Roles"][0]["RoleName"] == role
    assert got_role["AttachedManagedPolicies"] == [] and "RoleLastUsed" in got_role

    got_policy = by_name(details["Policies"], "Arn", policy["Arn"])
    assert got_policy["Description"] == "all of s3" and got_policy["DefaultVersionId"] == "v2"
    assert got_policy["AttachmentCount"] == 1 and got_policy["PermissionsBoundaryUsageCount"] == 1
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in got_policy["PolicyVersionList"]] == [
        ("v2", True),
        ("v1", False),
    ]
    assert all(v["Document"] == DOC for v in got_policy["PolicyVersionList"])
    aws = by_name(details["Policies"], "Arn", READ_ONLY)  # attached, so listed
    assert aws["PolicyVersionList"][0]["Document"]["Statement"][0]["Effect"] == "Allow"
    unattached = "arn:aws:iam::aws:policy/AWSDenyAll"
    if not any(p["Arn"] == unattached for p in iam.list_policies(OnlyAttached=True, Scope="AWS")["Policies"]):
        assert all(p["Arn"] != unattached for p in details["Policies"])


def test_filter_and_marker(iam):
    user = unique("filtered")
    iam.create_user(UserName=user)
    only_users = everything(iam, Filter=["User"])
    assert only_users["RoleDetailList"] == [] and only_users["Policies"] == []
    assert any(u["UserName"] == user for u in only_users["UserDetailList"])
    local = everything(iam, Filter=["LocalManagedPolicy"])
    assert local["Policies"] and all(":aws:policy/" not in p["Arn"] for p in local["Policies"])
    aws = everything(iam, Filter=["AWSManagedPolicy"])
    assert all(
        p["Arn"].startswith("arn:aws:iam::aws:policy/") and p["AttachmentCount"] > 0 for p in aws["Policies"]
    )

    first = iam.get_account_authorization_details(Filter=["User", "Role"], MaxItems=1)
    assert first["IsTruncated"] is True
    assert len(first["UserDetailList"]) + len(first["RoleDetailList"]) == 1
    second = iam.get_account_authorization_details(
        Filter=["User", "Role"], MaxItems=1, Marker=first["Marker"]
    )
    assert second["UserDetailList"] != first["UserDetailList"] or second["RoleDetailList"]
    with pytest.raises(ClientError) as excinfo:
        iam.get_account_authorization_details(Filter=["Nonsense"])
    assert excinfo.value.response["Error"]["Code"] == "ValidationError"


def test_groups_in_detail(iam):
    group = unique("group")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="gp", PolicyDocument=json.dumps(DOC))
    iam.attach_group_policy(GroupName=group, PolicyArn=READ_ONLY)
    user = unique("member")
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)
    details = everything(iam, Filter=["User", "Group"])
    got_group = by_name(details["GroupDetailList"], "GroupName", group)
    assert got_group["GroupPolicyList"] == [{"PolicyName": "gp", "PolicyDocument": DOC}]
    assert got_group["AttachedManagedPolicies"] == [
        {"PolicyName": "IAMReadOnlyAccess", "PolicyArn": READ_ONLY}
    ]
    assert by_name(details["UserDetailList"], "UserName", user)["GroupList"] == [group]


def test_authorization_details_through_the_aws_cli(server):
    result = server.aws("iam", "get-account-authorization-details", "--filter", "LocalManagedPolicy")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["UserDetailList"] == [] and isinstance(out["Policies"], list)
