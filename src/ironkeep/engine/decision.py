"""The engine's answer: a decision, the statements behind it, and a readable trace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ironkeep.engine.compiled import MatchedStatement

if TYPE_CHECKING:
    from ironkeep.engine.compiled import PolicySet
    from ironkeep.engine.request import Request

__all__ = ["ALLOW", "EXPLICIT_DENY", "IMPLICIT_DENY", "Decision", "MatchedStatement"]

ALLOW = "Allow"
EXPLICIT_DENY = "ExplicitDeny"
IMPLICIT_DENY = "ImplicitDeny"


class Decision:
    """``decision`` ("Allow" | "ExplicitDeny" | "ImplicitDeny"), ``matched`` statements,
    ``missing_context`` keys, ``blocked_by`` (the kinds of policy that denied, in evaluation
    order), ``allowed_by_permissions_boundary`` and ``allowed_by_organizations`` (None when no
    boundary / no SCPs applied). ``explain()`` renders the full per-statement analysis.
    """

    __slots__ = (
        "_policies", "_request", "allowed_by_organizations", "allowed_by_permissions_boundary",
        "blocked_by", "decision", "matched", "missing_context",
    )  # fmt: skip

    def __init__(
        self,
        decision: str,
        matched: tuple[MatchedStatement, ...],
        missing_context: tuple[str, ...],
        blocked_by: tuple[str, ...],
        allowed_by_permissions_boundary: bool | None,
        allowed_by_organizations: bool | None,
        request: Request | None = None,
        policies: PolicySet | None = None,
    ) -> None:
        self.decision = decision
        self.matched = matched
        self.missing_context = missing_context
        self.blocked_by = blocked_by
        self.allowed_by_permissions_boundary = allowed_by_permissions_boundary
        self.allowed_by_organizations = allowed_by_organizations
        self._request = request
        self._policies = policies

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOW

    def to_json(self) -> dict[str, Any]:
        """The ``simulate`` format's decision object."""
        return {
            "decision": self.decision,
            "matched": [m.to_json() for m in self.matched],
            "missing_context": list(self.missing_context),
        }

    def explain(self) -> str:
        """A multi-line trace: every policy kind, every statement, what matched and why."""
        if self._request is None or self._policies is None:
            return render_summary(self)
        from ironkeep.engine.evaluate import analyze

        return analyze(self._request, self._policies).render()

    def __repr__(self) -> str:
        return f"Decision({self.decision}, matched={list(self.matched)}, missing_context={list(self.missing_context)})"


def render_summary(decision: Decision) -> str:
    lines = [f"Decision: {decision.decision}"]
    if decision.blocked_by:
        lines.append("Blocked by: " + ", ".join(decision.blocked_by))
    for m in decision.matched:
        sid = f' (Sid "{m.sid}")' if m.sid is not None else ""
        lines.append(f"  {m.effect}: {m.policy} statement {m.statement_index}{sid}")
    if decision.missing_context:
        lines.append("Missing context keys: " + ", ".join(decision.missing_context))
    return "\n".join(lines)
