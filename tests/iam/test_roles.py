"""IAM roles through boto3 and the AWS CLI against the real server, on SQLite and PostgreSQL."""

import json
import uuid
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iam_helpers import error_of as error
from iam_helpers import unique, unvalidated
from ironkeep.services.iam_roles import encode_document, is_trust_action, tag_context

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def make_role(iam, name: str | None = None, **kwargs) -> dict:
    name = name or unique("role")
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), **kwargs)["Role"]


def test_create_role_shape(iam, server):
    name = unique("Builder")
    role = make_role(
        iam,
        name,
        Path="/ci/",
        Description="builds things",
        MaxSessionDuration=7200,
        Tags=[{"Key": "team", "Value": "blue"}],
    )
    assert role["RoleName"] == name
    assert role["RoleId"].startswith("AROA") and len(role["RoleId"]) == 21
    assert role["Arn"] == f"arn:aws:iam::{server.account_id}:role/ci/{name}"
    assert role["Path"] == "/ci/"
    assert role["AssumeRolePolicyDocument"] == TRUST  # boto3 URL-decodes and parses it
    assert role["Description"] == "builds things"
    assert role["MaxSessionDuration"] == 7200
    assert role["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert role["CreateDate"].tzinfo is not None


def test_get_role_shape_and_trust_policy_as_dict(iam):
    name = unique("getter")
    created = make_role(iam, name, Tags=[{"Key": "k", "Value": "v"}])
    role = iam.get_role(RoleName=name.upper())["Role"]  # names match regardless of case
    assert role["RoleId"] == created["RoleId"]
    assert role["AssumeRolePolicyDocument"] == TRUST
    assert isinstance(role["AssumeRolePolicyDocument"], dict)
    assert role["MaxSessionDuration"] == 3600  # the default
    assert role["RoleLastUsed"] == {}  # never used
    assert role["Tags"] == [{"Key": "k", "Value": "v"}]
    assert "PermissionsBoundary" not in role and "Description" not in role


def test_get_unknown_role_is_no_such_entity(iam):
    with pytest.raises(ClientError) as excinfo:
        iam.get_role(RoleName="no-such-role-" + uuid.uuid4().hex[:8])
    code, message = error(excinfo)
    assert code == "NoSuchEntity" and "cannot be found" in message
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_role_names_are_unique_regardless_of_case(iam):
    name = unique("Dup")
    make_role(iam, name)
    with pytest.raises(ClientError) as excinfo:
        make_role(iam, name.lower())
    assert error(excinfo) == ("EntityAlreadyExists", f"Role with name {name.lower()} already exists.")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_trust_policy_without_principal_is_malformed(iam):
    no_principal = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName=unique("np"), AssumeRolePolicyDocument=json.dumps(no_principal))
    code, message = error(excinfo)
    assert code == "MalformedPolicyDocument" and "Missing required field Principal" in message


def test_trust_policy_with_resource_is_malformed(iam):
    statement = dict(TRUST["Statement"][0], Resource="*")
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName=unique("res"), AssumeRolePolicyDocument=document)
    code, message = error(excinfo)
    assert code == "MalformedPolicyDocument" and "Has prohibited field Resource" in message


@pytest.mark.parametrize("action", ["s3:GetObject", "sts:TagSessions", "sts:GetCallerIdentity"])
def test_trust_policy_with_other_than_sts_assume_role_actions_is_malformed(iam, action):
    statement = dict(TRUST["Statement"][0], Action=["sts:AssumeRole", action])
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName=unique("act"), AssumeRolePolicyDocument=document)
    assert error(excinfo) == (
        "MalformedPolicyDocument",
        "AssumeRole policy may only specify STS AssumeRole actions.",
    )


def test_trust_policy_may_grant_session_tags_source_identity_and_wildcards(iam):
    actions = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity", "sts:AssumeRoleWith*"]
    statement = dict(TRUST["Statement"][0], Action=actions)
    document = {"Version": "2012-10-17", "Statement": [statement]}
    role = iam.create_role(RoleName=unique("act"), AssumeRolePolicyDocument=json.dumps(document))["Role"]
    assert role["AssumeRolePolicyDocument"] == document


def test_is_trust_action():
    assert is_trust_action("sts:AssumeRole") and is_trust_action("STS:assumerole")
    assert is_trust_action("sts:*") and is_trust_action("*") and is_trust_action("sts:Set?ontext")
    assert (
        not is_trust_action("sts:AssumeRoot")
        and not is_trust_action("iam:*")
        and not is_trust_action("sts:Tag")
    )


def test_trust_policy_that_is_not_json_is_malformed(iam):
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName=unique("json"), AssumeRolePolicyDocument="{not json")
    assert error(excinfo)[0] == "MalformedPolicyDocument"


def test_trust_policy_naming_a_missing_user_is_an_invalid_principal(iam, server):
    user = unique("trusted")
    arn = f"arn:aws:iam::{server.account_id}:user/{user}"
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}],
        }
    )
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName=unique("ip"), AssumeRolePolicyDocument=document)
    assert error(excinfo) == ("MalformedPolicyDocument", f'Invalid principal in policy: "AWS":"{arn}"')
    iam.create_user(UserName=user)
    role = iam.create_role(RoleName=unique("ip"), AssumeRolePolicyDocument=document)["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": arn}


def test_trust_policy_too_large_is_limit_exceeded(iam):
    services = [f"svc{i:04d}.amazonaws.com" for i in range(120)]
    statement = {"Effect": "Allow", "Principal": {"Service": services}, "Action": "sts:AssumeRole"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName=unique("big"), AssumeRolePolicyDocument=document)
    assert error(excinfo) == ("LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048")


@pytest.mark.parametrize("seconds", [3599, 43201])
def test_max_session_duration_out_of_range_is_a_validation_error(server, seconds):
    with pytest.raises(ClientError) as excinfo:
        make_role(unvalidated(server), MaxSessionDuration=seconds)
    code, message = error(excinfo)
    assert code == "ValidationError" and "maxSessionDuration" in message


def test_service_linked_path_is_reserved(iam):
    with pytest.raises(ClientError) as excinfo:
        make_role(iam, Path="/aws-service-role/ecs.amazonaws.com/")
    assert error(excinfo) == (
        "InvalidInput",
        "Path prefix '/aws-service-role/' can only be used for AWS Service linked Roles",
    )


def test_permissions_boundary(iam):
    boundary = "arn:aws:iam::aws:policy/PowerUserAccess"
    name = unique("bounded")
    created = make_role(iam, name, PermissionsBoundary=boundary)
    expected = {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": boundary}
    assert created["PermissionsBoundary"] == expected
    assert iam.get_role(RoleName=name)["Role"]["PermissionsBoundary"] == expected
    with pytest.raises(ClientError) as excinfo:
        make_role(iam, PermissionsBoundary="arn:aws:iam::aws:policy/NoSuchPolicyAnywhere")
    assert error(excinfo)[0] == "NoSuchEntity"


def test_list_roles_path_prefix_pagination_and_omitted_attributes(iam):
    path = f"/{unique('page')}/"
    names = sorted(unique(f"r{i}") for i in range(5))
    for name in names:
        make_role(
            iam,
            name,
            Path=path,
            Tags=[{"Key": "t", "Value": "1"}],
            PermissionsBoundary="arn:aws:iam::aws:policy/ReadOnlyAccess",
        )
    first = iam.list_roles(PathPrefix=path, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["Roles"]) == 2
    paginated = [
        role
        for page in iam.get_paginator("list_roles").paginate(
            PathPrefix=path, PaginationConfig={"PageSize": 2}
        )
        for role in page["Roles"]
    ]
    assert [r["RoleName"] for r in paginated] == names
    for role in paginated:
        # AWS's ListRoles leaves these out even though they are attributes of a role
        assert not {"Tags", "PermissionsBoundary", "RoleLastUsed"} & role.keys()
        assert role["AssumeRolePolicyDocument"] == TRUST and role["MaxSessionDuration"] == 3600
    everything = [r["RoleName"] for p in iam.get_paginator("list_roles").paginate() for r in p["Roles"]]
    assert set(names) <= set(everything)


def test_update_role(iam, server):
    name = unique("upd")
    make_role(iam, name)
    assert iam.update_role(RoleName=name, Description="new words", MaxSessionDuration=43200)
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Description"] == "new words" and role["MaxSessionDuration"] == 43200
    with pytest.raises(ClientError) as excinfo:
        unvalidated(server).update_role(RoleName=name, MaxSessionDuration=100)
    assert error(excinfo)[0] == "ValidationError"
    with pytest.raises(ClientError) as excinfo:
        iam.update_role(RoleName=unique("ghost"), Description="x")
    assert error(excinfo)[0] == "NoSuchEntity"


def test_update_role_description_returns_the_role(iam):
    name = unique("desc")
    make_role(iam, name, Tags=[{"Key": "a", "Value": "b"}])
    role = iam.update_role_description(RoleName=name, Description="described")["Role"]
    assert role["RoleName"] == name and role["Description"] == "described"
    assert role["AssumeRolePolicyDocument"] == TRUST and role["Tags"] == [{"Key": "a", "Value": "b"}]
    with pytest.raises(ClientError) as excinfo:
        iam.update_role_description(RoleName=unique("ghost"), Description="x")
    assert error(excinfo)[0] == "NoSuchEntity"


def test_update_assume_role_policy(iam):
    name = unique("trust")
    make_role(iam, name)
    lambda_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(lambda_trust))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == lambda_trust
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    with pytest.raises(ClientError) as excinfo:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(bad))
    assert error(excinfo)[0] == "MalformedPolicyDocument"
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == lambda_trust  # unchanged
    with pytest.raises(ClientError) as excinfo:
        iam.update_assume_role_policy(RoleName=unique("ghost"), PolicyDocument=json.dumps(lambda_trust))
    assert error(excinfo)[0] == "NoSuchEntity"


def test_delete_role(iam):
    name = unique("gone")
    make_role(iam, name, Tags=[{"Key": "x", "Value": "y"}])
    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as excinfo:
        iam.get_role(RoleName=name)
    assert error(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.delete_role(RoleName=name)
    assert error(excinfo)[0] == "NoSuchEntity"
    make_role(iam, name)  # the name is free again, with no tags left behind
    assert iam.list_role_tags(RoleName=name)["Tags"] == []


def test_delete_role_in_an_instance_profile_is_a_conflict(iam):
    name, profile = unique("inprof"), unique("prof")
    make_role(iam, name)
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=name)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_role(RoleName=name)
    assert error(excinfo) == (
        "DeleteConflict",
        "Cannot delete entity, must remove roles from instance profile first.",
    )
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=name)
    iam.delete_role(RoleName=name)


def test_delete_role_with_attached_policy_is_a_conflict(iam):
    name = unique("attached")
    make_role(iam, name)
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_role(RoleName=name)
    assert error(excinfo) == ("DeleteConflict", "Cannot delete entity, must detach all policies first.")
    iam.detach_role_policy(RoleName=name, PolicyArn=arn)
    iam.delete_role(RoleName=name)


def test_delete_role_with_inline_policy_is_a_conflict(iam):
    name = unique("inline")
    make_role(iam, name)
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}],
        }
    )
    iam.put_role_policy(RoleName=name, PolicyName="list", PolicyDocument=document)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_role(RoleName=name)
    assert error(excinfo) == ("DeleteConflict", "Cannot delete entity, must delete policies first.")
    iam.delete_role_policy(RoleName=name, PolicyName="list")
    iam.delete_role(RoleName=name)


def test_role_tags(iam):
    name = unique("tagged")
    make_role(iam, name)
    iam.tag_role(RoleName=name, Tags=[{"Key": "a", "Value": "1"}, {"Key": "B", "Value": "2"}])
    iam.tag_role(RoleName=name, Tags=[{"Key": "b", "Value": "3"}])  # keys are case-insensitive
    tags = iam.list_role_tags(RoleName=name)["Tags"]
    assert sorted((t["Key"].lower(), t["Value"]) for t in tags) == [("a", "1"), ("b", "3")]
    page = iam.list_role_tags(RoleName=name, MaxItems=1)
    assert page["IsTruncated"] is True and len(page["Tags"]) == 1
    rest = iam.list_role_tags(RoleName=name, Marker=page["Marker"])
    assert [t["Value"] for t in page["Tags"] + rest["Tags"]] == ["1", "3"]
    iam.untag_role(RoleName=name, TagKeys=["A"])
    assert [t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]] == ["3"]
    with pytest.raises(ClientError) as excinfo:
        iam.tag_role(RoleName=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error(excinfo)[0] == "LimitExceeded"
    for call, kwargs in (
        (iam.tag_role, {"Tags": [{"Key": "a", "Value": "1"}]}),
        (iam.untag_role, {"TagKeys": ["a"]}),
        (iam.list_role_tags, {}),
    ):
        with pytest.raises(ClientError) as excinfo:
            call(RoleName=unique("ghost"), **kwargs)
        assert error(excinfo)[0] == "NoSuchEntity"


def test_aws_cli_create_and_get_role(server):
    name = unique("cli")
    result = server.aws(
        "iam", "create-role", "--role-name", name, "--assume-role-policy-document", json.dumps(TRUST)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Role"]["RoleName"] == name
    result = server.aws("iam", "get-role", "--role-name", name)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Role"]["AssumeRolePolicyDocument"] == TRUST


def test_aws_cli_trust_policy_without_principal(server):
    no_principal = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    result = server.aws(
        "iam",
        "create-role",
        "--role-name",
        unique("cli"),
        "--assume-role-policy-document",
        json.dumps(no_principal),
    )
    assert result.returncode != 0
    assert "MalformedPolicyDocument" in result.stderr


def test_aws_cli_update_role_and_list_tags(iam, server):
    name = unique("cli")
    make_role(iam, name, Tags=[{"Key": "env", "Value": "prod"}])
    result = server.aws("iam", "update-role", "--role-name", name, "--max-session-duration", "5400")
    assert result.returncode == 0, result.stderr
    assert iam.get_role(RoleName=name)["Role"]["MaxSessionDuration"] == 5400
    result = server.aws("iam", "list-role-tags", "--role-name", name)
    assert json.loads(result.stdout)["Tags"] == [{"Key": "env", "Value": "prod"}]


def test_tag_context_gives_resource_and_request_keys():
    context = tag_context(
        resource_tags=[{"Key": "team", "Value": "blue"}],
        request_tags=[{"Key": "env", "Value": "prod"}],
    )
    assert context == {
        "aws:ResourceTag/team": "blue",
        "iam:ResourceTag/team": "blue",
        "aws:RequestTag/env": "prod",
        "aws:TagKeys": ["env"],
    }
    assert tag_context(tag_keys=["a", "b"]) == {"aws:TagKeys": ["a", "b"]}
    assert tag_context() == {}


def test_condition_keys_reach_the_engine(iam, server):
    """A user allowed CreateRole only with a given boundary, and GetRole only on roles tagged
    team=blue: iam:PermissionsBoundary and aws:ResourceTag/* are in the request's context."""
    user = unique("abac")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    boundary = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:CreateRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:PermissionsBoundary": boundary}},
            },
            {
                "Effect": "Allow",
                "Action": ["iam:GetRole", "iam:TagRole"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}},
            },
            {
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:AWSServiceName": "support.amazonaws.com"}},
            },
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="abac", PolicyDocument=json.dumps(policy))
    client = server.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    with pytest.raises(ClientError) as excinfo:
        make_role(client)
    assert error(excinfo)[0] == "AccessDenied"
    blue = make_role(client, PermissionsBoundary=boundary, Tags=[{"Key": "team", "Value": "blue"}])[
        "RoleName"
    ]
    assert client.get_role(RoleName=blue)["Role"]["RoleName"] == blue
    red = make_role(iam, Tags=[{"Key": "team", "Value": "red"}])["RoleName"]
    with pytest.raises(ClientError) as excinfo:
        client.get_role(RoleName=red)
    code, message = error(excinfo)
    assert code == "AccessDenied" and "iam:GetRole" in message
    with pytest.raises(ClientError) as excinfo:
        client.get_role(RoleName=unique("ghost"))  # no existence leak before authorization
    assert error(excinfo)[0] == "AccessDenied"
    with pytest.raises(ClientError) as excinfo:
        client.create_service_linked_role(AWSServiceName="macie.amazonaws.com")
    assert error(excinfo)[0] == "AccessDenied"
    linked = client.create_service_linked_role(AWSServiceName="support.amazonaws.com")["Role"]
    iam.delete_service_linked_role(RoleName=linked["RoleName"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    document=st.one_of(
        st.text(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda children: (
                st.lists(children, max_size=3)
                | st.dictionaries(
                    st.sampled_from(
                        ["Version", "Statement", "Effect", "Principal", "Action", "Resource", "x"]
                    ),
                    children,
                    max_size=4,
                )
            ),
            max_leaves=12,
        ).map(json.dumps),
    )
)
def test_any_trust_document_is_accepted_or_refused_as_aws_would(iam, document):
    try:
        role = iam.create_role(RoleName=unique("fuzz"), AssumeRolePolicyDocument=document or " ")["Role"]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] in {
            "MalformedPolicyDocument",
            "ValidationError",
            "LimitExceeded",
        }
    else:
        iam.delete_role(RoleName=role["RoleName"])


@given(st.text())
def test_encoded_documents_decode_to_the_original(text):
    encoded = encode_document(text)
    assert unquote(encoded) == text
    assert encoded.isascii() and not set(encoded) & set(' "{}/?&=+#')


def test_role_last_used_after_assume_role(iam, server):
    user = unique("assumer")
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    key = iam.create_access_key(UserName=user)["AccessKey"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}],
    }
    name = unique("used")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    assert iam.get_role(RoleName=name)["Role"]["RoleLastUsed"] == {}
    sts = server.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    last_used = iam.get_role(RoleName=name)["Role"]["RoleLastUsed"]
    assert last_used["Region"] == "us-east-1" and last_used["LastUsedDate"].tzinfo is not None
    listed = [
        r for p in iam.get_paginator("list_roles").paginate() for r in p["Roles"] if r["RoleName"] == name
    ]
    assert listed and "RoleLastUsed" not in listed[0]
