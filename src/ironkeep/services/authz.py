"""Authorization of every API call: the caller's policies, evaluated by the engine.

The engine is pure; this module builds its request from the caller and the store, and turns a
denial into AWS's ``AccessDenied`` with AWS's wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ironkeep.audit.records import iso_time
from ironkeep.engine import Principal, Request, authorize, compile_policy_set
from ironkeep.errors import AccessDenied
from ironkeep.services.context import CallContext, Caller

# What AWS names each kind of policy in an AccessDenied message.
_KIND_WORDS = {
    "identity": "identity-based policy",
    "permissions_boundary": "permissions boundary",
    "session": "session policy",
    "resource": "resource-based policy",
    "scps": "service control policy",
    "rcps": "resource control policy",
}

_ARTICLE = {"identity-based policy": "an", "resource-based policy": "a"}


def _kind_of(policy_label: str) -> str:
    return policy_label.split("[", 1)[0]


def denial_message(caller: Caller, action: str, resource: str, decision: Any) -> str:
    """AWS's sentence for a denied call, naming the kind of policy that decided it."""
    head = f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource}"
    if decision.decision == "ExplicitDeny" and decision.matched:
        words = _KIND_WORDS.get(_kind_of(decision.matched[0].policy), "identity-based policy")
        article = "an" if words[0] in "aeiou" else "a"
        return f"{head} with an explicit deny in {article} {words}"
    blocked = getattr(decision, "blocked_by", None) or ("identity",)
    words = _KIND_WORDS.get(blocked[0], "identity-based policy")
    return f"{head} because no {words} allows the {action} action"


def request_context(ctx: CallContext, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The global condition keys AWS puts in every request's context."""
    now = ctx.now
    context: dict[str, Any] = {
        "aws:CurrentTime": iso_time(now),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:SecureTransport": "true" if ctx.secure_transport else "false",
        "aws:RequestedRegion": ctx.region,
        "aws:PrincipalIsAWSService": "false",
        "aws:ViaAWSService": "false",
    }
    if ctx.source_ip:
        context["aws:SourceIp"] = ctx.source_ip
    if ctx.user_agent:
        context["aws:UserAgent"] = ctx.user_agent
    session = ctx.caller.session
    if session is not None:
        context["aws:TokenIssueTime"] = iso_time(session.issued_at)
        context["aws:MultiFactorAuthPresent"] = "true" if session.mfa_authenticated else "false"
        if session.mfa_authenticated and session.mfa_authenticated_at is not None:
            context["aws:MultiFactorAuthAge"] = str(
                max(0, int((now - session.mfa_authenticated_at).total_seconds()))
            )
        if session.source_identity:
            context["aws:SourceIdentity"] = session.source_identity
        if session.federated_provider:
            context["aws:FederatedProvider"] = session.federated_provider
    if extra:
        context.update(extra)
    return context


def check(
    ctx: CallContext,
    action: str,
    resource: str,
    extra_context: Mapping[str, Any] | None = None,
    *,
    resource_policy: str | None = None,
    resource_account: str | None = None,
) -> Any:
    """Raise AccessDenied unless the caller may perform ``action`` on ``resource``; return the Decision.

    ``resource_policy`` is the resource's own policy (a role's trust policy for ``sts:AssumeRole``),
    evaluated with the caller's policies as AWS does, same-account and cross-account.
    ``resource_account`` defaults to the caller's account.
    """
    caller = ctx.caller
    resource_account = resource_account or caller.account_id
    if caller.is_root and resource_policy is None and resource_account == caller.account_id:
        return None
    material = ctx.services.principal_policies(ctx.tx, caller)
    if resource_policy is None and material.policy_set is not None:
        policies = material.policy_set
    else:
        policies = compile_policy_set(
            identity=list(material.identity),
            permissions_boundary=material.permissions_boundary,
            session=list(material.session),
            resource=resource_policy,
        )
    request = Request(
        principal=Principal(arn=caller.arn, id=caller.principal_id, tags=material.tags, service=None),
        action=action,
        resource=resource,
        resource_account=resource_account,
        context=request_context(ctx, extra_context),
        management_account=None,
    )
    decision = authorize(request, policies)
    if decision.decision != "Allow":
        raise AccessDenied(denial_message(caller, action, resource, decision))
    return decision


def refuse_limited_session(ctx: CallContext, action: str) -> None:
    """IAM refuses two kinds of temporary credentials outright, as AWS documents: a federated user's
    (GetFederationToken) always, and a GetSessionToken session's unless it was made with MFA."""
    session = ctx.caller.session
    if session is None:
        return
    kind = getattr(session.kind, "value", session.kind)
    if kind == "FederatedUser" or (kind in ("IAMUser", "Root") and not session.mfa_authenticated):
        reason = "a federated user" if kind == "FederatedUser" else "a session without MFA authentication"
        raise AccessDenied(
            f"User: {ctx.caller.arn} is not authorized to perform: {action} because IAM is not available to {reason}"
        )
