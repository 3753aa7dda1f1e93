"""What every STS call that mints credentials shares: session policies and their packed size,
session tags, MFA codes, and sealing the session into ``ASIA…`` credentials.

Handlers live in :mod:`ironkeep.services.sts_core`; this module registers no operation.

Packed size. AWS packs session policies, managed policy ARNs and session tags into a binary form
whose size is limited separately from the 2,048-character plaintext limit; the response's
``PackedPolicySize`` is the percentage of that limit used, and above 100 the call fails with
``PackedPolicyTooLarge``. AWS's packing is not public. Ironkeep's estimate is deterministic: the
zlib-compressed (level 9) concatenation of each inline policy re-serialised without white space,
each policy ARN, and each tag as ``key=value``, measured against :data:`PACKED_LIMIT_BYTES`.
Whether a tag is transitive does not count, as AWS documents.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ironkeep.auth import session_tokens
from ironkeep.auth.totp import STS_INVALID_CODE_MESSAGE, STS_MISSING_CODE_MESSAGE, InvalidAuthenticationCode
from ironkeep.auth.totp import verify as verify_totp
from ironkeep.errors import AccessDenied, AWSError, ValidationError
from ironkeep.policy import parse_policy
from ironkeep.services.context import CallContext
from ironkeep.services.iam_mfa import device_drift
from ironkeep.services.mfa_seeds import open_seed
from ironkeep.store import mfa_devices

PLAINTEXT_LIMIT = 2048
"""Characters of inline session policy plus managed session policy ARNs (AWS's documented limit)."""
PACKED_LIMIT_BYTES = 2048
MAX_POLICY_ARNS = 10
MAX_SESSION_TAGS = 50
DUPLICATE_TAG_MESSAGE = "Duplicate tag keys found. Please note that Tag keys are case insensitive."


class PackedPolicyTooLarge(AWSError):
    code = "PackedPolicyTooLarge"
    status = 400


class InvalidParameterValue(AWSError):
    code = "InvalidParameterValue"
    status = 400


# -- session policies ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionPolicies:
    documents: tuple[str, ...] = ()
    arns: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.documents or self.arns)


def session_policies(params: Mapping[str, Any]) -> SessionPolicies:
    """``Policy`` (parsed as a session policy: MalformedPolicyDocument) and ``PolicyArns``
    (at most 10 entries, as sent: a repeated ARN counts each time), within AWS's 2,048-character
    plaintext limit for both together."""
    policy = params.get("Policy")
    given = params.get("PolicyArns") or ()
    arns = tuple(dict.fromkeys(entry["arn"] for entry in given if entry.get("arn")))
    if len(given) > MAX_POLICY_ARNS:
        raise ValidationError(
            "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_POLICY_ARNS}"
        )
    plaintext = len(policy or "") + sum(map(len, arns))
    if plaintext > PLAINTEXT_LIMIT:
        raise ValidationError(
            "1 validation error detected: Value at 'policy' failed to satisfy constraint: "
            f"Member must have length less than or equal to {PLAINTEXT_LIMIT}"
        )
    if policy is not None:
        parse_policy(policy, kind="session")
    return SessionPolicies((policy,) if policy is not None else (), arns)


def packed_policy_size(policies: SessionPolicies, tags: Iterable[tuple[str, str]]) -> int:
    """PackedPolicySize (a percentage of the packed limit); PackedPolicyTooLarge above 100."""
    parts = [json.dumps(json.loads(doc), separators=(",", ":")) for doc in policies.documents]
    parts += policies.arns
    parts += [f"{key}={value}" for key, value in tags]
    packed = zlib.compress("\n".join(parts).encode(), 9)
    size = math.ceil(100 * len(packed) / PACKED_LIMIT_BYTES)
    if size > 100:
        raise PackedPolicyTooLarge(
            "Packed size of session policies and session tags combined exceeds the limit "
            f"({size}% of the allowed size)"
        )
    return size


# -- session tags --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionTags:
    """The session's tags (inherited transitive ones first) and which keys pass on down a chain."""

    tags: tuple[tuple[str, str], ...] = ()
    transitive_keys: tuple[str, ...] = ()
    requested: tuple[tuple[str, str], ...] = ()
    """The tags passed in this request (the others were inherited)."""


def session_tags(
    requested: Sequence[Mapping[str, str]],
    transitive: Sequence[str],
    caller_session: session_tokens.SessionContext | None = None,
) -> SessionTags:
    """Validate ``Tags`` and ``TransitiveTagKeys`` and add the caller's transitive tags.

    Keys are unique regardless of case (InvalidParameterValue), also against the inherited
    transitive tags, which a request cannot override. A transitive key must name a tag passed in
    the same request.
    """
    inherited: list[tuple[str, str]] = []
    inherited_keys: list[str] = []
    if caller_session is not None and caller_session.transitive_tag_keys:
        wanted = {key.lower() for key in caller_session.transitive_tag_keys}
        inherited = [(k, v) for k, v in caller_session.tags if k.lower() in wanted]
        inherited_keys = [k for k, _ in inherited]
    pairs = [(tag["Key"], tag.get("Value", "")) for tag in requested]
    seen = {key.lower() for key in inherited_keys}
    for key, _ in pairs:
        if key.lower() in seen:
            raise InvalidParameterValue(DUPLICATE_TAG_MESSAGE)
        seen.add(key.lower())
    if len(pairs) + len(inherited) > MAX_SESSION_TAGS:
        raise ValidationError(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_SESSION_TAGS}"
        )
    passed = {key.lower(): key for key, _ in pairs}
    keys: list[str] = list(inherited_keys)
    for key in dict.fromkeys(transitive):
        if key.lower() not in passed:
            raise InvalidParameterValue(
                f"The transitive tag key {key} is not the key of a session tag of this request."
            )
        keys.append(passed[key.lower()])
    return SessionTags(tuple(inherited + pairs), tuple(dict.fromkeys(keys)), tuple(pairs))


def tag_context(tags: SessionTags) -> dict[str, Any]:
    """The condition keys a trust policy sees for the request's tags."""
    context: dict[str, Any] = {}
    if tags.tags:
        for key, value in tags.tags:
            context[f"aws:RequestTag/{key}"] = value
        context["aws:TagKeys"] = [key for key, _ in tags.tags]
    if tags.transitive_keys:
        context["sts:TransitiveTagKeys"] = list(tags.transitive_keys)
    return context


# -- MFA -----------------------------------------------------------------------------------------


def check_mfa(
    ctx: CallContext, serial_number: str | None, token_code: str | None, user_id: str | None
) -> bool:
    """Verify an STS call's ``SerialNumber``/``TokenCode`` against the device of the user
    ``user_id`` (None: the root user) in the caller's account, refusing a code already used.

    False when neither was given; AccessDenied with AWS's words when the code does not verify.
    """
    if serial_number is None and token_code is None:
        return False
    if serial_number is None or token_code is None:
        raise AccessDenied(STS_MISSING_CODE_MESSAGE)
    device = mfa_devices.get(ctx.tx, ctx.account_id, serial_number)
    owned = device is not None and (
        device.user_id == user_id if user_id is not None else device.assigned_to_root
    )
    if device is None or not owned:
        raise AccessDenied(STS_INVALID_CODE_MESSAGE)
    seed = open_seed(ctx.services.box, serial_number, device.seed_sealed)
    drift = device_drift(ctx.tx, serial_number)
    try:
        step = verify_totp(seed, token_code, ctx.now, last_used_step=device.last_step, drift=drift)
    except InvalidAuthenticationCode:
        raise AccessDenied(STS_INVALID_CODE_MESSAGE) from None
    if not mfa_devices.accept_step(ctx.tx, serial_number, step):
        raise AccessDenied(STS_INVALID_CODE_MESSAGE)
    return True


# -- who may call what -----------------------------------------------------------------------------


def refuse_limited_session(ctx: CallContext, action: str, resource: str = "*") -> None:
    """GetSessionToken sessions may call only AssumeRole and GetCallerIdentity of STS, federated
    users only GetCallerIdentity: AccessDenied for the rest."""
    session = ctx.caller.session
    if session is not None and session.kind is not session_tokens.SessionKind.ASSUMED_ROLE:
        raise AccessDenied(
            f"User: {ctx.caller.arn} is not authorized to perform: {action} on resource: {resource}"
        )


# -- credentials -----------------------------------------------------------------------------------


def issue_credentials(ctx: CallContext, session: session_tokens.SessionContext) -> dict[str, Any]:
    """Seal ``session`` with the current session key; STS's ``Credentials`` shape."""
    key_id, key = ctx.services.session_keys.current(ctx.tx, ctx.now)
    credentials = session_tokens.issue(session, key_id, key, ctx.now)
    return {
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key,
        "SessionToken": credentials.session_token,
        "Expiration": credentials.expiration,
    }


def mfa_time(ctx: CallContext, verified: bool) -> tuple[bool, datetime | None]:
    """Whether the new session counts as MFA-authenticated, and since when: a code verified now,
    or the calling session's own MFA."""
    if verified:
        return True, ctx.now
    session = ctx.caller.session
    if session is not None and session.mfa_authenticated:
        return True, session.mfa_authenticated_at
    return False, None
