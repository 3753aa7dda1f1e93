"""IAM instance profiles through boto3 and the AWS CLI against the real server."""

import json

import pytest
from botocore.exceptions import ClientError

from iam_helpers import error_of as error
from iam_helpers import unique

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def make_role(iam) -> dict:
    return iam.create_role(RoleName=unique("role"), AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]


def test_create_instance_profile_shape(iam, server):
    name = unique("Web")
    profile = iam.create_instance_profile(
        InstanceProfileName=name, Path="/web/", Tags=[{"Key": "tier", "Value": "front"}]
    )["InstanceProfile"]
    assert profile["InstanceProfileName"] == name
    assert profile["InstanceProfileId"].startswith("AIPA") and len(profile["InstanceProfileId"]) == 21
    assert profile["Arn"] == f"arn:aws:iam::{server.account_id}:instance-profile/web/{name}"
    assert profile["Path"] == "/web/"
    assert profile["Roles"] == []
    assert profile["Tags"] == [{"Key": "tier", "Value": "front"}]
    assert profile["CreateDate"].tzinfo is not None


def test_instance_profile_names_are_unique_regardless_of_case(iam):
    name = unique("Dup")
    iam.create_instance_profile(InstanceProfileName=name)
    with pytest.raises(ClientError) as excinfo:
        iam.create_instance_profile(InstanceProfileName=name.upper())
    assert error(excinfo)[0] == "EntityAlreadyExists"
    with pytest.raises(ClientError) as excinfo:
        iam.create_instance_profile(InstanceProfileName="bad name!")
    assert error(excinfo)[0] == "ValidationError"


def test_get_instance_profile_with_its_role(iam):
    name = unique("prof")
    role = make_role(iam)
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
    profile = iam.get_instance_profile(InstanceProfileName=name.upper())["InstanceProfile"]
    assert profile["InstanceProfileName"] == name
    [inner] = profile["Roles"]
    assert inner["RoleName"] == role["RoleName"] and inner["RoleId"] == role["RoleId"]
    assert inner["Arn"] == role["Arn"] and inner["AssumeRolePolicyDocument"] == TRUST
    with pytest.raises(ClientError) as excinfo:
        iam.get_instance_profile(InstanceProfileName=unique("ghost"))
    code, message = error(excinfo)
    assert code == "NoSuchEntity" and "cannot be found" in message


def test_one_role_per_instance_profile(iam):
    name = unique("one")
    first, second = make_role(iam), make_role(iam)
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=first["RoleName"])
    with pytest.raises(ClientError) as excinfo:
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=second["RoleName"])
    assert error(excinfo) == (
        "LimitExceeded",
        "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
    )
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=first["RoleName"])
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=second["RoleName"])
    roles = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"]
    assert [r["RoleName"] for r in roles] == [second["RoleName"]]


def test_add_and_remove_role_errors(iam):
    name = unique("errs")
    role = make_role(iam)
    iam.create_instance_profile(InstanceProfileName=name)
    with pytest.raises(ClientError) as excinfo:
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=unique("ghost"))
    assert error(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.add_role_to_instance_profile(InstanceProfileName=unique("ghost"), RoleName=role["RoleName"])
    assert error(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
    assert error(excinfo)[0] == "NoSuchEntity"  # the role is not in this profile


def test_list_instance_profiles(iam):
    path = f"/{unique('page')}/"
    names = sorted(unique(f"p{i}") for i in range(5))
    for name in names:
        iam.create_instance_profile(InstanceProfileName=name, Path=path, Tags=[{"Key": "a", "Value": "b"}])
    first = iam.list_instance_profiles(PathPrefix=path, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["InstanceProfiles"]) == 2
    listed = [
        p
        for page in iam.get_paginator("list_instance_profiles").paginate(
            PathPrefix=path, PaginationConfig={"PageSize": 2}
        )
        for p in page["InstanceProfiles"]
    ]
    assert [p["InstanceProfileName"] for p in listed] == names
    assert all("Tags" not in p and p["Roles"] == [] for p in listed)  # listings leave tags out
    assert iam.list_instance_profiles(PathPrefix=f"/{unique('none')}/")["InstanceProfiles"] == []


def test_list_instance_profiles_for_role(iam):
    role = make_role(iam)
    names = sorted(unique("for") for _ in range(3))
    for name in names:
        iam.create_instance_profile(InstanceProfileName=name)
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
    listed = iam.list_instance_profiles_for_role(RoleName=role["RoleName"])
    assert [p["InstanceProfileName"] for p in listed["InstanceProfiles"]] == names
    assert listed["InstanceProfiles"][0]["Roles"][0]["RoleName"] == role["RoleName"]
    page = iam.list_instance_profiles_for_role(RoleName=role["RoleName"], MaxItems=2)
    assert page["IsTruncated"] is True
    rest = iam.list_instance_profiles_for_role(RoleName=role["RoleName"], Marker=page["Marker"])
    assert [p["InstanceProfileName"] for p in page["InstanceProfiles"] + rest["InstanceProfiles"]] == names
    with pytest.raises(ClientError) as excinfo:
        iam.list_instance_profiles_for_role(RoleName=unique("ghost"))
    assert error(excinfo)[0] == "NoSuchEntity"


def test_delete_instance_profile(iam):
    name = unique("del")
    role = make_role(iam)
    iam.create_instance_profile(InstanceProfileName=name, Tags=[{"Key": "a", "Value": "b"}])
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
    with pytest.raises(ClientError) as excinfo:
        iam.delete_instance_profile(InstanceProfileName=name)
    assert error(excinfo) == (
        "DeleteConflict",
        "Cannot delete entity, must remove roles from instance profile first.",
    )
    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
    iam.delete_instance_profile(InstanceProfileName=name)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_instance_profile(InstanceProfileName=name)
    assert error(excinfo)[0] == "NoSuchEntity"
    iam.create_instance_profile(InstanceProfileName=name)  # name free again, no old tags
    assert iam.list_instance_profile_tags(InstanceProfileName=name)["Tags"] == []


def test_instance_profile_tags(iam):
    name = unique("tags")
    iam.create_instance_profile(InstanceProfileName=name)
    iam.tag_instance_profile(
        InstanceProfileName=name, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    )
    iam.tag_instance_profile(InstanceProfileName=name, Tags=[{"Key": "A", "Value": "3"}])
    tags = iam.list_instance_profile_tags(InstanceProfileName=name)["Tags"]
    assert tags == [{"Key": "A", "Value": "3"}, {"Key": "b", "Value": "2"}]
    iam.untag_instance_profile(InstanceProfileName=name, TagKeys=["B"])
    assert iam.list_instance_profile_tags(InstanceProfileName=name)["Tags"] == [{"Key": "A", "Value": "3"}]
    assert iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Tags"] == [
        {"Key": "A", "Value": "3"}
    ]
    with pytest.raises(ClientError) as excinfo:
        iam.tag_instance_profile(
            InstanceProfileName=name, Tags=[{"Key": "x", "Value": "1"}, {"Key": "X", "Value": "2"}]
        )
    assert error(excinfo)[0] == "InvalidInput"  # duplicate keys regardless of case
    for call, kwargs in (
        (iam.tag_instance_profile, {"Tags": [{"Key": "a", "Value": "1"}]}),
        (iam.untag_instance_profile, {"TagKeys": ["a"]}),
        (iam.list_instance_profile_tags, {}),
    ):
        with pytest.raises(ClientError) as excinfo:
            call(InstanceProfileName=unique("ghost"), **kwargs)
        assert error(excinfo)[0] == "NoSuchEntity"


def test_aws_cli_instance_profile_with_role(iam, server):
    name, role = unique("cli"), make_role(iam)["RoleName"]
    iam.create_instance_profile(InstanceProfileName=name)
    result = server.aws(
        "iam", "add-role-to-instance-profile", "--instance-profile-name", name, "--role-name", role
    )
    assert result.returncode == 0, result.stderr
    profile = json.loads(server.aws("iam", "get-instance-profile", "--instance-profile-name", name).stdout)
    assert profile["InstanceProfile"]["Roles"][0]["AssumeRolePolicyDocument"] == TRUST
    result = server.aws("iam", "delete-instance-profile", "--instance-profile-name", name)
    assert result.returncode != 0 and "DeleteConflict" in result.stderr


def test_concurrent_adds_leave_one_role(iam, server):
    """Two callers adding different roles at once: the profile's row lock lets one through."""
    from concurrent.futures import ThreadPoolExecutor

    name = unique("race")
    iam.create_instance_profile(InstanceProfileName=name)
    roles = [make_role(iam)["RoleName"] for _ in range(4)]

    def add(role: str) -> str:
        client = server.client("iam")
        try:
            client.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
            return "ok"
        except ClientError as exc:
            return exc.response["Error"]["Code"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(add, roles))
    assert sorted(outcomes) == ["LimitExceeded"] * 3 + ["ok"]
    assert len(iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"]) == 1
