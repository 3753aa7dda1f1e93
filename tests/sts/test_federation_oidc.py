"""AssumeRoleWithWebIdentity through boto3 (unsigned), against a test OIDC issuer on 127.0.0.1.

The issuer speaks plain HTTP, so this module starts its own server with
IRONKEEP_ALLOW_INSECURE_OIDC_LOOPBACK=1 (the shared server keeps the https-only rule).
"""

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iam_helpers import error_of, unsigned_sts
from oidc_issuer import OidcIssuer
from serverproc import drop_schema, pg_available, start_server

BACKENDS = ["sqlite", "postgresql"]
CLIENT = "client-1"


@pytest.fixture(scope="module", params=BACKENDS)
def fed(request, tmp_path_factory):
    if request.param == "postgresql" and not pg_available():
        pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable; the store must be tested on it")
    srv, schema = start_server(
        tmp_path_factory.mktemp(f"federation-{request.param}"),
        request.param,
        extra_env={"IRONKEEP_ALLOW_INSECURE_OIDC_LOOPBACK": "1"},
    )
    yield srv
    srv.stop()
    if schema:
        drop_schema(schema)


@pytest.fixture(scope="module")
def issuer(fed):  # one per server: the rotation test changes its keys
    with OidcIssuer(path="/tenant") as idp:
        yield idp


@pytest.fixture(scope="module")
def provider_arn(fed, issuer):
    return fed.client("iam").create_open_id_connect_provider(Url=issuer.url, ClientIDList=[CLIENT, "other"])[
        "OpenIDConnectProviderArn"
    ]


def trust(
    provider_arn: str, host: str, *, sub: str = "user-*", actions=("sts:AssumeRoleWithWebIdentity",), **extra
):
    condition = {"StringEquals": {f"{host}:aud": CLIENT}, "StringLike": {f"{host}:sub": sub}}
    condition.update(extra)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": list(actions),
                    "Condition": condition,
                }
            ],
        }
    )


def make_role(server, document: str, **kwargs) -> dict:
    name = f"web-{uuid.uuid4().hex[:10]}"
    return server.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=document, **kwargs)[
        "Role"
    ]


@pytest.fixture(scope="module")
def role(fed, issuer, provider_arn):
    return make_role(fed, trust(provider_arn, issuer.host), MaxSessionDuration=7200)


def assume(server, role_arn: str, token: str, session: str = "web-session", **kwargs) -> dict:
    return unsigned_sts(server).assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName=session, WebIdentityToken=token, **kwargs
    )


def test_response_shape_and_credentials(fed, issuer, provider_arn, role):
    token = issuer.mint(sub="user-42", aud=[CLIENT])
    before = datetime.now(UTC)
    out = assume(fed, role["Arn"], token, DurationSeconds=7200)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["SecretAccessKey"]) == 40
    assert timedelta(seconds=7190) < creds["Expiration"] - before <= timedelta(seconds=7201)
    assert out["SubjectFromWebIdentityToken"] == "user-42"
    assert out["Provider"] == provider_arn
    assert out["Audience"] == CLIENT
    assert out["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:web-session",
        "Arn": f"arn:aws:sts::{fed.account_id}:assumed-role/{role['RoleName']}/web-session",
    }
    assert "PackedPolicySize" not in out
    # the credentials are the role session's: with no role policy, IAM denies it by name
    as_role = fed.client(
        "iam", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"]
    )
    with pytest.raises(ClientError) as excinfo:
        as_role.get_role(RoleName=role["RoleName"])
    code, message = error_of(excinfo)
    assert code == "AccessDenied"
    assert message.startswith(
        f"User: {out['AssumedRoleUser']['Arn']} is not authorized to perform: iam:GetRole"
    )


def test_web_identity_moves_role_last_used_once_a_minute(fed, issuer, provider_arn):
    """AssumeRoleWithWebIdentity sets the role's RoleLastUsed; assumed again within the minute
    (from the same region), it leaves it as it was."""
    role = make_role(fed, trust(provider_arn, issuer.host))
    iam = fed.client("iam")
    assert iam.get_role(RoleName=role["RoleName"])["Role"]["RoleLastUsed"] == {}
    assume(fed, role["Arn"], issuer.mint(sub="user-1", aud=[CLIENT]))
    first = iam.get_role(RoleName=role["RoleName"])["Role"]["RoleLastUsed"]
    assert first["Region"] == "us-east-1"
    time.sleep(1.1)  # a later second: a write would show
    assume(fed, role["Arn"], issuer.mint(sub="user-2", aud=[CLIENT]))
    assert iam.get_role(RoleName=role["RoleName"])["Role"]["RoleLastUsed"] == first


def test_role_policies_apply_to_the_session(fed, issuer, provider_arn):
    iam = fed.client("iam")
    role = make_role(fed, trust(provider_arn, issuer.host))
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["iam:GetRole", "iam:ListRoleTags"],
                "Resource": "*",
                # the session carries the provider it came from
                "Condition": {"StringEquals": {"aws:FederatedProvider": provider_arn}},
            }
        ],
    }
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="read", PolicyDocument=json.dumps(policy))
    session_policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}],
    }
    out = assume(fed, role["Arn"], issuer.mint(sub="user-7"), Policy=json.dumps(session_policy))
    assert 0 < out["PackedPolicySize"] <= 100
    creds = out["Credentials"]
    as_role = fed.client(
        "iam", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"]
    )
    assert as_role.get_role(RoleName=role["RoleName"])["Role"]["Arn"] == role["Arn"]
    with pytest.raises(ClientError) as excinfo:  # the role allows it, the session policy does not
        as_role.list_role_tags(RoleName=role["RoleName"])
    assert error_of(excinfo)[0] == "AccessDenied"


def test_wrong_audience(fed, issuer, provider_arn, role):
    with pytest.raises(ClientError) as excinfo:
        assume(fed, role["Arn"], issuer.mint(sub="user-1", aud="someone-else"))
    assert error_of(excinfo) == ("InvalidIdentityToken", "Incorrect token audience")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_trust_conditions_decide(fed, issuer, provider_arn, role):
    # "other" is a client id of the provider, but the trust policy wants CLIENT
    for token in (issuer.mint(sub="admin-1"), issuer.mint(sub="user-1", aud="other")):
        with pytest.raises(ClientError) as excinfo:
            assume(fed, role["Arn"], token)
        assert error_of(excinfo) == (
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        )
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_amr_and_federated_provider_keys(fed, issuer, provider_arn):
    role = make_role(
        fed,
        trust(
            provider_arn,
            issuer.host,
            **{
                "ForAnyValue:StringEquals": {f"{issuer.host}:amr": "mfa"},
                "StringEqualsIfExists": {"aws:FederatedProvider": provider_arn},
            },
        ),
    )
    assert assume(fed, role["Arn"], issuer.mint(sub="user-1", amr=["pwd", "mfa"]))["Credentials"]
    with pytest.raises(ClientError) as excinfo:
        assume(fed, role["Arn"], issuer.mint(sub="user-1", amr=["pwd"]))
    assert error_of(excinfo)[0] == "AccessDenied"


def test_unknown_or_missing_role_is_access_denied(fed, issuer, provider_arn, role):
    token = issuer.mint(sub="user-1")
    for arn in (
        f"arn:aws:iam::{fed.account_id}:role/no-such-{uuid.uuid4().hex[:6]}",
        role["Arn"].replace(":role/", ":role/wrong/path/"),
    ):
        with pytest.raises(ClientError) as excinfo:
            assume(fed, arn, token)
        assert error_of(excinfo)[0] == "AccessDenied"


def test_expired_and_future_tokens(fed, issuer, provider_arn, role):
    with pytest.raises(ClientError) as excinfo:
        assume(fed, role["Arn"], issuer.mint(sub="user-1", lifetime=-5))
    code, message = error_of(excinfo)
    assert code == "ExpiredTokenException" and message.startswith("Token expired: current date/time")
    with pytest.raises(ClientError) as excinfo:
        assume(fed, role["Arn"], issuer.mint(sub="user-1", nbf=int(time.time()) + 3600, lifetime=7200))
    assert error_of(excinfo)[0] == "InvalidIdentityToken"
    with pytest.raises(ClientError) as excinfo:
        assume(fed, role["Arn"], issuer.mint(sub="user-1", exp="tomorrow"))
    assert error_of(excinfo)[0] == "InvalidIdentityToken"
    with pytest.raises(ClientError) as excinfo:
        assume(fed, role["Arn"], issuer.mint(sub=12345678))
    assert error_of(excinfo) == ("InvalidIdentityToken", "The web identity token has no subject (sub)")


def hs256_with_public_key(claims: dict, public_pem: bytes, kid: str) -> str:
    """The algorithm-confusion forgery: HMAC keyed with the issuer's public key (PyJWT will not make it)."""
    import hashlib
    import hmac

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    head = part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    signing_input = f"{head}.{part(json.dumps(claims).encode())}"
    return f"{signing_input}.{part(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())}"


def test_forged_and_malformed_tokens(fed, issuer, provider_arn, role):
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid, key, _ = issuer.keys[-1]
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = {"sub": "user-1", "aud": CLIENT, "exp": int(time.time()) + 600}
    good = issuer.mint(sub="user-1")
    head, _, signature = good.split(".")
    tampered_body = issuer.mint(sub="user-2").split(".")[1]
    for token in (
        issuer.mint(sub="user-1", key=forger),  # right kid, wrong key
        issuer.mint(sub="user-1", kid="unknown-kid"),
        # the issuer's public key used as an HMAC secret, and no signature at all
        hs256_with_public_key({**claims, "iss": issuer.url}, public_pem, kid),
        jwt.encode({**claims, "iss": issuer.url}, None, algorithm="none", headers={"kid": kid}),
        f"{head}.{tampered_body}.{signature}",
        "not.a.jwt",
        "abcd",
    ):
        with pytest.raises(ClientError) as excinfo:
            assume(fed, role["Arn"], token)
        assert error_of(excinfo)[0] == "InvalidIdentityToken", token


def test_unregistered_issuer(fed, role):
    with OidcIssuer() as stranger:
        with pytest.raises(ClientError) as excinfo:
            assume(fed, role["Arn"], stranger.mint(sub="user-1"))
    code, message = error_of(excinfo)
    assert code == "InvalidIdentityToken"
    assert message == f"No OpenIDConnect provider found in your account for {stranger.url}"
    assert stranger.requests == {}  # nothing is fetched from an issuer no provider names


def test_jwks_is_cached_and_refetched_after_rotation(fed, issuer, provider_arn, role):
    assume(fed, role["Arn"], issuer.mint(sub="user-1"))
    fetched = issuer.requests["/tenant/keys"]
    assume(fed, role["Arn"], issuer.mint(sub="user-2"))
    assert issuer.requests["/tenant/keys"] == fetched  # served from the cache
    issuer.rotate(alg="ES256")
    time.sleep(2.1)  # a key id the cache lacks refetches, at most every two seconds
    assert assume(fed, role["Arn"], issuer.mint(sub="user-3"))["SubjectFromWebIdentityToken"] == "user-3"
    assert issuer.requests["/tenant/keys"] > fetched


def test_unreachable_jwks_is_idp_communication_error(fed):
    with OidcIssuer() as broken:
        broken.fail_jwks = True
        arn = fed.client("iam").create_open_id_connect_provider(Url=broken.url, ClientIDList=[CLIENT])[
            "OpenIDConnectProviderArn"
        ]
        target = make_role(fed, trust(arn, broken.host))
        with pytest.raises(ClientError) as excinfo:
            assume(fed, target["Arn"], broken.mint(sub="user-1"))
    assert error_of(excinfo)[0] == "IDPCommunicationError"


def test_duration_and_session_policy_errors(fed, issuer, provider_arn, role):
    token = issuer.mint(sub="user-1")
    with pytest.raises(ClientError) as excinfo:
        assume(fed, role["Arn"], token, DurationSeconds=7201)
    assert error_of(excinfo) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    with pytest.raises(ClientError) as excinfo:
        assume(fed, role["Arn"], token, Policy='{"Version": "2012-10-17", "Statement": []}x')
    assert error_of(excinfo)[0] == "MalformedPolicyDocument"
    absent = f"arn:aws:iam::{fed.account_id}:policy/absent-{uuid.uuid4().hex[:6]}"
    with pytest.raises(ClientError) as excinfo:
        assume(fed, role["Arn"], token, PolicyArns=[{"arn": absent}])
    assert error_of(excinfo) == ("ValidationError", f"Policy {absent} does not exist or is not attachable.")
    managed = assume(
        fed, role["Arn"], token, PolicyArns=[{"arn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}]
    )
    assert 0 < managed["PackedPolicySize"] <= 100


def test_session_tags_need_tag_session(fed, issuer, provider_arn):
    tags_claim = {"principal_tags": {"team": ["blue"]}, "transitive_tag_keys": ["team"]}
    token = issuer.mint(sub="user-1", **{"https://aws.amazon.com/tags": tags_claim})
    without = make_role(fed, trust(provider_arn, issuer.host))
    with pytest.raises(ClientError) as excinfo:
        assume(fed, without["Arn"], token)
    assert error_of(excinfo)[0] == "AccessDenied"
    with_tags = make_role(
        fed, trust(provider_arn, issuer.host, actions=("sts:AssumeRoleWithWebIdentity", "sts:TagSession"))
    )
    out = assume(fed, with_tags["Arn"], token)
    assert 0 < out["PackedPolicySize"] <= 100


def test_source_identity_claim(fed, issuer, provider_arn):
    token = issuer.mint(sub="user-1", **{"https://aws.amazon.com/source_identity": "alice"})
    role = make_role(
        fed,
        trust(provider_arn, issuer.host, actions=("sts:AssumeRoleWithWebIdentity", "sts:SetSourceIdentity")),
    )
    assert assume(fed, role["Arn"], token)["SourceIdentity"] == "alice"
    plain = make_role(fed, trust(provider_arn, issuer.host))
    with pytest.raises(ClientError) as excinfo:
        assume(fed, plain["Arn"], token)
    assert error_of(excinfo)[0] == "AccessDenied"


def test_aws_cli_needs_no_credentials(fed, issuer, provider_arn, role):
    import subprocess

    env = fed.cli_env()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name)
    result = subprocess.run(
        [
            "aws", "--endpoint-url", fed.endpoint, "--output", "json", "sts", "assume-role-with-web-identity",
            "--role-arn", role["Arn"], "--role-session-name", "cli",
            "--web-identity-token", issuer.mint(sub="user-cli"),
        ],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["SubjectFromWebIdentityToken"] == "user-cli"


def self_signed_for_loopback() -> tuple[bytes, bytes, str]:
    """A certificate for 127.0.0.1 that no CA signed: PEM cert, PEM key, SHA-1 thumbprint."""
    import hashlib
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return cert.public_bytes(serialization.Encoding.PEM), pem_key, thumbprint


def test_untrusted_tls_certificate_is_accepted_only_when_its_thumbprint_is_listed(fed):
    cert, key, thumbprint = self_signed_for_loopback()
    iam = fed.client("iam")
    with OidcIssuer(tls=(cert, key)) as idp:
        assert idp.url.startswith("https://")
        arn = iam.create_open_id_connect_provider(
            Url=idp.url, ClientIDList=[CLIENT], ThumbprintList=["0" * 40]
        )["OpenIDConnectProviderArn"]
        target = make_role(fed, trust(arn, idp.host))
        with pytest.raises(ClientError) as excinfo:  # a thumbprint, but not this certificate's
            assume(fed, target["Arn"], idp.mint(sub="user-1"))
        assert error_of(excinfo)[0] == "IDPCommunicationError"
        iam.update_open_id_connect_provider_thumbprint(
            OpenIDConnectProviderArn=arn, ThumbprintList=[thumbprint]
        )
        assert assume(fed, target["Arn"], idp.mint(sub="user-1"))["Provider"] == arn
        iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=[])
        with pytest.raises(ClientError) as excinfo:  # no thumbprint: the system's CAs decide, and refuse
            assume(fed, target["Arn"], idp.mint(sub="user-1"))
        assert error_of(excinfo)[0] == "IDPCommunicationError"


AWS_TOKEN_ERRORS = {"InvalidIdentityToken", "ExpiredTokenException", "AccessDenied", "IDPCommunicationError"}
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    token=st.one_of(
        st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=4, max_size=200),
        st.lists(st.binary(max_size=60), min_size=3, max_size=3)
        .map(lambda parts: ".".join(base64.urlsafe_b64encode(p).decode().rstrip("=") for p in parts))
        .filter(lambda token: len(token) >= 4),
    )
)
def test_arbitrary_tokens_get_aws_errors(fed, issuer, provider_arn, role, token):
    with pytest.raises(ClientError) as excinfo:
        assume(fed, role["Arn"], token)
    assert error_of(excinfo)[0] in AWS_TOKEN_ERRORS


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    claims=st.dictionaries(st.sampled_from(["iss", "sub", "aud", "exp", "nbf", "iat", "amr"]), _json_values)
)
def test_any_signed_claims_get_an_aws_answer(fed, issuer, provider_arn, role, claims):
    """Claims of any JSON type, correctly signed: credentials or an AWS error, never a failure."""
    token = issuer.mint(**{"sub": "user-1", **claims})
    try:
        assume(fed, role["Arn"], token)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] in AWS_TOKEN_ERRORS
