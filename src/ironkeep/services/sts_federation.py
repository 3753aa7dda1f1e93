"""STS identity federation: AssumeRoleWithWebIdentity (OIDC) and AssumeRoleWithSAML.

Both calls arrive unsigned (the pipeline hands them an anonymous caller): the token or assertion is
the credential, and the role's trust policy is the only policy that authorizes them. The trust
policy is evaluated by the engine with the identity provider's ARN as the principal (what a
``"Principal": {"Federated": "arn:aws:iam::ACCT:oidc-provider/HOST"}`` or ``…:saml-provider/NAME``
names), the action ``sts:AssumeRoleWithWebIdentity`` / ``sts:AssumeRoleWithSAML``, the role ARN as
the resource, and the provider's condition keys in the context. Session tags from the token or
assertion also need ``sts:TagSession``, a source identity ``sts:SetSourceIdentity``, as in AWS.

Web identity tokens (JWTs, RS256/384/512 and ES256/384/512) are verified with PyJWT against the
issuer's JWKS, found through its discovery document (``{iss}/.well-known/openid-configuration`` →
``jwks_uri``) and cached for five minutes (refetched early, at most every two seconds, when a token
names a key id the cached set lacks: the IdP rotated its keys). TLS: the IdP's certificate is
checked against the system's trusted CAs, as AWS now does for most IdPs. When that fails, a
provider's ThumbprintList pins the certificate instead: the connection is accepted if the SHA-1 of
the certificate the server presents is listed (this covers self-signed IdPs; Python 3.11 exposes
only the server's own certificate, not the chain, so a thumbprint of an intermediate CA does not
help here). Plain ``http://`` is used only for loopback issuers registered while
``IRONKEEP_ALLOW_INSECURE_OIDC_LOOPBACK=1`` is set (test IdPs).

Sessions are made with AssumeRole's pieces (:mod:`ironkeep.services.sts_sessions`: session
policies and PackedPolicySize, session tags, sealing; :mod:`ironkeep.services.sts_core`: the role
by ARN, managed session policy ARNs, the MaxSessionDuration message). Tags and a source identity
come from the IdP: the token's ``https://aws.amazon.com/tags`` claim (``principal_tags``,
``transitive_tag_keys``) and ``https://aws.amazon.com/source_identity``; SAML's
``PrincipalTag:*``, ``TransitiveTagKeys`` and ``SourceIdentity`` attributes. The session records
the provider ARN (``aws:FederatedProvider`` in its later requests).

Condition keys in the trust evaluation. OIDC: ``{provider}:aud``, ``{provider}:sub``,
``{provider}:amr`` (when the token has ``amr``), where ``{provider}`` is the provider URL without
``https://`` (``token.actions.githubusercontent.com``, ``127.0.0.1:8999/tenant``), and
``aws:FederatedProvider`` (the provider ARN). SAML: ``saml:aud`` (the Recipient), ``saml:iss``,
``saml:sub``, ``saml:sub_type``, ``saml:namequalifier``, ``saml:doc`` (``ACCOUNT/PROVIDER-NAME``)
and the eduPerson/X.500 attributes named by OID (``saml:edupersonaffiliation``, ``saml:mail`` ...).
Both: ``sts:RoleSessionName``, ``aws:RequestTag/*``, ``aws:TagKeys``, ``sts:TransitiveTagKeys``,
``sts:SourceIdentity`` and the global keys.

The JWKS is fetched inside the call's database transaction (the pipeline opens it before the
handler runs): the cache and a 5-second timeout bound how long a slow IdP holds it.

Not supported: OAuth 2.0 access tokens (``ProviderId`` for www.amazon.com and graph.facebook.com),
the built-in providers that need no IAM provider (accounts.google.com, cognito-identity), and
encrypted SAML assertions.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt
from sqlalchemy import Row

from ironkeep.auth import session_tokens
from ironkeep.auth.saml_metadata import (
    ExpiredTokenException,
    IDPRejectedClaim,
    InvalidIdentityToken,
    name_qualifier,
    parse_metadata,
    verify_saml_response,
)
from ironkeep.engine import Principal, Request, authorize, compile_policy_set
from ironkeep.errors import AccessDenied, AWSError, ValidationError
from ironkeep.model.arns import parse_iam_arn
from ironkeep.services import authz
from ironkeep.services.context import CallContext
from ironkeep.services.iam_oidc_providers import (
    find_provider_by_url,
    insecure_loopback_allowed,
    is_loopback_host,
    url_key,
)
from ironkeep.services.iam_saml_providers import find_provider as find_saml_provider
from ironkeep.services.registry import operation
from ironkeep.services.sts_core import MAX_DURATION_MESSAGE, check_policy_arns, note_role_use, role_by_arn
from ironkeep.services.sts_sessions import (
    SessionPolicies,
    SessionTags,
    issue_credentials,
    packed_policy_size,
    session_policies,
    session_tags,
    tag_context,
)

__all__ = ["ExpiredTokenException", "IDPCommunicationError", "IDPRejectedClaim", "InvalidIdentityToken"]

WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
SAML = "sts:AssumeRoleWithSAML"
DEFAULT_DURATION = 3600
CLOCK_SKEW = timedelta(minutes=5)
_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
_TAGS_CLAIM = "https://aws.amazon.com/tags"
_SOURCE_IDENTITY_CLAIM = "https://aws.amazon.com/source_identity"


class IDPCommunicationError(AWSError):
    code = "IDPCommunicationError"
    status = 400


# -- role sessions: AssumeRole's pieces (sts_core, sts_sessions), with a federated principal ---------


@dataclass(frozen=True, slots=True)
class SessionRequest:
    """What a federated role session is made of, beyond the role itself."""

    session_name: str
    duration: int
    policies: SessionPolicies
    tags: SessionTags
    source_identity: str | None
    federated_provider: str
    not_after: datetime | None = None
    """The session may not outlast this (SAML's SessionNotOnOrAfter)."""


def _duration(role: Row[Any] | None, requested: int | None, *, default: int = DEFAULT_DURATION) -> int:
    """DurationSeconds against the role's MaxSessionDuration (ValidationError above it)."""
    if role is None:
        return default
    duration = requested if requested is not None else default
    if duration > role.max_session_duration:
        raise ValidationError(MAX_DURATION_MESSAGE)
    return duration


def _tags_from_idp(pairs: list[tuple[str, str]], transitive: list[str]) -> SessionTags:
    return session_tags([{"Key": key, "Value": value} for key, value in pairs], transitive)


def check_trust(
    ctx: CallContext,
    role: Row[Any] | None,
    principal_arn: str,
    action: str,
    keys: dict[str, Any],
    request: SessionRequest,
) -> None:
    """The role's trust policy must allow the federated principal ``action`` (and sts:TagSession /
    sts:SetSourceIdentity when the session carries tags or a source identity); AccessDenied otherwise.

    The principal is the provider's ARN: what ``"Principal": {"Federated": ARN}`` names (the engine
    matches Federated principals by exact ARN, in the role's account)."""
    denied = AccessDenied(f"Not authorized to perform {action}")
    if role is None:
        raise denied
    context = authz.request_context(ctx, keys)
    context["sts:RoleSessionName"] = request.session_name
    context.update(tag_context(request.tags))
    if request.source_identity:
        context["sts:SourceIdentity"] = request.source_identity
    policies = compile_policy_set(resource=role.assume_role_policy)
    actions = [action]
    if request.tags.tags:
        actions.append("sts:TagSession")
    if request.source_identity:
        actions.append("sts:SetSourceIdentity")
    for wanted in actions:
        decision = authorize(
            Request(
                principal=Principal(arn=principal_arn),
                action=wanted,
                resource=role.arn,
                resource_account=role.account_id,
                context=context,
            ),
            policies,
        )
        if decision.decision != "Allow":
            raise denied


def issue_role_session(ctx: CallContext, role: Row[Any], request: SessionRequest) -> dict[str, Any]:
    """Mint the role session's credentials; STS's ``Credentials`` and ``AssumedRoleUser`` (plus
    ``PackedPolicySize`` when session policies or tags were given, and ``SourceIdentity``)."""
    check_policy_arns(ctx, role.account_id, request.policies)
    packed = packed_policy_size(request.policies, request.tags.tags)
    expiration = ctx.now + timedelta(seconds=request.duration)
    if request.not_after is not None:
        expiration = min(expiration, request.not_after)
    session_arn = f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{request.session_name}"
    assumed_id = f"{role.id}:{request.session_name}"
    session = session_tokens.SessionContext(
        account_id=role.account_id,
        principal_arn=session_arn,
        principal_id=assumed_id,
        kind=session_tokens.SessionKind.ASSUMED_ROLE,
        expiration=expiration,
        role_arn=role.arn,
        session_name=request.session_name,
        source_identity=request.source_identity,
        session_policies=request.policies.documents,
        policy_arns=request.policies.arns,
        tags=request.tags.tags,
        transitive_tag_keys=request.tags.transitive_keys,
        federated_provider=request.federated_provider,
        issuer_id=role.id,
    )
    out: dict[str, Any] = {
        "Credentials": issue_credentials(ctx, session),
        "AssumedRoleUser": {"AssumedRoleId": assumed_id, "Arn": session_arn},
    }
    note_role_use(ctx, role)
    if request.policies or request.tags.tags:
        out["PackedPolicySize"] = packed
    if request.source_identity:
        out["SourceIdentity"] = request.source_identity
    return out


# -- OIDC: discovery, JWKS and token checks -----------------------------------------------------------

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_TTL = 300.0
JWKS_REFRESH_MIN = 2.0
FETCH_TIMEOUT = 5.0
MAX_DOCUMENT_BYTES = 512 * 1024


class _JwksCache:
    """Signing keys per (issuer, thumbprints), kept briefly: a node fetches them once every few minutes."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def key(self, issuer: str, thumbprints: tuple[str, ...], kid: str | None) -> Any:
        cache_key = (issuer, thumbprints)
        with self._lock:
            entry = self._entries.get(cache_key)
        now = time.monotonic()
        if entry is not None and now - entry[0] < JWKS_TTL:
            found = _pick_key(entry[1], kid)
            if found is not None or now - entry[0] < JWKS_REFRESH_MIN:
                return found
        keys = _fetch_keys(issuer, thumbprints)
        with self._lock:
            if len(self._entries) > 256:
                self._entries.clear()
            self._entries[cache_key] = (time.monotonic(), keys)
        return _pick_key(keys, kid)


_JWKS = _JwksCache()


def _pick_key(keys: dict[str, Any], kid: str | None) -> Any:
    if kid is not None:
        return keys.get(kid)
    return next(iter(keys.values())) if len(keys) == 1 else None


def _fetch_keys(issuer: str, thumbprints: tuple[str, ...]) -> dict[str, Any]:
    """The issuer's signing keys by key id (keys without one under ``""``): (declared alg, key)."""
    discovery = _get_json(issuer + DISCOVERY_PATH, thumbprints)
    jwks_uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
    if not isinstance(jwks_uri, str):
        raise IDPCommunicationError("The OIDC discovery document has no jwks_uri")
    document = _get_json(jwks_uri, thumbprints)
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise IDPCommunicationError("The JWKS document has no keys")
    keys: dict[str, Any] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            declared = entry.get("alg")
            keys[str(entry.get("kid", ""))] = (
                declared if isinstance(declared, str) else None,
                jwt.PyJWK(entry),
            )
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue  # a key of a kind Ironkeep cannot use: skip it, as AWS does
    return keys


def _get_json(url: str, thumbprints: tuple[str, ...]) -> Any:
    parts = urlsplit(url)
    host = parts.hostname or ""
    insecure = parts.scheme == "http" and insecure_loopback_allowed() and is_loopback_host(host)
    if parts.scheme != "https" and not insecure:
        raise IDPCommunicationError(f"Refusing to fetch {url}: OIDC documents are fetched over HTTPS only")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        if insecure:
            connection: http.client.HTTPConnection = http.client.HTTPConnection(
                host, parts.port, timeout=FETCH_TIMEOUT
            )
        else:
            connection = _tls_connection(host, parts.port, thumbprints)
        try:
            connection.request("GET", path, headers={"Accept": "application/json"})
            response = connection.getresponse()
            body = response.read(MAX_DOCUMENT_BYTES + 1)
        finally:
            connection.close()
    except (OSError, http.client.HTTPException) as error:
        raise IDPCommunicationError(
            f"Couldn't retrieve verification key from your identity provider: {error}"
        ) from None
    if response.status != 200 or len(body) > MAX_DOCUMENT_BYTES:
        raise IDPCommunicationError(
            f"Couldn't retrieve verification key from your identity provider (HTTP {response.status} from {url})"
        )
    try:
        return json.loads(body)
    except ValueError:
        raise IDPCommunicationError(f"The identity provider's document at {url} is not JSON") from None


def _tls_connection(host: str, port: int | None, thumbprints: tuple[str, ...]) -> http.client.HTTPSConnection:
    """A verified TLS connection; failing verification, one whose certificate's SHA-1 is pinned."""
    connection = http.client.HTTPSConnection(
        host, port, timeout=FETCH_TIMEOUT, context=ssl.create_default_context()
    )
    try:
        connection.connect()
        return connection
    except ssl.SSLCertVerificationError:
        connection.close()
        if not thumbprints:
            raise
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection(host, port, timeout=FETCH_TIMEOUT, context=unverified)
    connection.connect()
    sock = connection.sock
    der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
    if der is None or hashlib.sha1(der, usedforsecurity=False).hexdigest() not in thumbprints:
        connection.close()
        raise IDPCommunicationError(
            "The identity provider's certificate is not trusted and matches no thumbprint of the provider"
        )
    return connection


def _numeric(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidIdentityToken(f"The {name} claim must be a number")
    return float(value)


@dataclass(frozen=True, slots=True)
class WebIdentity:
    provider_arn: str
    condition_prefix: str
    audience: str
    subject: str
    claims: dict[str, Any]


def verify_web_identity(ctx: CallContext, token: str, account_id: str) -> WebIdentity:
    """Check a JWT as STS does: registered issuer, audience, signature, then times."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise InvalidIdentityToken("Couldn't parse the web identity token") from None
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise InvalidIdentityToken("The web identity token has no issuer (iss)")
    provider = find_provider_by_url(ctx.tx, account_id, issuer)
    if provider is None:
        raise InvalidIdentityToken(f"No OpenIDConnect provider found in your account for {issuer}")
    audiences = unverified.get("aud")
    audiences = (
        [audiences] if isinstance(audiences, str) else audiences if isinstance(audiences, list) else []
    )
    client_ids = json.loads(provider.client_ids)
    audience = next((a for a in audiences if isinstance(a, str) and a in client_ids), None)
    if audience is None:
        raise InvalidIdentityToken("Incorrect token audience")
    algorithm = header.get("alg")
    if algorithm not in _ALGORITHMS:
        raise InvalidIdentityToken(f"Unsupported token signing algorithm: {algorithm}")
    kid = header.get("kid")
    found = _JWKS.key(
        provider.url, tuple(json.loads(provider.thumbprints)), kid if isinstance(kid, str) else None
    )
    if found is None or found[0] not in (None, algorithm):
        raise InvalidIdentityToken("No matching verification key found for the web identity token")
    try:
        claims = jwt.decode(
            token,
            key=found[1].key,
            algorithms=[algorithm],
            # times and subject are checked below, against the call's clock and with AWS's errors
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
                "verify_sub": False,
                "verify_jti": False,
            },
        )
    except jwt.PyJWTError:
        raise InvalidIdentityToken("The web identity token's signature could not be verified") from None
    now = ctx.now.timestamp()
    expires = _numeric(claims, "exp")
    if expires is None:
        raise InvalidIdentityToken("The web identity token has no expiration (exp)")
    if now >= expires:
        raise ExpiredTokenException(
            f"Token expired: current date/time {int(now)} must be before the expiration date/time {int(expires)}"
        )
    for name in ("nbf", "iat"):
        when = _numeric(claims, name)
        if when is not None and when > now + CLOCK_SKEW.total_seconds():
            raise InvalidIdentityToken(f"The web identity token is not valid yet ({name} is in the future)")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidIdentityToken("The web identity token has no subject (sub)")
    return WebIdentity(provider.arn, url_key(provider.url), audience, subject, claims)


def _web_identity_session(identity: WebIdentity) -> tuple[list[tuple[str, str]], list[str], str | None]:
    claim = identity.claims.get(_TAGS_CLAIM)
    pairs: list[tuple[str, str]] = []
    transitive: list[str] = []
    if isinstance(claim, dict):
        for key, values in (claim.get("principal_tags") or {}).items():
            value = values[0] if isinstance(values, list) and len(values) == 1 else values
            if not isinstance(value, str):
                raise InvalidIdentityToken(f"Session tag {key} must have exactly one string value")
            pairs.append((str(key), value))
        transitive = [str(k) for k in claim.get("transitive_tag_keys") or []]
    source = identity.claims.get(_SOURCE_IDENTITY_CLAIM)
    return pairs, transitive, source if isinstance(source, str) else None


@operation("sts", "AssumeRoleWithWebIdentity", authorize=False)
def assume_role_with_web_identity(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("ProviderId"):
        raise ValidationError(
            "ProviderId names an OAuth 2.0 provider (www.amazon.com, graph.facebook.com); Ironkeep supports OpenID Connect ID tokens only"
        )
    role_arn = params["RoleArn"]
    parsed = parse_iam_arn(role_arn)
    if parsed is None or parsed.kind != "role":
        raise AccessDenied(f"Not authorized to perform {WEB_IDENTITY}")
    # the provider must be in the role's account: that is where the issuer is looked up
    identity = verify_web_identity(ctx, params["WebIdentityToken"], parsed.account_id)
    policies = session_policies(params)
    pairs, transitive, source_identity = _web_identity_session(identity)
    role = role_by_arn(ctx, role_arn)
    request = SessionRequest(
        session_name=params["RoleSessionName"],
        duration=_duration(role, params.get("DurationSeconds")),
        policies=policies,
        tags=_tags_from_idp(pairs, transitive),
        source_identity=source_identity,
        federated_provider=identity.provider_arn,
    )
    prefix = identity.condition_prefix
    keys: dict[str, Any] = {
        f"{prefix}:aud": identity.audience,
        f"{prefix}:sub": identity.subject,
        "aws:FederatedProvider": identity.provider_arn,
    }
    amr = identity.claims.get("amr")
    if isinstance(amr, list | str):
        keys[f"{prefix}:amr"] = [str(v) for v in amr] if isinstance(amr, list) else amr
    check_trust(ctx, role, identity.provider_arn, WEB_IDENTITY, keys, request)
    assert role is not None
    out = issue_role_session(ctx, role, request)
    out.update(
        SubjectFromWebIdentityToken=identity.subject,
        Provider=identity.provider_arn,
        Audience=identity.audience,
    )
    return out


# -- SAML ----------------------------------------------------------------------------------------------

# AWS's saml: condition keys for attributes named by OID (IAM User Guide, "Available keys for SAML-based federation").
_SAML_OID_KEYS = {
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": "saml:edupersonaffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.2": "saml:edupersonnickname",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.3": "saml:edupersonorgdn",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.4": "saml:edupersonorgunitdn",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.5": "saml:edupersonprimaryaffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.6": "saml:edupersonprincipalname",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.7": "saml:edupersonentitlement",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.8": "saml:edupersonprimaryorgunitdn",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.9": "saml:edupersonscopedaffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.10": "saml:edupersontargetedid",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.11": "saml:edupersonassurance",
    "urn:oid:1.3.6.1.4.1.5923.1.2.1.2": "saml:eduorghomepageuri",
    "urn:oid:1.3.6.1.4.1.5923.1.2.1.3": "saml:eduorgidentityauthnpolicyuri",
    "urn:oid:1.3.6.1.4.1.5923.1.2.1.4": "saml:eduorglegalname",
    "urn:oid:1.3.6.1.4.1.5923.1.2.1.5": "saml:eduorgsuperioruri",
    "urn:oid:1.3.6.1.4.1.5923.1.2.1.6": "saml:eduorgwhitepagesuri",
    "urn:oid:2.5.4.3": "saml:cn",
    "urn:oid:2.5.4.4": "saml:sn",
    "urn:oid:2.5.4.42": "saml:givenName",
    "urn:oid:2.5.4.10": "saml:o",
    "urn:oid:2.5.4.11": "saml:ou",
    "urn:oid:0.9.2342.19200300.100.1.1": "saml:uid",
    "urn:oid:0.9.2342.19200300.100.1.3": "saml:mail",
    "urn:oid:2.16.840.1.113730.3.1.241": "saml:displayName",
    "urn:oid:2.16.840.1.113730.3.1.3": "saml:employeeNumber",
}


@operation("sts", "AssumeRoleWithSAML", authorize=False)
def assume_role_with_saml(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    provider_arn, role_arn = params["PrincipalArn"], params["RoleArn"]
    provider = find_saml_provider(ctx.tx, provider_arn)
    if provider is None:
        raise InvalidIdentityToken(f"SAML provider {provider_arn} was not found")
    if provider.valid_until is not None and ctx.now >= _aware(provider.valid_until):
        raise InvalidIdentityToken(
            "The SAML provider's metadata has expired (ValidUntil); update the provider"
        )
    metadata = parse_metadata(provider.metadata_document)
    assertion = verify_saml_response(params["SAMLAssertion"], metadata.signing_certificates, ctx.now)
    if assertion.issuer != metadata.entity_id:
        raise InvalidIdentityToken(
            f"Issuer {assertion.issuer} of the SAML response is not the entity id of {provider_arn}"
        )
    if (role_arn, provider_arn) not in assertion.roles:
        raise AccessDenied(f"Not authorized to perform {SAML}")
    policies = session_policies(params)
    role = role_by_arn(ctx, role_arn)
    requested = params.get("DurationSeconds")
    if requested is None and role is not None and assertion.session_duration is not None:
        # the IdP's SessionDuration applies when the call names none, within the role's maximum
        duration = min(assertion.session_duration, role.max_session_duration)
    else:
        duration = _duration(role, requested)
    request = SessionRequest(
        session_name=assertion.role_session_name,
        duration=duration,
        policies=policies,
        tags=_tags_from_idp(list(assertion.principal_tags), list(assertion.transitive_tag_keys)),
        source_identity=assertion.source_identity,
        federated_provider=provider_arn,
        not_after=assertion.session_not_on_or_after,
    )
    qualifier = name_qualifier(assertion.issuer, provider.account_id, provider.name)
    keys: dict[str, Any] = {
        "saml:aud": assertion.recipient,
        "saml:iss": assertion.issuer,
        "saml:sub": assertion.subject,
        "saml:sub_type": assertion.subject_type,
        "saml:namequalifier": qualifier,
        "saml:doc": f"{provider.account_id}/{provider.name}",
    }
    for name, values in assertion.attributes.items():
        key = _SAML_OID_KEYS.get(name)
        if key is not None and values:
            keys[key] = list(values)
    check_trust(ctx, role, provider_arn, SAML, keys, request)
    assert role is not None
    if request.not_after is not None and request.not_after <= ctx.now + timedelta(seconds=1):
        raise ExpiredTokenException("The SAML session (SessionNotOnOrAfter) has already ended")
    out = issue_role_session(ctx, role, request)
    out.update(
        Subject=assertion.subject,
        SubjectType=assertion.subject_type,
        Issuer=assertion.issuer,
        Audience=assertion.recipient,
        NameQualifier=qualifier,
    )
    return out


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
