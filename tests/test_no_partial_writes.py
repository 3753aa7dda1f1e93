"""A call that fails leaves nothing behind; concurrent creates of one name make exactly one entity.

Operations that write several rows (the entity, its tags, its first policy version, its
membership, its sealed key, ...) run in one transaction: when any part is refused, the entity
does not exist afterwards (its Get says NoSuchEntity, its listing does not show it) and the same
call with correct input then succeeds. On SQLite and PostgreSQL, through boto3.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ec

from auth.test_x509 import key_pem, make_cert, pem

POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
BAD_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": 5}]})
GOOD_TAGS = [{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": "test"}]
DUPLICATE_TAGS = [*GOOD_TAGS, {"Key": "Team", "Value": "red"}]  # keys are unique regardless of case
TOO_MANY_TAGS = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
LEAF_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def code_of(call: Callable[..., Any], **params: Any) -> str:
    with pytest.raises(ClientError) as excinfo:
        call(**params)
    return str(excinfo.value.response["Error"]["Code"])


def by_key(tags: list[dict[str, str]]) -> list[dict[str, str]]:
    return sorted(tags, key=lambda tag: tag["Key"])


def assert_gone(get: Callable[..., Any], **params: Any) -> None:
    assert code_of(get, **params) == "NoSuchEntity"


# --------------------------------------------------------------------------------------------
# One entity and its parts


@pytest.mark.parametrize(
    ("tags", "code"), [(DUPLICATE_TAGS, "InvalidInput"), (TOO_MANY_TAGS, "ValidationError")]
)
def test_create_user_with_bad_tags(iam, tags, code) -> None:
    name, path = unique("nopart"), f"/{unique('p')}/"
    assert code_of(iam.create_user, UserName=name, Path=path, Tags=tags) == code
    assert_gone(iam.get_user, UserName=name)
    assert iam.list_users(PathPrefix=path)["Users"] == []
    assert code_of(iam.list_user_tags, UserName=name) == "NoSuchEntity"
    created = iam.create_user(UserName=name, Path=path, Tags=GOOD_TAGS)["User"]
    assert by_key(created["Tags"]) == by_key(GOOD_TAGS)
    assert by_key(iam.list_user_tags(UserName=name)["Tags"]) == by_key(GOOD_TAGS)


def test_create_user_with_a_missing_permissions_boundary(iam, server) -> None:
    name = unique("nopart")
    missing = f"arn:aws:iam::{server.account_id}:policy/{unique('absent')}"
    assert (
        code_of(iam.create_user, UserName=name, PermissionsBoundary=missing, Tags=GOOD_TAGS) == "NoSuchEntity"
    )
    assert_gone(iam.get_user, UserName=name)
    iam.create_user(UserName=name, Tags=GOOD_TAGS)


def test_create_policy_with_a_bad_document(iam) -> None:
    name, path = unique("nopart"), f"/{unique('p')}/"
    assert (
        code_of(iam.create_policy, PolicyName=name, Path=path, PolicyDocument=BAD_POLICY, Tags=GOOD_TAGS)
        == "MalformedPolicyDocument"
    )
    assert iam.list_policies(Scope="Local", PathPrefix=path)["Policies"] == []
    arn = iam.create_policy(PolicyName=name, Path=path, PolicyDocument=POLICY, Tags=GOOD_TAGS)["Policy"][
        "Arn"
    ]
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]] == ["v1"]
    assert by_key(iam.list_policy_tags(PolicyArn=arn)["Tags"]) == by_key(GOOD_TAGS)


def test_create_policy_with_bad_tags(iam, server) -> None:
    name, path = unique("nopart"), f"/{unique('p')}/"
    params = {"PolicyName": name, "Path": path, "PolicyDocument": POLICY}
    assert code_of(iam.create_policy, **params, Tags=DUPLICATE_TAGS) == "InvalidInput"
    arn = f"arn:aws:iam::{server.account_id}:policy{path}{name}"
    assert_gone(iam.get_policy, PolicyArn=arn)
    assert code_of(iam.list_policy_versions, PolicyArn=arn) == "NoSuchEntity"
    assert iam.list_policies(Scope="Local", PathPrefix=path)["Policies"] == []
    assert iam.create_policy(**params, Tags=GOOD_TAGS)["Policy"]["Arn"] == arn


def test_create_policy_version_with_a_bad_document(iam) -> None:
    arn = iam.create_policy(PolicyName=unique("nopart"), PolicyDocument=POLICY)["Policy"]["Arn"]
    params = {"PolicyArn": arn, "PolicyDocument": BAD_POLICY, "SetAsDefault": True}
    assert code_of(iam.create_policy_version, **params) == "MalformedPolicyDocument"
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]] == ["v1"]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"
    assert_gone(iam.get_policy_version, PolicyArn=arn, VersionId="v2")
    version = iam.create_policy_version(PolicyArn=arn, PolicyDocument=POLICY, SetAsDefault=True)
    assert version["PolicyVersion"]["VersionId"] == "v2"


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"Tags": TOO_MANY_TAGS}, "ValidationError"),
        ({"Tags": DUPLICATE_TAGS}, "InvalidInput"),
        ({"AssumeRolePolicyDocument": BAD_POLICY}, "MalformedPolicyDocument"),
        ({"PermissionsBoundary": "arn:aws:iam::123456789012:policy/ikfuzz-absent"}, "NoSuchEntity"),
    ],
)
def test_create_role_refused(iam, extra, code) -> None:
    name, path = unique("nopart"), f"/{unique('p')}/"
    params = {"RoleName": name, "Path": path, "AssumeRolePolicyDocument": TRUST, "Tags": GOOD_TAGS}
    assert code_of(iam.create_role, **{**params, **extra}) == code
    assert_gone(iam.get_role, RoleName=name)
    assert iam.list_roles(PathPrefix=path)["Roles"] == []
    assert by_key(iam.create_role(**params)["Role"]["Tags"]) == by_key(GOOD_TAGS)


def test_create_instance_profile_with_bad_tags(iam) -> None:
    name, path = unique("nopart"), f"/{unique('p')}/"
    params = {"InstanceProfileName": name, "Path": path}
    assert code_of(iam.create_instance_profile, **params, Tags=DUPLICATE_TAGS) == "InvalidInput"
    assert_gone(iam.get_instance_profile, InstanceProfileName=name)
    assert iam.list_instance_profiles(PathPrefix=path)["InstanceProfiles"] == []
    iam.create_instance_profile(**params, Tags=GOOD_TAGS)
    assert by_key(iam.list_instance_profile_tags(InstanceProfileName=name)["Tags"]) == by_key(GOOD_TAGS)


def test_add_user_to_group_beyond_the_quota(iam) -> None:
    user = iam.create_user(UserName=unique("joiner"))["User"]["UserName"]
    groups = [iam.create_group(GroupName=unique("g"))["Group"]["GroupName"] for _ in range(11)]
    for group in groups[:10]:
        iam.add_user_to_group(GroupName=group, UserName=user)
    assert code_of(iam.add_user_to_group, GroupName=groups[10], UserName=user) == "LimitExceeded"
    assert sorted(g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]) == sorted(
        groups[:10]
    )
    assert iam.get_group(GroupName=groups[10])["Users"] == []
    iam.remove_user_from_group(GroupName=groups[0], UserName=user)
    iam.add_user_to_group(GroupName=groups[10], UserName=user)
    assert [u["UserName"] for u in iam.get_group(GroupName=groups[10])["Users"]] == [user]


def test_tag_user_with_one_bad_tag_adds_none(iam) -> None:
    name = iam.create_user(UserName=unique("tagged"), Tags=GOOD_TAGS)["User"]["UserName"]
    new = [{"Key": "owner", "Value": "me"}, {"Key": "OWNER", "Value": "you"}]
    assert code_of(iam.tag_user, UserName=name, Tags=new) == "InvalidInput"
    more = [{"Key": f"extra{i}", "Value": "v"} for i in range(49)]  # 2 + 49 > 50
    assert code_of(iam.tag_user, UserName=name, Tags=more) == "LimitExceeded"
    assert by_key(iam.list_user_tags(UserName=name)["Tags"]) == by_key(GOOD_TAGS)


def test_upload_server_certificate_with_a_mismatched_key(iam) -> None:
    name, path = unique("nopart"), f"/{unique('p')}/"
    body = pem(make_cert(LEAF_KEY, "www.example.com"))
    params = {"ServerCertificateName": name, "Path": path, "CertificateBody": body, "Tags": GOOD_TAGS}
    assert code_of(iam.upload_server_certificate, **params, PrivateKey=key_pem(OTHER_KEY)) in (
        "MalformedCertificate",
        "KeyPairMismatch",
    )
    assert_gone(iam.get_server_certificate, ServerCertificateName=name)
    assert iam.list_server_certificates(PathPrefix=path)["ServerCertificateMetadataList"] == []
    try:
        iam.upload_server_certificate(**params, PrivateKey=key_pem(LEAF_KEY))
        assert by_key(iam.list_server_certificate_tags(ServerCertificateName=name)["Tags"]) == by_key(
            GOOD_TAGS
        )
    finally:  # the account may hold 20: leave room for the other tests
        iam.delete_server_certificate(ServerCertificateName=name)


def _virtual_devices(iam, name: str) -> list[str]:
    pages = iam.get_paginator("list_virtual_mfa_devices").paginate()
    return [
        d["SerialNumber"] for p in pages for d in p["VirtualMFADevices"] if d["SerialNumber"].endswith(name)
    ]


def test_create_virtual_mfa_device_with_a_bad_tag(iam) -> None:
    name = unique("nopart")
    assert (
        code_of(iam.create_virtual_mfa_device, VirtualMFADeviceName=name, Tags=DUPLICATE_TAGS)
        == "InvalidInput"
    )
    assert _virtual_devices(iam, name) == []
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name, Tags=GOOD_TAGS)["VirtualMFADevice"]
    assert _virtual_devices(iam, name) == [serial["SerialNumber"]]
    assert by_key(iam.list_mfa_device_tags(SerialNumber=serial["SerialNumber"])["Tags"]) == by_key(GOOD_TAGS)


def test_virtual_mfa_device_whose_serial_number_would_be_too_long(iam) -> None:
    """SerialNumber takes at most 256 characters in every call: a longer one is refused up front."""
    name = "n" + uuid.uuid4().hex + "x" * 200  # arn:aws:iam::123456789012:mfa/ + 233 > 256
    assert code_of(iam.create_virtual_mfa_device, VirtualMFADeviceName=name) == "InvalidInput"
    path = "/" + "p" * 200 + "/"
    assert code_of(iam.create_virtual_mfa_device, VirtualMFADeviceName=name[:40], Path=path) == "InvalidInput"
    assert _virtual_devices(iam, name) == [] and _virtual_devices(iam, name[:40]) == []
    created = iam.create_virtual_mfa_device(VirtualMFADeviceName=name[:226])["VirtualMFADevice"]
    assert len(created["SerialNumber"]) == 256
    iam.delete_virtual_mfa_device(SerialNumber=created["SerialNumber"])


# --------------------------------------------------------------------------------------------
# Concurrent creates of one name


def _at_once(server, call: Callable[[Any, int], Any], threads: int = 10) -> list[str]:
    """``threads`` clients make ``call(client, index)`` at the same moment: the outcome of each,
    "ok" or the error code."""
    clients = [server.client("iam") for _ in range(threads)]
    barrier = threading.Barrier(threads)
    outcomes: list[str] = [""] * threads

    def run(index: int) -> None:
        barrier.wait()
        try:
            call(clients[index], index)
            outcomes[index] = "ok"
        except ClientError as error:
            outcomes[index] = str(error.response["Error"]["Code"])

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    return outcomes


# kind -> (create one named n with client c, its listing's operation, parameters, key and name field)
CREATES: dict[str, tuple[Callable[[Any, str], Any], str, dict[str, str], str, str]] = {
    "user": (lambda c, n: c.create_user(UserName=n, Tags=GOOD_TAGS), "list_users", {}, "Users", "UserName"),
    "role": (
        lambda c, n: c.create_role(RoleName=n, AssumeRolePolicyDocument=TRUST, Tags=GOOD_TAGS),
        "list_roles",
        {},
        "Roles",
        "RoleName",
    ),
    "group": (lambda c, n: c.create_group(GroupName=n), "list_groups", {}, "Groups", "GroupName"),
    "policy": (
        lambda c, n: c.create_policy(PolicyName=n, PolicyDocument=POLICY, Tags=GOOD_TAGS),
        "list_policies",
        {"Scope": "Local"},
        "Policies",
        "PolicyName",
    ),
}


@pytest.mark.parametrize("kind", sorted(CREATES))
def test_concurrent_creates_of_one_name(server, iam, kind) -> None:
    create, listing, params, plural, field = CREATES[kind]
    name = unique(f"race{kind}")
    # half of the callers spell the name in upper case: names are unique regardless of case
    outcomes = _at_once(server, lambda client, i: create(client, name.upper() if i % 2 else name))
    assert outcomes.count("ok") == 1, outcomes
    assert sorted(set(outcomes) - {"ok"}) == ["EntityAlreadyExists"], outcomes
    pages = iam.get_paginator(listing).paginate(**params)
    listed = [e[field] for page in pages for e in page[plural] if e[field].lower() == name.lower()]
    assert len(listed) == 1


def test_concurrent_joins_stop_at_the_group_quota(server, iam) -> None:
    """Eight groups, then six joins at once: two succeed, four hit the quota of ten, on both stores."""
    user = iam.create_user(UserName=unique("joiner"))["User"]["UserName"]
    groups = [iam.create_group(GroupName=unique("g"))["Group"]["GroupName"] for _ in range(14)]
    for group in groups[:8]:
        iam.add_user_to_group(GroupName=group, UserName=user)
    outcomes = _at_once(
        server, lambda client, i: client.add_user_to_group(GroupName=groups[8 + i], UserName=user), 6
    )
    assert sorted(outcomes) == ["LimitExceeded"] * 4 + ["ok"] * 2, outcomes
    assert len(iam.list_groups_for_user(UserName=user)["Groups"]) == 10


def test_concurrent_access_keys_stop_at_two(server, iam) -> None:
    user = iam.create_user(UserName=unique("keys"))["User"]["UserName"]
    outcomes = _at_once(server, lambda client, i: client.create_access_key(UserName=user), 6)
    assert sorted(outcomes) == ["LimitExceeded"] * 4 + ["ok"] * 2, outcomes
    assert len(iam.list_access_keys(UserName=user)["AccessKeyMetadata"]) == 2
