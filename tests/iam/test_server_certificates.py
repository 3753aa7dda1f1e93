"""Server certificates through boto3 and the AWS CLI against the real server, on SQLite and
PostgreSQL: certificate, private key and chain checked together; the private key never comes back
(not in any response, not in the server's log); names, paths, tags, renames and the quota."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import select

from auth.test_x509 import key_pem, make_cert, pem
from iam.test_credential_report import _root_context
from iam.test_ssh_keys import error_of, unique
from ironkeep.auth.errors import SealedSecretError
from ironkeep.services import iam_server_certificates as isc
from ironkeep.store import schema

NOW = datetime.now(UTC).replace(microsecond=0)
LEAF_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CA_KEY = ec.generate_private_key(ec.SECP384R1())
CA = make_cert(
    CA_KEY, "Test Root CA", not_before=NOW - timedelta(days=10), not_after=NOW + timedelta(days=900), ca=True
)
EXPIRES = NOW + timedelta(days=90)


def leaf(cn: str = "www.example.com", **validity) -> str:
    validity.setdefault("not_before", NOW - timedelta(days=1))
    validity.setdefault("not_after", EXPIRES)
    return pem(make_cert(LEAF_KEY, cn, issuer_key=CA_KEY, issuer_cn="Test Root CA", **validity))


PRIVATE_KEY = key_pem(LEAF_KEY)
# a line from the middle of the key's base64: what would show if any of it leaked
KEY_MARKERS = [line for line in PRIVATE_KEY.splitlines() if not line.startswith("-----")][3:6]


def upload(iam, name: str | None = None, **extra) -> dict:
    params = {
        "ServerCertificateName": name or unique("cert"),
        "CertificateBody": leaf(),
        "PrivateKey": PRIVATE_KEY,
        "CertificateChain": pem(CA),
        **extra,
    }
    return iam.upload_server_certificate(**params)


class RawBodies:
    """Every response body the client receives, as the server sent it."""

    def __init__(self, client) -> None:
        self.bodies: list[str] = []
        client.meta.events.register("after-call.iam", self._record)

    def _record(self, http_response, **_) -> None:
        self.bodies.append(http_response.text)


def assert_no_private_key(text: str) -> None:
    assert "PRIVATE KEY" not in text
    for marker in KEY_MARKERS:
        assert marker not in text


def test_upload_shape_and_the_private_key_never_returned(server, iam) -> None:
    raw = RawBodies(iam)
    name = unique("web")
    out = upload(iam, name, Path="/cloudfront/test/", Tags=[{"Key": "team", "Value": "web"}])
    meta = out["ServerCertificateMetadata"]
    assert re.fullmatch(r"ASCA[A-Z2-7]{17}", meta["ServerCertificateId"])
    assert meta["ServerCertificateName"] == name
    assert meta["Path"] == "/cloudfront/test/"
    assert meta["Arn"] == f"arn:aws:iam::{server.account_id}:server-certificate/cloudfront/test/{name}"
    assert meta["Expiration"] == EXPIRES
    assert meta["UploadDate"].tzinfo is not None
    assert out["Tags"] == [{"Key": "team", "Value": "web"}]

    got = iam.get_server_certificate(ServerCertificateName=name)["ServerCertificate"]
    assert got["ServerCertificateMetadata"] == meta
    assert got["CertificateChain"].strip() == pem(CA).strip()
    assert got["Tags"] == [{"Key": "team", "Value": "web"}]
    assert "PrivateKey" not in got
    iam.list_server_certificates(PathPrefix="/cloudfront/")
    assert len(raw.bodies) == 3
    for body in raw.bodies:
        assert_no_private_key(body)
    assert_no_private_key(server.log())
    iam.delete_server_certificate(ServerCertificateName=name)


def test_certificate_body_is_the_uploaded_certificate(iam) -> None:
    body = leaf("api.example.com")
    name = unique("api")
    iam.upload_server_certificate(ServerCertificateName=name, CertificateBody=body, PrivateKey=PRIVATE_KEY)
    got = iam.get_server_certificate(ServerCertificateName=name)["ServerCertificate"]
    assert got["CertificateBody"].strip() == body.strip()
    assert "CertificateChain" not in got
    assert "Tags" not in got
    iam.delete_server_certificate(ServerCertificateName=name)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"PrivateKey": key_pem(OTHER_KEY)}, "KeyPairMismatch"),
        (
            {"PrivateKey": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"},
            "MalformedCertificate",
        ),
        ({"CertificateBody": "not a certificate"}, "MalformedCertificate"),
        ({"CertificateBody": leaf(not_after=NOW - timedelta(days=1))}, "MalformedCertificate"),
        ({"CertificateChain": pem(make_cert(OTHER_KEY, "Someone Else"))}, "MalformedCertificate"),
    ],
    ids=["mismatch", "bad-key", "garbage", "expired", "chain"],
)
def test_upload_errors(iam, params: dict, code: str) -> None:
    name = unique("bad")
    with pytest.raises(ClientError) as excinfo:
        upload(iam, name, **params)
    assert error_of(excinfo)[0] == code
    with pytest.raises(ClientError) as excinfo:
        iam.get_server_certificate(ServerCertificateName=name)
    assert error_of(excinfo) == ("NoSuchEntity", f"The Server Certificate with name {name} cannot be found.")


def test_names_are_unique_regardless_of_case(iam) -> None:
    name = unique("Dup")
    upload(iam, name)
    with pytest.raises(ClientError) as excinfo:
        upload(iam, name.upper())
    assert error_of(excinfo)[0] == "EntityAlreadyExists"
    iam.delete_server_certificate(ServerCertificateName=name.lower())
    with pytest.raises(ClientError) as excinfo:
        iam.delete_server_certificate(ServerCertificateName=name)
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_list_by_path_prefix_and_pages(iam) -> None:
    prefix = f"/{unique('p')}/"
    names = sorted(unique("lst") for _ in range(3))
    for name in names:
        upload(iam, name, Path=prefix)
    listed = iam.list_server_certificates(PathPrefix=prefix)
    assert [m["ServerCertificateName"] for m in listed["ServerCertificateMetadataList"]] == names
    assert listed["IsTruncated"] is False
    page = iam.list_server_certificates(PathPrefix=prefix, MaxItems=2)
    assert page["IsTruncated"] is True
    rest = iam.list_server_certificates(PathPrefix=prefix, Marker=page["Marker"])
    got = page["ServerCertificateMetadataList"] + rest["ServerCertificateMetadataList"]
    assert [m["ServerCertificateName"] for m in got] == names
    assert names[0] in [
        m["ServerCertificateName"] for m in iam.list_server_certificates()["ServerCertificateMetadataList"]
    ]
    for name in names:
        iam.delete_server_certificate(ServerCertificateName=name)


def test_update_renames_and_moves(server, iam) -> None:
    name, new_name = unique("old"), unique("new")
    cert_id = upload(iam, name)["ServerCertificateMetadata"]["ServerCertificateId"]
    iam.update_server_certificate(
        ServerCertificateName=name, NewServerCertificateName=new_name, NewPath="/moved/"
    )
    meta = iam.get_server_certificate(ServerCertificateName=new_name)["ServerCertificate"][
        "ServerCertificateMetadata"
    ]
    assert (meta["ServerCertificateId"], meta["Path"]) == (cert_id, "/moved/")
    assert meta["Arn"] == f"arn:aws:iam::{server.account_id}:server-certificate/moved/{new_name}"
    with pytest.raises(ClientError) as excinfo:
        iam.get_server_certificate(ServerCertificateName=name)
    assert error_of(excinfo)[0] == "NoSuchEntity"
    other = unique("other")
    upload(iam, other)
    with pytest.raises(ClientError) as excinfo:
        iam.update_server_certificate(ServerCertificateName=new_name, NewServerCertificateName=other.upper())
    assert error_of(excinfo)[0] == "EntityAlreadyExists"
    with pytest.raises(ClientError) as excinfo:
        iam.update_server_certificate(ServerCertificateName=unique("missing"), NewPath="/x/")
    assert error_of(excinfo)[0] == "NoSuchEntity"
    for each in (new_name, other):
        iam.delete_server_certificate(ServerCertificateName=each)


def test_update_needs_permission_on_the_new_name_too(server, iam) -> None:
    name, new_name = unique("guarded"), unique("renamed")
    upload(iam, name)
    user = unique("renamer")
    iam.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:UpdateServerCertificate",
                "Resource": f"arn:aws:iam::{server.account_id}:server-certificate/{name}",
            }
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="old-name-only", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    client = server.client(key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    with pytest.raises(ClientError) as excinfo:
        client.update_server_certificate(ServerCertificateName=name, NewServerCertificateName=new_name)
    code, message = error_of(excinfo)
    assert code == "AccessDenied"
    assert f"server-certificate/{new_name}" in message
    assert iam.get_server_certificate(ServerCertificateName=name)["ServerCertificate"]
    iam.delete_server_certificate(ServerCertificateName=name)


def test_tags(iam) -> None:
    name = unique("tagged")
    upload(iam, name, Tags=[{"Key": "env", "Value": "prod"}])
    iam.tag_server_certificate(
        ServerCertificateName=name, Tags=[{"Key": "ENV", "Value": "dev"}, {"Key": "a", "Value": "1"}]
    )
    assert iam.list_server_certificate_tags(ServerCertificateName=name)["Tags"] == [
        {"Key": "a", "Value": "1"},
        {"Key": "ENV", "Value": "dev"},
    ]
    page = iam.list_server_certificate_tags(ServerCertificateName=name, MaxItems=1)
    assert page["IsTruncated"] is True and page["Tags"] == [{"Key": "a", "Value": "1"}]
    iam.untag_server_certificate(ServerCertificateName=name, TagKeys=["env"])
    assert iam.list_server_certificate_tags(ServerCertificateName=name)["Tags"] == [
        {"Key": "a", "Value": "1"}
    ]
    missing = unique("missing")
    for call, extra in (
        (iam.tag_server_certificate, {"Tags": [{"Key": "k", "Value": "v"}]}),
        (iam.untag_server_certificate, {"TagKeys": ["k"]}),
        (iam.list_server_certificate_tags, {}),
    ):
        with pytest.raises(ClientError) as excinfo:
            call(ServerCertificateName=missing, **extra)
        assert error_of(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.tag_server_certificate(
            ServerCertificateName=name, Tags=[{"Key": "x", "Value": "1"}, {"Key": "X", "Value": "2"}]
        )
    assert error_of(excinfo)[0] == "InvalidInput"
    iam.delete_server_certificate(ServerCertificateName=name)
    upload(iam, name)  # a new certificate by the old name starts with no tags
    assert iam.list_server_certificate_tags(ServerCertificateName=name)["Tags"] == []
    iam.delete_server_certificate(ServerCertificateName=name)


def test_twenty_per_account(iam) -> None:
    existing = len(iam.list_server_certificates(MaxItems=1000)["ServerCertificateMetadataList"])
    names = [unique("quota") for _ in range(20 - existing)]
    try:
        for name in names:
            upload(iam, name)
        with pytest.raises(ClientError) as excinfo:
            upload(iam, unique("quota"))
        assert error_of(excinfo) == (
            "LimitExceeded",
            "Cannot exceed quota for ServerCertificatesPerAccount: 20",
        )
    finally:
        for name in names:
            iam.delete_server_certificate(ServerCertificateName=name)


def test_through_the_aws_cli(server, iam, tmp_path) -> None:
    files = {"body": leaf(), "key": PRIVATE_KEY, "chain": pem(CA)}
    for label, text in files.items():
        (tmp_path / label).write_text(text)
    name = unique("cli")
    result = server.aws(
        "iam", "upload-server-certificate", "--server-certificate-name", name,
        "--certificate-body", f"file://{tmp_path / 'body'}", "--private-key", f"file://{tmp_path / 'key'}",
        "--certificate-chain", f"file://{tmp_path / 'chain'}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert_no_private_key(result.stdout)
    assert json.loads(result.stdout)["ServerCertificateMetadata"]["ServerCertificateName"] == name
    result = server.aws("iam", "get-server-certificate", "--server-certificate-name", name)
    assert result.returncode == 0, result.stderr
    assert_no_private_key(result.stdout)
    assert json.loads(result.stdout)["ServerCertificate"]["CertificateChain"].strip() == pem(CA).strip()
    iam.delete_server_certificate(ServerCertificateName=name)


def test_the_stored_private_key_is_sealed_to_its_certificate(store, account) -> None:
    with store.transaction() as tx:
        ctx = _root_context(tx, account, NOW)
        params = {"ServerCertificateName": "sealed", "CertificateBody": leaf(), "PrivateKey": PRIVATE_KEY}
        made = isc.upload_server_certificate(ctx, params)
        assert_no_private_key(repr(made))
        assert_no_private_key(repr(isc.get_server_certificate(ctx, {"ServerCertificateName": "sealed"})))
        row = tx.execute(select(schema.server_certificates)).one()
    sealed = bytes(row.private_key_sealed)
    for marker in KEY_MARKERS:
        assert marker.encode() not in sealed
    opened = ctx.services.box.open(sealed, aad=isc.private_key_aad(row.id)).decode()
    assert opened.strip() == PRIVATE_KEY.strip()
    with pytest.raises(SealedSecretError):
        ctx.services.box.open(sealed, aad=isc.private_key_aad("ASCAOTHERCERTIFICATE0"))
