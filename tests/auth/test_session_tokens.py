"""Sealed STS session tokens: round trip, binding to the access key id, rotation, expiry, tampering."""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ironkeep.auth import session_tokens as st_mod
from ironkeep.auth.errors import ExpiredToken, InvalidClientTokenId
from ironkeep.auth.session_tokens import SessionContext, SessionKind

NOW = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)
KEY = bytes(range(32))
KEYS = {"k1": KEY}
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::example-bucket", "arn:aws:s3:::example-bucket/*"],
            }
        ],
    }
)


def role_session(**changes: object) -> SessionContext:
    base = SessionContext(
        account_id="123456789012",
        principal_arn="arn:aws:sts::123456789012:assumed-role/ReadOnly/alice",
        principal_id="AROACKCEVSQ6C2EXAMPLE:alice",
        kind=SessionKind.ASSUMED_ROLE,
        expiration=NOW + timedelta(hours=1),
        role_arn="arn:aws:iam::123456789012:role/ReadOnly",
        session_name="alice",
        session_policies=(POLICY,),
        tags=(("Project", "Blue"),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_credentials_have_aws_shapes() -> None:
    creds = st_mod.issue(role_session(), "k1", KEY, NOW)
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", creds.access_key_id)
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", creds.secret_access_key)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", creds.session_token)
    assert creds.expiration == NOW + timedelta(hours=1)


def test_round_trip_keeps_every_field() -> None:
    ctx = role_session(
        source_identity="alice@example.com",
        session_policies=(POLICY, '{"Version":"2012-10-17","Statement":[]}'),
        policy_arns=("arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::123456789012:policy/x"),
        tags=(("Project", "Blue"), ("cost-Centre", "ünïcode ✓"), ("Empty", "")),
        transitive_tag_keys=("Project",),
        mfa_authenticated=True,
        mfa_authenticated_at=NOW - timedelta(minutes=5, microseconds=7),
        federated_provider="arn:aws:iam::123456789012:saml-provider/Okta",
    )
    creds = st_mod.issue(ctx, "k1", KEY, NOW + timedelta(microseconds=999))
    opened = st_mod.open_token(creds.session_token, creds.access_key_id, KEYS, NOW)
    assert opened.secret_access_key == creds.secret_access_key
    assert opened.context == replace(
        ctx, issued_at=NOW, mfa_authenticated_at=NOW - timedelta(minutes=5, seconds=1)
    )
    assert opened.context.tag_map() == {"Project": "Blue", "cost-Centre": "ünïcode ✓", "Empty": ""}


@pytest.mark.parametrize(
    "ctx",
    [
        SessionContext(
            account_id="123456789012",
            principal_arn="arn:aws:iam::123456789012:user/bob",
            principal_id="AIDACKCEVSQ6C2EXAMPLE",
            kind=SessionKind.IAM_USER,
            expiration=NOW + timedelta(hours=12),
            mfa_authenticated=True,
            mfa_authenticated_at=NOW,
        ),
        SessionContext(
            account_id="123456789012",
            principal_arn="arn:aws:iam::123456789012:root",
            principal_id="123456789012",
            kind=SessionKind.ROOT,
            expiration=NOW + timedelta(hours=1),
        ),
        SessionContext(
            account_id="123456789012",
            principal_arn="arn:aws:sts::123456789012:federated-user/carol",
            principal_id="123456789012:carol",
            kind=SessionKind.FEDERATED_USER,
            expiration=NOW + timedelta(hours=36),
            session_policies=(POLICY,),
        ),
    ],
    ids=["GetSessionToken", "root", "GetFederationToken"],
)
def test_round_trip_for_each_kind(ctx: SessionContext) -> None:
    creds = st_mod.issue(ctx, "k1", KEY, NOW)
    opened = st_mod.open_token(creds.session_token, creds.access_key_id, KEYS, NOW)
    assert opened.context == replace(ctx, issued_at=NOW)
    assert opened.context.mfa_authenticated is ctx.mfa_authenticated


def test_each_issue_draws_fresh_credentials() -> None:
    a = st_mod.issue(role_session(), "k1", KEY, NOW)
    b = st_mod.issue(role_session(), "k1", KEY, NOW)
    assert a.access_key_id != b.access_key_id
    assert a.secret_access_key != b.secret_access_key
    assert a.session_token != b.session_token


def test_typical_token_is_compact() -> None:
    creds = st_mod.issue(role_session(), "k1", KEY, NOW)
    # A one-policy session stays well inside "typically less than 4096 bytes".
    assert len(creds.session_token) < 700
    raw_json = len(POLICY) + 200
    assert len(creds.session_token) < 2 * raw_json


def test_token_opens_only_with_its_own_access_key_id() -> None:
    a = st_mod.issue(role_session(), "k1", KEY, NOW)
    b = st_mod.issue(role_session(), "k1", KEY, NOW)
    with pytest.raises(InvalidClientTokenId) as err:
        st_mod.open_token(a.session_token, b.access_key_id, KEYS, NOW)
    assert err.value.code == "InvalidClientTokenId"
    assert err.value.status == 403
    assert err.value.message == "The security token included in the request is invalid."


def test_key_rotation() -> None:
    old = st_mod.issue(role_session(), "2026-10", KEY, NOW)
    new_key = secrets.token_bytes(32)
    new = st_mod.issue(role_session(), "2026-11", new_key, NOW)
    assert st_mod.token_key_id(old.session_token) == "2026-10"
    assert st_mod.token_key_id(new.session_token) == "2026-11"
    both = {"2026-10": KEY, "2026-11": new_key}
    for creds in (old, new):
        st_mod.open_token(creds.session_token, creds.access_key_id, both, NOW)
    # Once the old key is retired its tokens no longer open.
    with pytest.raises(InvalidClientTokenId):
        st_mod.open_token(old.session_token, old.access_key_id, {"2026-11": new_key}, NOW)


def test_wrong_key_under_the_same_id_is_invalid() -> None:
    creds = st_mod.issue(role_session(), "k1", KEY, NOW)
    with pytest.raises(InvalidClientTokenId):
        st_mod.open_token(creds.session_token, creds.access_key_id, {"k1": secrets.token_bytes(32)}, NOW)
    with pytest.raises(InvalidClientTokenId):
        st_mod.open_token(creds.session_token, creds.access_key_id, {"k1": b"short"}, NOW)


def test_expiry() -> None:
    creds = st_mod.issue(role_session(), "k1", KEY, NOW)
    last_valid = NOW + timedelta(hours=1) - timedelta(microseconds=1)
    st_mod.open_token(creds.session_token, creds.access_key_id, KEYS, last_valid)
    with pytest.raises(ExpiredToken) as err:
        st_mod.open_token(creds.session_token, creds.access_key_id, KEYS, NOW + timedelta(hours=1))
    assert (err.value.code, err.value.status) == ("ExpiredToken", 400)
    assert err.value.message == "The security token included in the request is expired"
    # Naive datetimes are UTC.
    with pytest.raises(ExpiredToken):
        st_mod.open_token(creds.session_token, creds.access_key_id, KEYS, datetime(2026, 11, 29, 9, 0, 1))


def test_a_token_opened_before_is_checked_again_in_full() -> None:
    """Opened sessions are remembered, by token, access key id and key: a token that opened once
    still opens only with its own access key id, only under the key it was sealed with (not another
    under the same id, nor once that id is retired), and expires on time."""
    creds = st_mod.issue(role_session(), "k1", KEY, NOW)
    other = st_mod.issue(role_session(), "k1", KEY, NOW)
    first = st_mod.open_token(creds.session_token, creds.access_key_id, KEYS, NOW)
    assert st_mod.open_token(creds.session_token, creds.access_key_id, KEYS, NOW) == first
    with pytest.raises(InvalidClientTokenId):
        st_mod.open_token(creds.session_token, other.access_key_id, KEYS, NOW)
    with pytest.raises(InvalidClientTokenId):
        st_mod.open_token(creds.session_token, creds.access_key_id, {"k1": secrets.token_bytes(32)}, NOW)
    with pytest.raises(InvalidClientTokenId):
        st_mod.open_token(creds.session_token, creds.access_key_id, {"k2": KEY}, NOW)
    with pytest.raises(ExpiredToken):
        st_mod.open_token(creds.session_token, creds.access_key_id, KEYS, NOW + timedelta(hours=1))
    assert st_mod.open_token(creds.session_token, creds.access_key_id, KEYS, NOW) == first


def test_tampered_expired_token_is_invalid_not_expired() -> None:
    creds = st_mod.issue(role_session(), "k1", KEY, NOW)
    raw = bytearray(base64.urlsafe_b64decode(creds.session_token + "=="))
    raw[-1] ^= 1
    bad = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(InvalidClientTokenId):
        st_mod.open_token(bad, creds.access_key_id, KEYS, NOW + timedelta(days=1))


def test_issue_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError):
        st_mod.issue(role_session(expiration=NOW), "k1", KEY, NOW)
    with pytest.raises(ValueError):
        st_mod.issue(role_session(), "k1", b"x" * 16, NOW)
    with pytest.raises(ValueError):
        st_mod.issue(role_session(), "", KEY, NOW)
    with pytest.raises(ValueError):
        st_mod.issue(role_session(), "k" * 65, KEY, NOW)


_CREDS = st_mod.issue(role_session(), "k1", KEY, NOW)
_RAW = base64.urlsafe_b64decode(_CREDS.session_token + "==")


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=len(_RAW) - 1), st.integers(min_value=1, max_value=255))
def test_any_flipped_byte_is_invalid(position: int, mask: int) -> None:
    raw = bytearray(_RAW)
    raw[position] ^= mask
    token = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(InvalidClientTokenId):
        st_mod.open_token(token, _CREDS.access_key_id, KEYS, NOW)


@given(st.integers(min_value=0, max_value=len(_RAW) - 1))
def test_any_truncation_is_invalid(length: int) -> None:
    token = base64.urlsafe_b64encode(_RAW[:length]).rstrip(b"=").decode()
    with pytest.raises(InvalidClientTokenId):
        st_mod.open_token(token, _CREDS.access_key_id, KEYS, NOW)


@given(st.text(max_size=600), st.text(max_size=30))
def test_garbage_is_invalid_client_token_id(token: str, access_key_id: str) -> None:
    with pytest.raises(InvalidClientTokenId):
        st_mod.open_token(token, access_key_id, KEYS, NOW)


@given(st.binary(max_size=400))
def test_garbage_bytes_are_invalid_client_token_id(raw: bytes) -> None:
    token = base64.urlsafe_b64encode(raw).decode()
    with pytest.raises(InvalidClientTokenId):
        st_mod.open_token(token, _CREDS.access_key_id, KEYS, NOW)


@pytest.mark.parametrize("junk", ["=", "==", " ", "\n", "!", ".", "+", "/"])
def test_token_with_extra_characters_is_invalid(junk: str) -> None:
    for token in (_CREDS.session_token + junk, junk + _CREDS.session_token):
        with pytest.raises(InvalidClientTokenId):
            st_mod.open_token(token, _CREDS.access_key_id, KEYS, NOW)


def test_oversized_token_is_refused_before_decoding() -> None:
    with pytest.raises(InvalidClientTokenId):
        st_mod.open_token("A" * (st_mod.MAX_TOKEN_CHARS + 1), _CREDS.access_key_id, KEYS, NOW)
