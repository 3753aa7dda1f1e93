"""What deciding one action takes: the statements whose Action can match, settled where they can be.

A :class:`Plan` lists, in evaluation order (group by group, document order inside a group), the
statements of a policy set whose Action/NotAction matches one action. A statement with no
Principal (a Deny for ``"*"`` counts as none: how a statement names the caller only matters for
an Allow), Resource ``"*"`` (or none) and no Condition applies whatever the request: the plan
settles it. Every other statement is a *candidate* with a bit of its own; the hot path tests the
candidates and sets the bits of those that applied (``applied``), and :meth:`Plan.outcome` turns
that mask into the groups that allowed / denied and the Allow / Deny statements, in order. Those
are the same for every request with the same mask, so they are cached (and decisions share the
tuples).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ironkeep.engine.compiled import CompiledStatement, MatchedStatement, PrincipalMatcher
    from ironkeep.engine.conditions import Check

__all__ = ["Candidate", "Outcome", "Plan"]

# A candidate as the hot path reads it: (its bit, principal matcher or None, static resource test
# or None, the rest of the resource-and-conditions test or None).
Candidate = tuple[int, "PrincipalMatcher | None", Any, "Check | None"]
# (groups where an Allow applied, groups where a Deny applied, Allow statements, Deny statements)
Outcome = tuple[int, int, tuple["MatchedStatement", ...], tuple["MatchedStatement", ...]]

_OUTCOME_CACHE = 256  # masks per plan


class Plan:
    """The statements of one action under one set of exemptions (see the module's docstring).

    ``candidates``: the statements to test, in order. ``allow_mask``: the bits of the Allow
    candidates. ``outcomes``: the cache behind :meth:`outcome`, by mask.
    """

    __slots__ = ("allow_mask", "candidates", "outcomes", "statements")

    def __init__(self, groups: Iterable[tuple[int, Iterable[CompiledStatement]]]) -> None:
        """``groups``: (the group's bit, its statements whose Action can match), in order."""
        statements: list[tuple[int, CompiledStatement, int]] = []  # (group bit, statement, own bit or 0)
        candidates: list[Candidate] = []
        allow_mask = 0
        for group_bit, group in groups:
            for st in group:
                pm = st.principal
                if pm is not None and pm.everyone and not st.allow:
                    pm = None  # a Deny for everyone: how it names the caller does not matter
                if pm is None and st.match is None and st.test is None:
                    statements.append((group_bit, st, 0))  # applies whatever the request
                    continue
                bit = 1 << len(candidates)
                candidates.append((bit, pm, st.match, st.test))
                if st.allow:
                    allow_mask |= bit
                statements.append((group_bit, st, bit))
        self.statements = tuple(statements)
        self.candidates = tuple(candidates)
        self.allow_mask = allow_mask
        self.outcomes: dict[int, Outcome] = {}

    def outcome(self, applied: int) -> Outcome:
        """What the plan's statements add up to when the candidates in ``applied`` applied."""
        found = self.outcomes.get(applied)
        if found is None:
            allowed = denied = 0
            allows = []
            denies = []
            for group_bit, st, bit in self.statements:
                if bit and not bit & applied:
                    continue
                if st.allow:
                    allows.append(st.ref)
                    allowed |= group_bit
                else:
                    denies.append(st.ref)
                    denied |= group_bit
            found = (allowed, denied, tuple(allows), tuple(denies))
            if len(self.outcomes) >= _OUTCOME_CACHE:
                self.outcomes.clear()
            self.outcomes[applied] = found
        return found
