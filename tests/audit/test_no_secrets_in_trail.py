"""No secret reaches the audit trail: every secret this module creates or sends (secret access keys,
passwords, web identity tokens, SAML assertions, session credentials, MFA seeds) is looked for in
every record of the account, read back through LookupEvents and as the raw audit_events rows.

It runs its own server (SQLite and PostgreSQL) with IRONKEEP_ALLOW_INSECURE_OIDC_LOOPBACK=1 so that
a real web identity session can be issued by the loopback OIDC issuer, and so that changing the
account's password policy disturbs no other test.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from sqlalchemy import select

from ironkeep.auth.totp import code_at
from ironkeep.services import registry
from ironkeep.store import Store
from ironkeep.store import schema as t
from oidc_issuer import OidcIssuer
from serverproc import drop_schema, pg_available, start_server

CLIENT_ID = "trail-client"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def own_server(request, tmp_path_factory):
    if request.param == "postgresql" and not pg_available():
        pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable; the store must be tested on it")
    srv, schema = start_server(
        tmp_path_factory.mktemp(f"no-secrets-{request.param}"),
        request.param,
        extra_env={"IRONKEEP_ALLOW_INSECURE_OIDC_LOOPBACK": "1"},
    )
    yield srv
    srv.stop()
    if schema:
        drop_schema(schema)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def password() -> str:
    return "Pw1!" + secrets.token_urlsafe(18)


def unsigned_sts(server: Any) -> Any:
    return boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )


def fails(call: Any, **params: Any) -> str:
    """Make a call that must fail; return its error message (it may not echo a secret either)."""
    with pytest.raises(ClientError) as excinfo:
        call(**params)
    return str(excinfo.value.response["Error"].get("Message", ""))


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON-like value, with the JSON documents inside strings opened too."""
    if isinstance(value, str):
        yield value
        if value[:1] in "{[":
            try:
                inner = json.loads(value)
            except ValueError:
                return
            yield from strings(inner)
    elif isinstance(value, bytes):
        yield value.decode("latin-1")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)
    elif value is not None:
        yield str(value)


def make_secrets(server: Any) -> tuple[set[str], set[str], list[str]]:
    """Create, send and use secrets of every kind the server has operations for; return them, the
    access key ids that came with them (not secret: the trail must show them) and the error
    messages of the failed calls."""
    iam = server.client("iam")
    found: set[str] = {server.secret_access_key}
    key_ids: set[str] = set()
    messages: list[str] = []
    iam.update_account_password_policy(
        MinimumPasswordLength=14, RequireNumbers=True, AllowUsersToChangePassword=True
    )

    # users with access keys and login profiles; passwords set, reset, changed and refused
    for _ in range(2):
        name = unique("secretive")
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        found.add(key["SecretAccessKey"])
        key_ids.add(key["AccessKeyId"])
        first, second, third = password(), password(), password()
        found |= {first, second, third}
        iam.create_login_profile(UserName=name, Password=first, PasswordResetRequired=True)
        iam.update_login_profile(UserName=name, Password=second, PasswordResetRequired=False)
        user_iam = server.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
        user_iam.change_password(OldPassword=second, NewPassword=third)
        wrong, short, too_long = (
            password(),
            "Sh0rt!" + secrets.token_hex(4)[:7],
            "L0ng!" + secrets.token_urlsafe(120),
        )
        found |= {wrong, short, too_long}
        messages.append(fails(user_iam.change_password, OldPassword=wrong, NewPassword=password()))
        messages.append(fails(user_iam.change_password, OldPassword=third, NewPassword=short))
        messages.append(fails(iam.update_login_profile, UserName=name, Password=short))
        messages.append(fails(iam.update_login_profile, UserName=name, Password=too_long))  # longer than 128
        messages.append(fails(iam.create_login_profile, UserName=name + "-nobody", Password=third))
        # a call signed with a wrong secret (never sent, but it must not turn up either)
        wrong_secret = secrets.token_urlsafe(30)
        found.add(wrong_secret)
        messages.append(fails(server.client("iam", key=key["AccessKeyId"], secret=wrong_secret).get_user))

    # a web identity session: the token, the session's secret key and its session token
    with OidcIssuer(path="/trail") as issuer:
        provider = iam.create_open_id_connect_provider(Url=issuer.url, ClientIDList=[CLIENT_ID])
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider["OpenIDConnectProviderArn"]},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {"StringEquals": {f"{issuer.host}:aud": CLIENT_ID}},
                }
            ],
        }
        role = iam.create_role(RoleName=unique("web"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        token = issuer.mint(sub="user-1", aud=CLIENT_ID)
        creds = unsigned_sts(server).assume_role_with_web_identity(
            RoleArn=role["Arn"], RoleSessionName="trail", WebIdentityToken=token
        )["Credentials"]
        found |= {token, creds["SecretAccessKey"], creds["SessionToken"]}
        key_ids.add(creds["AccessKeyId"])
        session_iam = server.client(
            "iam", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"]
        )
        messages.append(fails(session_iam.list_users))
        forged = token[: token.rindex(".") + 1] + base64.urlsafe_b64encode(
            secrets.token_bytes(256)
        ).decode().rstrip("=")
        found.add(forged)
        messages.append(
            fails(
                unsigned_sts(server).assume_role_with_web_identity,
                RoleArn=role["Arn"],
                RoleSessionName="forged",
                WebIdentityToken=forged,
            )
        )

    # a SAML assertion that does not verify
    assertion = base64.b64encode(
        b"<samlp:Response>" + secrets.token_bytes(96) + b"</samlp:Response>"
    ).decode()
    found.add(assertion)
    messages.append(
        fails(
            unsigned_sts(server).assume_role_with_saml,
            RoleArn=role["Arn"],
            PrincipalArn=f"arn:aws:iam::{server.account_id}:saml-provider/{unique('idp')}",
            SAMLAssertion=assertion,
        )
    )

    session_secrets(server, found, key_ids)
    return found, key_ids, messages


def session_secrets(server: Any, found: set[str], key_ids: set[str]) -> None:
    """MFA seeds, QR codes and the codes typed; credentials from GetSessionToken (with MFA),
    AssumeRole and GetFederationToken: each when the server has the operations."""
    iam = server.client("iam")
    name = unique("session")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    found.add(key["SecretAccessKey"])
    key_ids.add(key["AccessKeyId"])
    sts = server.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    mfa: dict[str, str] = {}
    if registry.find("iam", "CreateVirtualMFADevice") is not None:
        device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("phone"))["VirtualMFADevice"]
        seed = device["Base32StringSeed"].decode("ascii")
        found |= {seed, base64.b64encode(device["QRCodePNG"]).decode("ascii")[:60]}
        now = datetime.now(UTC)
        iam.enable_mfa_device(
            UserName=name,
            SerialNumber=device["SerialNumber"],
            AuthenticationCode1=code_at(seed, now - timedelta(seconds=30)),
            AuthenticationCode2=code_at(seed, now),
        )
        mfa = {
            "SerialNumber": device["SerialNumber"],
            "TokenCode": code_at(seed, now + timedelta(seconds=30)),
        }
    issued: list[dict] = []
    if registry.find("sts", "GetSessionToken") is not None:
        issued.append(sts.get_session_token(DurationSeconds=900, **mfa)["Credentials"])
    if registry.find("iam", "PutUserPolicy") is not None:
        allow = {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:GetFederationToken"], "Resource": "*"}
        document = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
        iam.put_user_policy(UserName=name, PolicyName="issue", PolicyDocument=document)
        if registry.find("sts", "AssumeRole") is not None:
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            role = iam.create_role(RoleName=unique("assumed"), AssumeRolePolicyDocument=json.dumps(trust))
            issued.append(
                sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="trail")["Credentials"]
            )
        if registry.find("sts", "GetFederationToken") is not None:
            issued.append(sts.get_federation_token(Name="trail-fed", Policy=document)["Credentials"])
    for creds in issued:
        found |= {creds["SecretAccessKey"], creds["SessionToken"]}
        key_ids.add(creds["AccessKeyId"])
        server.client(
            "sts", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"]
        ).get_caller_identity()


def read_lookup_events(server: Any, since: datetime) -> list[dict]:
    pages = server.client("cloudtrail").get_paginator("lookup_events").paginate(StartTime=since)
    return [event for page in pages for event in page["Events"]]


def read_rows(server: Any) -> list[tuple]:
    env = server.store_env
    url = env.get("IRONKEEP_DATABASE_URL") or f"sqlite:///{server.data_dir / 'ironkeep.db'}"
    store = Store.open(url, schema=env.get("IRONKEEP_DATABASE_SCHEMA"), pool_size=1)
    try:
        with store.transaction(write=False) as tx:
            events = [tuple(row) for row in tx.execute(select(t.audit_events))]
            names = [tuple(row) for row in tx.execute(select(t.audit_event_names))]
        return events + names
    finally:
        store.dispose()


def test_no_secret_appears_in_any_record(own_server):
    since = datetime.now(UTC) - timedelta(seconds=5)
    found, key_ids, messages = make_secrets(own_server)
    assert all(len(s) >= 13 for s in found)  # long enough for a substring search to mean something

    events = read_lookup_events(own_server, since)
    names = {e["EventName"] for e in events}
    for expected in ("CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "ChangePassword",
                     "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML", "GetUser", "ListUsers"):  # fmt: skip
        assert expected in names
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    succeeded = {r["eventName"] for r in records if "errorCode" not in r}
    for name in ["CreateVirtualMFADevice", "EnableMFADevice", "GetSessionToken", "AssumeRole", "GetFederationToken"]:
        assert name in succeeded, name
    assert any(r.get("errorCode") == "SignatureDoesNotMatch" for r in records)
    issued = [r for r in records if r["eventName"] == "AssumeRoleWithWebIdentity" and "errorCode" not in r]
    assert issued and issued[0]["responseElements"]["credentials"]["accessKeyId"].startswith("ASIA")

    rows = read_rows(own_server)
    assert len([r for r in rows if len(r) == 10]) >= len(events)
    texts = [*(s for e in events for s in strings(e)), *(s for r in rows for s in strings(list(r)))]
    # the search finds what is there: every access key id that came with a secret is in the trail
    assert [key_id for key_id in key_ids if not any(key_id in text for text in texts)] == []
    leaks = sorted({secret[:6] + "…" for secret in found for text in texts if secret in text})
    assert leaks == []
    assert not [text for text in texts if "$argon2" in text]  # nor a password hash
    for record in records:  # TOTP codes are too short to search for: their members must be gone
        params = json.dumps(record.get("requestParameters") or {})
        assert "authenticationCode" not in params and "tokenCode" not in params
    # what callers were told: no failed call echoed a secret back either
    assert not [m for m in messages for secret in found if secret in m]
