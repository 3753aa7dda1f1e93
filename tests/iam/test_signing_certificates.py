"""Signing certificates through boto3 and the AWS CLI against the real server, on SQLite and
PostgreSQL: users', the caller's own and the root user's; AWS's errors and the quota of two."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from auth.test_x509 import make_cert, pem
from iam.test_ssh_keys import error_of, own_client, unique

NOW = datetime.now(UTC)
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def certificate(cn: str | None = None, key=RSA_KEY, **validity) -> str:
    validity.setdefault("not_before", NOW - timedelta(days=1))
    validity.setdefault("not_after", NOW + timedelta(days=30))
    return pem(make_cert(key, cn or unique("cert"), **validity))


def certificate_id(body: str) -> str:
    """AWS's id: base32 of the SHA-1 of the DER (computed here from the PEM, not by the server)."""
    der = x509.load_pem_x509_certificate(body.encode()).public_bytes(serialization.Encoding.DER)
    return base64.b32encode(hashlib.sha1(der).digest()).decode()


@pytest.fixture()
def user(iam) -> str:
    name = unique("certuser")
    iam.create_user(UserName=name)
    return name


def test_upload_shape(iam, user) -> None:
    body = certificate()
    cert = iam.upload_signing_certificate(UserName=user, CertificateBody=body)["Certificate"]
    assert cert["UserName"] == user
    assert cert["CertificateId"] == certificate_id(body)
    assert cert["CertificateBody"].strip() == body.strip()
    assert cert["Status"] == "Active"
    assert cert["UploadDate"].tzinfo is not None
    ec_cert = iam.upload_signing_certificate(UserName=user, CertificateBody=certificate(key=EC_KEY))
    assert ec_cert["Certificate"]["Status"] == "Active"


def test_the_same_certificate_on_two_users_is_a_duplicate(iam, user) -> None:
    body = certificate()
    iam.upload_signing_certificate(UserName=user, CertificateBody=body)
    other = unique("certuser")
    iam.create_user(UserName=other)
    with pytest.raises(ClientError) as excinfo:
        iam.upload_signing_certificate(UserName=other, CertificateBody=body)
    assert error_of(excinfo)[0] == "DuplicateCertificate"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----", "MalformedCertificate"),
        (certificate(not_after=NOW - timedelta(hours=1)), "MalformedCertificate"),
        (certificate(not_before=NOW + timedelta(days=1)), "MalformedCertificate"),
        (certificate(key=ed25519.Ed25519PrivateKey.generate()), "InvalidCertificate"),
        (certificate(key=ec.generate_private_key(ec.SECP521R1())), "InvalidCertificate"),
    ],
    ids=["garbage", "expired", "not-yet-valid", "ed25519", "p521"],
)
def test_upload_refuses_bad_certificates(iam, user, body: str, code: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        iam.upload_signing_certificate(UserName=user, CertificateBody=body)
    assert error_of(excinfo)[0] == code
    assert iam.list_signing_certificates(UserName=user)["Certificates"] == []


def test_two_certificates_per_user(iam, user) -> None:
    for _ in range(2):
        iam.upload_signing_certificate(UserName=user, CertificateBody=certificate())
    with pytest.raises(ClientError) as excinfo:
        iam.upload_signing_certificate(UserName=user, CertificateBody=certificate())
    assert error_of(excinfo) == ("LimitExceeded", "Cannot exceed quota for SigningCertificatesPerUser: 2")


def test_missing_user(iam) -> None:
    missing = unique("nobody")
    with pytest.raises(ClientError) as excinfo:
        iam.upload_signing_certificate(UserName=missing, CertificateBody=certificate())
    assert error_of(excinfo) == ("NoSuchEntity", f"The user with name {missing} cannot be found.")
    with pytest.raises(ClientError) as excinfo:
        iam.list_signing_certificates(UserName=missing)
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_list_update_and_delete(iam, user) -> None:
    first = iam.upload_signing_certificate(UserName=user, CertificateBody=certificate())["Certificate"]
    second = iam.upload_signing_certificate(UserName=user, CertificateBody=certificate())["Certificate"]
    listed = iam.list_signing_certificates(UserName=user)
    assert [c["CertificateId"] for c in listed["Certificates"]] == [
        first["CertificateId"],
        second["CertificateId"],
    ]
    assert listed["Certificates"][0]["CertificateBody"] == first["CertificateBody"]
    page = iam.list_signing_certificates(UserName=user, MaxItems=1)
    assert page["IsTruncated"] is True
    rest = iam.list_signing_certificates(UserName=user, Marker=page["Marker"])
    assert [c["CertificateId"] for c in rest["Certificates"]] == [second["CertificateId"]]

    iam.update_signing_certificate(UserName=user, CertificateId=first["CertificateId"], Status="Inactive")
    statuses = {
        c["CertificateId"]: c["Status"] for c in iam.list_signing_certificates(UserName=user)["Certificates"]
    }
    assert statuses == {first["CertificateId"]: "Inactive", second["CertificateId"]: "Active"}
    with pytest.raises(ClientError) as excinfo:
        iam.update_signing_certificate(UserName=user, CertificateId=first["CertificateId"], Status="Expired")
    assert error_of(excinfo)[0] == "InvalidInput"

    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName=user)
    assert error_of(excinfo) == (
        "DeleteConflict",
        "Cannot delete entity, must delete signing certificates first.",
    )
    for cert in (first, second):
        iam.delete_signing_certificate(UserName=user, CertificateId=cert["CertificateId"])
    with pytest.raises(ClientError) as excinfo:
        iam.delete_signing_certificate(UserName=user, CertificateId=first["CertificateId"])
    assert error_of(excinfo) == (
        "NoSuchEntity",
        f"The Certificate with id {first['CertificateId']} cannot be found.",
    )
    with pytest.raises(ClientError) as excinfo:
        iam.update_signing_certificate(UserName=user, CertificateId=first["CertificateId"], Status="Active")
    assert error_of(excinfo)[0] == "NoSuchEntity"
    iam.delete_user(UserName=user)


def test_the_callers_own_certificates(server, iam) -> None:
    actions = ["iam:UploadSigningCertificate", "iam:ListSigningCertificates", "iam:DeleteSigningCertificate"]
    name, client = own_client(server, iam, actions)
    cert = client.upload_signing_certificate(CertificateBody=certificate())["Certificate"]
    assert cert["UserName"] == name
    assert [c["CertificateId"] for c in iam.list_signing_certificates(UserName=name)["Certificates"]] == [
        cert["CertificateId"]
    ]
    assert client.list_signing_certificates()["Certificates"][0]["CertificateId"] == cert["CertificateId"]
    client.delete_signing_certificate(CertificateId=cert["CertificateId"])
    assert client.list_signing_certificates()["Certificates"] == []


def test_root_without_user_name_manages_its_own(iam) -> None:
    cert = iam.upload_signing_certificate(CertificateBody=certificate())["Certificate"]
    try:
        assert "UserName" not in cert
        mine = [c["CertificateId"] for c in iam.list_signing_certificates()["Certificates"]]
        assert cert["CertificateId"] in mine
        iam.update_signing_certificate(CertificateId=cert["CertificateId"], Status="Inactive")
        statuses = {c["CertificateId"]: c["Status"] for c in iam.list_signing_certificates()["Certificates"]}
        assert statuses[cert["CertificateId"]] == "Inactive"
    finally:
        iam.delete_signing_certificate(CertificateId=cert["CertificateId"])
    assert cert["CertificateId"] not in [
        c["CertificateId"] for c in iam.list_signing_certificates()["Certificates"]
    ]


def test_through_the_aws_cli(server, user) -> None:
    body = certificate()
    result = server.aws("iam", "upload-signing-certificate", "--user-name", user, "--certificate-body", body)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Certificate"]["CertificateId"] == certificate_id(body)
    result = server.aws("iam", "list-signing-certificates", "--user-name", user)
    assert result.returncode == 0, result.stderr
    assert [c["CertificateId"] for c in json.loads(result.stdout)["Certificates"]] == [certificate_id(body)]
