"""STS GetWebIdentityToken, GetDelegatedAccessToken and AssumeRoot, and :func:`encode_denial`,
the encoded authorization message of an AccessDenied (read back by DecodeAuthorizationMessage,
:mod:`ironkeep.services.sts_authorization_messages`).

GetWebIdentityToken signs a JWT with the caller's account issuer
(:mod:`ironkeep.services.iam_outbound_federation`) with AWS's documented claims: ``iss``, ``sub``
(the IAM user's ARN, the role's ARN for a role session, the root ARN), ``aud`` (a string for one
audience, else a list), ``iat``, ``exp``, ``jti``, and under ``https://sts.amazonaws.com/``
``aws_account``, ``source_region``, ``principal_tags`` (the principal's tags, session tags winning)
and ``request_tags`` (the request's Tags); AWS's Organizations and compute claims (``org_id``,
``ou_path``, ``lambda_source_function_arn``, ...) have no source in Ironkeep. It is authorized as ``sts:GetWebIdentityToken`` with the condition keys
``sts:IdentityTokenAudience`` (multivalued), ``sts:DurationSeconds``, ``sts:SigningAlgorithm``,
``aws:RequestTag/*`` and ``aws:TagKeys``. A token may not outlive the calling session
(SessionDurationEscalationException); the claim set is limited to :data:`MAX_PAYLOAD_BYTES` of JSON
(JWTPayloadSizeExceededException: AWS does not publish its limit, this is Ironkeep's).

AssumeRoot needs AWS Organizations, which Ironkeep does not have: no account is an organization's
management account or delegated administrator, so after validating the request and the caller's
``sts:AssumeRoot`` permission on ``arn:aws:iam::<target>:root`` every call is AccessDenied, as AWS
answers an account outside an organization with centralized root access.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ironkeep.auth.secrets import SecretBox
from ironkeep.auth.session_tokens import SessionContext, SessionKind
from ironkeep.errors import AccessDenied, AWSError, ValidationError
from ironkeep.services import authz, iam_delegation
from ironkeep.services import iam_outbound_federation as outbound
from ironkeep.services.context import CallContext
from ironkeep.services.registry import operation
from ironkeep.services.sts_authorization_messages import decoded_document, encode_authorization_message
from ironkeep.services.sts_sessions import issue_credentials, refuse_limited_session, session_tags

DEFAULT_TOKEN_SECONDS = 300
MAX_PAYLOAD_BYTES = 8192
CLAIMS_NAMESPACE = "https://sts.amazonaws.com/"


class SessionDurationEscalationException(AWSError):
    code = "SessionDurationEscalationException"
    status = 403


class OutboundWebIdentityFederationDisabledException(AWSError):
    code = "OutboundWebIdentityFederationDisabledException"
    status = 403


class JWTPayloadSizeExceededException(AWSError):
    code = "JWTPayloadSizeExceededException"
    status = 400


# -- GetWebIdentityToken -----------------------------------------------------------------------------


def _subject(ctx: CallContext) -> str:
    session = ctx.caller.session
    if session is not None and session.kind is SessionKind.ASSUMED_ROLE and session.role_arn:
        return str(session.role_arn)
    return ctx.caller.arn


def web_identity_claims(
    ctx: CallContext, issuer: str, audiences: list[str], seconds: int, tags: list[tuple[str, str]]
) -> dict[str, Any]:
    caller = ctx.caller
    now = int(ctx.now.timestamp())
    aws: dict[str, Any] = {"aws_account": caller.account_id, "source_region": ctx.region}
    principal_tags = dict(ctx.services.principal_policies(ctx.tx, caller).tags)
    if principal_tags:
        aws["principal_tags"] = principal_tags
    if tags:
        aws["request_tags"] = dict(tags)
    return {
        "iss": issuer,
        "sub": _subject(ctx),
        "aud": audiences[0] if len(audiences) == 1 else audiences,
        "iat": now,
        "exp": now + seconds,
        "jti": str(uuid.uuid4()),
        CLAIMS_NAMESPACE: aws,
    }


@operation("sts", "GetWebIdentityToken", authorize=False, read_only=True)
def get_web_identity_token(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    refuse_limited_session(ctx, "sts:GetWebIdentityToken")
    audiences = list(dict.fromkeys(params["Audience"]))
    if not audiences:  # an empty list arrives as "Audience=": the model's min of 1
        raise ValidationError(
            "1 validation error detected: Value '[]' at 'audience' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1"
        )
    seconds = params.get("DurationSeconds") or DEFAULT_TOKEN_SECONDS
    algorithm = params["SigningAlgorithm"]
    if algorithm not in outbound.ALGORITHMS:
        raise ValidationError(
            "1 validation error detected: Value at 'signingAlgorithm' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(outbound.ALGORITHMS)}]"
        )
    tags = list(session_tags(params.get("Tags") or (), ()).tags)
    context: dict[str, Any] = {
        "sts:IdentityTokenAudience": audiences,
        "sts:DurationSeconds": str(seconds),
        "sts:SigningAlgorithm": algorithm,
    }
    if tags:
        context.update({f"aws:RequestTag/{key}": value for key, value in tags})
        context["aws:TagKeys"] = [key for key, _ in tags]
    authz.check(ctx, "sts:GetWebIdentityToken", "*", context)
    state = outbound.federation(ctx.tx, ctx.account_id)
    if state is None or not state.enabled:
        raise OutboundWebIdentityFederationDisabledException(
            "Outbound web identity federation is not enabled for this account."
        )
    expires = ctx.now + timedelta(seconds=seconds)
    session = ctx.caller.session
    if session is not None and expires > session.expiration:
        raise SessionDurationEscalationException(
            "The requested DurationSeconds would make the token outlive the calling session."
        )
    claims = web_identity_claims(ctx, state.issuer, audiences, seconds, tags)
    if len(json.dumps(claims, separators=(",", ":")).encode()) > MAX_PAYLOAD_BYTES:
        raise JWTPayloadSizeExceededException(
            "The token's payload exceeds the maximum size. Pass fewer or shorter tags."
        )
    kid, key = outbound.signing_key(ctx.tx, ctx.services.box, ctx.account_id, algorithm)
    token = outbound.sign(claims, kid, key, algorithm)
    return {"WebIdentityToken": token, "Expiration": datetime.fromtimestamp(claims["exp"], UTC)}


# -- GetDelegatedAccessToken ---------------------------------------------------------------------------


@operation("sts", "GetDelegatedAccessToken", read_only=False)
def get_delegated_access_token(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """Credentials of the identity that accepted a delegation request, narrowed to its
    PermissionPolicy, for the rest of the delegation period (see :mod:`iam_delegation`)."""
    refuse_limited_session(ctx, "sts:GetDelegatedAccessToken")
    approver, policy, ends = iam_delegation.trade_in(ctx, params["TradeInToken"])
    arn = approver["arn"]
    common: dict[str, Any] = {
        "account_id": arn.split(":")[4],
        "principal_arn": arn,
        "principal_id": approver["principal_id"],
        "expiration": ends,
        "session_policies": (policy,),
        "issuer_id": approver["issuer_id"],
        "mfa_authenticated": approver["mfa"],
        "mfa_authenticated_at": ctx.now if approver["mfa"] else None,
    }
    if approver["kind"] == "AssumedRole":
        session = SessionContext(
            kind=SessionKind.ASSUMED_ROLE,
            role_arn=approver["role_arn"],
            session_name=approver["session_name"],
            **common,
        )
    else:
        session = SessionContext(kind=SessionKind.IAM_USER, **common)
    return {"Credentials": issue_credentials(ctx, session), "AssumedPrincipal": arn}


# -- AssumeRoot ------------------------------------------------------------------------------------------

ROOT_TASKS = (
    "IAMAuditRootUserCredentials", "IAMCreateRootUserPassword", "IAMDeleteRootUserCredentials",
    "S3UnlockBucketPolicy", "SQSUnlockQueuePolicy",
)  # fmt: skip
ROOT_TASK_POLICIES = frozenset(f"arn:aws:iam::aws:policy/root-task/{name}" for name in ROOT_TASKS)
_TARGET = re.compile(r"(?:arn:aws:iam::)?(\d{12})(?::root)?")


@operation("sts", "AssumeRoot", authorize=False, read_only=False)
def assume_root(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    target = _TARGET.fullmatch(params["TargetPrincipal"])
    if target is None:
        raise ValidationError(
            f"TargetPrincipal {params['TargetPrincipal']} is not an account ID or an account root ARN."
        )
    task_policy = (params.get("TaskPolicyArn") or {}).get("arn")
    if task_policy not in ROOT_TASK_POLICIES:
        raise ValidationError(f"The TaskPolicyArn {task_policy} is not a root task policy.")
    caller = ctx.caller
    resource = f"arn:aws:iam::{target.group(1)}:root"
    if caller.is_root or (caller.session is not None and caller.session.kind is SessionKind.ROOT):
        raise AccessDenied("Cannot call AssumeRoot with root user credentials.")
    refuse_limited_session(ctx, "sts:AssumeRoot", resource)
    authz.check(ctx, "sts:AssumeRoot", resource, {"sts:TaskPolicyArn": task_policy})
    raise AccessDenied(
        f"User: {caller.arn} is not authorized to perform: sts:AssumeRoot on resource: {resource} "
        "because the account is not the management account or a delegated administrator of an "
        "organization with centralized root access"
    )


# -- encoded authorization messages -----------------------------------------------------------------------


def encode_denial(box: SecretBox, decision: Any, request: Any, now: datetime | None = None) -> str:
    """The blob for "Encoded authorization failure message: <blob>": the engine ``decision`` on
    ``request`` (an :class:`ironkeep.engine.Request`), sealed for the principal's account; only
    DecodeAuthorizationMessage in that account, with ``sts:DecodeAuthorizationMessage``, reads it."""
    principal = request.principal
    arn = principal.arn or ""
    parts = arn.split(":")
    account = parts[4] if len(parts) > 5 and parts[4] else request.resource_account or ""
    who = {"arn": arn, "name": arn.rsplit("/", 1)[-1] if "/" in arn else arn}
    if principal.id:
        who["id"] = principal.id
    document = decoded_document(who, request.action, request.resource, decision, dict(request.context or {}))
    return encode_authorization_message(box, account, document, now or datetime.now(UTC))
