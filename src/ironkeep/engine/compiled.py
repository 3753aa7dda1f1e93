"""Policies compiled for evaluation: statements with their matchers, indexed by action.

A :class:`PolicySet` holds one :class:`Group` per policy (or per SCP/RCP level). Each group
indexes its statements by action: exact lowercased actions, wildcard actions by service prefix,
actions with a wildcard in the service, and NotAction statements apart. ``PolicySet.plan(action)``
gives the statements whose Action can match (a :class:`~ironkeep.engine.plan.Plan`), cached per
action; a decision then costs what those statements cost, not what the whole set holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ironkeep.engine.conditions import Check, Condition, compile_conditions, conditions_check
from ironkeep.engine.plan import Plan
from ironkeep.engine.request import EvalContext, PrincipalInfo
from ironkeep.errors import MalformedPolicyDocument
from ironkeep.policy.document import Policy, PrincipalSpec, Statement, cache_key, parse_policy
from ironkeep.policy.patterns import ACTION, RESOURCE, PatternSet, Template, compile_pattern

__all__ = [
    "ACCOUNT",
    "DIRECT",
    "ROLE",
    "CompiledStatement",
    "Group",
    "MatchedStatement",
    "PolicySet",
    "compile_policy_set",
]

# How a resource policy's Principal names the caller (0: it does not).
DIRECT, ROLE, ACCOUNT = 1, 2, 3

Doc = str | bytes | Mapping[str, Any] | Policy
_PLAN_CACHE = 512  # actions per policy set
_SET_CACHE = 4096
_STATEMENT_CACHE = 8192
_RESOLVED_CACHE = 256  # resolved Resource patterns per statement


class MatchedStatement:
    """A statement that took part in a decision: ``policy`` label, ``sid``, ``effect``, index."""

    __slots__ = ("effect", "kind", "policy", "sid", "statement_index")

    def __init__(self, policy: str, sid: str | None, effect: str, statement_index: int) -> None:
        self.policy = policy
        self.kind = policy.split("[", 1)[0]  # identity, permissions_boundary, session, resource, scps, rcps
        self.sid = sid
        self.effect = effect
        self.statement_index = statement_index

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"policy": self.policy}
        if self.sid is not None:
            out["sid"] = self.sid
        out["effect"] = self.effect
        return out

    def __repr__(self) -> str:
        sid = f" {self.sid!r}" if self.sid is not None else ""
        return f"<{self.effect} {self.policy}#{self.statement_index}{sid}>"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, MatchedStatement)
            and self.to_json() == other.to_json()
            and (self.statement_index == other.statement_index)
        )

    def __hash__(self) -> int:
        return hash((self.policy, self.statement_index))


class ResourceMatcher:
    """Resource or NotResource of a statement: static patterns at once, variables when asked.

    ``fast``: when the element is static patterns only (no NotResource, no variables), the test
    as one call on the resource (truthy when it matches), else None.
    """

    __slots__ = ("dynamic", "fast", "negate", "resolved", "static")

    def __init__(self, templates: Sequence[Template], negate: bool) -> None:
        static = [t.static_pieces() for t in templates if not t.variables]
        self.static = PatternSet(static, RESOURCE).fast if static else None
        self.dynamic = tuple(t for t in templates if t.variables)
        self.negate = negate
        self.fast = self.static if not self.dynamic and not negate else None
        # (template's position, its variables' values) -> matcher; bounded, keyed on content
        self.resolved: dict[tuple[Any, ...], Any] = {}

    def __call__(self, resource: str, ctx: EvalContext) -> bool:
        hit = self.static is not None and bool(self.static(resource))
        if not hit:
            for i, template in enumerate(self.dynamic):
                matcher = self._resolve(i, template, ctx)
                if matcher is not None and matcher(resource):
                    hit = True
                    break
        return hit != self.negate

    def _resolve(self, i: int, template: Template, ctx: EvalContext) -> Any:
        """The matcher of ``template`` with its variables' values, or None when one has none (as
        :meth:`Template.resolve`: the first such variable ends the lookups)."""
        values: list[Any] = [i]
        for variable in template.variables:
            value = ctx.scalar(variable.key, variable.name)
            if value is None:
                if variable.default is None:
                    return None
                value = variable.default
            values.append(value)
        key = tuple(values)
        matcher = self.resolved.get(key)
        if matcher is None:
            matcher = compile_pattern(template.fill(values[1:]), RESOURCE)
            if len(self.resolved) >= _RESOLVED_CACHE:
                self.resolved.clear()
            self.resolved[key] = matcher
        return matcher


def _root_account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) == 6 and parts[2] == "iam" and parts[5] == "root" else None


def _role(arn: str) -> tuple[str, str] | None:
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/"):
        return parts[4], parts[5].rsplit("/", 1)[1]
    return None


class PrincipalMatcher:
    """Principal or NotPrincipal of a resource-based policy statement."""

    __slots__ = ("accounts", "arns", "everyone", "ids", "negate", "others", "roles", "services", "star")

    def __init__(self, spec: PrincipalSpec, negate: bool) -> None:
        self.negate = negate
        self.star = spec.star
        self.everyone = spec.star and not negate  # ``"Principal": "*"``: applies to every caller
        self.accounts = frozenset(a for a in spec.aws if a.isdigit()) | frozenset(
            filter(None, (_root_account(a) for a in spec.aws))
        )
        self.arns = frozenset(a for a in spec.aws if a.startswith("arn:"))
        self.roles = frozenset(filter(None, (_role(a) for a in spec.aws)))
        self.ids = frozenset(a for a in spec.aws if not a.isdigit() and not a.startswith("arn:"))
        self.services = frozenset(s.lower() for s in spec.service)
        self.others = frozenset(spec.federated) | frozenset(spec.canonical_user)

    def _names(self, info: PrincipalInfo, unique_id: str | None) -> tuple[bool, bool, bool]:
        """(names the caller itself, names its role, names its account)."""
        if info.kind == "service":
            return info.service in self.services, False, False
        if info.kind == "anonymous":
            return False, False, False
        uid = unique_id.split(":", 1)[0] if unique_id else None
        itself = info.arn in self.arns or info.arn in self.others or (uid is not None and uid in self.ids)
        role = info.role_name is not None and (info.account, info.role_name) in self.roles
        if info.kind == "assumed-role" and uid is not None and uid in self.ids:
            itself, role = False, True
        if info.kind == "role" and role:
            itself = True
        return itself, role, info.account is not None and info.account in self.accounts

    def match(self, info: PrincipalInfo, unique_id: str | None) -> int:
        """DIRECT, ROLE or ACCOUNT when the element applies to the caller; 0 when not."""
        if self.star:
            return 0 if self.negate else DIRECT
        itself, role, account = self._names(info, unique_id)
        if not self.negate:
            return DIRECT if itself else ROLE if role else ACCOUNT if account else 0
        # NotPrincipal excludes a caller only when all its identities are listed (its ARN, its
        # role for a session, and its account).
        kind = info.kind
        if kind == "service":
            covered = itself
        elif kind == "root":
            covered = account or itself
        elif kind == "assumed-role":
            covered = itself and role and account
        else:
            covered = (itself or role) and account
        return 0 if covered else DIRECT


def _statement_test(resource: ResourceMatcher | None, conditions: Check | None) -> Check | None:
    """Resource (unless it has a ``fast`` form, tested apart), then conditions, in one call (None:
    nothing left to test)."""
    if resource is None or resource.fast is not None:
        return conditions
    if conditions is None:
        return resource
    return lambda value, ctx: resource(value, ctx) and conditions(value, ctx)


class CompiledStatement:
    """A statement ready to evaluate; ``ref`` is its :class:`MatchedStatement`."""

    __slots__ = (
        "actions",
        "allow",
        "conditions",
        "match",
        "not_action",
        "principal",
        "ref",
        "resource",
        "statement",
        "test",
    )

    def __init__(self, statement: Statement, label: str, kind: str = "identity") -> None:
        self.statement = statement
        self.allow = statement.effect == "Allow"
        self.ref = MatchedStatement(label, statement.sid, statement.effect, statement.index)
        patterns = statement.actions if statement.actions is not None else statement.not_actions or ()
        self.not_action = statement.actions is None
        self.actions = PatternSet((((a, True),) for a in patterns), ACTION)
        resources = statement.resources if statement.resources is not None else statement.not_resources
        negate = statement.resources is None
        if resources is None or (not negate and any(t.text == "*" for t in resources)):
            self.resource: ResourceMatcher | None = None  # no element (trust policy) or "*"
        else:
            self.resource = ResourceMatcher(resources, negate)
        # An RCP's Principal is always "*" (it restricts, it names no one to grant to).
        spec = None if kind == "rcp" else statement.principal or statement.not_principal
        self.principal = PrincipalMatcher(spec, statement.principal is None) if spec else None
        self.conditions: tuple[Condition, ...] = compile_conditions(statement.conditions)
        # the hot path tests ``match(resource)`` (a static Resource), then ``test(resource, ctx)``
        self.match = self.resource.fast if self.resource is not None else None
        self.test: Check | None = _statement_test(self.resource, conditions_check(self.conditions))

    def action_matches(self, action: str) -> bool:
        """``action`` lowercased."""
        return self.actions(action) != self.not_action


class PolicyIndex:
    """The compiled statements of one policy under one label, indexed by action."""

    __slots__ = ("_found", "exact", "general", "negated", "services", "statements")

    def __init__(self, statements: tuple[CompiledStatement, ...]) -> None:
        self.statements = statements
        # action -> candidates: the index is shared by every policy set that holds the policy
        self._found: dict[str, tuple[CompiledStatement, ...]] = {}
        self.exact: dict[str, list[int]] = {}
        self.services: dict[str, list[int]] = {}
        self.general: list[int] = []
        self.negated: list[int] = []
        for i, st in enumerate(statements):
            if st.not_action:
                self.negated.append(i)
                continue
            for action in st.statement.actions or ():
                low = action.lower()
                service, _, _ = low.partition(":")
                if "*" not in low and "?" not in low:
                    self.exact.setdefault(low, []).append(i)
                elif "*" in service or "?" in service or ":" not in low:
                    self.general.append(i)
                else:
                    self.services.setdefault(service, []).append(i)

    def candidates(self, action: str) -> tuple[CompiledStatement, ...]:
        """Statements whose Action/NotAction matches ``action`` (lowercased), in document order.
        Cached."""
        cached = self._found.get(action)
        if cached is not None:
            return cached
        found = set(self.exact.get(action, ()))
        statements = self.statements
        for i in (*self.services.get(action.partition(":")[0], ()), *self.general, *self.negated):
            if i not in found and statements[i].action_matches(action):
                found.add(i)
        cached = tuple(statements[i] for i in sorted(found))
        if len(self._found) >= _PLAN_CACHE:
            self._found.clear()
        self._found[action] = cached
        return cached


class Group:
    """The policies of one kind (or one SCP/RCP level), each indexed by action."""

    __slots__ = ("indexes", "kind", "label", "statements")

    def __init__(self, label: str, indexes: list[PolicyIndex]) -> None:
        self.label = label
        self.kind = label.split("[", 1)[0]  # as MatchedStatement.kind
        self.indexes = tuple(indexes)
        self.statements = tuple(st for index in indexes for st in index.statements)

    def candidates(self, action: str) -> tuple[CompiledStatement, ...]:
        """Statements whose Action/NotAction matches ``action`` (lowercased), in document order."""
        found: tuple[CompiledStatement, ...] = ()
        for index in self.indexes:
            found += index.candidates(action)
        return found


# Compiled and indexed statements of one policy under one label, keyed on the (content-cached)
# Policy: a new combination of known documents only assembles them.
_compiled: dict[tuple[Policy, str], PolicyIndex] = {}


def _compile_policy(policy: Policy, name: str) -> PolicyIndex:
    key = (policy, name)
    found = _compiled.get(key)
    if found is None:
        found = PolicyIndex(tuple(CompiledStatement(s, name, policy.kind) for s in policy.statements))
        if len(_compiled) >= _STATEMENT_CACHE:
            _compiled.clear()
        _compiled[key] = found
    return found


def _group(policies: Sequence[Policy], label: str, indexed: bool) -> Group:
    return Group(
        label, [_compile_policy(p, f"{label}[{n}]" if indexed else label) for n, p in enumerate(policies)]
    )


class PolicySet:
    """Every policy that applies to a request, compiled. Build with :func:`compile_policy_set`.

    ``groups`` in order: identity, permissions boundary, session, resource, SCP levels, RCP levels
    (absent kinds have no group; ``has_*`` and ``scp_levels``/``rcp_levels`` say which are there).
    """

    __slots__ = (
        "_kinds", "applies", "boundary_bit", "groups", "has_boundary", "has_resource", "has_session", "plans",
        "policies", "rcp_levels", "rcp_mask", "required", "resource_bit", "scp_levels", "scp_mask", "session_bit",
    )  # fmt: skip

    def __init__(
        self,
        identity: Sequence[Policy],
        boundary: Policy | None,
        session: Sequence[Policy],
        resource: Policy | None,
        scps: Sequence[Sequence[Policy]],
        rcps: Sequence[Sequence[Policy]],
    ) -> None:
        self.policies = {
            "identity": tuple(identity), "permissions_boundary": boundary, "session": tuple(session),
            "resource": resource, "scps": tuple(map(tuple, scps)), "rcps": tuple(map(tuple, rcps)),
        }  # fmt: skip
        groups = [_group(identity, "identity", True)]
        self.has_boundary = boundary is not None
        if boundary is not None:
            groups.append(_group([boundary], "permissions_boundary", False))
        self.has_session = bool(session)
        if session:
            groups.append(_group(session, "session", True))
        self.has_resource = resource is not None
        if resource is not None:
            groups.append(_group([resource], "resource", False))
        self.scp_levels = len(scps)
        groups.extend(_group(level, f"scps[{i}]", True) for i, level in enumerate(scps))
        self.rcp_levels = len(rcps)
        groups.extend(_group(level, f"rcps[{i}]", True) for i, level in enumerate(rcps))
        self.groups = tuple(groups)
        # Each group is a bit (group i: 1 << i); decisions combine masks of these bits.
        fixed = 1 + self.has_boundary + self.has_session + self.has_resource
        self.boundary_bit = 1 << 1 if self.has_boundary else 0
        self.session_bit = 1 << (1 + self.has_boundary) if self.has_session else 0
        self.resource_bit = 1 << (fixed - 1) if self.has_resource else 0
        self.scp_mask = sum(1 << i for i in range(fixed, fixed + self.scp_levels))
        self.rcp_mask = sum(1 << i for i in range(fixed + self.scp_levels, len(groups)))
        all_bits = (1 << len(groups)) - 1
        # which groups apply, indexed by 2 * SCP-exempt + RCP-exempt
        self.applies = tuple(
            all_bits & ~(self.scp_mask if scp else 0) & ~(self.rcp_mask if rcp else 0)
            for scp in (False, True)
            for rcp in (False, True)
        )
        # the groups that must all allow for the identity side to grant (per ``applies`` variant)
        self.required = tuple(
            (1 | self.boundary_bit | self.session_bit | self.scp_mask | self.rcp_mask) & applies
            for applies in self.applies
        )
        # per ``applies`` variant: action -> plan (the cache behind :meth:`plan`)
        self.plans: tuple[dict[str, Plan], ...] = tuple({} for _ in self.applies)
        self._kinds: dict[int, tuple[str, ...]] = {}

    def plan(self, action: str, exempt: int = 0) -> Plan:
        """The statements whose Action can match ``action`` (lowercased) in the groups that apply
        (``exempt``: 2 * SCP-exempt + RCP-exempt). Cached in ``plans``."""
        plans = self.plans[exempt]
        plan = plans.get(action)
        if plan is None:
            applies = self.applies[exempt]
            plan = Plan((1 << i, g.candidates(action)) for i, g in enumerate(self.groups) if applies >> i & 1)
            if len(plans) >= _PLAN_CACHE:
                plans.clear()
            plans[action] = plan
        return plan

    def kinds(self, mask: int) -> tuple[str, ...]:
        """The kinds of the groups in ``mask`` (bits as in ``applies``), in order, each once."""
        found = self._kinds.get(mask)
        if found is None:
            found = tuple(dict.fromkeys(g.kind for i, g in enumerate(self.groups) if mask >> i & 1))
            if len(self._kinds) >= _PLAN_CACHE:
                self._kinds.clear()
            self._kinds[mask] = found
        return found


def _parse(doc: Doc, kind: str) -> Policy:
    return parse_policy(doc, kind=kind)


def _parse_resource(doc: Doc) -> Policy:
    """A resource-based policy; a role trust policy (no Resource element) is accepted too."""
    if isinstance(doc, Policy) and doc.kind in ("resource", "trust"):
        return doc
    try:
        return parse_policy(doc, kind="resource")
    except MalformedPolicyDocument as error:
        try:
            return parse_policy(doc, kind="trust")
        except MalformedPolicyDocument:
            raise error from None


def _key(doc: Doc) -> Any:
    return doc if isinstance(doc, Policy) else cache_key(doc)


_sets: dict[Any, PolicySet] = {}


def compile_policy_set(
    identity: Iterable[Doc] = (),
    permissions_boundary: Doc | None = None,
    session: Iterable[Doc] = (),
    resource: Doc | None = None,
    scps: Iterable[Iterable[Doc]] = (),
    rcps: Iterable[Iterable[Doc]] = (),
) -> PolicySet:
    """Parse, validate and compile every policy of a request. Cached by content.

    Raises :class:`~ironkeep.errors.MalformedPolicyDocument` for a malformed document.
    """
    identity = tuple(identity)
    session = tuple(session)
    scps = tuple(tuple(level) for level in scps)
    rcps = tuple(tuple(level) for level in rcps)
    key = (
        tuple(map(_key, identity)),
        None if permissions_boundary is None else _key(permissions_boundary),
        tuple(map(_key, session)),
        None if resource is None else _key(resource),
        tuple(tuple(map(_key, level)) for level in scps),
        tuple(tuple(map(_key, level)) for level in rcps),
    )
    found = _sets.get(key)
    if found is not None:
        return found
    built = PolicySet(
        identity=[_parse(d, "identity") for d in identity],
        boundary=None if permissions_boundary is None else _parse(permissions_boundary, "boundary"),
        session=[_parse(d, "session") for d in session],
        resource=None if resource is None else _parse_resource(resource),
        scps=[[_parse(d, "scp") for d in level] for level in scps],
        rcps=[[_parse(d, "rcp") for d in level] for level in rcps],
    )
    if len(_sets) >= _SET_CACHE:
        _sets.clear()
    _sets[key] = built
    return built
