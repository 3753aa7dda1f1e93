"""STS temporary credentials that any Ironkeep node can check without a store round-trip.

:func:`issue` draws an ``ASIA…`` access key id and a 40-character secret, and seals the whole
session (who, which role, session policies and tags, MFA, expiry, and the secret itself) into the
session token with AES-256-GCM. :func:`open_token` reverses it: a node that receives a request
signed with ``ASIA…`` and ``X-Amz-Security-Token`` opens the token, gets the secret to verify the
SigV4 signature with, and the session's context for the policy engine.

Token layout (then unpadded URL-safe base64)::

    version (1) | len(key_id) (1) | key_id (ascii) | nonce (12) | AES-GCM(zlib(orjson(session))) + tag (16)

- The key id travels in clear so that sealing keys can rotate: nodes keep old keys for opening
  until the longest session sealed with them has expired.
- The associated data is the clear header plus the access key id, so a token only opens with the
  ``ASIA…`` key id it was issued with.
- Any failure to open (unknown key id, tampering, a token for another key id, garbage) is AWS's
  ``InvalidClientTokenId``; an intact token past its expiry is ``ExpiredToken``.

Revocation (AWS's "revoke active sessions" for roles) cannot live in the token: it is a store-side
check of ``issued_at`` against the role's revocation time, made by the caller.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ironkeep.auth.errors import ExpiredToken, InvalidClientTokenId
from ironkeep.auth.keys import new_access_key_id, new_secret_access_key

VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_KEY_ID_LENGTH = 64
MAX_TOKEN_CHARS = 16384
"""Tokens longer than this are refused before any work (ours stay well under 4096)."""
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]+")


class SessionKind(StrEnum):
    """Who the temporary credentials act as."""

    ASSUMED_ROLE = "AssumedRole"  # AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity
    FEDERATED_USER = "FederatedUser"  # GetFederationToken
    IAM_USER = "IAMUser"  # GetSessionToken called with an IAM user's keys
    ROOT = "Root"  # GetSessionToken called with root keys


@dataclass(frozen=True, slots=True)
class SessionContext:
    """Everything a node needs to authorize a request made with temporary credentials.

    ``principal_arn`` is the session's ARN (``arn:aws:sts::<acct>:assumed-role/<role>/<session>``,
    ``…:federated-user/<name>``, or the user's or root's own ARN for GetSessionToken), and
    ``principal_id`` is what GetCallerIdentity calls UserId (``AROA…:session``, ``<acct>:<name>``,
    ``AIDA…`` or the account id).
    """

    account_id: str
    principal_arn: str
    principal_id: str
    kind: SessionKind
    expiration: datetime
    issued_at: datetime | None = None
    """Set by :func:`issue` to its ``now``."""
    role_arn: str | None = None
    session_name: str | None = None
    source_identity: str | None = None
    session_policies: tuple[str, ...] = ()
    """Inline session policy documents, as sent (AssumeRole's ``Policy``)."""
    policy_arns: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    """Session tags (key case preserved), including the transitive ones inherited by chaining."""
    transitive_tag_keys: tuple[str, ...] = ()
    mfa_authenticated: bool = False
    mfa_authenticated_at: datetime | None = None
    federated_provider: str | None = None
    """The SAML provider ARN or OIDC issuer for AssumeRoleWithSAML / AssumeRoleWithWebIdentity."""
    issuer_id: str | None = None
    """The unique id of the role (AROA…) or user (AIDA…) whose policies the session carries;
    None for root sessions."""

    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)


@dataclass(frozen=True, slots=True)
class TemporaryCredentials:
    """STS's ``Credentials`` shape."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """What :func:`open_token` recovers: the session and the secret to check SigV4 with.

    The secret is kept out of :class:`SessionContext` so that the context can be logged, audited
    and handed to the policy engine without it.
    """

    context: SessionContext
    secret_access_key: str


def issue(context: SessionContext, key_id: str, key: bytes, now: datetime) -> TemporaryCredentials:
    """Mint ``ASIA…`` credentials for ``context``, sealed under ``key`` (named ``key_id``)."""
    now = _whole_seconds(now)
    expiration = _whole_seconds(context.expiration)
    if expiration <= now:
        raise ValueError("a session must expire after it is issued")
    header = _header(key_id)
    access_key_id = new_access_key_id(temporary=True)
    secret = new_secret_access_key()
    mfa_at = context.mfa_authenticated_at
    sealed_context = replace(
        context,
        issued_at=now,
        expiration=expiration,
        mfa_authenticated_at=_whole_seconds(mfa_at) if mfa_at is not None else None,
    )
    plaintext = zlib.compress(orjson.dumps(_pack(sealed_context, secret)), 9)
    nonce = secrets.token_bytes(NONCE_BYTES)
    body = AESGCM(_check_key(key)).encrypt(nonce, plaintext, header + access_key_id.encode("ascii"))
    token = base64.urlsafe_b64encode(header + nonce + body).rstrip(b"=").decode("ascii")
    return TemporaryCredentials(access_key_id, secret, token, expiration)


def token_key_id(session_token: str) -> str:
    """The id of the key a token was sealed with (for rotation bookkeeping and diagnostics)."""
    key_id, _ = _split(_decode(session_token))
    return key_id


def open_token(
    session_token: str,
    access_key_id: str,
    keys: Mapping[str, bytes] | Callable[[str], bytes | None],
    now: datetime,
) -> OpenedSession:
    """Open a session token presented with ``access_key_id``; check it has not expired at ``now``.
    ``keys``: the session keys by id, or a function that finds the one the token names (so that a
    caller need not decode the token first to learn which)."""
    raw = _decode(session_token)
    key_id, header_len = _split(raw)
    key = keys.get(key_id) if isinstance(keys, Mapping) else keys(key_id)
    if key is None or len(key) != KEY_BYTES:
        raise InvalidClientTokenId()
    opened = _opened(session_token, access_key_id, key, raw, header_len)
    if _aware(now) >= opened.context.expiration:
        raise ExpiredToken()
    return opened


def _opened(session_token: str, access_key_id: str, key: bytes, raw: bytes, header_len: int) -> OpenedSession:
    """The session a token seals, for this access key id under this key: decrypted once, then taken
    from memory (a client repeats its token on every call, and decrypting, inflating and parsing it
    cost a fifth of a GetCallerIdentity). The key is part of what is remembered by, so a retired or
    replaced key opens nothing it did not open before; a token that does not open is not kept."""
    cache_key = (session_token, access_key_id, key)
    opened = _OPENED.get(cache_key)
    if opened is not None:
        return opened
    nonce = raw[header_len : header_len + NONCE_BYTES]
    try:
        aad = raw[:header_len] + access_key_id.encode("ascii")
        plaintext = AESGCM(key).decrypt(nonce, raw[header_len + NONCE_BYTES :], aad)
        context, secret = _unpack(orjson.loads(zlib.decompress(plaintext)))
    except (
        InvalidTag,
        UnicodeEncodeError,
        zlib.error,
        orjson.JSONDecodeError,
        KeyError,
        TypeError,
        ValueError,
    ):
        raise InvalidClientTokenId() from None
    if len(_OPENED) >= _OPENED_MAX:
        _OPENED.clear()  # refills from the tokens in use, one call each
    opened = _OPENED[cache_key] = OpenedSession(context, secret)
    return opened


_OPENED: dict[tuple[str, str, bytes], OpenedSession] = {}
_OPENED_MAX = 4096


# -- encoding ---------------------------------------------------------------------------------------


def _header(key_id: str) -> bytes:
    encoded = key_id.encode("ascii")
    if not 0 < len(encoded) <= MAX_KEY_ID_LENGTH:
        raise ValueError(f"key ids are 1 to {MAX_KEY_ID_LENGTH} ASCII characters")
    return bytes([VERSION, len(encoded)]) + encoded


def _check_key(key: bytes) -> bytes:
    if len(key) != KEY_BYTES:
        raise ValueError(f"session token keys are {KEY_BYTES} bytes (AES-256)")
    return key


def _decode(session_token: str) -> bytes:
    if len(session_token) > MAX_TOKEN_CHARS or not _TOKEN_CHARS.fullmatch(session_token):
        raise InvalidClientTokenId()
    try:
        return base64.urlsafe_b64decode(session_token + "=" * (-len(session_token) % 4))
    except (binascii.Error, ValueError):
        raise InvalidClientTokenId() from None


def _split(raw: bytes) -> tuple[str, int]:
    """The key id and the header's length; :class:`InvalidClientTokenId` if malformed."""
    if len(raw) < 2 or raw[0] != VERSION:
        raise InvalidClientTokenId()
    header_len = 2 + raw[1]
    if raw[1] == 0 or len(raw) < header_len + NONCE_BYTES + TAG_BYTES:
        raise InvalidClientTokenId()
    try:
        return raw[2:header_len].decode("ascii"), header_len
    except UnicodeDecodeError:
        raise InvalidClientTokenId() from None


# Short field names keep tokens compact; absent/empty fields are left out.
def _pack(ctx: SessionContext, secret: str) -> dict[str, Any]:
    assert ctx.issued_at is not None
    packed: dict[str, Any] = {
        "s": secret,
        "a": ctx.account_id,
        "p": ctx.principal_arn,
        "i": ctx.principal_id,
        "k": ctx.kind.value,
        "t": _seconds(ctx.issued_at),
        "x": _seconds(ctx.expiration),
    }
    optional: dict[str, Any] = {
        "r": ctx.role_arn,
        "n": ctx.session_name,
        "si": ctx.source_identity,
        "sp": list(ctx.session_policies),
        "pa": list(ctx.policy_arns),
        "tg": [list(pair) for pair in ctx.tags],
        "tt": list(ctx.transitive_tag_keys),
        "m": ctx.mfa_authenticated or None,
        "mt": _seconds(ctx.mfa_authenticated_at) if ctx.mfa_authenticated_at is not None else None,
        "fp": ctx.federated_provider,
        "ii": ctx.issuer_id,
    }
    packed.update((name, value) for name, value in optional.items() if value)
    return packed


def _unpack(packed: dict[str, Any]) -> tuple[SessionContext, str]:
    mfa_at = packed.get("mt")
    context = SessionContext(
        account_id=packed["a"],
        principal_arn=packed["p"],
        principal_id=packed["i"],
        kind=SessionKind(packed["k"]),
        issued_at=_time(packed["t"]),
        expiration=_time(packed["x"]),
        role_arn=packed.get("r"),
        session_name=packed.get("n"),
        source_identity=packed.get("si"),
        session_policies=tuple(packed.get("sp", ())),
        policy_arns=tuple(packed.get("pa", ())),
        tags=tuple((key, value) for key, value in packed.get("tg", ())),
        transitive_tag_keys=tuple(packed.get("tt", ())),
        mfa_authenticated=bool(packed.get("m", False)),
        mfa_authenticated_at=_time(mfa_at) if mfa_at is not None else None,
        federated_provider=packed.get("fp"),
        issuer_id=packed.get("ii"),
    )
    return context, packed["s"]


def _seconds(when: datetime) -> int:
    return int(_aware(when).timestamp())


def _time(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _whole_seconds(when: datetime) -> datetime:
    """STS times have whole seconds (``Expiration`` is ``2026-11-29T10:00:00Z``)."""
    return _aware(when).astimezone(UTC).replace(microsecond=0)
