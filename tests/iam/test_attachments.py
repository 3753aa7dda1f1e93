"""Managed policies attached to users, groups and roles, and ListEntitiesForPolicy, through boto3."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from iam_helpers import error_of as error
from iam_helpers import unique

READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
SERVICE_ROLE_POLICY = "arn:aws:iam::aws:policy/aws-service-role/APIGatewayServiceRolePolicy"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def new_policy(iam, path: str = "/") -> str:
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    return iam.create_policy(PolicyName=unique("att"), Path=path, PolicyDocument=json.dumps(doc))["Policy"][
        "Arn"
    ]


def test_attach_list_detach_user_policy(iam):
    user = unique("user")
    iam.create_user(UserName=user)
    own = new_policy(iam, "/mine/")
    iam.attach_user_policy(UserName=user, PolicyArn=own)
    iam.attach_user_policy(UserName=user, PolicyArn=own)  # attaching twice is no error
    iam.attach_user_policy(UserName=user.upper(), PolicyArn=READ_ONLY)
    listed = iam.list_attached_user_policies(UserName=user)
    assert listed["IsTruncated"] is False
    assert sorted(listed["AttachedPolicies"], key=lambda p: p["PolicyArn"]) == sorted(
        [
            {"PolicyName": own.rsplit("/", 1)[1], "PolicyArn": own},
            {"PolicyName": "IAMReadOnlyAccess", "PolicyArn": READ_ONLY},
        ],
        key=lambda p: p["PolicyArn"],
    )
    assert [
        p["PolicyArn"]
        for p in iam.list_attached_user_policies(UserName=user, PathPrefix="/mine/")["AttachedPolicies"]
    ] == [own]
    page = iam.list_attached_user_policies(UserName=user, MaxItems=1)
    assert page["IsTruncated"] is True and len(page["AttachedPolicies"]) == 1
    rest = iam.list_attached_user_policies(UserName=user, Marker=page["Marker"])
    assert len(rest["AttachedPolicies"]) == 1 and rest["AttachedPolicies"] != page["AttachedPolicies"]
    assert iam.get_policy(PolicyArn=own)["Policy"]["AttachmentCount"] == 1

    iam.detach_user_policy(UserName=user, PolicyArn=own)
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]] == [
        READ_ONLY
    ]
    with pytest.raises(ClientError) as excinfo:
        iam.detach_user_policy(UserName=user, PolicyArn=own)
    assert error(excinfo) == ("NoSuchEntity", f"Policy {own} was not found.")
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName=user)
    assert error(excinfo) == ("DeleteConflict", "Cannot delete entity, must detach all policies first.")


def test_attach_errors(iam, server):
    user = unique("user")
    iam.create_user(UserName=user)
    missing = f"arn:aws:iam::{server.account_id}:policy/{unique('none')}"
    with pytest.raises(ClientError) as excinfo:
        iam.attach_user_policy(UserName=user, PolicyArn=missing)
    assert error(excinfo) == ("NoSuchEntity", f"Policy {missing} does not exist or is not attachable.")
    with pytest.raises(ClientError) as excinfo:
        iam.attach_user_policy(UserName=unique("ghost"), PolicyArn=READ_ONLY)
    assert error(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.list_attached_user_policies(UserName=unique("ghost"))
    assert error(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.attach_user_policy(UserName=user, PolicyArn=SERVICE_ROLE_POLICY)
    assert error(excinfo)[0] == "PolicyNotAttachable"
    not_a_policy = f"arn:aws:iam::{server.account_id}:role/{user}"
    with pytest.raises(ClientError) as excinfo:
        iam.attach_user_policy(UserName=user, PolicyArn=not_a_policy)
    assert error(excinfo) == ("InvalidInput", f"ARN {not_a_policy} is not valid.")


def test_ten_managed_policies_per_user(iam):
    user = unique("quota")
    iam.create_user(UserName=user)
    arns = [new_policy(iam) for _ in range(11)]
    for arn in arns[:10]:
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
    with pytest.raises(ClientError) as excinfo:
        iam.attach_user_policy(UserName=user, PolicyArn=arns[10])
    assert error(excinfo) == ("LimitExceeded", "Cannot exceed quota for PoliciesPerUser: 10")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    iam.attach_user_policy(UserName=user, PolicyArn=arns[0])  # already held: still fine


def test_attach_list_detach_role_policy(iam):
    role = unique("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    own = new_policy(iam, "/roles/")
    iam.attach_role_policy(RoleName=role, PolicyArn=own)
    iam.attach_role_policy(RoleName=role, PolicyArn=READ_ONLY)
    listed = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert {p["PolicyArn"] for p in listed} == {own, READ_ONLY}
    only = iam.list_attached_role_policies(RoleName=role, PathPrefix="/roles/")["AttachedPolicies"]
    assert only == [{"PolicyName": own.rsplit("/", 1)[1], "PolicyArn": own}]
    iam.detach_role_policy(RoleName=role, PolicyArn=READ_ONLY)
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]] == [
        own
    ]
    with pytest.raises(ClientError) as excinfo:
        iam.attach_role_policy(RoleName=role, PolicyArn=SERVICE_ROLE_POLICY)
    assert error(excinfo) == (
        "PolicyNotAttachable",
        "Cannot attach a Service Role Policy to a Customer Role.",
    )
    with pytest.raises(ClientError) as excinfo:
        iam.detach_role_policy(RoleName=role, PolicyArn=READ_ONLY)
    assert error(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.list_attached_role_policies(RoleName=unique("ghost"))
    assert error(excinfo)[0] == "NoSuchEntity"


def test_service_linked_roles_cannot_be_changed(iam):
    role = iam.create_service_linked_role(
        AWSServiceName="autoscaling.amazonaws.com", CustomSuffix=uuid.uuid4().hex[:8]
    )["Role"]
    with pytest.raises(ClientError) as excinfo:
        iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=READ_ONLY)
    assert error(excinfo)[0] == "UnmodifiableEntity"


def test_attach_list_detach_group_policy(iam):
    group = unique("group")
    iam.create_group(GroupName=group)
    own = new_policy(iam)
    iam.attach_group_policy(GroupName=group, PolicyArn=own)
    iam.attach_group_policy(GroupName=group, PolicyArn=READ_ONLY)
    listed = iam.list_attached_group_policies(GroupName=group)
    assert {p["PolicyArn"] for p in listed["AttachedPolicies"]} == {own, READ_ONLY}
    iam.detach_group_policy(GroupName=group, PolicyArn=own)
    assert [
        p["PolicyArn"] for p in iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"]
    ] == [READ_ONLY]
    with pytest.raises(ClientError) as excinfo:
        iam.detach_group_policy(GroupName=group, PolicyArn=own)
    assert error(excinfo)[0] == "NoSuchEntity"
    ghost = unique("ghost")
    with pytest.raises(ClientError) as excinfo:
        iam.attach_group_policy(GroupName=ghost, PolicyArn=own)
    assert error(excinfo) == ("NoSuchEntity", f"The group with name {ghost} cannot be found.")
    with pytest.raises(ClientError) as excinfo:
        iam.list_attached_group_policies(GroupName=unique("ghost"))
    assert error(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.delete_group(GroupName=group)
    assert error(excinfo)[0] == "DeleteConflict"
    iam.detach_group_policy(GroupName=group, PolicyArn=READ_ONLY)
    iam.delete_group(GroupName=group)


def test_list_entities_for_policy(iam):
    arn = new_policy(iam)
    path = f"/{unique('ents')}/"
    users = sorted((unique("u") for _ in range(3)), key=str.lower)
    for user in users:
        iam.create_user(UserName=user, Path=path)
    iam.attach_user_policy(UserName=users[0], PolicyArn=arn)
    iam.attach_user_policy(UserName=users[1], PolicyArn=arn)
    iam.put_user_permissions_boundary(UserName=users[2], PermissionsBoundary=arn)
    role = unique("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    user_ids = {u: iam.get_user(UserName=u)["User"]["UserId"] for u in users}
    role_id = iam.get_role(RoleName=role)["Role"]["RoleId"]

    every = iam.list_entities_for_policy(PolicyArn=arn)
    assert every["PolicyUsers"] == [{"UserName": u, "UserId": user_ids[u]} for u in users]
    assert every["PolicyRoles"] == [{"RoleName": role, "RoleId": role_id}]
    assert every["PolicyGroups"] == [] and every["IsTruncated"] is False

    attached = iam.list_entities_for_policy(PolicyArn=arn, PolicyUsageFilter="PermissionsPolicy")
    assert [u["UserName"] for u in attached["PolicyUsers"]] == users[:2]
    bounded = iam.list_entities_for_policy(PolicyArn=arn, PolicyUsageFilter="PermissionsBoundary")
    assert [u["UserName"] for u in bounded["PolicyUsers"]] == users[2:] and bounded["PolicyRoles"] == []
    roles_only = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert roles_only["PolicyUsers"] == [] and len(roles_only["PolicyRoles"]) == 1
    under = iam.list_entities_for_policy(PolicyArn=arn, PathPrefix=path)
    assert len(under["PolicyUsers"]) == 3 and under["PolicyRoles"] == []

    seen, marker = [], None
    while True:
        page = iam.list_entities_for_policy(
            PolicyArn=arn, MaxItems=2, **({"Marker": marker} if marker else {})
        )
        seen += [u["UserName"] for u in page["PolicyUsers"]] + [r["RoleName"] for r in page["PolicyRoles"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert seen == [*users, role]

    iam.attach_user_policy(UserName=users[0], PolicyArn=READ_ONLY)
    readers = iam.list_entities_for_policy(PolicyArn=READ_ONLY, EntityFilter="User", PathPrefix=path)
    assert readers["PolicyUsers"] == [{"UserName": users[0], "UserId": user_ids[users[0]]}]
    assert readers["PolicyGroups"] == [] and readers["PolicyRoles"] == []
    with pytest.raises(ClientError) as excinfo:
        iam.list_entities_for_policy(PolicyArn=arn + "-gone")
    assert error(excinfo)[0] == "NoSuchEntity"


def test_attach_through_the_aws_cli(server, iam):
    user = unique("cli")
    iam.create_user(UserName=user)
    done = server.aws("iam", "attach-user-policy", "--user-name", user, "--policy-arn", READ_ONLY)
    assert done.returncode == 0, done.stderr
    listed = server.aws("iam", "list-attached-user-policies", "--user-name", user)
    assert json.loads(listed.stdout)["AttachedPolicies"] == [
        {"PolicyName": "IAMReadOnlyAccess", "PolicyArn": READ_ONLY}
    ]
    again = server.aws("iam", "detach-user-policy", "--user-name", user, "--policy-arn", SERVICE_ROLE_POLICY)
    assert again.returncode != 0 and "NoSuchEntity" in again.stderr


def test_concurrent_attachments_stop_at_the_quota(iam, server):
    from concurrent.futures import ThreadPoolExecutor

    user = unique("race")
    iam.create_user(UserName=user)
    arns = [new_policy(iam) for _ in range(14)]

    def attach(arn: str) -> str:
        client = server.client("iam")
        try:
            client.attach_user_policy(UserName=user, PolicyArn=arn)
            return "ok"
        except ClientError as exc:
            return exc.response["Error"]["Code"]

    with ThreadPoolExecutor(max_workers=7) as pool:
        outcomes = list(pool.map(attach, arns))
    assert outcomes.count("ok") == 10 and outcomes.count("LimitExceeded") == 4
    assert len(iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]) == 10
