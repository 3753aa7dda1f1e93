"""Customer-managed and AWS-managed policies and their versions, through boto3 and the AWS CLI."""

import json
import re
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iam_helpers import error_of as error
from iam_helpers import unique

READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def document(action: str = "s3:GetObject", resource: str = "*") -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
    }


def create(iam, name: str | None = None, **extra) -> dict:
    return iam.create_policy(
        PolicyName=name or unique("pol"), PolicyDocument=json.dumps(document()), **extra
    )["Policy"]


def raw_bodies(client, operation: str) -> list[bytes]:
    """The response bodies of ``operation`` as they come off the wire (before boto3 decodes)."""
    bodies: list[bytes] = []
    client.meta.events.register(
        f"before-parse.iam.{operation}", lambda response_dict, **kw: bodies.append(response_dict["body"])
    )
    return bodies


def test_create_get_and_delete_policy(iam, server):
    name = unique("Policy")
    created = iam.create_policy(
        PolicyName=name,
        Path="/team/",
        PolicyDocument=json.dumps(document()),
        Description="reads objects",
        Tags=[{"Key": "owner", "Value": "ops"}],
    )["Policy"]
    assert re.fullmatch(r"ANPA[A-Z2-7]{17}", created["PolicyId"])
    assert created["Arn"] == f"arn:aws:iam::{server.account_id}:policy/team/{name}"
    assert created["Path"] == "/team/" and created["PolicyName"] == name
    assert created["DefaultVersionId"] == "v1"
    assert created["AttachmentCount"] == 0 and created["PermissionsBoundaryUsageCount"] == 0
    assert created["IsAttachable"] is True
    assert created["CreateDate"] == created["UpdateDate"]
    assert abs((datetime.now(UTC) - created["CreateDate"]).total_seconds()) < 120
    assert created["Tags"] == [{"Key": "owner", "Value": "ops"}]

    fetched = iam.get_policy(PolicyArn=created["Arn"])["Policy"]
    assert fetched["PolicyId"] == created["PolicyId"]
    assert fetched["Description"] == "reads objects"
    assert fetched["Tags"] == [{"Key": "owner", "Value": "ops"}]

    iam.delete_policy(PolicyArn=created["Arn"])
    with pytest.raises(ClientError) as excinfo:
        iam.get_policy(PolicyArn=created["Arn"])
    assert error(excinfo) == ("NoSuchEntity", f"Policy {created['Arn']} was not found.")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_policy_names_are_unique_regardless_of_case(iam):
    name = unique("Dup")
    create(iam, name)
    with pytest.raises(ClientError) as excinfo:
        create(iam, name.upper(), Path="/elsewhere/")
    assert error(excinfo) == (
        "EntityAlreadyExists",
        f"A policy called {name.upper()} already exists. Duplicate names are not allowed.",
    )


def test_malformed_and_oversized_documents_are_refused(iam):
    with pytest.raises(ClientError) as excinfo:
        iam.create_policy(PolicyName=unique("bad"), PolicyDocument='{"Statement": [')
    assert error(excinfo)[0] == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as excinfo:
        iam.create_policy(
            PolicyName=unique("bad"),
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}),
        )
    assert error(excinfo)[0] == "MalformedPolicyDocument"
    big = document(action=[f"s3:GetObject{i:05d}" for i in range(400)])
    with pytest.raises(ClientError) as excinfo:
        iam.create_policy(PolicyName=unique("big"), PolicyDocument=json.dumps(big))
    assert error(excinfo) == ("LimitExceeded", "Cannot exceed quota for PolicySize: 6144")


def test_get_policy_of_an_aws_managed_policy(iam):
    policy = iam.get_policy(PolicyArn=READ_ONLY)["Policy"]
    assert policy["PolicyName"] == "IAMReadOnlyAccess" and policy["Path"] == "/"
    assert policy["DefaultVersionId"] == "v4"
    assert policy["PolicyId"].startswith("ANPA")
    assert policy["CreateDate"] == datetime(2015, 2, 6, 18, 40, 39, tzinfo=UTC)
    assert policy["UpdateDate"] == datetime(2018, 1, 25, 19, 11, 27, tzinfo=UTC)
    assert policy["IsAttachable"] is True
    with pytest.raises(ClientError) as excinfo:
        iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/NoSuchManagedPolicyAnywhere")
    assert error(excinfo)[0] == "NoSuchEntity"
    for malformed in ("not-an-arn-of-any-kind", "arn:aws:iam::123456789012:user/someone"):
        with pytest.raises(ClientError) as excinfo:
            iam.get_policy(PolicyArn=malformed)
        assert error(excinfo) == ("InvalidInput", f"ARN {malformed} is not valid.")


def test_list_policies_by_scope_path_and_marker(iam):
    path = f"/{unique('list')}/"
    names = sorted((unique(f"p{i}") for i in range(5)), key=str.lower)
    for name in names:
        create(iam, name, Path=path)
    local = iam.list_policies(Scope="Local", PathPrefix=path)["Policies"]
    assert [p["PolicyName"] for p in local] == names
    assert all("Description" not in p and "Tags" not in p for p in local)

    seen, marker = [], None
    while True:
        page = iam.list_policies(
            Scope="Local", PathPrefix=path, MaxItems=2, **({"Marker": marker} if marker else {})
        )
        seen += [p["PolicyName"] for p in page["Policies"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert seen == names

    aws = iam.list_policies(Scope="AWS", MaxItems=1000)
    assert all(p["Arn"].startswith("arn:aws:iam::aws:policy/") for p in aws["Policies"])
    assert aws["IsTruncated"] is True  # the catalogue has more than a thousand
    every = [
        p
        for page in iam.get_paginator("list_policies").paginate(
            Scope="All", PaginationConfig={"PageSize": 1000}
        )
        for p in page["Policies"]
    ]
    arns = [p["Arn"] for p in every]
    assert READ_ONLY in arns and len(arns) == len(set(arns))
    assert any(p["PolicyName"] == names[0] for p in every)
    keys = [p["PolicyName"].lower() for p in every]
    assert keys == sorted(keys)  # AWS-managed and the account's own, merged by name
    with pytest.raises(ClientError) as excinfo:
        iam.list_policies(Scope="Everything")
    assert error(excinfo)[0] == "ValidationError"


def test_only_attached_and_usage_filter(iam):
    path = f"/{unique('used')}/"
    attached = create(iam, Path=path)
    boundary = create(iam, Path=path)
    create(iam, Path=path)  # neither
    user = unique("holder")
    iam.create_user(UserName=user, PermissionsBoundary=boundary["Arn"])
    iam.attach_user_policy(UserName=user, PolicyArn=attached["Arn"])

    def listed(**kw):
        return [p["Arn"] for p in iam.list_policies(Scope="Local", PathPrefix=path, **kw)["Policies"]]

    assert len(listed()) == 3
    assert listed(OnlyAttached=True) == [attached["Arn"]]
    assert listed(OnlyAttached=True, PolicyUsageFilter="PermissionsPolicy") == [attached["Arn"]]
    assert listed(OnlyAttached=True, PolicyUsageFilter="PermissionsBoundary") == [boundary["Arn"]]
    assert iam.get_policy(PolicyArn=boundary["Arn"])["Policy"]["PermissionsBoundaryUsageCount"] == 1
    assert iam.get_policy(PolicyArn=attached["Arn"])["Policy"]["AttachmentCount"] == 1


def test_delete_policy_conflicts(iam):
    policy = create(iam)
    user = unique("att")
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=policy["Arn"])
    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy(PolicyArn=policy["Arn"])
    assert error(excinfo) == ("DeleteConflict", "Cannot delete a policy attached to entities.")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    iam.detach_user_policy(UserName=user, PolicyArn=policy["Arn"])

    iam.create_policy_version(PolicyArn=policy["Arn"], PolicyDocument=json.dumps(document("s3:PutObject")))
    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy(PolicyArn=policy["Arn"])
    assert error(excinfo) == (
        "DeleteConflict",
        "This policy has more than one version. Before you delete a policy, you must delete the policy's "
        "versions. The default version is deleted with the policy.",
    )
    iam.delete_policy_version(PolicyArn=policy["Arn"], VersionId="v2")

    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=policy["Arn"])
    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy(PolicyArn=policy["Arn"])
    assert error(excinfo)[0] == "DeleteConflict"
    iam.delete_user_permissions_boundary(UserName=user)
    iam.delete_policy(PolicyArn=policy["Arn"])
    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy(PolicyArn=policy["Arn"])
    assert error(excinfo)[0] == "NoSuchEntity"


def test_policy_versions_up_to_five(iam):
    policy = create(iam)
    arn = policy["Arn"]
    made = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document("s3:PutObject")))
    assert made["PolicyVersion"]["VersionId"] == "v2"
    assert made["PolicyVersion"]["IsDefaultVersion"] is False
    assert "Document" not in made["PolicyVersion"]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"
    for number in (3, 4, 5):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document(f"s3:Get{number}")))
    with pytest.raises(ClientError) as excinfo:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document()))
    assert error(excinfo) == (
        "LimitExceeded",
        "A managed policy can have up to 5 versions. Before you create a new version, you must delete an "
        "existing version.",
    )
    iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    made = iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=json.dumps(document("s3:*")), SetAsDefault=True
    )
    assert made["PolicyVersion"] == {**made["PolicyVersion"], "VersionId": "v6", "IsDefaultVersion": True}
    fetched = iam.get_policy(PolicyArn=arn)["Policy"]
    assert fetched["DefaultVersionId"] == "v6"
    assert fetched["UpdateDate"] >= fetched["CreateDate"]

    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v6", "v5", "v4", "v3", "v1"]
    assert [v["IsDefaultVersion"] for v in versions] == [True, False, False, False, False]
    assert all("Document" not in v for v in versions)
    first = iam.list_policy_versions(PolicyArn=arn, MaxItems=2)
    assert first["IsTruncated"] is True and [v["VersionId"] for v in first["Versions"]] == ["v6", "v5"]
    rest = iam.list_policy_versions(PolicyArn=arn, Marker=first["Marker"])
    assert [v["VersionId"] for v in rest["Versions"]] == ["v4", "v3", "v1"] and rest["IsTruncated"] is False

    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v6")
    assert error(excinfo) == ("DeleteConflict", "Cannot delete the default version of a policy.")
    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    assert error(excinfo) == ("NoSuchEntity", f"Policy {arn} version v2 does not exist or is not deletable.")
    with pytest.raises(ClientError) as excinfo:
        iam.list_policy_versions(PolicyArn=arn + "-gone")
    assert error(excinfo) == ("NoSuchEntity", f"Policy {arn}-gone was not found.")


def test_get_policy_version_returns_the_document_url_encoded(iam):
    policy = create(iam)
    wanted = document("iam:Get*", "arn:aws:iam::*:user/${aws:username}")
    iam.create_policy_version(PolicyArn=policy["Arn"], PolicyDocument=json.dumps(wanted))
    bodies = raw_bodies(iam, "GetPolicyVersion")
    version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId="v2")["PolicyVersion"]
    assert version["Document"] == wanted  # boto3 URL-decodes and parses it
    assert version["VersionId"] == "v2" and version["IsDefaultVersion"] is False
    encoded = re.search(rb"<Document>([^<]*)</Document>", bodies[-1]).group(1).decode()
    assert encoded.startswith("%7B%22Version%22%3A") and '"' not in encoded
    assert json.loads(unquote(encoded)) == wanted
    with pytest.raises(ClientError) as excinfo:
        iam.get_policy_version(PolicyArn=policy["Arn"], VersionId="v9")
    assert error(excinfo)[0] == "NoSuchEntity"


def test_set_default_policy_version(iam):
    policy = create(iam)
    arn = policy["Arn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document("s3:PutObject")))
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v2")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    assert iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["IsDefaultVersion"] is False
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")  # no longer the default
    with pytest.raises(ClientError) as excinfo:
        iam.set_default_policy_version(PolicyArn=arn, VersionId="v7")
    assert error(excinfo)[0] == "NoSuchEntity"


def test_aws_managed_policy_versions(iam):
    version = iam.get_policy_version(PolicyArn=READ_ONLY, VersionId="v4")["PolicyVersion"]
    assert version["IsDefaultVersion"] is True
    assert "iam:List*" in version["Document"]["Statement"][0]["Action"]
    assert version["CreateDate"] == datetime(2018, 1, 25, 19, 11, 27, tzinfo=UTC)
    listed = iam.list_policy_versions(PolicyArn=READ_ONLY)["Versions"]
    assert [v["VersionId"] for v in listed] == ["v4"]
    with pytest.raises(ClientError) as excinfo:
        iam.create_policy_version(PolicyArn=READ_ONLY, PolicyDocument=json.dumps(document()))
    assert error(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.delete_policy(PolicyArn=READ_ONLY)
    assert error(excinfo)[0] == "NoSuchEntity"


def test_policy_tags(iam):
    policy = create(iam)
    arn = policy["Arn"]
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "A", "Value": "1"}])
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "a", "Value": "one"}])  # same key regardless of case
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [
        {"Key": "a", "Value": "one"},
        {"Key": "b", "Value": "2"},
    ]
    page = iam.list_policy_tags(PolicyArn=arn, MaxItems=1)
    assert page["IsTruncated"] is True and len(page["Tags"]) == 1
    iam.untag_policy(PolicyArn=arn, TagKeys=["A"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    missing = arn + "-gone"
    for call in (
        lambda: iam.tag_policy(PolicyArn=missing, Tags=[{"Key": "k", "Value": "v"}]),
        lambda: iam.untag_policy(PolicyArn=missing, TagKeys=["k"]),
        lambda: iam.list_policy_tags(PolicyArn=missing),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.tag_policy(PolicyArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error(excinfo)[0] == "LimitExceeded"


def test_policies_through_the_aws_cli(server):
    name = unique("cli")
    made = server.aws(
        "iam", "create-policy", "--policy-name", name, "--policy-document", json.dumps(document())
    )
    assert made.returncode == 0, made.stderr
    arn = json.loads(made.stdout)["Policy"]["Arn"]
    got = server.aws("iam", "get-policy-version", "--policy-arn", arn, "--version-id", "v1")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["PolicyVersion"]["Document"] == document()
    again = server.aws(
        "iam", "create-policy", "--policy-name", name, "--policy-document", json.dumps(document())
    )
    assert again.returncode != 0 and "EntityAlreadyExists" in again.stderr


# -- untrusted documents: any text gets an answer in AWS's words, never a server failure -----------

_values = st.sampled_from(
    ["*", "s3:GetObject", "iam:*", "arn:aws:s3:::b/*", "", "Allow", "Deny", "${aws:username}"]
)
_statements = st.fixed_dictionaries(
    {},
    optional={
        "Sid": st.text(max_size=8),
        "Effect": st.sampled_from(["Allow", "Deny", "allow", "Maybe", 1]),
        "Action": st.one_of(_values, st.lists(_values, max_size=3), st.integers()),
        "NotAction": _values,
        "Resource": st.one_of(_values, st.lists(_values, max_size=3)),
        "Principal": st.one_of(_values, st.fixed_dictionaries({"AWS": _values})),
        "Condition": st.dictionaries(
            st.sampled_from(["StringEquals", "Bogus", "ArnLike"]),
            st.dictionaries(st.sampled_from(["aws:username", "s3:prefix", "x"]), _values, max_size=2),
            max_size=2,
        ),
    },
)
_documents = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "Version": st.sampled_from(["2012-10-17", "2008-10-17", "2020-01-01"]),
            "Statement": st.one_of(_statements, st.lists(_statements, max_size=3)),
            "Id": st.text(max_size=5),
        },
    ).map(json.dumps),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), min_size=1, max_size=60),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_documents)
def test_any_document_is_accepted_or_refused_in_aws_words(iam, text):
    user = "hypothesis-policy-writer"
    try:
        iam.create_user(UserName=user)
    except ClientError:
        pass  # made by an earlier example
    outcomes = []
    for call in (
        lambda: iam.create_policy(PolicyName=unique("hyp"), PolicyDocument=text),
        lambda: iam.put_user_policy(UserName=user, PolicyName="hyp", PolicyDocument=text),
    ):
        try:
            call()
            outcomes.append("ok")
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            assert code in ("MalformedPolicyDocument", "LimitExceeded", "ValidationError"), exc.response[
                "Error"
            ]
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 409)
            outcomes.append(code)
    assert outcomes[0] == outcomes[1]  # one grammar for managed and inline identity policies


def test_concurrent_versions_and_names(iam, server):
    from concurrent.futures import ThreadPoolExecutor

    arn = create(iam)["Arn"]
    name = unique("same")

    def outcome(call) -> str:
        try:
            call(server.client("iam"))
            return "ok"
        except ClientError as exc:
            return exc.response["Error"]["Code"]

    version = lambda c: c.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document()))  # noqa: E731
    named = lambda c: c.create_policy(PolicyName=name, PolicyDocument=json.dumps(document()))  # noqa: E731
    with ThreadPoolExecutor(max_workers=6) as pool:
        versions = list(pool.map(outcome, [version] * 6))
        names = list(pool.map(outcome, [named] * 4))
    assert versions.count("ok") == 4 and versions.count("LimitExceeded") == 2
    listed = [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]]
    assert sorted(listed) == ["v1", "v2", "v3", "v4", "v5"]
    assert names.count("ok") == 1 and names.count("EntityAlreadyExists") == 3
