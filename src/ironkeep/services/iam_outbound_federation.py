"""IAM outbound web identity federation: EnableOutboundWebIdentityFederation,
DisableOutboundWebIdentityFederation and GetOutboundWebIdentityFederationInfo, plus the account's
token issuer (its signing keys, discovery document and JWKS) that STS GetWebIdentityToken signs with
(:mod:`ironkeep.services.sts_extra`) and :mod:`ironkeep.oidc_issuer_http` publishes.

The issuer. AWS gives each account a unique issuer URL (``https://<id>.tokens.sts.global.api.aws``)
hosting ``/.well-known/openid-configuration`` and ``/.well-known/jwks.json``. Ironkeep's issuer is
its own public base URL plus ``/oidc/<account id>``; the base comes from ``IRONKEEP_PUBLIC_URL``
(default ``http://<IRONKEEP_HOST or 127.0.0.1>:<IRONKEEP_PORT or 8777>``) and is fixed in the
account's setting when the feature is first enabled, so tokens keep one ``iss`` for the account's
lifetime. Verifiers fetch ``<issuer>/.well-known/openid-configuration`` and then its ``jwks_uri``,
``<issuer>/.well-known/jwks.json``.

Signing keys. GetWebIdentityToken's ``SigningAlgorithm`` is RS256 or ES384, so enabling makes one
RSA-2048 key and one P-384 key for the account (PKCS#8, sealed with the server's SecretBox, bound to
the key id); the public halves are stored as JWKs with ``kid``, ``alg`` and ``use``.

Decisions where AWS leaves room:

- Disabling keeps the issuer and its keys: "tokens issued before the feature was disabled" are not
  affected, so the discovery document and JWKS stay published for one maximum token lifetime
  (:data:`MAX_TOKEN_SECONDS`) after a disable; enabling again reuses the same issuer and keys.
- GetOutboundWebIdentityFederationInfo answers ``FeatureDisabled`` for an account that never enabled
  the feature, and ``JwtVendingEnabled`` false (with the issuer) once it has been disabled.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import Connection, insert, select, update

from ironkeep.auth.secrets import SecretBox
from ironkeep.errors import AWSError
from ironkeep.services.common import utc
from ironkeep.services.context import CallContext
from ironkeep.services.registry import operation
from ironkeep.store import schema as t

SETTING_KEY = "outbound_web_identity_federation"
ALGORITHMS = ("RS256", "ES384")
MAX_TOKEN_SECONDS = 3600
"""GetWebIdentityToken's longest DurationSeconds: how long keys stay published after a disable."""
DEFAULT_PUBLIC_URL = "http://{host}:{port}"


class FeatureEnabled(AWSError):
    code = "FeatureEnabled"
    status = 409


class FeatureDisabled(AWSError):
    code = "FeatureDisabled"
    status = 404


ENABLED_MESSAGE = "Outbound identity federation is already enabled for this account."
DISABLED_MESSAGE = "Outbound identity federation is disabled for this account."


def public_url(env: dict[str, str] | None = None) -> str:
    """Ironkeep's public base URL, without a trailing slash (see the module's notes)."""
    env = dict(os.environ) if env is None else env
    url = env.get("IRONKEEP_PUBLIC_URL") or DEFAULT_PUBLIC_URL.format(
        host=env.get("IRONKEEP_HOST") or "127.0.0.1", port=env.get("IRONKEEP_PORT") or "8777"
    )
    return url.rstrip("/")


@dataclass(frozen=True, slots=True)
class Federation:
    """The account's outbound federation setting."""

    issuer: str
    enabled: bool
    changed_at: datetime

    def published(self, now: datetime) -> bool:
        """Whether the discovery document and JWKS are served (see the module's notes)."""
        return self.enabled or now - self.changed_at < timedelta(seconds=MAX_TOKEN_SECONDS)


def federation(tx: Connection, account_id: str) -> Federation | None:
    row = tx.execute(
        select(t.account_settings.c.value).where(
            t.account_settings.c.account_id == account_id, t.account_settings.c.key == SETTING_KEY
        )
    ).first()
    if row is None:
        return None
    value = json.loads(row.value)
    changed = utc(datetime.fromisoformat(value["changed_at"]))
    assert changed is not None
    return Federation(issuer=value["issuer"], enabled=bool(value["enabled"]), changed_at=changed)


def _save(tx: Connection, account_id: str, state: Federation, *, new: bool) -> None:
    value = json.dumps(
        {"issuer": state.issuer, "enabled": state.enabled, "changed_at": state.changed_at.isoformat()}
    )
    table = t.account_settings
    if new:
        tx.execute(
            insert(table).values(
                account_id=account_id, key=SETTING_KEY, value=value, updated_at=state.changed_at
            )
        )
    else:
        tx.execute(
            update(table)
            .where(table.c.account_id == account_id, table.c.key == SETTING_KEY)
            .values(value=value, updated_at=state.changed_at)
        )


# -- signing keys ------------------------------------------------------------------------------------


def _aad(kid: str) -> bytes:
    return f"token-signing-key:{kid}".encode()


def _new_key(alg: str) -> tuple[Any, dict[str, Any]]:
    if alg == "RS256":
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    else:
        private = ec.generate_private_key(ec.SECP384R1())
        jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    return private, jwk


def _create_keys(tx: Connection, box: SecretBox, account_id: str, now: datetime) -> None:
    for alg in ALGORITHMS:
        kid = secrets.token_hex(16)
        private, jwk = _new_key(alg)
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        jwk.update(kid=kid, alg=alg, use="sig")
        tx.execute(
            insert(t.token_signing_keys).values(
                id=kid,
                account_id=account_id,
                private_key_sealed=box.seal(pem, aad=_aad(kid)),
                public_jwk=json.dumps(jwk, separators=(",", ":")),
                created_at=now,
                retired_at=None,
            )
        )


def _active_keys(tx: Connection, account_id: str) -> list[Any]:
    keys = t.token_signing_keys
    return list(
        tx.execute(
            select(keys)
            .where(keys.c.account_id == account_id, keys.c.retired_at.is_(None))
            .order_by(keys.c.created_at, keys.c.id)
        )
    )


def signing_key(tx: Connection, box: SecretBox, account_id: str, alg: str) -> tuple[str, Any]:
    """The account's current key for ``alg``: (kid, private key object for PyJWT)."""
    for row in reversed(_active_keys(tx, account_id)):
        if json.loads(row.public_jwk)["alg"] == alg:
            pem = box.open(row.private_key_sealed, aad=_aad(row.id))
            return row.id, serialization.load_pem_private_key(pem, password=None)
    raise FeatureDisabled(DISABLED_MESSAGE)


def jwks(tx: Connection, account_id: str) -> dict[str, Any]:
    """The JWK Set verifiers fetch from ``jwks_uri``: the account's public keys."""
    return {"keys": [json.loads(row.public_jwk) for row in _active_keys(tx, account_id)]}


def discovery_document(issuer: str) -> dict[str, Any]:
    """The OpenID Connect discovery document of an issuer."""
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(ALGORITHMS),
        "claims_supported": ["iss", "sub", "aud", "iat", "exp", "jti", "https://sts.amazonaws.com/"],
    }


def sign(payload: dict[str, Any], kid: str, key: Any, alg: str) -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid, "typ": "JWT"})


# -- operations --------------------------------------------------------------------------------------


@operation("iam", "EnableOutboundWebIdentityFederation", read_only=False)
def enable_outbound_web_identity_federation(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    account = ctx.account_id
    tx = ctx.tx
    tx.execute(select(t.accounts.c.id).where(t.accounts.c.id == account).with_for_update())
    state = federation(tx, account)
    if state is not None and state.enabled:
        raise FeatureEnabled(ENABLED_MESSAGE)
    issuer = state.issuer if state is not None else f"{public_url()}/oidc/{account}"
    if not _active_keys(tx, account):
        _create_keys(tx, ctx.services.box, account, ctx.now)
    _save(tx, account, Federation(issuer, True, ctx.now), new=state is None)
    return {"IssuerIdentifier": issuer}


@operation("iam", "DisableOutboundWebIdentityFederation", read_only=False)
def disable_outbound_web_identity_federation(ctx: CallContext, params: dict[str, Any]) -> None:
    account = ctx.account_id
    ctx.tx.execute(select(t.accounts.c.id).where(t.accounts.c.id == account).with_for_update())
    state = federation(ctx.tx, account)
    if state is None or not state.enabled:
        raise FeatureDisabled(DISABLED_MESSAGE)
    _save(ctx.tx, account, Federation(state.issuer, False, ctx.now), new=False)
    return None


@operation("iam", "GetOutboundWebIdentityFederationInfo")
def get_outbound_web_identity_federation_info(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    state = federation(ctx.tx, ctx.account_id)
    if state is None:
        raise FeatureDisabled(DISABLED_MESSAGE)
    return {"IssuerIdentifier": state.issuer, "JwtVendingEnabled": state.enabled}
