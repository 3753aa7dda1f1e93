"""The IAM policy simulator: SimulatePrincipalPolicy and SimulateCustomPolicy.

The simulator runs the SAME engine as enforcement (:func:`ironkeep.engine.authorize`) on the same
documents, loaded from the store as authorization loads them (``ironkeep.store.principals``
``load_authz`` / ``load_role_authz``; a group's own inline and attached policies). Every matched
statement is reported with its source (``SourcePolicyId``, ``SourcePolicyType``) and its place in
the document (``StartPosition`` / ``EndPosition``, see :mod:`ironkeep.policy.positions`).

Sources and their names in ``MatchedStatements``:

* the entity's inline policies: the policy name, type ``user`` / ``group`` / ``role``
  (a user's groups' inline policies: ``group``);
* attached managed policies and the entity's permissions boundary: the policy name, type
  ``aws-managed`` or ``user-managed``;
* ``PolicyInputList.N`` and ``PermissionsBoundaryPolicyInputList.1`` (1-based), type
  ``IAM Policy``; ``ResourcePolicy``, type ``Resource Policy`` (the strings AWS's simulator
  returns for inputs, outside the model's enum);
* a role's trust policy (see below): ``AssumeRolePolicyDocument``, type ``resource``.

Differences from AWS's simulator, on purpose:

* Unlike AWS's simulator, a role's trust policy IS honoured: simulating ``sts:AssumeRole``
  (``AssumeRoleWithSAML``, ``AssumeRoleWithWebIdentity``) against the ARN of a role of this
  account, without a ``ResourcePolicy``, evaluates the role's trust policy as the resource
  policy, exactly as enforcement does for the real call.
* Only ``ContextEntries`` (and the keys the engine derives from the principal, such as
  ``aws:username``, ``aws:userid``, ``aws:PrincipalTag/*``) are in the context: no
  ``aws:CurrentTime`` or ``aws:SourceIp`` is made up.
* The principal is ``CallerArn`` when given, else the source entity (a group is evaluated as
  a principal of unknown type in its account); custom policies without ``CallerArn`` are
  evaluated for an unknown principal of the caller's account
  (``arn:aws:iam::ACCOUNT:policy-simulator``).
* With a ``ResourceHandlingOption`` (the EC2 scenarios, whose resource types are checked), each
  action gets one result named ``*`` whose ``ResourceSpecificResults`` hold every resource:
  allowed only when every resource is.
* ``EvalDecisionDetails`` (absent for ``*``): for a resource ARN, ``{"IAM Policy": ...}`` when
  the resource is in another account, plus ``"Resource Policy"`` when a resource policy took
  part; an empty map otherwise. No Organizations: ``OrganizationsDecisionDetail`` never appears.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select

from ironkeep.engine import (
    Decision,
    PolicySet,
    Principal,
    Request,
    analyze,
    authorize,
    compile_policy_set,
)
from ironkeep.errors import InvalidInput, NoSuchEntity, ValidationError
from ironkeep.model import aws_policies
from ironkeep.model.arns import parse_iam_arn
from ironkeep.policy import parse_policy
from ironkeep.policy.positions import StatementSpan, statement_spans
from ironkeep.services import common
from ironkeep.services.context import CallContext
from ironkeep.services.entities import find_group, find_role, find_user
from ironkeep.services.iam_context_keys import context_from_entries, source_resource
from ironkeep.services.registry import operation
from ironkeep.store import principals as store_principals
from ironkeep.store import schema as t

__all__ = ["Source", "SourceDoc", "load_source", "simulate"]

INPUT_TYPE = "IAM Policy"
RESOURCE_TYPE = "Resource Policy"
_DECISIONS = {"Allow": "allowed", "ExplicitDeny": "explicitDeny", "ImplicitDeny": "implicitDeny"}
_ACTION = re.compile(r"[A-Za-z0-9_-]+:[A-Za-z0-9_.-]+")
_ACCOUNT_ROOT = re.compile(r"arn:aws:iam::(\d{12}):root")
_ASSUME_ACTIONS = frozenset({"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity"})
_SCENARIOS = {
    "EC2-VPC-InstanceStore": ("instance", "image", "security-group", "network-interface"),
    "EC2-VPC-InstanceStore-Subnet": ("instance", "image", "security-group", "network-interface", "subnet"),
    "EC2-VPC-EBS": ("instance", "image", "security-group", "network-interface", "volume"),
    "EC2-VPC-EBS-Subnet": ("instance", "image", "security-group", "network-interface", "volume", "subnet"),
}


@dataclass(frozen=True, slots=True)
class SourceDoc:
    """One policy document and what the simulator calls it."""

    policy_id: str
    policy_type: str
    text: str


@dataclass(frozen=True)
class Source:
    """A user, group or role: its identity policies, boundary and tags."""

    arn: str
    kind: str  # user | group | role
    entity_id: str
    identity: tuple[SourceDoc, ...]
    boundary: SourceDoc | None = None
    tags: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# loading a PolicySourceArn


def _managed(arn: str, text: str) -> SourceDoc:
    kind = "aws-managed" if aws_policies.get(arn) is not None else "user-managed"
    return SourceDoc(arn.rsplit("/", 1)[-1], kind, text)


def _named(source: str, text: str) -> SourceDoc:
    """``user/P``, ``role/P``, ``group/G/P`` (inline) or a managed policy ARN."""
    if source.startswith("arn:"):
        return _managed(source, text)
    kind, _, rest = source.partition("/")
    return SourceDoc(rest.rsplit("/", 1)[-1], kind, text)


def _missing(kind: str, name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The {kind} with name {name} cannot be found.")


def load_source(ctx: CallContext, arn: str) -> Source:
    """The policies of the user, group or role ``arn`` names; NoSuchEntity if there is none."""
    parsed = parse_iam_arn(arn)
    if parsed is None or parsed.kind not in ("user", "group", "role"):
        raise InvalidInput(f"Invalid ARN {arn}: PolicySourceArn must be the ARN of a user, group or role.")
    finders = {"user": find_user, "group": find_group, "role": find_role}
    row = None
    if parsed.account_id == ctx.account_id:
        row = finders[parsed.kind](ctx.tx, ctx.account_id, parsed.name)
    if row is None or row.path != parsed.path:
        raise _missing(parsed.kind, parsed.name)
    if parsed.kind == "group":
        return Source(
            arn=row.arn, kind="group", entity_id=row.id, identity=tuple(_group_documents(ctx, row.id))
        )
    loader = store_principals.load_authz if parsed.kind == "user" else store_principals.load_role_authz
    material = loader(ctx.tx, ctx.account_id, row.name)
    if material is None:
        raise _missing(parsed.kind, parsed.name)
    boundary = None
    if material.permissions_boundary is not None and material.principal.permissions_boundary_arn:
        boundary = _managed(material.principal.permissions_boundary_arn, material.permissions_boundary)
    return Source(
        arn=material.principal.arn,
        kind=parsed.kind,
        entity_id=material.principal.id,
        identity=tuple(_named(s, d) for s, d in zip(material.sources, material.identity, strict=True)),
        boundary=boundary,
        tags=dict(material.tags),
    )


def _group_documents(ctx: CallContext, group_id: str) -> list[SourceDoc]:
    """A group's inline policies (by name) and its attached policies' default versions."""
    ip, pa, mp, pv = t.inline_policies.c, t.policy_attachments.c, t.managed_policies.c, t.policy_versions.c
    docs = [
        SourceDoc(row.name, "group", row.document)
        for row in ctx.tx.execute(
            select(ip.name, ip.document)
            .where(ip.principal_kind == "group", ip.principal_id == group_id)
            .order_by(ip.name_lower)
        )
    ]
    rows = ctx.tx.execute(
        select(pa.policy_arn, pv.document)
        .select_from(t.policy_attachments)
        .outerjoin(t.managed_policies, and_(mp.arn == pa.policy_arn, mp.account_id == ctx.account_id))
        .outerjoin(t.policy_versions, and_(pv.policy_id == mp.id, pv.version_id == mp.default_version_id))
        .where(pa.principal_kind == "group", pa.principal_id == group_id)
        .order_by(pa.policy_arn)
    )
    for arn, document in rows:
        if document is None:
            entry = aws_policies.get(arn)
            if entry is None:
                continue
            document = entry.document
        docs.append(_managed(arn, document))
    return docs


# ---------------------------------------------------------------------------------------------
# inputs


def _inputs(params: dict[str, Any], name: str, kind: str) -> list[SourceDoc]:
    docs = []
    for i, text in enumerate(params.get(name) or [], start=1):
        parse_policy(text, kind=kind)  # MalformedPolicyDocument, with the parser's reason
        docs.append(SourceDoc(f"{name}.{i}", INPUT_TYPE, text))
    return docs


def _actions(params: dict[str, Any]) -> list[str]:
    actions = list(params["ActionNames"])
    for action in actions:
        if "*" in action or "?" in action:
            raise InvalidInput(f"Actions with wildcards are not allowed in the simulation: {action}")
        if not _ACTION.fullmatch(action):
            raise InvalidInput(f"Invalid action name {action}: actions are of the form service:Operation.")
    return actions


def _resources(params: dict[str, Any]) -> list[str]:
    resources = list(params.get("ResourceArns") or ["*"])
    for resource in resources:
        if resource != "*" and not (resource.startswith("arn:") and resource.count(":") >= 5):
            raise InvalidInput(f"Invalid resource ARN {resource}: resources are ARNs or *.")
    return resources


def _resource_owner(params: dict[str, Any]) -> str | None:
    owner = params.get("ResourceOwner")
    if owner is None:
        return None
    match = _ACCOUNT_ROOT.fullmatch(owner) or re.fullmatch(r"(\d{12})", owner)
    if match is None:
        raise InvalidInput(
            f"Invalid ResourceOwner {owner}: use an account ARN, arn:aws:iam::123456789012:root."
        )
    return match.group(1)


def _caller(ctx: CallContext, params: dict[str, Any], source: Source | None) -> Principal:
    caller_arn = params.get("CallerArn")
    if caller_arn is None:
        if params.get("ResourcePolicy") is not None and (source is None or source.kind != "user"):
            raise InvalidInput(
                "CallerArn is required when a ResourcePolicy is given and the source is not a user."
            )
        if source is None:
            return Principal(arn=f"arn:aws:iam::{ctx.account_id}:policy-simulator")
        return Principal(arn=source.arn, id=source.entity_id, tags=source.tags)
    parsed = parse_iam_arn(caller_arn)
    if parsed is None or parsed.kind != "user":
        raise InvalidInput(f"Invalid CallerArn {caller_arn}: the caller must be an IAM user ARN.")
    if source is not None and source.arn == caller_arn:
        return Principal(arn=source.arn, id=source.entity_id, tags=source.tags)
    row = find_user(ctx.tx, parsed.account_id, parsed.name) if parsed.account_id == ctx.account_id else None
    return Principal(arn=caller_arn, id=row.id if row is not None and row.arn == caller_arn else None)


def _scenario(params: dict[str, Any], resources: Sequence[str]) -> str | None:
    option = params.get("ResourceHandlingOption")
    if option is None:
        return None
    needed = _SCENARIOS.get(option)
    if needed is None:
        raise InvalidInput(
            f"Invalid ResourceHandlingOption {option}: use one of {', '.join(sorted(_SCENARIOS))}."
        )
    have = {r.split(":", 5)[5].split("/", 1)[0] for r in resources if r.startswith("arn:aws:ec2:")}
    lacking = [kind for kind in needed if kind not in have]
    if lacking:
        raise InvalidInput(
            f"ResourceHandlingOption {option} requires resources of type: {', '.join(lacking)}."
        )
    return option


# ---------------------------------------------------------------------------------------------
# evaluation


@dataclass
class _Simulation:
    ctx: CallContext
    principal: Principal
    identity: list[SourceDoc]
    boundary: SourceDoc | None
    resource_doc: SourceDoc | None
    context: dict[str, Any]
    resource_account: str | None
    policies: PolicySet = field(init=False)
    spans: dict[str, dict[int, StatementSpan]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.policies = self._compile(self.resource_doc)

    def statement(self, doc: SourceDoc, index: int) -> dict[str, Any]:
        spans = self.spans.get(doc.text)
        if spans is None:
            spans = self.spans[doc.text] = {s.index: s for s in statement_spans(doc.text)}
        out: dict[str, Any] = {"SourcePolicyId": doc.policy_id, "SourcePolicyType": doc.policy_type}
        span = spans.get(index)
        if span is not None:
            out["StartPosition"] = span.start.to_shape()
            out["EndPosition"] = span.end.to_shape()
        return out

    def trust_policy(self, action: str, resource: str) -> SourceDoc | None:
        """A role's trust policy, when simulating AssumeRole on a role of this account."""
        if self.resource_doc is not None or action.lower() not in _ASSUME_ACTIONS:
            return None
        parsed = parse_iam_arn(resource)
        if parsed is None or parsed.kind != "role" or parsed.account_id != self.ctx.account_id:
            return None
        row = find_role(self.ctx.tx, self.ctx.account_id, parsed.name)
        if row is None or row.arn != resource:
            return None
        return SourceDoc("AssumeRolePolicyDocument", "resource", row.assume_role_policy)

    def decide(self, action: str, resource: str) -> tuple[Decision, SourceDoc | None, Request, PolicySet]:
        resource_doc = self.resource_doc or self.trust_policy(action, resource)
        policies = self.policies
        if resource_doc is not None and resource_doc is not self.resource_doc:
            policies = self._compile(resource_doc)
        request = Request(
            principal=self.principal,
            action=action,
            resource=resource,
            resource_account=self.resource_account,
            context=self.context,
        )
        return authorize(request, policies), resource_doc, request, policies

    def _compile(self, resource_doc: SourceDoc | None) -> PolicySet:
        return compile_policy_set(
            identity=[d.text for d in self.identity],
            permissions_boundary=self.boundary.text if self.boundary else None,
            resource=resource_doc.text if resource_doc else None,
        )

    def matched(self, decision: Decision, resource_doc: SourceDoc | None) -> list[dict[str, Any]]:
        out = []
        for m in decision.matched:
            doc: SourceDoc | None = None
            if m.kind == "identity":
                doc = self.identity[int(m.policy[len("identity[") : -1])]
            elif m.kind == "permissions_boundary":
                doc = self.boundary
            elif m.kind == "resource":
                doc = resource_doc
            if doc is not None:
                out.append(self.statement(doc, m.statement_index))
        return out

    def details(
        self, resource: str, resource_doc: SourceDoc | None, request: Request, policies: PolicySet
    ) -> dict[str, str] | None:
        if resource == "*":
            return None
        analysis = analyze(request, policies)
        if analysis.same_account and resource_doc is None:
            return {}
        effects: dict[str, set[str]] = {"IAM Policy": set()}
        if resource_doc is not None:
            effects["Resource Policy"] = set()
        for label, _applies, records in analysis.groups:
            kind = label.split("[", 1)[0]
            name = {"identity": "IAM Policy", "resource": "Resource Policy"}.get(kind)
            if name is not None and name in effects:
                effects[name].update(r.ref.effect for r in records if r.applies)
        verdicts = {
            name: "explicitDeny" if "Deny" in found else "allowed" if "Allow" in found else "implicitDeny"
            for name, found in effects.items()
        }
        return verdicts

    def one(self, action: str, resource: str) -> dict[str, Any]:
        """The ResourceSpecificResult-like record of one (action, resource)."""
        decision, resource_doc, request, policies = self.decide(action, resource)
        out: dict[str, Any] = {
            "EvalResourceName": resource,
            "EvalResourceDecision": _DECISIONS[decision.decision],
            "MatchedStatements": self.matched(decision, resource_doc),
            "MissingContextValues": list(decision.missing_context),
        }
        details = self.details(resource, resource_doc, request, policies)
        if details is not None:
            out["EvalDecisionDetails"] = details
        if decision.allowed_by_permissions_boundary is not None:
            out["PermissionsBoundaryDecisionDetail"] = {
                "AllowedByPermissionsBoundary": decision.allowed_by_permissions_boundary
            }
        return out


def _result(action: str, record: dict[str, Any]) -> dict[str, Any]:
    resource = record["EvalResourceName"]
    out: dict[str, Any] = {
        "EvalActionName": action,
        "EvalResourceName": resource,
        "EvalDecision": record["EvalResourceDecision"],
        "MatchedStatements": record["MatchedStatements"],
        "MissingContextValues": record["MissingContextValues"] if resource == "*" else [],
    }
    if "EvalDecisionDetails" in record:
        out["EvalDecisionDetails"] = record["EvalDecisionDetails"]
    if "PermissionsBoundaryDecisionDetail" in record:
        out["PermissionsBoundaryDecisionDetail"] = record["PermissionsBoundaryDecisionDetail"]
    if resource != "*":
        out["ResourceSpecificResults"] = [record]
    return out


def _combined(action: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """One action over a scenario's resources: allowed only when every resource is."""
    decisions = {r["EvalResourceDecision"] for r in records}
    decision = next(d for d in ("explicitDeny", "implicitDeny", "allowed") if d in decisions)
    matched: list[dict[str, Any]] = []
    for r in records:
        if r["EvalResourceDecision"] == decision:
            matched.extend(s for s in r["MatchedStatements"] if s not in matched)
    missing = sorted({k for r in records for k in r["MissingContextValues"]})
    out: dict[str, Any] = {
        "EvalActionName": action,
        "EvalResourceName": "*",
        "EvalDecision": decision,
        "MatchedStatements": matched,
        "MissingContextValues": missing,
        "ResourceSpecificResults": records,
    }
    boundary = [
        r["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"]
        for r in records
        if "PermissionsBoundaryDecisionDetail" in r
    ]
    if boundary:
        out["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": all(boundary)}
    return out


def _page(results: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    start = 0
    marker = common.decode_marker(params.get("Marker"))
    if marker is not None:
        if not marker.isdigit() or int(marker) > len(results):
            raise ValidationError("Invalid Marker.")
        start = int(marker)
    limit = common.max_items(params)
    page = results[start : start + limit]
    out: dict[str, Any] = {"EvaluationResults": page, "IsTruncated": start + limit < len(results)}
    if out["IsTruncated"]:
        out["Marker"] = common.encode_marker(str(start + limit))
    return out


def simulate(ctx: CallContext, params: dict[str, Any], source: Source | None) -> dict[str, Any]:
    """Both operations: the source's policies (if any) plus the inputs, every action x resource."""
    identity = list(source.identity if source else ()) + _inputs(params, "PolicyInputList", "identity")
    boundaries = _inputs(params, "PermissionsBoundaryPolicyInputList", "boundary")
    if len(boundaries) > 1:
        raise InvalidInput(
            "Only one permissions boundary policy can be given in PermissionsBoundaryPolicyInputList."
        )
    boundary = boundaries[0] if boundaries else source.boundary if source else None
    resource_doc = None
    if params.get("ResourcePolicy") is not None:
        parse_policy(params["ResourcePolicy"], kind="resource")
        resource_doc = SourceDoc("ResourcePolicy", RESOURCE_TYPE, params["ResourcePolicy"])
    actions, resources = _actions(params), _resources(params)
    scenario = _scenario(params, resources)
    sim = _Simulation(
        ctx=ctx,
        principal=_caller(ctx, params, source),
        identity=identity,
        boundary=boundary,
        resource_doc=resource_doc,
        context=context_from_entries(params.get("ContextEntries") or []),
        resource_account=_resource_owner(params),
    )
    results: list[dict[str, Any]] = []
    for action in actions:
        if scenario is not None:
            results.append(_combined(action, [sim.one(action, r) for r in resources]))
        else:
            results.extend(_result(action, sim.one(action, r)) for r in resources)
    return _page(results, params)


@operation("iam", "SimulatePrincipalPolicy", resource=source_resource)
def simulate_principal_policy(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return simulate(ctx, params, load_source(ctx, params["PolicySourceArn"]))


@operation("iam", "SimulateCustomPolicy")
def simulate_custom_policy(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return simulate(ctx, params, None)
