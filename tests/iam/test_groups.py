"""IAM groups through boto3 and the AWS CLI against the real server, on SQLite and PostgreSQL."""

import json

import pytest
from botocore.exceptions import ClientError

from iam_helpers import error_of, unique


def test_create_get_list_delete_group(iam, server):
    name = unique("devs")
    created = iam.create_group(GroupName=name, Path="/eng/")["Group"]
    assert created["GroupName"] == name and created["Path"] == "/eng/"
    assert created["GroupId"].startswith("AGPA") and len(created["GroupId"]) == 21
    assert created["Arn"] == f"arn:aws:iam::{server.account_id}:group/eng/{name}"
    assert created["CreateDate"].tzinfo is not None

    fetched = iam.get_group(GroupName=name.upper())  # names match regardless of case
    assert fetched["Group"] == created
    assert fetched["Users"] == [] and fetched["IsTruncated"] is False

    listed = iam.list_groups(PathPrefix="/eng/")["Groups"]
    assert name in [g["GroupName"] for g in listed]
    assert all(g["Path"].startswith("/eng/") for g in listed)
    assert name not in [g["GroupName"] for g in iam.list_groups(PathPrefix="/other/")["Groups"]]

    iam.delete_group(GroupName=name)
    with pytest.raises(ClientError) as excinfo:
        iam.get_group(GroupName=name)
    assert error_of(excinfo) == ("NoSuchEntity", f"The group with name {name} cannot be found.")
    with pytest.raises(ClientError) as excinfo:
        iam.delete_group(GroupName=name)
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_group_names_are_unique_regardless_of_case(iam):
    name = unique("Ops")
    iam.create_group(GroupName=name)
    with pytest.raises(ClientError) as excinfo:
        iam.create_group(GroupName=name.lower())
    assert error_of(excinfo) == ("EntityAlreadyExists", f"Group with name {name.lower()} already exists.")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_invalid_group_name_and_path_are_validation_errors(iam):
    with pytest.raises(ClientError) as excinfo:
        iam.create_group(GroupName="bad name!")
    assert error_of(excinfo)[0] == "ValidationError"
    with pytest.raises(ClientError) as excinfo:
        iam.create_group(GroupName=unique("g"), Path="no-slashes")
    assert error_of(excinfo)[0] == "ValidationError"


def test_list_groups_paginates_with_marker(iam):
    path = f"/{unique('page')}/"
    names = sorted(unique(f"g{i}") for i in range(5))
    for name in names:
        iam.create_group(GroupName=name, Path=path)
    first = iam.list_groups(PathPrefix=path, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["Groups"]) == 2
    seen = [g["GroupName"] for g in first["Groups"]]
    marker = first["Marker"]
    while marker:
        page = iam.list_groups(PathPrefix=path, MaxItems=2, Marker=marker)
        seen += [g["GroupName"] for g in page["Groups"]]
        marker = page.get("Marker")
        assert page["IsTruncated"] is bool(marker)
    assert seen == names
    paginated = [
        g["GroupName"]
        for p in iam.get_paginator("list_groups").paginate(PathPrefix=path, PaginationConfig={"PageSize": 2})
        for g in p["Groups"]
    ]
    assert paginated == names


def test_update_group_renames_and_moves(iam, server):
    name, new = unique("team"), unique("team2")
    other = unique("taken")
    iam.create_group(GroupName=name)
    iam.create_group(GroupName=other)
    with pytest.raises(ClientError) as excinfo:
        iam.update_group(GroupName=name, NewGroupName=other.upper())
    assert error_of(excinfo)[0] == "EntityAlreadyExists"

    iam.update_group(GroupName=name, NewGroupName=new, NewPath="/moved/")
    group = iam.get_group(GroupName=new)["Group"]
    assert group["Path"] == "/moved/"
    assert group["Arn"] == f"arn:aws:iam::{server.account_id}:group/moved/{new}"
    with pytest.raises(ClientError) as excinfo:
        iam.get_group(GroupName=name)
    assert error_of(excinfo)[0] == "NoSuchEntity"
    iam.update_group(GroupName=new, NewPath="/")  # the path alone
    assert iam.get_group(GroupName=new)["Group"]["Path"] == "/"
    with pytest.raises(ClientError) as excinfo:
        iam.update_group(GroupName=unique("missing"), NewPath="/x/")
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_members_add_list_remove(iam):
    group = unique("members")
    iam.create_group(GroupName=group)
    users = sorted(unique(f"m{i}") for i in range(3))
    for user in users:
        iam.create_user(UserName=user, Path="/staff/")
        iam.add_user_to_group(GroupName=group, UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=users[0].upper())  # adding twice is a no-op

    got = iam.get_group(GroupName=group)
    assert [u["UserName"] for u in got["Users"]] == users
    assert all(u["UserId"].startswith("AIDA") and u["Path"] == "/staff/" for u in got["Users"])

    first = iam.get_group(GroupName=group, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["Users"]) == 2
    rest = iam.get_group(GroupName=group, Marker=first["Marker"])
    assert [u["UserName"] for u in first["Users"] + rest["Users"]] == users
    paged = [
        u["UserName"]
        for page in iam.get_paginator("get_group").paginate(GroupName=group, PaginationConfig={"PageSize": 1})
        for u in page["Users"]
    ]
    assert paged == users

    groups = iam.list_groups_for_user(UserName=users[1])
    assert [g["GroupName"] for g in groups["Groups"]] == [group] and groups["IsTruncated"] is False

    iam.remove_user_from_group(GroupName=group, UserName=users[1])
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [users[0], users[2]]
    assert iam.list_groups_for_user(UserName=users[1])["Groups"] == []
    with pytest.raises(ClientError) as excinfo:
        iam.remove_user_from_group(GroupName=group, UserName=users[1])
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_membership_errors(iam):
    group, user = unique("g"), unique("u")
    iam.create_group(GroupName=group)
    iam.create_user(UserName=user)
    with pytest.raises(ClientError) as excinfo:
        iam.add_user_to_group(GroupName=group, UserName=unique("nobody"))
    assert error_of(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.add_user_to_group(GroupName=unique("nogroup"), UserName=user)
    assert error_of(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.list_groups_for_user(UserName=unique("nobody"))
    assert error_of(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.remove_user_from_group(GroupName=unique("nogroup"), UserName=user)
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_a_user_is_in_at_most_ten_groups(iam):
    user = unique("joiner")
    iam.create_user(UserName=user)
    names = sorted(unique(f"q{i}") for i in range(11))
    for name in names:
        iam.create_group(GroupName=name)
    for name in names[:10]:
        iam.add_user_to_group(GroupName=name, UserName=user)
    with pytest.raises(ClientError) as excinfo:
        iam.add_user_to_group(GroupName=names[10], UserName=user)
    assert error_of(excinfo) == ("LimitExceeded", "Cannot exceed quota for GroupsPerUser: 10")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    page = iam.list_groups_for_user(UserName=user, MaxItems=4)
    assert page["IsTruncated"] is True and len(page["Groups"]) == 4
    all_groups = [
        g["GroupName"]
        for p in iam.get_paginator("list_groups_for_user").paginate(
            UserName=user, PaginationConfig={"PageSize": 4}
        )
        for g in p["Groups"]
    ]
    assert all_groups == names[:10]


def test_delete_group_with_members_is_a_conflict(iam):
    group, user = unique("busy"), unique("member")
    iam.create_group(GroupName=group)
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_group(GroupName=group)
    assert error_of(excinfo) == (
        "DeleteConflict",
        "Cannot delete entity, must remove users from group first.",
    )
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    # the user cannot go either while it is a member
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName=user)
    assert error_of(excinfo)[0] == "DeleteConflict"
    iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.delete_group(GroupName=group)
    iam.delete_user(UserName=user)


def test_group_membership_grants_the_groups_policies(server, iam):
    """A member acts with its own keys; what the group's policies allow, it may do."""
    group, user = unique("readers"), unique("reader")
    iam.create_group(GroupName=group)
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    own = server.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    with pytest.raises(ClientError) as excinfo:
        own.list_groups()
    assert error_of(excinfo)[0] == "AccessDenied"
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:ListGroups", "Resource": "*"}],
    }
    iam.put_group_policy(GroupName=group, PolicyName="list", PolicyDocument=json.dumps(document))
    iam.add_user_to_group(GroupName=group, UserName=user)
    assert group in [g["GroupName"] for g in own.list_groups()["Groups"]]
    iam.remove_user_from_group(GroupName=group, UserName=user)
    with pytest.raises(ClientError) as excinfo:
        own.list_groups()
    assert error_of(excinfo)[0] == "AccessDenied"


def test_aws_cli_groups(server):
    name, user = unique("cli-group"), unique("cli-user")
    result = server.aws("iam", "create-group", "--group-name", name, "--path", "/cli/")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Group"]["GroupName"] == name
    assert server.aws("iam", "create-user", "--user-name", user).returncode == 0
    result = server.aws("iam", "add-user-to-group", "--group-name", name, "--user-name", user)
    assert result.returncode == 0, result.stderr
    result = server.aws("iam", "get-group", "--group-name", name)
    assert [u["UserName"] for u in json.loads(result.stdout)["Users"]] == [user]
    result = server.aws("iam", "delete-group", "--group-name", name)
    assert result.returncode != 0 and "DeleteConflict" in result.stderr


def test_delete_group_with_policies_is_a_conflict(iam):
    group = unique("governed")
    iam.create_group(GroupName=group)
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}],
    }
    iam.put_group_policy(GroupName=group, PolicyName="inline", PolicyDocument=json.dumps(document))
    with pytest.raises(ClientError) as excinfo:
        iam.delete_group(GroupName=group)
    assert error_of(excinfo) == ("DeleteConflict", "Cannot delete entity, must delete policies first.")
    iam.delete_group_policy(GroupName=group, PolicyName="inline")

    readonly = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    iam.attach_group_policy(GroupName=group, PolicyArn=readonly)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_group(GroupName=group)
    assert error_of(excinfo) == ("DeleteConflict", "Cannot delete entity, must detach all policies first.")
    iam.detach_group_policy(GroupName=group, PolicyArn=readonly)
    iam.delete_group(GroupName=group)


def test_update_group_needs_permission_on_the_old_and_the_new_name(iam, server):
    prefix = unique("scoped")
    group, user = f"{prefix}-a", unique("renamer")
    iam.create_group(GroupName=group)
    iam.create_user(UserName=user)
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:UpdateGroup", "Resource": f"arn:aws:iam::*:group/{prefix}-*"}
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="rename", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    own = server.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    outside = unique("outside")
    with pytest.raises(ClientError) as excinfo:
        own.update_group(GroupName=group, NewGroupName=outside)
    code, message = error_of(excinfo)
    assert code == "AccessDenied"
    assert f"iam:UpdateGroup on resource: arn:aws:iam::{server.account_id}:group/{outside}" in message
    own.update_group(GroupName=group, NewGroupName=f"{prefix}-b")
    assert iam.get_group(GroupName=f"{prefix}-b")["Group"]["GroupName"] == f"{prefix}-b"


def test_groups_per_account_quota(tmp_path):
    """The account's 300 groups, made in a store of its own (the shared server must stay usable)."""
    from datetime import UTC, datetime

    from ironkeep.errors import LimitExceeded
    from ironkeep.model import limits
    from ironkeep.services import iam_groups
    from ironkeep.services.context import CallContext, Caller
    from ironkeep.store import Store, accounts, groups

    store = Store.open(f"sqlite:///{tmp_path / 'groups.db'}")
    store.migrate()
    now, account = datetime.now(UTC), "333333333333"
    caller = Caller(
        account_id=account,
        arn=f"arn:aws:iam::{account}:root",
        principal_id=account,
        kind="Root",
        access_key_id="",
    )
    with store.transaction() as tx:
        accounts.create(tx, account, now)
        for i in range(limits.GROUPS_PER_ACCOUNT - 1):
            groups.create(tx, account, f"g{i}", "/", f"AGPA{i:017d}", now)
        ctx = CallContext(caller=caller, tx=tx, now=now, region="us-east-1", request_id="test")
        iam_groups.create_group(ctx, {"GroupName": "last-one"})
        with pytest.raises(LimitExceeded) as excinfo:
            iam_groups.create_group(ctx, {"GroupName": "one-too-many"})
    assert excinfo.value.message == "Cannot exceed quota for GroupsPerAccount: 300"
    store.engine.dispose()
