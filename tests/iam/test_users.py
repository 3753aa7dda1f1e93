"""IAM users through boto3 and the AWS CLI against the real server, on SQLite and PostgreSQL."""

import json

import pytest
from botocore.exceptions import ClientError

from iam_helpers import allow, error_code, policy, unique


def test_create_get_list_delete_user(iam):
    name = unique("alice")
    created = iam.create_user(UserName=name, Path="/eng/", Tags=[{"Key": "team", "Value": "blue"}])["User"]
    assert created["UserName"] == name
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 21
    assert created["Arn"] == f"arn:aws:iam::123456789012:user/eng/{name}"
    assert created["Tags"] == [{"Key": "team", "Value": "blue"}]

    fetched = iam.get_user(UserName=name.upper())["User"]  # names match regardless of case
    assert fetched["UserId"] == created["UserId"]

    listed = iam.list_users(PathPrefix="/eng/")["Users"]
    assert name in [u["UserName"] for u in listed]
    assert all(u["Path"].startswith("/eng/") for u in listed)

    iam.delete_user(UserName=name)
    with pytest.raises(ClientError) as excinfo:
        iam.get_user(UserName=name)
    assert error_code(excinfo) == "NoSuchEntity"


def test_names_are_unique_regardless_of_case(iam):
    name = unique("Bob")
    iam.create_user(UserName=name)
    with pytest.raises(ClientError) as excinfo:
        iam.create_user(UserName=name.lower())
    assert error_code(excinfo) == "EntityAlreadyExists"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_invalid_user_name_is_a_validation_error(iam):
    with pytest.raises(ClientError) as excinfo:
        iam.create_user(UserName="bad name!")
    assert error_code(excinfo) == "ValidationError"


def test_list_users_paginates_with_marker(iam):
    path = f"/{unique('page')}/"
    names = sorted(unique(f"u{i}") for i in range(5))
    for name in names:
        iam.create_user(UserName=name, Path=path)
    first = iam.list_users(PathPrefix=path, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["Users"]) == 2
    seen = [u["UserName"] for u in first["Users"]]
    marker = first["Marker"]
    while marker:
        page = iam.list_users(PathPrefix=path, MaxItems=2, Marker=marker)
        seen += [u["UserName"] for u in page["Users"]]
        marker = page.get("Marker")
    assert seen == names
    paginated = [
        u["UserName"]
        for p in iam.get_paginator("list_users").paginate(PathPrefix=path, PaginationConfig={"PageSize": 2})
        for u in p["Users"]
    ]
    assert paginated == names


def test_update_user_renames_and_moves(iam):
    name, new = unique("carol"), unique("carol2")
    iam.create_user(UserName=name)
    iam.update_user(UserName=name, NewUserName=new, NewPath="/moved/")
    user = iam.get_user(UserName=new)["User"]
    assert user["Path"] == "/moved/" and user["Arn"].endswith(f":user/moved/{new}")


def test_a_renamed_user_calls_as_its_new_self(iam, server):
    """A user's keys outlive a rename and a move: the caller the server sees (GetUser with no name,
    the ARN in a denial) follows the user at once, request after request."""
    name, new = unique("dana"), unique("dana2")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="self", PolicyDocument=policy(allow("iam:GetUser")))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    dana = server.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    for _ in range(2):
        assert dana.get_user()["User"]["UserName"] == name
    iam.update_user(UserName=name, NewUserName=new, NewPath="/moved/")
    for _ in range(2):
        user = dana.get_user()["User"]
        assert (user["UserName"], user["Path"]) == (new, "/moved/")
    with pytest.raises(ClientError) as excinfo:
        dana.list_users()
    assert f":user/moved/{new} is not authorized" in excinfo.value.response["Error"]["Message"]


def test_user_tags(iam):
    name = unique("tagged")
    iam.create_user(UserName=name)
    iam.tag_user(UserName=name, Tags=[{"Key": "a", "Value": "1"}, {"Key": "B", "Value": "2"}])
    iam.tag_user(UserName=name, Tags=[{"Key": "b", "Value": "3"}])  # keys are case-insensitive
    tags = iam.list_user_tags(UserName=name)["Tags"]
    assert sorted((t["Key"].lower(), t["Value"]) for t in tags) == [("a", "1"), ("b", "3")]
    iam.untag_user(UserName=name, TagKeys=["A"])
    assert [t["Value"] for t in iam.list_user_tags(UserName=name)["Tags"]] == ["3"]


def test_get_user_without_name_as_root(iam, server):
    user = iam.get_user()["User"]
    assert user["Arn"] == f"arn:aws:iam::{server.account_id}:root"


def test_aws_cli_create_and_get_user(server):
    name = unique("cli")
    result = server.aws("iam", "create-user", "--user-name", name)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["User"]["UserName"] == name
    result = server.aws("iam", "get-user", "--user-name", "no-such-" + name)
    assert result.returncode != 0  # awscli v1 exits 255 on service errors
    assert "NoSuchEntity" in result.stderr


def test_bad_signature_and_unknown_key_are_refused(server):
    bad = server.client("iam", secret="x" * 40)
    with pytest.raises(ClientError) as excinfo:
        bad.list_users()
    assert error_code(excinfo) == "SignatureDoesNotMatch"
    unknown = server.client("iam", key="AKIAUNKNOWNUNKNOWN12")
    with pytest.raises(ClientError) as excinfo:
        unknown.list_users()
    assert error_code(excinfo) == "InvalidClientTokenId"


def test_create_user_with_a_permissions_boundary(iam):
    name = unique("bounded")
    boundary = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    iam.create_user(UserName=name, PermissionsBoundary=boundary)
    user = iam.get_user(UserName=name)["User"]
    assert user["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": boundary,
    }
    with pytest.raises(ClientError) as excinfo:
        iam.create_user(UserName=unique("b2"), PermissionsBoundary="arn:aws:iam::123456789012:policy/nope")
    assert error_code(excinfo) == "NoSuchEntity"


def test_a_long_term_key_with_a_session_token_is_refused(server):
    stale = server.client("iam", token="FQoGZXIvYXdzEXAMPLETOKEN")
    with pytest.raises(ClientError) as excinfo:
        stale.list_users()
    assert error_code(excinfo) == "InvalidClientTokenId"


def test_path_prefix_takes_underscore_percent_and_slash_as_themselves(iam):
    """PathPrefix is a plain prefix: SQL's LIKE wildcards in it match only themselves, and case
    counts (SQLite's LIKE would ignore it)."""
    tag = unique("pp")
    paths = [f"/{tag}_a/", f"/{tag}xa/", f"/{tag}%b/", f"/{tag}yyb/", f"/{tag}/c/"]
    names = {}
    for index, path in enumerate(paths):
        names[path] = unique(f"pp{index}")
        iam.create_user(UserName=names[path], Path=path)
    try:
        for prefix, expected in [
            (f"/{tag}_", [f"/{tag}_a/"]),
            (f"/{tag}%", [f"/{tag}%b/"]),
            (f"/{tag}/", [f"/{tag}/c/"]),
            (f"/{tag}", paths),
            (f"/{tag.upper()}", []),
        ]:
            listed = iam.list_users(PathPrefix=prefix)["Users"]
            assert sorted(u["UserName"] for u in listed) == sorted(names[p] for p in expected), prefix
    finally:
        for name in names.values():
            iam.delete_user(UserName=name)
