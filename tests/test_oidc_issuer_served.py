"""The server itself publishes the outbound web identity issuer's discovery document and JWKS,
and tokens from GetWebIdentityToken verify against them."""

import json
import urllib.request

import jwt
from botocore.exceptions import ClientError


def test_server_serves_discovery_and_jwks_that_verify_tokens(server):
    iam, sts = server.client("iam"), server.client("sts")
    try:
        iam.enable_outbound_web_identity_federation()
    except ClientError as error:
        assert error.response["Error"]["Code"] == "FeatureEnabled"
    issuer = iam.get_outbound_web_identity_federation_info()["IssuerIdentifier"]
    assert issuer.startswith(server.endpoint)
    with urllib.request.urlopen(issuer + "/.well-known/openid-configuration", timeout=10) as response:
        discovery = json.loads(response.read())
    assert discovery["issuer"] == issuer
    token = sts.get_web_identity_token(Audience=["https://example.test"], SigningAlgorithm="RS256")[
        "WebIdentityToken"
    ]
    key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="https://example.test", issuer=issuer)
    assert claims["sub"] == f"arn:aws:iam::{server.account_id}:root"
