"""AssumeRoleWithSAML through boto3 (unsigned), with responses signed by a self-signed test IdP.

The metadata and signed responses come from the SAML helper's tests (tests/auth/test_saml_metadata.py).
"""

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from auth.test_saml_metadata import ATTR, OTHER_CERT, OTHER_KEY, Claims, b64, metadata, signed
from iam_helpers import error_of, unsigned_sts

ISSUER = "http://www.okta.com/exk1"  # the entity id of metadata() and the Issuer of signed()


@pytest.fixture()
def provider(iam):
    name = f"Okta-{uuid.uuid4().hex[:8]}"
    arn = iam.create_saml_provider(Name=name, SAMLMetadataDocument=metadata())["SAMLProviderArn"]
    return name, arn


def make_role(
    iam, provider_arn: str, *, actions=("sts:AssumeRoleWithSAML",), condition=None, **kwargs
) -> dict:
    statement = {"Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": list(actions)}
    statement["Condition"] = condition or {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    name = f"saml-{uuid.uuid4().hex[:10]}"
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=document, **kwargs)["Role"]


def response(role_arn: str, provider_arn: str, *, key=None, **claims) -> str:
    claims.setdefault("issued", datetime.now(UTC))
    claims.setdefault("roles", (f"{role_arn},{provider_arn}",))
    xml = signed(Claims(**claims)) if key is None else signed(Claims(**claims), key=key)
    return b64(xml)


def assume(server, role_arn: str, provider_arn: str, assertion: str, **kwargs) -> dict:
    return unsigned_sts(server).assume_role_with_saml(
        RoleArn=role_arn, PrincipalArn=provider_arn, SAMLAssertion=assertion, **kwargs
    )


def test_response_shape_and_credentials(server, iam, provider):
    name, provider_arn = provider
    role = make_role(iam, provider_arn)
    before = datetime.now(UTC)
    out = assume(server, role["Arn"], provider_arn, response(role["Arn"], provider_arn, name_id="alice-7"))
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert timedelta(seconds=3590) < creds["Expiration"] - before <= timedelta(seconds=3601)
    session = "alice@example.com"  # the RoleSessionName attribute
    assert out["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:{session}",
        "Arn": f"arn:aws:sts::{server.account_id}:assumed-role/{role['RoleName']}/{session}",
    }
    assert out["Subject"] == "alice-7"
    assert out["SubjectType"] == "persistent"
    assert out["Issuer"] == ISSUER
    assert out["Audience"] == "https://signin.aws.amazon.com/saml"
    digest = hashlib.sha1(f"{ISSUER}{server.account_id}/{name}".encode()).digest()
    assert out["NameQualifier"] == base64.b64encode(digest).decode()
    as_role = server.client(
        "iam", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"]
    )
    with pytest.raises(ClientError) as excinfo:
        as_role.get_role(RoleName=role["RoleName"])
    code, message = error_of(excinfo)
    assert code == "AccessDenied" and message.startswith(f"User: {out['AssumedRoleUser']['Arn']} ")
    identity = server.client(
        "sts", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"]
    ).get_caller_identity()
    assert (identity["Arn"], identity["UserId"]) == (
        out["AssumedRoleUser"]["Arn"],
        out["AssumedRoleUser"]["AssumedRoleId"],
    )


def test_expired_provider_metadata(server, iam):
    arn = iam.create_saml_provider(
        Name=f"Old-{uuid.uuid4().hex[:8]}", SAMLMetadataDocument=metadata(valid_until="2020-01-01T00:00:00Z")
    )["SAMLProviderArn"]
    role = make_role(iam, arn)
    with pytest.raises(ClientError) as excinfo:
        assume(server, role["Arn"], arn, response(role["Arn"], arn))
    assert error_of(excinfo)[0] == "InvalidIdentityToken"
    iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=metadata())
    assert assume(server, role["Arn"], arn, response(role["Arn"], arn))["Credentials"]


def test_role_attribute_in_either_order_and_must_name_the_role(server, iam, provider):
    _, provider_arn = provider
    role, other = make_role(iam, provider_arn), make_role(iam, provider_arn)
    reversed_pair = response(role["Arn"], provider_arn, roles=(f"{provider_arn},{role['Arn']}",))
    assert assume(server, role["Arn"], provider_arn, reversed_pair)["Credentials"]
    with pytest.raises(ClientError) as excinfo:
        assume(server, other["Arn"], provider_arn, response(role["Arn"], provider_arn))
    assert error_of(excinfo) == ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML")


def test_signature_must_verify_with_the_providers_certificate(server, iam, provider):
    _, provider_arn = provider
    role = make_role(iam, provider_arn)
    with pytest.raises(ClientError) as excinfo:
        assume(server, role["Arn"], provider_arn, response(role["Arn"], provider_arn, key=OTHER_KEY))
    assert error_of(excinfo) == ("InvalidIdentityToken", "Response signature invalid")
    # the provider now trusts the other certificate only: the first key no longer works
    iam.update_saml_provider(SAMLProviderArn=provider_arn, SAMLMetadataDocument=metadata((OTHER_CERT,)))
    assert assume(server, role["Arn"], provider_arn, response(role["Arn"], provider_arn, key=OTHER_KEY))
    with pytest.raises(ClientError) as excinfo:
        assume(server, role["Arn"], provider_arn, response(role["Arn"], provider_arn))
    assert error_of(excinfo)[0] == "InvalidIdentityToken"


def test_stale_and_malformed_assertions(server, iam, provider):
    _, provider_arn = provider
    role = make_role(iam, provider_arn)
    stale = response(role["Arn"], provider_arn, issued=datetime.now(UTC) - timedelta(minutes=30))
    with pytest.raises(ClientError) as excinfo:
        assume(server, role["Arn"], provider_arn, stale)
    assert error_of(excinfo)[0] == "ExpiredTokenException"
    for assertion in ("bm90IHhtbA==", "!!!!", response(role["Arn"], provider_arn, audience="urn:other")):
        with pytest.raises(ClientError) as excinfo:
            assume(server, role["Arn"], provider_arn, assertion)
        assert error_of(excinfo)[0] == "InvalidIdentityToken"
    failed = response(role["Arn"], provider_arn, status="urn:oasis:names:tc:SAML:2.0:status:Requester")
    with pytest.raises(ClientError) as excinfo:
        assume(server, role["Arn"], provider_arn, failed)
    assert error_of(excinfo)[0] == "IDPRejectedClaim"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_provider_or_role(server, iam, provider):
    _, provider_arn = provider
    role = make_role(iam, provider_arn)
    missing = f"arn:aws:iam::{server.account_id}:saml-provider/absent-{uuid.uuid4().hex[:6]}"
    with pytest.raises(ClientError) as excinfo:
        assume(server, role["Arn"], missing, response(role["Arn"], missing))
    assert error_of(excinfo)[0] == "InvalidIdentityToken"
    ghost = f"arn:aws:iam::{server.account_id}:role/ghost-{uuid.uuid4().hex[:6]}"
    with pytest.raises(ClientError) as excinfo:
        assume(server, ghost, provider_arn, response(ghost, provider_arn))
    assert error_of(excinfo)[0] == "AccessDenied"


def test_saml_condition_keys(server, iam, provider):
    name, provider_arn = provider
    condition = {
        "StringEquals": {
            "saml:sub_type": "persistent",
            "saml:iss": ISSUER,
            "saml:doc": f"{server.account_id}/{name}",
        },
        "StringLike": {"saml:sub": "*@corp.example"},
        "ForAnyValue:StringEquals": {"saml:edupersonaffiliation": "staff"},
    }
    role = make_role(iam, provider_arn, condition=condition)
    staff = ((("urn:oid:1.3.6.1.4.1.5923.1.1.1.1"), ("member", "staff")),)
    ok = response(role["Arn"], provider_arn, name_id="bob@corp.example", extra_attributes=staff)
    assert assume(server, role["Arn"], provider_arn, ok)["Subject"] == "bob@corp.example"
    for claims in (
        {"name_id": "bob@elsewhere.example", "extra_attributes": staff},
        {"name_id": "bob@corp.example"},
    ):
        with pytest.raises(ClientError) as excinfo:
            assume(server, role["Arn"], provider_arn, response(role["Arn"], provider_arn, **claims))
        assert error_of(excinfo)[0] == "AccessDenied"


def test_session_duration(server, iam, provider):
    _, provider_arn = provider
    role = make_role(iam, provider_arn, MaxSessionDuration=43200)
    before = datetime.now(UTC)
    attribute = ((ATTR + "SessionDuration", ("1800",)),)
    out = assume(
        server, role["Arn"], provider_arn, response(role["Arn"], provider_arn, extra_attributes=attribute)
    )
    assert timedelta(seconds=1790) < out["Credentials"]["Expiration"] - before <= timedelta(seconds=1801)
    # DurationSeconds wins over the attribute; the AuthnStatement's SessionNotOnOrAfter (8 h) caps both
    out = assume(
        server, role["Arn"], provider_arn, response(role["Arn"], provider_arn), DurationSeconds=43200
    )
    assert (
        timedelta(hours=7, minutes=59)
        < out["Credentials"]["Expiration"] - before
        <= timedelta(hours=8, seconds=1)
    )
    short = make_role(iam, provider_arn)
    with pytest.raises(ClientError) as excinfo:
        assume(server, short["Arn"], provider_arn, response(short["Arn"], provider_arn), DurationSeconds=3601)
    assert error_of(excinfo)[0] == "ValidationError"


def test_principal_tags_need_tag_session(server, iam, provider):
    _, provider_arn = provider
    tags = ((ATTR + "PrincipalTag:Department", ("Engineering",)),)
    plain = make_role(iam, provider_arn)
    with pytest.raises(ClientError) as excinfo:
        assume(
            server, plain["Arn"], provider_arn, response(plain["Arn"], provider_arn, extra_attributes=tags)
        )
    assert error_of(excinfo)[0] == "AccessDenied"
    tagging = make_role(iam, provider_arn, actions=("sts:AssumeRoleWithSAML", "sts:TagSession"))
    out = assume(
        server, tagging["Arn"], provider_arn, response(tagging["Arn"], provider_arn, extra_attributes=tags)
    )
    assert 0 < out["PackedPolicySize"] <= 100


def test_session_policy(server, iam, provider):
    _, provider_arn = provider
    role = make_role(iam, provider_arn)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}],
    }
    out = assume(
        server, role["Arn"], provider_arn, response(role["Arn"], provider_arn), Policy=json.dumps(policy)
    )
    assert 0 < out["PackedPolicySize"] <= 100
    with pytest.raises(ClientError) as excinfo:
        assume(
            server, role["Arn"], provider_arn, response(role["Arn"], provider_arn), Policy='{"Statement": 1}'
        )
    assert error_of(excinfo)[0] == "MalformedPolicyDocument"
