"""SSH public keys through boto3 and the AWS CLI against the real server, on SQLite and PostgreSQL:
both encodings in and out, one fingerprint per key, AWS's errors and the per-user quota."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa

from auth.test_ssh_keys import RSA_1024, openssh, pkcs1_pem, reference_fingerprint, spki_pem
from iam_helpers import error_of, unique

KEYS = [rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key() for _ in range(6)]


def own_client(server, iam, actions: list[str]):
    """A new user allowed ``actions`` on itself only, and a client signing with its own key."""
    name = unique("self")
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": "arn:aws:iam::*:user/${aws:username}"}
        ],
    }
    iam.put_user_policy(UserName=name, PolicyName="self", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, server.client(key=key["AccessKeyId"], secret=key["SecretAccessKey"])


@pytest.fixture()
def user(iam) -> str:
    name = unique("sshuser")
    iam.create_user(UserName=name)
    return name


def test_upload_returns_the_key_with_its_md5_fingerprint(iam, user) -> None:
    body = openssh(KEYS[0], "alice@laptop")
    key = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=body)["SSHPublicKey"]
    assert re.fullmatch(r"APKA[A-Z2-7]{16}", key["SSHPublicKeyId"])
    assert key["UserName"] == user
    assert key["Fingerprint"] == reference_fingerprint(KEYS[0])
    assert key["SSHPublicKeyBody"] == body
    assert key["Status"] == "Active"
    assert key["UploadDate"].tzinfo is not None


def test_the_same_key_in_another_encoding_is_a_duplicate(iam, user) -> None:
    iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=openssh(KEYS[1]))
    for body in (spki_pem(KEYS[1]), pkcs1_pem(KEYS[1])):
        with pytest.raises(ClientError) as excinfo:
            iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=body)
        assert error_of(excinfo)[0] == "DuplicateSSHPublicKey"
    # another user may hold the same key
    other = unique("sshuser")
    iam.create_user(UserName=other)
    iam.upload_ssh_public_key(UserName=other, SSHPublicKeyBody=spki_pem(KEYS[1]))


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not a key at all", "UnrecognizedPublicKeyEncoding"),
        (openssh(RSA_1024), "InvalidPublicKey"),
        ("ssh-rsa AAAAB3NzaC1yc2E= x", "InvalidPublicKey"),
    ],
    ids=["text", "short", "truncated"],
)
def test_upload_refuses_what_is_not_a_usable_rsa_key(iam, user, body: str, code: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=body)
    assert error_of(excinfo)[0] == code
    assert iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"] == []


def test_upload_for_a_missing_user(iam) -> None:
    missing = unique("nobody")
    with pytest.raises(ClientError) as excinfo:
        iam.upload_ssh_public_key(UserName=missing, SSHPublicKeyBody=openssh(KEYS[0]))
    assert error_of(excinfo) == ("NoSuchEntity", f"The user with name {missing} cannot be found.")


def test_five_keys_per_user(iam, user) -> None:
    for key in KEYS[:5]:
        iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=openssh(key))
    with pytest.raises(ClientError) as excinfo:
        iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=openssh(KEYS[5]))
    assert error_of(excinfo) == ("LimitExceeded", "Cannot exceed quota for SSHPublicKeysPerUser: 5")


def test_get_in_either_encoding(iam, user) -> None:
    key_id = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=pkcs1_pem(KEYS[2]))["SSHPublicKey"][
        "SSHPublicKeyId"
    ]
    ssh = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Encoding="SSH")["SSHPublicKey"]
    pem = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Encoding="PEM")["SSHPublicKey"]
    assert ssh["SSHPublicKeyBody"] == openssh(KEYS[2])
    assert pem["SSHPublicKeyBody"].strip() == spki_pem(KEYS[2]).strip()
    for got in (ssh, pem):
        assert got["Fingerprint"] == reference_fingerprint(KEYS[2])
        assert (got["UserName"], got["SSHPublicKeyId"], got["Status"]) == (user, key_id, "Active")


def test_get_unknown_key_or_bad_encoding(iam, user) -> None:
    with pytest.raises(ClientError) as excinfo:
        iam.get_ssh_public_key(UserName=user, SSHPublicKeyId="APKAAAAAAAAAAAAAAAAA", Encoding="SSH")
    assert error_of(excinfo) == (
        "NoSuchEntity",
        "The Public Key with id APKAAAAAAAAAAAAAAAAA cannot be found.",
    )
    key_id = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=openssh(KEYS[3]))["SSHPublicKey"][
        "SSHPublicKeyId"
    ]
    other = unique("sshuser")
    iam.create_user(UserName=other)
    with pytest.raises(ClientError) as excinfo:  # a key is found only under its own user
        iam.get_ssh_public_key(UserName=other, SSHPublicKeyId=key_id, Encoding="SSH")
    assert error_of(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Encoding="DER")
    assert error_of(excinfo)[0] == "ValidationError"


def test_list_pages_and_lists_the_callers_own_keys(server, iam) -> None:
    name, client = own_client(server, iam, ["iam:UploadSSHPublicKey", "iam:ListSSHPublicKeys"])
    ids = [
        client.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=openssh(key))["SSHPublicKey"][
            "SSHPublicKeyId"
        ]
        for key in KEYS[:3]
    ]
    own = client.list_ssh_public_keys()["SSHPublicKeys"]
    assert [key["SSHPublicKeyId"] for key in own] == ids
    assert set(own[0]) == {"UserName", "SSHPublicKeyId", "Status", "UploadDate"}
    first = iam.list_ssh_public_keys(UserName=name, MaxItems=2)
    assert first["IsTruncated"] is True
    rest = iam.list_ssh_public_keys(UserName=name, Marker=first["Marker"])
    assert rest["IsTruncated"] is False
    assert [key["SSHPublicKeyId"] for key in first["SSHPublicKeys"] + rest["SSHPublicKeys"]] == ids
    with pytest.raises(ClientError) as excinfo:  # root is no IAM user: it must name one
        iam.list_ssh_public_keys()
    assert error_of(excinfo)[0] == "InvalidInput"
    with pytest.raises(ClientError) as excinfo:
        iam.list_ssh_public_keys(UserName=unique("nobody"))
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_update_status(iam, user) -> None:
    key_id = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=openssh(KEYS[4]))["SSHPublicKey"][
        "SSHPublicKeyId"
    ]
    iam.update_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Status="Inactive")
    assert iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"][0]["Status"] == "Inactive"
    got = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Encoding="SSH")["SSHPublicKey"]
    assert got["Status"] == "Inactive"
    iam.update_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Status="Active")
    assert iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"][0]["Status"] == "Active"
    with pytest.raises(ClientError) as excinfo:
        iam.update_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Status="Expired")
    assert error_of(excinfo)[0] == "InvalidInput"
    with pytest.raises(ClientError) as excinfo:
        iam.update_ssh_public_key(UserName=user, SSHPublicKeyId="APKAAAAAAAAAAAAAAAAB", Status="Inactive")
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_delete_and_delete_user_conflict(iam, user) -> None:
    key_id = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=openssh(KEYS[5]))["SSHPublicKey"][
        "SSHPublicKeyId"
    ]
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName=user)
    assert error_of(excinfo) == ("DeleteConflict", "Cannot delete entity, must delete SSH public keys first.")
    iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=key_id)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=key_id)
    assert error_of(excinfo)[0] == "NoSuchEntity"
    assert iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"] == []
    iam.delete_user(UserName=user)


def test_through_the_aws_cli(server, iam, user) -> None:
    result = server.aws(
        "iam", "upload-ssh-public-key", "--user-name", user, "--ssh-public-key-body", openssh(KEYS[0])
    )
    assert result.returncode == 0, result.stderr
    key = json.loads(result.stdout)["SSHPublicKey"]
    assert key["Fingerprint"] == reference_fingerprint(KEYS[0])
    result = server.aws(
        "iam", "get-ssh-public-key", "--user-name", user, "--ssh-public-key-id", key["SSHPublicKeyId"],
        "--encoding", "PEM",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "BEGIN PUBLIC KEY" in json.loads(result.stdout)["SSHPublicKey"]["SSHPublicKeyBody"]
