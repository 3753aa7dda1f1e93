"""STS (2011-06-15): GetCallerIdentity, AssumeRole, GetSessionToken, GetFederationToken and
GetAccessKeyInfo. (AssumeRoleWithWebIdentity and AssumeRoleWithSAML: ``sts_federation``.)

Credentials are ``ASIA…`` keys whose session token seals the whole session
(:mod:`ironkeep.auth.session_tokens`); nothing is stored per session. The calls that AWS does
not let policies deny (GetCallerIdentity, GetSessionToken) and AssumeRole, whose trust policy is
evaluated as a resource policy together with the caller's own policies, are registered with
``authorize=False`` and check what they need themselves.

Decisions where AWS leaves room, or where Ironkeep follows observed behaviour:

- Any temporary credentials calling AssumeRole count as role chaining (AWS answers a
  GetSessionToken session asking for more than an hour the same way): at most 3,600 seconds.
- Root credentials, also a root GetSessionToken session, cannot assume roles ("Roles may not be
  assumed by root accounts."); federated users may call no STS operation but GetCallerIdentity.
- Incoming transitive tags and an inherited source identity need ``sts:TagSession`` /
  ``sts:SetSourceIdentity`` in the next role's trust policy, like tags and a source identity passed
  in the request; a different SourceIdentity than the inherited one is refused (AccessDenied).
- A managed session policy ARN must name an AWS-managed policy or a customer-managed policy of the
  role's account (the caller's for GetFederationToken): a session must never lose its session
  policy because an ARN resolves to nothing.
- GetAccessKeyInfo: AWS decodes the account from the key id. Ironkeep's key ids are random, so it
  answers from the store (long-term keys of any account, and the caller's own temporary key); for a
  key it does not know it answers with the caller's own account, which reveals nothing.
- GetSessionToken and GetFederationToken called with root credentials last at most an hour; a
  longer DurationSeconds is shortened, as AWS documents for root.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Row, bindparam, select, update

from ironkeep.auth.session_tokens import SessionContext, SessionKind
from ironkeep.auth.totp import STS_INVALID_CODE_MESSAGE
from ironkeep.engine import Principal, Request, authorize, compile_policy_set
from ironkeep.errors import AccessDenied, ValidationError
from ironkeep.model import aws_policies
from ironkeep.model.arns import parse_iam_arn
from ironkeep.services import authz
from ironkeep.services.common import utc
from ironkeep.services.context import CallContext
from ironkeep.services.entities import find_managed_policy, find_role
from ironkeep.services.principals import KEY_USE_GRANULARITY
from ironkeep.services.registry import operation
from ironkeep.services.sts_sessions import (
    SessionPolicies,
    SessionTags,
    check_mfa,
    issue_credentials,
    mfa_time,
    packed_policy_size,
    refuse_limited_session,
    session_policies,
    session_tags,
    tag_context,
)
from ironkeep.store import schema as t

ROLE_DEFAULT_DURATION = 3600
CHAINED_MAX_DURATION = 3600
USER_DEFAULT_DURATION = 43200
ROOT_MAX_DURATION = 3600

CHAINED_DURATION_MESSAGE = (
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
)
MAX_DURATION_MESSAGE = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
ROOT_ASSUME_MESSAGE = "Roles may not be assumed by root accounts."


def _not_authorized(ctx: CallContext, action: str, resource: str) -> AccessDenied:
    """STS's denial: the sentence without IAM's reason clause."""
    return AccessDenied(
        f"User: {ctx.caller.arn} is not authorized to perform: {action} on resource: {resource}"
    )


def _session_kind(ctx: CallContext) -> SessionKind | None:
    session = ctx.caller.session
    return None if session is None else session.kind


# -- GetCallerIdentity -----------------------------------------------------------------------------


@operation("sts", "GetCallerIdentity", authorize=False)
def get_caller_identity(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """Who the credentials belong to; no policy can deny it."""
    caller = ctx.caller
    return {"UserId": caller.principal_id, "Account": caller.account_id, "Arn": caller.arn}


# -- AssumeRole ------------------------------------------------------------------------------------


def role_by_arn(ctx: CallContext, arn: str) -> Row[Any] | None:
    """The role an ARN names, in any account of this server (its path must match too)."""
    parsed = parse_iam_arn(arn)
    if parsed is None or parsed.kind != "role":
        return None
    row = find_role(ctx.tx, parsed.account_id, parsed.name)
    return row if row is not None and row.path == parsed.path else None


def check_policy_arns(ctx: CallContext, account_id: str, policies: SessionPolicies) -> None:
    for arn in policies.arns:
        if aws_policies.get(arn) is None and find_managed_policy(ctx.tx, account_id, arn) is None:
            raise ValidationError(f"Policy {arn} does not exist or is not attachable.")


def _role_duration(ctx: CallContext, role: Row[Any], requested: int | None) -> int:
    duration = ROLE_DEFAULT_DURATION if requested is None else requested
    if ctx.caller.is_session and duration > CHAINED_MAX_DURATION:
        raise ValidationError(CHAINED_DURATION_MESSAGE)
    if duration > role.max_session_duration:
        raise ValidationError(MAX_DURATION_MESSAGE)
    return duration


def _source_identity(ctx: CallContext, requested: str | None) -> str | None:
    session = ctx.caller.session
    inherited = session.source_identity if session is not None else None
    if inherited and requested and requested != inherited:
        raise AccessDenied(
            f"SourceIdentity cannot be changed: the calling session's source identity is {inherited}."
        )
    return inherited or requested


def _mfa_user(ctx: CallContext) -> str | None:
    """The user whose MFA device may authenticate this call (root: None)."""
    caller = ctx.caller
    return caller.principal_id if caller.kind == "IAMUser" else None


def _check_trust(
    ctx: CallContext, role: Row[Any], context: dict[str, Any], tags: SessionTags, source: str | None
) -> None:
    """The caller's policies and the role's trust policy, as AWS evaluates them together."""
    actions = ["sts:AssumeRole"]
    if tags.tags:
        actions.append("sts:TagSession")
    if source:
        actions.append("sts:SetSourceIdentity")
    boundary = ctx.services.principal_policies(ctx.tx, ctx.caller).permissions_boundary
    for action in actions:
        try:
            authz.check(
                ctx,
                action,
                role.arn,
                context,
                resource_policy=role.assume_role_policy,
                resource_account=role.account_id,
            )
        except AccessDenied:
            raise _not_authorized(ctx, action, role.arn) from None
        if boundary is not None and not _boundary_allows(ctx, boundary, action, role, context):
            raise _not_authorized(ctx, action, role.arn)


def _boundary_allows(
    ctx: CallContext, boundary: str, action: str, role: Row[Any], context: dict[str, Any]
) -> bool:
    """A trust policy naming the caller does not reach past the caller's permissions boundary
    (IAM User Guide: the boundary "must allow the sts:AssumeRole action")."""
    request = Request(
        principal=Principal(arn=ctx.caller.arn, id=ctx.caller.principal_id),
        action=action,
        resource=role.arn,
        resource_account=role.account_id,
        context=authz.request_context(ctx, context),
    )
    return bool(authorize(request, compile_policy_set(identity=[boundary])).decision == "Allow")


@operation("sts", "AssumeRole", authorize=False, read_only=False)
def assume_role(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    caller = ctx.caller
    role_arn, session_name = params["RoleArn"], params["RoleSessionName"]
    if caller.is_root:
        raise AccessDenied(ROOT_ASSUME_MESSAGE)
    if _session_kind(ctx) is SessionKind.FEDERATED_USER:
        raise _not_authorized(ctx, "sts:AssumeRole", role_arn)
    policies = session_policies(params)
    role = role_by_arn(ctx, role_arn)
    if role is None:
        raise _not_authorized(ctx, "sts:AssumeRole", role_arn)
    duration = _role_duration(ctx, role, params.get("DurationSeconds"))
    check_policy_arns(ctx, role.account_id, policies)
    tags = session_tags(params.get("Tags") or (), params.get("TransitiveTagKeys") or (), caller.session)
    source = _source_identity(ctx, params.get("SourceIdentity"))
    if params.get("SerialNumber") is not None and caller.kind != "IAMUser":
        raise AccessDenied(STS_INVALID_CODE_MESSAGE)  # only users have MFA devices
    verified = check_mfa(ctx, params.get("SerialNumber"), params.get("TokenCode"), _mfa_user(ctx))
    context: dict[str, Any] = {"sts:RoleSessionName": session_name, **tag_context(tags)}
    if params.get("ExternalId") is not None:
        context["sts:ExternalId"] = params["ExternalId"]
    if source:
        context["sts:SourceIdentity"] = source
    if verified:
        context["aws:MultiFactorAuthPresent"] = "true"
        context["aws:MultiFactorAuthAge"] = "0"
    _check_trust(ctx, role, context, tags, source)
    packed = packed_policy_size(policies, tags.tags)
    mfa, mfa_at = mfa_time(ctx, verified)
    session_arn = f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{session_name}"
    assumed_id = f"{role.id}:{session_name}"
    session = SessionContext(
        account_id=role.account_id,
        principal_arn=session_arn,
        principal_id=assumed_id,
        kind=SessionKind.ASSUMED_ROLE,
        expiration=ctx.now + timedelta(seconds=duration),
        role_arn=role.arn,
        session_name=session_name,
        source_identity=source,
        session_policies=policies.documents,
        policy_arns=policies.arns,
        tags=tags.tags,
        transitive_tag_keys=tags.transitive_keys,
        mfa_authenticated=mfa,
        mfa_authenticated_at=mfa_at,
        issuer_id=role.id,
    )
    out: dict[str, Any] = {
        "Credentials": issue_credentials(ctx, session),
        "AssumedRoleUser": {"AssumedRoleId": assumed_id, "Arn": session_arn},
    }
    note_role_use(ctx, role)
    if policies or tags.tags:
        out["PackedPolicySize"] = packed
    if source:
        out["SourceIdentity"] = source
    return out


_ROLE_USED = (
    update(t.roles)
    .where(t.roles.c.id == bindparam("role"))
    .values(last_used_at=bindparam("at"), last_used_region=bindparam("region"))
)


def note_role_use(ctx: CallContext, role: Row[Any]) -> None:
    """The role was assumed (AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity): move its
    RoleLastUsed (its date and Region, as AWS reports them), at most once a minute per role and
    region, as access keys' last use (KEY_USE_GRANULARITY), so that a role assumed again and
    again costs no write each time. ``role`` is the row the call read."""
    last = utc(role.last_used_at)
    if last is None or role.last_used_region != ctx.region or ctx.now - last >= KEY_USE_GRANULARITY:
        ctx.tx.execute(_ROLE_USED, {"role": role.id, "at": ctx.now, "region": ctx.region})


# -- GetSessionToken -------------------------------------------------------------------------------


def _long_term_duration(ctx: CallContext, requested: int | None) -> int:
    if ctx.caller.is_root:
        return min(ROOT_MAX_DURATION if requested is None else requested, ROOT_MAX_DURATION)
    return USER_DEFAULT_DURATION if requested is None else requested


@operation("sts", "GetSessionToken", authorize=False, read_only=False)
def get_session_token(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """Temporary credentials that act as the calling user (or root); MFA when a code is given.
    Authentication only: no policy is consulted."""
    caller = ctx.caller
    if caller.is_session:
        raise AccessDenied("Cannot call GetSessionToken with session credentials")
    duration = _long_term_duration(ctx, params.get("DurationSeconds"))
    verified = check_mfa(ctx, params.get("SerialNumber"), params.get("TokenCode"), _mfa_user(ctx))
    session = SessionContext(
        account_id=caller.account_id,
        principal_arn=caller.arn,
        principal_id=caller.principal_id,
        kind=SessionKind.ROOT if caller.is_root else SessionKind.IAM_USER,
        expiration=ctx.now + timedelta(seconds=duration),
        mfa_authenticated=verified,
        mfa_authenticated_at=ctx.now if verified else None,
        issuer_id=None if caller.is_root else caller.principal_id,
    )
    return {"Credentials": issue_credentials(ctx, session)}


# -- GetFederationToken ----------------------------------------------------------------------------


@operation("sts", "GetFederationToken", authorize=False, read_only=False)
def get_federation_token(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """A federated user's session: the calling user's permissions intersected with the session
    policies; none passed, no permissions at all."""
    caller = ctx.caller
    if caller.is_session:
        raise AccessDenied("Cannot call GetFederationToken with session credentials")
    name = params["Name"]
    account = caller.account_id
    federated_arn = f"arn:aws:sts::{account}:federated-user/{name}"
    try:
        authz.check(ctx, "sts:GetFederationToken", federated_arn)
    except AccessDenied:
        raise _not_authorized(ctx, "sts:GetFederationToken", federated_arn) from None
    policies = session_policies(params)
    check_policy_arns(ctx, account, policies)
    tags = session_tags(params.get("Tags") or (), ())
    if tags.tags:
        try:
            authz.check(ctx, "sts:TagSession", federated_arn, tag_context(tags))
        except AccessDenied:
            raise _not_authorized(ctx, "sts:TagSession", federated_arn) from None
    packed = packed_policy_size(policies, tags.tags)
    duration = _long_term_duration(ctx, params.get("DurationSeconds"))
    federated_id = f"{account}:{name}"
    session = SessionContext(
        account_id=account,
        principal_arn=federated_arn,
        principal_id=federated_id,
        kind=SessionKind.FEDERATED_USER,
        expiration=ctx.now + timedelta(seconds=duration),
        session_name=name,
        session_policies=policies.documents,
        policy_arns=policies.arns,
        tags=tags.tags,
        issuer_id=None if caller.is_root else caller.principal_id,
    )
    out: dict[str, Any] = {
        "Credentials": issue_credentials(ctx, session),
        "FederatedUser": {"FederatedUserId": federated_id, "Arn": federated_arn},
    }
    if policies or tags.tags:
        out["PackedPolicySize"] = packed
    return out


# -- GetAccessKeyInfo ------------------------------------------------------------------------------

_KEY_ACCOUNT = select(t.access_keys.c.account_id).where(t.access_keys.c.id == bindparam("key"))


@operation("sts", "GetAccessKeyInfo")
def get_access_key_info(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """The account that owns an access key id (see the module's notes for unknown keys)."""
    caller = ctx.caller
    refuse_limited_session(ctx, "sts:GetAccessKeyInfo")
    key = params["AccessKeyId"]
    if key == caller.access_key_id:
        return {"Account": caller.account_id}
    owner = ctx.tx.execute(_KEY_ACCOUNT, {"key": key}).scalar()
    return {"Account": owner or caller.account_id}
