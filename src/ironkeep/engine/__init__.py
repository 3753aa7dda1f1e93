"""The AWS authorization engine: request + compiled policies -> decision with reasons.

Pure: no I/O, no state except bounded caches keyed on content. Time and every condition key
come in with the request.

API
---
``Principal(arn=None, id=None, tags=None, service=None)``
    ``arn``: IAM user, role, role session (``arn:aws:sts::ACCT:assumed-role/ROLE/SESSION``),
    federated user (``arn:aws:sts::ACCT:federated-user/NAME``) or account root
    (``arn:aws:iam::ACCT:root``); ``service`` (``lambda.amazonaws.com``) for a service principal.
    ``id`` is the value of ``aws:userid``; ``tags`` the ``aws:PrincipalTag/*`` values.

``Request(principal, action, resource="*", resource_account=None, context=None, management_account=None)``
    ``context`` maps condition keys (any case) to a string or a list of strings. Principal keys
    (``aws:username``, ``aws:userid``, ``aws:PrincipalArn``, ``aws:PrincipalAccount``,
    ``aws:PrincipalType``, ``aws:PrincipalTag/*``, ``aws:PrincipalIsAWSService``,
    ``aws:PrincipalServiceName``, ``aws:ResourceAccount``) are derived when absent.
    ``resource_account`` defaults to the resource ARN's account, else the principal's.

``compile_policy_set(identity=(), permissions_boundary=None, session=(), resource=None, scps=(), rcps=()) -> PolicySet``
    Documents are JSON text, bytes, mappings or parsed :class:`~ironkeep.policy.Policy` objects.
    ``scps``/``rcps`` hold one list of documents per organization level (root first). The
    ``resource`` slot takes a resource-based policy or a role trust policy. Parsed, validated and
    compiled once, cached by content; raises ``MalformedPolicyDocument``.

``authorize(request, policies) -> Decision``
    The whole AWS flow (see :mod:`ironkeep.engine.evaluate` for the rules).

``Decision``
    ``decision``: ``"Allow"``, ``"ExplicitDeny"`` or ``"ImplicitDeny"``.
    ``matched``: tuple of :class:`MatchedStatement` (``policy`` label such as ``identity[0]``,
    ``permissions_boundary``, ``session[0]``, ``resource``, ``scps[1][0]``, ``rcps[0][0]``;
    ``sid``; ``effect``; ``statement_index``; ``to_json()``), in evaluation order:

    * ExplicitDeny: every Deny statement that applied.
    * Allow: every Allow statement that applied, from every kind (identity, boundary, session,
      resource, each SCP and RCP level).
    * ImplicitDeny: empty, as in the IAM policy simulator (an Allow did not decide a deny);
      ``blocked_by`` names the kinds that lacked an Allow, and ``explain()`` shows the Allow
      statements that applied but were not enough.

    ``missing_context``: sorted condition keys (as the policy wrote them) that statements whose
    action, principal and resource matched referred to but the request lacked.
    ``blocked_by``: kinds that denied (``identity``, ``permissions_boundary``, ``session``,
    ``resource``, ``scps``, ``rcps``). ``allowed_by_permissions_boundary`` /
    ``allowed_by_organizations``: bool, or None when no boundary / no SCPs applied (the IAM
    policy simulator's decision details). ``to_json()``: the ``simulate`` format.
    ``explain()``: a multi-line trace of every statement of every kind, each element's match
    and each condition with the request's values (re-analysed on demand, so the hot path
    stays fast).

``analyze(request, policies) -> Analysis``
    The full per-statement analysis behind ``explain()`` (``Analysis.groups``: per policy group
    its label, whether it applied, and one ``StatementRecord`` per statement).

Speed: on the benchmark workload (benchmarks/workload.py: 3-10 identity policies with
wildcards, NotAction and conditions, boundaries, resource policies, two SCP levels, ~5.7 KB of
policy JSON a request) with each policy set compiled ahead, ``authorize`` runs about 750
bytecodes and 13 Python-level calls a decision (``python3 benchmarks/engine.py`` measures it).
What makes it so: each policy set's per-action :class:`~ironkeep.engine.plan.Plan` settles the
statements that apply whatever the request and caches, per mask of the others, the decision's
parts; conditions read the request's values inline; static Resource and string patterns are one
C-level call each.

Limits worth knowing: a role session's derived ``aws:PrincipalArn`` is the role ARN without its
path (pass ``aws:PrincipalArn`` in the context when a policy needs the path; Principal elements
match roles by account and name, so paths do not matter there). A federated-user session is not
matched by its underlying IAM user's ARN. ``Federated`` and ``CanonicalUser`` principals match
only the exact ARN or service name of the caller.
"""

from ironkeep.engine.compiled import MatchedStatement, PolicySet, compile_policy_set
from ironkeep.engine.decision import Decision
from ironkeep.engine.evaluate import Analysis, analyze, authorize
from ironkeep.engine.request import Principal, Request

__all__ = [
    "Analysis",
    "Decision",
    "MatchedStatement",
    "PolicySet",
    "Principal",
    "Request",
    "analyze",
    "authorize",
    "compile_policy_set",
]
