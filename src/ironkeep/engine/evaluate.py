"""The AWS evaluation flow: every kind of policy analysed, then combined.

Rules (IAM User Guide, *Policy evaluation logic*, *Cross-account policy evaluation logic*,
*Permissions boundaries*, *Session policies*, Organizations *SCPs* and *RCPs*):

1. An explicit Deny in any policy that applies wins.
2. SCPs apply to the caller's account: at every level of the organization some Allow must match.
   They do not restrict principals of the management account, service-linked roles (path
   ``/aws-service-role/``, names ``AWSServiceRoleFor...``) or service principals.
3. RCPs apply to the resource's account, level by level; not to resources of the management
   account nor to service-linked roles. They only restrict: an RCP Allow grants nothing.
4. The identity side allows when an identity-based policy allows, and the permissions boundary
   (if any) allows, and the session policies (if any) allow. A federated-user session with no
   session policy has no identity permissions. The root user needs no identity policy.
5. Same account: the identity side allowing is enough. A resource-based policy that names the
   caller itself (IAM user ARN, role-session ARN, federated-user ARN, or ``*``) allows despite an
   implicit deny in the identity policies, the boundary or the session policy. One that names the
   role of a session allows despite the identity policies but not past an implicit deny in the
   boundary or session policy. One that names only the account allows nothing by itself: the
   identity side must allow.
6. Cross-account: both the identity side and the resource-based policy (naming the caller, its
   role, or its account) must allow.
7. Service principals, and anonymous callers (neither ARN nor service), are allowed only by a
   resource-based policy that names them (or "*"); SCPs do not apply to them.
8. A resource-based Deny with NotPrincipal always applies to a principal that has a permissions
   boundary (IAM User Guide, *Permissions boundaries*).

The hot path (:func:`authorize`) looks only at the statements whose Action can match (the
policy set's per-action :class:`~ironkeep.engine.plan.Plan`) and tests only those whose result
depends on the request; the full analysis (:func:`analyze`, used by ``Decision.explain``)
records every statement's match. Both feed the same :func:`combine`, and a property test holds
them to the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ironkeep.engine.compiled import ACCOUNT, DIRECT, ROLE, CompiledStatement, MatchedStatement, PolicySet
from ironkeep.engine.decision import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, Decision
from ironkeep.engine.request import EvalContext, PrincipalInfo, Request, principal_info

__all__ = ["Analysis", "analyze", "authorize", "combine"]


@lru_cache(maxsize=8192)
def _resource_account(resource: str) -> str | None:
    if resource.startswith("arn:"):
        parts = resource.split(":", 5)
        if len(parts) == 6 and parts[4]:
            return parts[4]
    return None


# Principals outside any account: SCPs do not apply, only a resource-based policy can grant.
_NO_SCP_KINDS = frozenset({"service", "anonymous"})


@lru_cache(maxsize=8192)
def _scope(
    arn: str | None, service: str | None, resource_account: str | None, management_account: str | None
) -> tuple[PrincipalInfo, str | None, int, bool]:
    """Principal, the resource's account (else the principal's), which groups apply (index into
    ``PolicySet.applies``), and whether the principal is in the resource's account."""
    info = principal_info(arn, service)
    account = resource_account or info.account
    same = info.account is not None and info.account == account
    mgmt = management_account
    if mgmt is None:
        return info, account, 3 if info.service_linked else 2 if info.kind in _NO_SCP_KINDS else 0, same
    scp_exempt = info.kind in _NO_SCP_KINDS or info.service_linked or info.account == mgmt
    rcp_exempt = info.service_linked or account == mgmt
    return info, account, 2 * scp_exempt + rcp_exempt, same


def _setup(request: Request) -> tuple[PrincipalInfo, EvalContext, str, int]:
    """Principal, context, resource, and which groups apply (index into ``PolicySet.applies``)."""
    principal = request.principal
    resource = request.resource or "*"
    info, account, exempt, _ = _scope(
        principal.arn,
        principal.service,
        request.resource_account or _resource_account(resource),
        request.management_account,
    )
    return info, EvalContext(request, info, account), resource, exempt


def combine(
    info: PrincipalInfo,
    same_account: bool,
    policies: PolicySet,
    applies: int,
    allowed: int,
    denied: int,
    allows: Sequence[MatchedStatement],
    denies: Sequence[MatchedStatement],
    codes: Sequence[int],
) -> tuple[str, tuple[MatchedStatement, ...], tuple[str, ...], bool | None, bool | None]:
    """(decision, matched, blocked_by, allowed by boundary, allowed by organizations).

    Groups are bits of ``policies`` (identity is bit 0): ``applies`` the groups evaluated,
    ``allowed`` / ``denied`` those where an Allow / a Deny statement applied. ``allows`` and
    ``denies`` are those statements in group order; ``codes`` how the resource-based policy's
    applying Allow statements name the caller (DIRECT, ROLE, ACCOUNT).
    """
    scp_mask = policies.scp_mask & applies
    orgs_ok = None if not scp_mask else allowed & scp_mask == scp_mask and not denied & scp_mask
    boundary_bit = policies.boundary_bit
    if denies:
        kinds = policies.kinds(denied)  # (the kinds of ``denies``, in order)
        boundary_ok = None if not boundary_bit else bool(allowed & boundary_bit) and not denied & boundary_bit
        return EXPLICIT_DENY, tuple(denies), kinds, boundary_ok, orgs_ok
    identity_allows = bool(allowed & 1)
    boundary_ok = not boundary_bit or bool(allowed & boundary_bit)
    session_bit = policies.session_bit
    session_ok = bool(allowed & session_bit) if session_bit else info.kind != "federated-user"
    kind = info.kind
    blocked: list[str] = []
    if orgs_ok is False:
        blocked.append("scps")
    rcp_mask = policies.rcp_mask & applies
    if rcp_mask and allowed & rcp_mask != rcp_mask:
        blocked.append("rcps")
    if kind in _NO_SCP_KINDS:  # services and anonymous callers: only the resource policy can grant
        granted = DIRECT in codes
        if not granted:
            blocked.append("resource")
    elif same_account:
        granted = (
            kind == "root"
            or (identity_allows and boundary_ok and session_ok)
            or DIRECT in codes
            or (ROLE in codes and boundary_ok and session_ok)
        )
        if not granted:
            blocked.extend(_identity_blockers(identity_allows, boundary_ok, session_ok))
    else:
        granted = (kind == "root" or (identity_allows and boundary_ok and session_ok)) and bool(codes)
        if not granted:
            blocked.extend(_identity_blockers(identity_allows or kind == "root", boundary_ok, session_ok))
            if not codes:
                blocked.append("resource")
    boundary_detail = boundary_ok if boundary_bit else None
    if granted and not blocked:
        return ALLOW, tuple(allows), (), boundary_detail, orgs_ok
    return IMPLICIT_DENY, (), _shared(tuple(blocked)), boundary_detail, orgs_ok


@lru_cache(maxsize=256)
def _shared(kinds: tuple[str, ...]) -> tuple[str, ...]:
    """One tuple per content (decisions keep it: fewer objects for the garbage collector)."""
    return kinds


def _identity_blockers(identity: bool, boundary: bool, session: bool) -> list[str]:
    out = [] if identity else ["identity"]
    if not boundary:
        out.append("permissions_boundary")
    if not session:
        out.append("session")
    return out


_PLAIN_KINDS = frozenset({"user", "role", "assumed-role", "federated-user"})


def authorize(request: Request, policies: PolicySet) -> Decision:
    """Decide ``request`` against ``policies``; the Decision can explain itself afterwards."""
    principal = request.principal  # (what _setup does, inline: this is the hot path)
    resource = request.resource or "*"
    info, account, exempt, same = _scope(
        principal.arn,
        principal.service,
        request.resource_account or _resource_account(resource),
        request.management_account,
    )
    ctx = EvalContext(request, info, account)
    action = request.action.lower()
    plan = policies.plans[exempt].get(action)
    if plan is None:
        plan = policies.plan(action, exempt)
    allow_mask = plan.allow_mask
    has_boundary = policies.has_boundary
    unique_id = principal.id
    named: list[tuple[int, int]] | None = None  # (bit, code) of Allow candidates that name the caller
    applied = 0  # the bits of the candidates that applied
    for bit, pm, match, test in plan.candidates:
        if pm is not None:
            code = pm.match(info, unique_id)
            if not code:
                if bit & allow_mask or not pm.negate or not has_boundary:
                    continue
                # (a Deny with NotPrincipal always applies to a principal with a boundary)
            elif bit & allow_mask:
                if named is None:
                    named = []
                named.append((bit, code))
        if match is not None and not match(resource):  # Resource, then Condition
            continue
        if test is not None and not test(resource, ctx):
            continue
        applied |= bit
    outcome = plan.outcomes.get(applied)
    if outcome is None:
        outcome = plan.outcome(applied)
    allowed, denied, allows, denies = outcome
    # how the resource-based policy's applying Allow statements name the caller
    codes = [code for bit, code in named if bit & applied] if named is not None else ()
    missing = ctx.missing_keys() if ctx.missing else ()
    required = policies.required[exempt]
    if (
        not denies
        and allowed & required == required
        and (same or codes)
        and info.kind in _PLAIN_KINDS
        and (info.kind != "federated-user" or policies.session_bit)
    ):
        # the common Allow: the identity side and every SCP/RCP level allow (what combine decides)
        boundary_ok = True if policies.boundary_bit else None
        orgs_ok = True if policies.scp_mask & policies.applies[exempt] else None
        return Decision(ALLOW, allows, missing, (), boundary_ok, orgs_ok, request, policies)
    decision, matched, blocked, boundary_ok, orgs_ok = combine(
        info, same, policies, policies.applies[exempt], allowed, denied, allows, denies, codes
    )
    return Decision(decision, matched, missing, blocked, boundary_ok, orgs_ok, request, policies)


@dataclass(frozen=True, slots=True)
class StatementRecord:
    """How one statement met the request: each element's match, then whether it applied."""

    ref: MatchedStatement
    action: bool
    principal: int | None  # None: no Principal element; 0: not named; DIRECT/ROLE/ACCOUNT
    resource: bool | None  # None: not evaluated (an earlier element did not match)
    conditions: bool | None
    # each condition evaluated: (operator, key as written, the request's values or None, held?)
    condition_details: tuple[tuple[str, str, tuple[str, ...] | None, bool], ...] = ()

    @property
    def applies(self) -> bool:
        return self.action and self.principal != 0 and self.resource is True and self.conditions is True


@dataclass(frozen=True, slots=True)
class Analysis:
    """The full analysis behind a decision (what ``Decision.explain`` renders)."""

    request: Request
    decision: Decision
    groups: tuple[tuple[str, bool, tuple[StatementRecord, ...]], ...]  # (label, applies, records)
    same_account: bool
    principal_kind: str

    def render(self) -> str:
        d = self.decision
        r = self.request
        who = r.principal.arn or r.principal.service
        lines = [
            f"Request: {who} -> {r.action} on {r.resource}",
            f"Principal type: {self.principal_kind}; "
            + ("same account as the resource" if self.same_account else "cross-account or no account"),
            f"Decision: {d.decision}",
            "Reason: " + _reason(d),
        ]
        if d.blocked_by:
            lines.append("Blocked by: " + ", ".join(d.blocked_by))
        if d.allowed_by_permissions_boundary is not None:
            lines.append(f"Allowed by permissions boundary: {d.allowed_by_permissions_boundary}")
        if d.allowed_by_organizations is not None:
            lines.append(f"Allowed by organizations (SCPs): {d.allowed_by_organizations}")
        for label, applies, records in self.groups:
            if not applies:
                lines.append(f"[{label}] not applicable (exempt)")
                continue
            lines.append(f"[{label}]" + ("" if records else " no statements"))
            for rec in records:
                ref = rec.ref
                sid = f' Sid "{ref.sid}"' if ref.sid is not None else ""
                verdict = "APPLIES" if rec.applies else "no match"
                parts = [f"action {_yn(rec.action)}"]
                if rec.principal is not None:
                    parts.append("principal " + _PRINCIPAL_WORDS[rec.principal])
                parts.append(f"resource {_yn(rec.resource)}")
                if rec.conditions is True and not rec.condition_details:
                    parts.append("no conditions")
                else:
                    parts.append(f"conditions {_yn(rec.conditions)}")
                lines.append(
                    f"  {ref.policy} statement {ref.statement_index}{sid} {ref.effect}: {verdict} ({', '.join(parts)})"
                )
                for operator, key, values, held in rec.condition_details:
                    given = "missing" if values is None else ", ".join(map(repr, values)) or "no values"
                    lines.append(f"      {operator} {key}: {'holds' if held else 'fails'} (request: {given})")
        if d.missing_context:
            lines.append("Missing context keys: " + ", ".join(d.missing_context))
        return "\n".join(lines)


_KIND_WORDS = {
    "identity": "identity-based policy",
    "permissions_boundary": "permissions boundary",
    "session": "session policy",
    "resource": "resource-based policy",
    "scps": "service control policy",
    "rcps": "resource control policy",
}


def _reason(d: Decision) -> str:
    statements = ", ".join(f"{m.policy} statement {m.statement_index}" for m in d.matched)
    if d.decision == EXPLICIT_DENY:
        return f"explicit deny in {statements}"
    if d.decision == ALLOW:
        return f"allowed by {statements}"
    return "no " + " / ".join(_KIND_WORDS.get(kind, kind) for kind in d.blocked_by) + " allows the request"


_PRINCIPAL_WORDS = {0: "not named", DIRECT: "named", ROLE: "role named", ACCOUNT: "account named"}


def _yn(flag: bool | None) -> str:
    return "not evaluated" if flag is None else "matched" if flag else "not matched"


def analyze(request: Request, policies: PolicySet) -> Analysis:
    """Evaluate every statement of every policy and record each element's match."""
    info, ctx, resource, exempt = _setup(request)
    action = request.action.lower()
    applies = policies.applies[exempt]
    has_boundary = policies.has_boundary
    groups = []
    allows: list[MatchedStatement] = []
    denies: list[MatchedStatement] = []
    codes: list[int] = []
    allowed = denied = 0
    for i, group in enumerate(policies.groups):
        on = bool(applies >> i & 1)
        records = (
            tuple(_record(st, action, resource, ctx, info, has_boundary) for st in group.statements)
            if on
            else ()
        )
        groups.append((group.label, on, records))
        for rec in records:
            if not rec.applies:
                continue
            if rec.ref.effect == "Allow":
                allows.append(rec.ref)
                allowed |= 1 << i
                if rec.principal is not None:
                    codes.append(rec.principal)
            else:
                denies.append(rec.ref)
                denied |= 1 << i
    same = info.account is not None and info.account == ctx.resource_account
    decision, matched, blocked, boundary_ok, orgs_ok = combine(
        info, same, policies, applies, allowed, denied, allows, denies, codes
    )
    full = Decision(decision, matched, ctx.missing_keys(), blocked, boundary_ok, orgs_ok)
    return Analysis(request, full, tuple(groups), same, info.kind)


def _record(
    st: CompiledStatement,
    action: str,
    resource: str,
    ctx: EvalContext,
    info: PrincipalInfo,
    has_boundary: bool,
) -> StatementRecord:
    # Same order as the hot path (action, principal, resource, conditions), so that the same
    # missing context keys are recorded.
    action_ok = st.action_matches(action)
    code: int | None = None
    if st.principal is not None:
        code = st.principal.match(info, ctx.request.principal.id)
        if not code and not st.allow and st.principal.negate and has_boundary:
            code = DIRECT
    resource_ok: bool | None = None
    cond_ok: bool | None = None
    details = []
    if action_ok and code != 0:
        resource_ok = st.resource is None or st.resource(resource, ctx)
        if resource_ok:
            for condition in st.conditions:
                held = condition(ctx)
                details.append((condition.spec.operator, condition.name, ctx.peek(condition.key), held))
            cond_ok = all(d[3] for d in details)
    return StatementRecord(st.ref, action_ok, code, resource_ok, cond_ok, tuple(details))
