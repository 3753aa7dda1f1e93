"""IAM SAML providers through boto3 and the AWS CLI, on SQLite and PostgreSQL.

Metadata documents come from the SAML helper's own tests (tests/auth/test_saml_metadata.py).
"""

import json
import re
import uuid
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from auth.test_saml_metadata import EC_CERT, RSA_CERT, metadata
from iam_helpers import error_code

ACCOUNT = "123456789012"


def unique(prefix: str = "idp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_create_get_list_update_delete(iam):
    name = unique("Okta")
    document = metadata()
    created = iam.create_saml_provider(
        Name=name, SAMLMetadataDocument=document, Tags=[{"Key": "team", "Value": "blue"}]
    )
    arn = created["SAMLProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:saml-provider/{name}"
    assert created["Tags"] == [{"Key": "team", "Value": "blue"}]

    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == document
    assert got["ValidUntil"] == datetime(2027, 1, 1, tzinfo=UTC)
    assert got["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert re.fullmatch(r"[A-Z0-9]{22,64}", got["SAMLProviderUUID"])
    assert iam.get_saml_provider(SAMLProviderArn=arn)["SAMLProviderUUID"] == got["SAMLProviderUUID"]

    listed = {p["Arn"]: p for p in iam.list_saml_providers()["SAMLProviderList"]}
    assert listed[arn]["ValidUntil"] == got["ValidUntil"]
    assert listed[arn]["CreateDate"] == got["CreateDate"]

    newer = metadata((RSA_CERT, EC_CERT), valid_until=None)
    assert iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=newer)["SAMLProviderArn"] == arn
    updated = iam.get_saml_provider(SAMLProviderArn=arn)
    assert updated["SAMLMetadataDocument"] == newer and "ValidUntil" not in updated

    iam.delete_saml_provider(SAMLProviderArn=arn)
    with pytest.raises(ClientError) as excinfo:
        iam.get_saml_provider(SAMLProviderArn=arn)
    assert error_code(excinfo) == "NoSuchEntity"
    assert arn not in {p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]}


def test_names_are_unique_regardless_of_case(iam):
    name = unique("Corp")
    iam.create_saml_provider(Name=name, SAMLMetadataDocument=metadata())
    with pytest.raises(ClientError) as excinfo:
        iam.create_saml_provider(Name=name.upper(), SAMLMetadataDocument=metadata())
    assert error_code(excinfo) == "EntityAlreadyExists"


@pytest.mark.parametrize(
    "document",
    [metadata(use="encryption"), metadata(role="SPSSODescriptor"), "<html>" + "x" * 2000 + "</html>"],
    ids=["no-signing-certificate", "sp-metadata", "not-saml"],
)
def test_unusable_metadata_is_invalid_input(iam, document):
    with pytest.raises(ClientError) as excinfo:
        iam.create_saml_provider(Name=unique(), SAMLMetadataDocument=document)
    assert error_code(excinfo) == "InvalidInput"
    assert excinfo.value.response["Error"]["Message"] == "Could not parse metadata"


def test_update_errors(iam):
    arn = iam.create_saml_provider(Name=unique(), SAMLMetadataDocument=metadata())["SAMLProviderArn"]
    with pytest.raises(ClientError) as excinfo:
        iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=metadata(use="encryption"))
    assert error_code(excinfo) == "InvalidInput"
    assert iam.get_saml_provider(SAMLProviderArn=arn)["SAMLMetadataDocument"] == metadata()
    with pytest.raises(ClientError) as excinfo:
        iam.update_saml_provider(
            SAMLProviderArn=f"arn:aws:iam::{ACCOUNT}:saml-provider/{unique()}",
            SAMLMetadataDocument=metadata(),
        )
    assert error_code(excinfo) == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.delete_saml_provider(SAMLProviderArn=f"arn:aws:iam::{ACCOUNT}:saml-provider/{unique()}")
    assert error_code(excinfo) == "NoSuchEntity"


def test_encrypted_assertions_are_not_supported(iam):
    with pytest.raises(ClientError) as excinfo:
        iam.create_saml_provider(
            Name=unique(), SAMLMetadataDocument=metadata(), AssertionEncryptionMode="Required"
        )
    assert error_code(excinfo) == "InvalidInput"
    assert "not supported" in excinfo.value.response["Error"]["Message"]
    arn = iam.create_saml_provider(
        Name=unique(), SAMLMetadataDocument=metadata(), AssertionEncryptionMode="Allowed"
    )["SAMLProviderArn"]
    with pytest.raises(ClientError) as excinfo:
        iam.update_saml_provider(SAMLProviderArn=arn, AddPrivateKey="-----BEGIN PRIVATE KEY-----")
    assert error_code(excinfo) == "InvalidInput"


def test_tags(iam):
    arn = iam.create_saml_provider(Name=unique(), SAMLMetadataDocument=metadata())["SAMLProviderArn"]
    assert "Tags" not in iam.get_saml_provider(SAMLProviderArn=arn)
    iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}])
    listed = iam.list_saml_provider_tags(SAMLProviderArn=arn)
    assert listed["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    assert listed["IsTruncated"] is False
    iam.untag_saml_provider(SAMLProviderArn=arn, TagKeys=["B"])
    assert iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == [{"Key": "a", "Value": "1"}]
    with pytest.raises(ClientError) as excinfo:
        iam.tag_saml_provider(
            SAMLProviderArn=arn, Tags=[{"Key": "x", "Value": "1"}, {"Key": "X", "Value": "2"}]
        )
    assert error_code(excinfo) == "InvalidInput"
    missing = f"arn:aws:iam::{ACCOUNT}:saml-provider/{unique()}"
    for call, extra in (
        (iam.tag_saml_provider, {"Tags": [{"Key": "k", "Value": "v"}]}),
        (iam.untag_saml_provider, {"TagKeys": ["k"]}),
        (iam.list_saml_provider_tags, {}),
    ):
        with pytest.raises(ClientError) as excinfo:
            call(SAMLProviderArn=missing, **extra)
        assert error_code(excinfo) == "NoSuchEntity"


def test_aws_cli(server, tmp_path):
    path = tmp_path / "metadata.xml"
    path.write_text(metadata())
    name = unique("Cli")
    created = server.aws(
        "iam", "create-saml-provider", "--name", name, "--saml-metadata-document", f"file://{path}"
    )
    assert created.returncode == 0, created.stderr
    arn = json.loads(created.stdout)["SAMLProviderArn"]
    missing = server.aws("iam", "get-saml-provider", "--saml-provider-arn", arn + "-absent")
    assert missing.returncode != 0 and "NoSuchEntity" in missing.stderr
    assert (
        server.client("iam").get_saml_provider(SAMLProviderArn=arn)["SAMLMetadataDocument"]
        == path.read_text()
    )


def test_calls_are_authorized_against_the_provider_arn(server, iam):
    allowed = iam.create_saml_provider(Name=unique(), SAMLMetadataDocument=metadata())["SAMLProviderArn"]
    other = iam.create_saml_provider(Name=unique(), SAMLMetadataDocument=metadata())["SAMLProviderArn"]
    user = unique("saml-reader")
    iam.create_user(UserName=user)
    statement = {"Effect": "Allow", "Action": "iam:GetSAMLProvider", "Resource": allowed}
    iam.put_user_policy(
        UserName=user,
        PolicyName="one-provider",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = server.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assert as_user.get_saml_provider(SAMLProviderArn=allowed)["SAMLMetadataDocument"] == metadata()
    with pytest.raises(ClientError) as excinfo:
        as_user.get_saml_provider(SAMLProviderArn=other)
    assert error_code(excinfo) == "AccessDenied"
    assert f"iam:GetSAMLProvider on resource: {other}" in excinfo.value.response["Error"]["Message"]
