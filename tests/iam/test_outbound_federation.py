"""Outbound web identity federation: Enable/Disable/GetOutboundWebIdentityFederationInfo, STS
GetWebIdentityToken, and the issuer's discovery document and JWKS served over HTTP.

Each test works in an account of its own (``ironkeep accounts create``): the feature is per account.
The issuer's routes (:mod:`ironkeep.oidc_issuer_http`) run in a uvicorn of this process over the
test server's store, and tokens are verified with PyJWT against the keys fetched from it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import jwt
import pytest
import uvicorn
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sts"))
from sts_helpers import (
    allow,
    error_code,
    make_role,
    make_user,
    policy,
    put_role_policy,
    put_user_policy,
    second_account,
    session_clients,
    trust,
)

from ironkeep.oidc_issuer_http import routes
from ironkeep.store import Store
from serverproc import free_port

NAMESPACE = "https://sts.amazonaws.com/"


class IssuerHTTP:
    """The issuer routes over the server's store, on 127.0.0.1 in a thread."""

    def __init__(self, server: Any, clock: Any = None) -> None:
        env = server.store_env
        url = env.get("IRONKEEP_DATABASE_URL") or f"sqlite:///{server.data_dir / 'ironkeep.db'}"
        self.store = Store.open(url, schema=env.get("IRONKEEP_DATABASE_SCHEMA"), pool_size=2)
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            Starlette(routes=routes(self.store, clock)), host="127.0.0.1", port=port, log_level="warning"
        )
        self.uvicorn = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.uvicorn.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.uvicorn.started and time.monotonic() < deadline:
            time.sleep(0.02)

    def get(self, url_or_path: str) -> httpx.Response:
        """GET the path of ``url_or_path`` (the issuer's host is Ironkeep's public URL) here."""
        return httpx.get(self.base + urlsplit(url_or_path).path, timeout=5)

    def close(self) -> None:
        self.uvicorn.should_exit = True
        self.thread.join(timeout=5)
        self.store.engine.dispose()


@pytest.fixture()
def issuer_http(server):
    http = IssuerHTTP(server)
    yield http
    http.close()


def account(server: Any) -> dict[str, Any]:
    """A fresh account: its id and root IAM/STS clients."""
    other = second_account(server)
    keys = {"key": other["RootAccessKeyId"], "secret": other["RootSecretAccessKey"]}
    unchecked = boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=keys["key"],
        aws_secret_access_key=keys["secret"],
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )
    return {
        "id": other["AccountId"],
        "iam": server.client("iam", **keys),
        "sts": server.client("sts", **keys),
        "unchecked_sts": unchecked,
    }


def enabled_account(server: Any) -> dict[str, Any]:
    acct = account(server)
    acct["issuer"] = acct["iam"].enable_outbound_web_identity_federation()["IssuerIdentifier"]
    return acct


def token_user(server: Any, acct: dict[str, Any], statement: dict[str, Any] | None = None) -> tuple:
    user, sts, iam = make_user(server, acct["iam"])
    grant = statement or allow("sts:GetWebIdentityToken")
    put_user_policy(acct["iam"], user["UserName"], "Tokens", policy(grant))
    return user, sts, iam


def verify(http: IssuerHTTP, issuer: str, token: str, audience: str) -> dict[str, Any]:
    """Verify ``token`` as an external service would: discovery document, then JWKS, then PyJWT."""
    discovery = http.get(f"{issuer}/.well-known/openid-configuration")
    assert discovery.status_code == 200, discovery.text
    config = discovery.json()
    assert config["issuer"] == issuer
    assert config["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    keys = http.get(config["jwks_uri"]).json()["keys"]
    header = jwt.get_unverified_header(token)
    (jwk,) = [key for key in keys if key["kid"] == header["kid"]]
    assert jwk["alg"] == header["alg"] and "d" not in jwk  # public halves only
    key = jwt.PyJWK(jwk).key
    return dict(
        jwt.decode(
            token,
            key,
            algorithms=config["id_token_signing_alg_values_supported"],
            audience=audience,
            issuer=config["issuer"],
            options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
        )
    )


# -- the account setting ---------------------------------------------------------------------------------


def test_enable_get_disable_outbound_web_identity_federation(server):
    acct = account(server)
    iam = acct["iam"]
    with pytest.raises(ClientError) as never:
        iam.get_outbound_web_identity_federation_info()
    assert error_code(never) == "FeatureDisabled"
    assert never.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    issuer = iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    assert issuer.endswith(f"/oidc/{acct['id']}") and issuer.startswith("http")
    with pytest.raises(ClientError) as again:
        iam.enable_outbound_web_identity_federation()
    assert error_code(again) == "FeatureEnabled"
    assert again.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    info = iam.get_outbound_web_identity_federation_info()
    assert (info["IssuerIdentifier"], info["JwtVendingEnabled"]) == (issuer, True)
    iam.disable_outbound_web_identity_federation()
    with pytest.raises(ClientError) as twice:
        iam.disable_outbound_web_identity_federation()
    assert error_code(twice) == "FeatureDisabled"
    info = iam.get_outbound_web_identity_federation_info()
    assert (info["IssuerIdentifier"], info["JwtVendingEnabled"]) == (issuer, False)
    assert iam.enable_outbound_web_identity_federation()["IssuerIdentifier"] == issuer


def test_outbound_federation_calls_need_their_permissions(server):
    acct = account(server)
    _, _, user_iam = make_user(server, acct["iam"])
    for call in (
        user_iam.enable_outbound_web_identity_federation,
        user_iam.get_outbound_web_identity_federation_info,
        user_iam.disable_outbound_web_identity_federation,
    ):
        with pytest.raises(ClientError) as denied:
            call()
        assert error_code(denied) == "AccessDenied"


def test_outbound_federation_through_the_aws_cli(server):
    acct = enabled_account(server)
    other = second_account(server)
    keys = {"key": other["RootAccessKeyId"], "secret": other["RootSecretAccessKey"]}
    done = server.aws("iam", "enable-outbound-web-identity-federation", **keys)
    assert done.returncode == 0, done.stderr
    info = server.aws("iam", "get-outbound-web-identity-federation-info", **keys)
    assert json.loads(info.stdout) == {
        "IssuerIdentifier": json.loads(done.stdout)["IssuerIdentifier"],
        "JwtVendingEnabled": True,
    }
    assert json.loads(done.stdout)["IssuerIdentifier"] != acct["issuer"]


# -- GetWebIdentityToken ------------------------------------------------------------------------------------


def test_get_web_identity_token_verifies_against_the_published_jwks(server, issuer_http):
    acct = enabled_account(server)
    user, sts, _ = token_user(server, acct)
    acct["iam"].tag_user(UserName=user["UserName"], Tags=[{"Key": "team", "Value": "data"}])
    before = datetime.now(UTC).replace(microsecond=0)
    for algorithm in ("RS256", "ES384"):
        out = sts.get_web_identity_token(
            Audience=["https://api.example.com"],
            SigningAlgorithm=algorithm,
            DurationSeconds=900,
            Tags=[{"Key": "job", "Value": "nightly"}],
        )
        assert (
            before + timedelta(seconds=899) <= out["Expiration"] <= datetime.now(UTC) + timedelta(seconds=901)
        )
        claims = verify(issuer_http, acct["issuer"], out["WebIdentityToken"], "https://api.example.com")
        assert jwt.get_unverified_header(out["WebIdentityToken"])["alg"] == algorithm
        assert claims["iss"] == acct["issuer"]
        assert claims["sub"] == user["Arn"]
        assert claims["aud"] == "https://api.example.com"
        assert claims["exp"] - claims["iat"] == 900
        assert claims["exp"] == int(out["Expiration"].timestamp())
        aws = claims[NAMESPACE]
        assert aws["aws_account"] == acct["id"] and aws["source_region"] == "us-east-1"
        assert aws["principal_tags"] == {"team": "data"}
        assert aws["request_tags"] == {"job": "nightly"}
    # a forged token (another P-384 key, same kid) does not verify
    header = jwt.get_unverified_header(out["WebIdentityToken"])
    other_key = ec.generate_private_key(ec.SECP384R1())
    forged = jwt.encode(dict(claims), other_key, algorithm="ES384", headers={"kid": header["kid"]})
    with pytest.raises(jwt.InvalidTokenError):
        verify(issuer_http, acct["issuer"], forged, "https://api.example.com")


def test_get_web_identity_token_for_a_role_session(server, issuer_http):
    acct = enabled_account(server)
    user, user_sts, _ = make_user(server, acct["iam"])
    role = make_role(acct["iam"], trust(user["Arn"]))
    put_role_policy(acct["iam"], role["RoleName"], "Tokens", policy(allow("sts:GetWebIdentityToken")))
    put_user_policy(acct["iam"], user["UserName"], "Assume", policy(allow("sts:AssumeRole", role["Arn"])))
    session = user_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="jobs", DurationSeconds=900)
    sts, _ = session_clients(server, session["Credentials"])
    audiences = ["aud-one", "aud-two"]
    out = sts.get_web_identity_token(Audience=audiences, SigningAlgorithm="ES384", DurationSeconds=600)
    claims = verify(issuer_http, acct["issuer"], out["WebIdentityToken"], "aud-two")
    assert claims["sub"] == role["Arn"]  # the role, not the session
    assert claims["aud"] == audiences
    assert claims[NAMESPACE] == {"aws_account": acct["id"], "source_region": "us-east-1"}
    assert claims["exp"] - claims["iat"] == 600
    with pytest.raises(ClientError) as longer:
        sts.get_web_identity_token(Audience=["a"], SigningAlgorithm="RS256", DurationSeconds=3600)
    assert error_code(longer) == "SessionDurationEscalationException"
    assert longer.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_get_web_identity_token_default_duration_and_root(server, issuer_http):
    acct = enabled_account(server)
    out = acct["sts"].get_web_identity_token(Audience=["svc"], SigningAlgorithm="RS256")
    claims = verify(issuer_http, acct["issuer"], out["WebIdentityToken"], "svc")
    assert claims["exp"] - claims["iat"] == 300
    assert claims["sub"] == f"arn:aws:iam::{acct['id']}:root"


def test_get_web_identity_token_needs_the_feature_enabled(server):
    acct = account(server)
    with pytest.raises(ClientError) as disabled:
        acct["sts"].get_web_identity_token(Audience=["svc"], SigningAlgorithm="RS256")
    assert error_code(disabled) == "OutboundWebIdentityFederationDisabledException"
    assert disabled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    acct["iam"].enable_outbound_web_identity_federation()
    acct["sts"].get_web_identity_token(Audience=["svc"], SigningAlgorithm="RS256")
    acct["iam"].disable_outbound_web_identity_federation()
    with pytest.raises(ClientError) as again:
        acct["sts"].get_web_identity_token(Audience=["svc"], SigningAlgorithm="RS256")
    assert error_code(again) == "OutboundWebIdentityFederationDisabledException"


def test_get_web_identity_token_condition_keys(server):
    acct = enabled_account(server)
    statement = allow(
        "sts:GetWebIdentityToken",
        Condition={
            "ForAllValues:StringEquals": {"sts:IdentityTokenAudience": "https://api.example.com"},
            "NumericLessThanEquals": {"sts:DurationSeconds": "300"},
            "StringEquals": {"sts:SigningAlgorithm": "ES384"},
        },
    )
    _, sts, _ = token_user(server, acct, statement)
    sts.get_web_identity_token(Audience=["https://api.example.com"], SigningAlgorithm="ES384")
    for kwargs in (
        {"Audience": ["https://other.example.com"], "SigningAlgorithm": "ES384"},
        {"Audience": ["https://api.example.com"], "SigningAlgorithm": "ES384", "DurationSeconds": 301},
        {"Audience": ["https://api.example.com"], "SigningAlgorithm": "RS256"},
    ):
        with pytest.raises(ClientError) as denied:
            sts.get_web_identity_token(**kwargs)
        assert error_code(denied) == "AccessDenied", kwargs


def test_get_web_identity_token_errors(server):
    acct = enabled_account(server)
    user, sts, _ = make_user(server, acct["iam"])
    with pytest.raises(ClientError) as denied:
        sts.get_web_identity_token(Audience=["svc"], SigningAlgorithm="RS256")
    assert error_code(denied) == "AccessDenied"
    put_user_policy(acct["iam"], user["UserName"], "Tokens", policy(allow("sts:*")))
    with pytest.raises(ClientError) as algorithm:
        sts.get_web_identity_token(Audience=["svc"], SigningAlgorithm="HS256")
    assert error_code(algorithm) == "ValidationError"
    for wrong in ({"DurationSeconds": 59}, {"DurationSeconds": 3601}, {"Audience": []}):
        with pytest.raises(ClientError) as invalid:  # the model's limits, checked by the server
            acct["unchecked_sts"].get_web_identity_token(
                **{"Audience": ["svc"], "SigningAlgorithm": "RS256", **wrong}
            )
        assert error_code(invalid) == "ValidationError", wrong
    big = [{"Key": f"k{i:02d}-" + "k" * 120, "Value": "v" * 256} for i in range(50)]
    with pytest.raises(ClientError) as large:
        sts.get_web_identity_token(Audience=["svc"], SigningAlgorithm="RS256", Tags=big)
    assert error_code(large) == "JWTPayloadSizeExceededException"
    with pytest.raises(ClientError) as duplicate:
        sts.get_web_identity_token(
            Audience=["svc"],
            SigningAlgorithm="RS256",
            Tags=[{"Key": "Team", "Value": "a"}, {"Key": "team", "Value": "b"}],
        )
    assert error_code(duplicate) == "InvalidParameterValue"
    # a GetSessionToken session may call no STS operation but AssumeRole and GetCallerIdentity
    limited, _ = session_clients(server, sts.get_session_token(DurationSeconds=900)["Credentials"])
    with pytest.raises(ClientError) as refused:
        limited.get_web_identity_token(Audience=["svc"], SigningAlgorithm="RS256")
    assert error_code(refused) == "AccessDenied"


# -- the issuer over HTTP ------------------------------------------------------------------------------------


def test_issuer_endpoints_only_for_published_accounts(server, issuer_http):
    never = account(server)
    assert issuer_http.get(f"/oidc/{never['id']}/.well-known/openid-configuration").status_code == 404
    assert issuer_http.get(f"/oidc/{never['id']}/.well-known/jwks.json").status_code == 404
    assert issuer_http.get(f"/oidc/{uuid.uuid4().hex}/.well-known/jwks.json").status_code == 404
    acct = enabled_account(server)
    jwks = issuer_http.get(f"/oidc/{acct['id']}/.well-known/jwks.json")
    assert jwks.status_code == 200 and "max-age" in jwks.headers["cache-control"]
    keys = jwks.json()["keys"]
    assert sorted(key["alg"] for key in keys) == ["ES384", "RS256"]
    assert {key["kty"] for key in keys} == {"RSA", "EC"} and all(key["use"] == "sig" for key in keys)
    assert all(not {"d", "p", "q"} & key.keys() for key in keys)
    # disabled: still published for one token lifetime, then gone
    acct["iam"].disable_outbound_web_identity_federation()
    path = f"/oidc/{acct['id']}/.well-known/openid-configuration"
    assert issuer_http.get(path).status_code == 200
    later = IssuerHTTP(server, clock=lambda: datetime.now(UTC) + timedelta(hours=2))
    try:
        assert later.get(path).status_code == 404
        assert later.get(f"/oidc/{acct['id']}/.well-known/jwks.json").status_code == 404
    finally:
        later.close()
