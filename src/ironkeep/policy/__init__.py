"""The IAM policy language: documents -> validated, typed policies; wildcard and variable patterns.

Pure: no I/O, no state except bounded caches keyed on content.

API
---
``parse_policy(doc, *, kind="identity") -> Policy``
    ``doc`` is JSON text (str or bytes), a JSON object (Mapping) or a :class:`Policy`.
    ``kind`` is one of ``identity``, ``resource``, ``trust``, ``boundary``, ``session``, ``scp``,
    ``rcp``. ``resource`` and ``trust`` policies require Principal or NotPrincipal in every
    statement; ``rcp`` statements may carry only ``"Principal": "*"``; the other kinds forbid it.
    ``trust`` policies may not have Resource/NotResource; every other kind needs one of them.
    Anything IAM rejects raises :class:`ironkeep.errors.MalformedPolicyDocument` with a message
    naming the statement (index and Sid), the element and the problem: invalid JSON, duplicate
    keys in one JSON object, wrong types, unknown elements, Action with NotAction (and the other
    pairs), missing Effect/Action/Resource/Principal, actions not of the ``svc:Action`` form,
    resources neither ARN nor ``*``, unknown condition operators, an empty Statement list.
    Results are cached by content (document text, or canonical JSON of a mapping).

``Policy``: ``kind``, ``version`` (``"2012-10-17"``, ``"2008-10-17"`` or None), ``id``,
``statements`` (tuple of :class:`Statement`), ``document`` (the JSON value), ``variables``
(policy variables are recognised only with Version 2012-10-17).

``Statement``: ``index``, ``sid``, ``effect``, ``actions`` / ``not_actions`` (tuples of
strings), ``resources`` / ``not_resources`` (tuples of :class:`Template`), ``principal`` /
``not_principal`` (:class:`PrincipalSpec`), ``conditions`` (tuple of :class:`ConditionSpec`),
``label`` (``Statement[0] (Sid "x")``).

Patterns (``ironkeep.policy.patterns``): ``parse_template(text, variables)``,
``compile_pattern(pieces, flavour)`` and ``PatternSet`` for the three wildcard flavours
(``ACTION`` case-insensitive; ``RESOURCE`` ARN-segment aware; ``STRING`` for StringLike).
"""

from ironkeep.policy.document import (
    CONDITION_OPERATORS,
    KINDS,
    ConditionSpec,
    Policy,
    PrincipalSpec,
    Statement,
    parse_policy,
)
from ironkeep.policy.patterns import ACTION, RESOURCE, STRING, PatternSet, Template, Variable, parse_template

__all__ = [
    "ACTION",
    "CONDITION_OPERATORS",
    "KINDS",
    "RESOURCE",
    "STRING",
    "ConditionSpec",
    "PatternSet",
    "Policy",
    "PrincipalSpec",
    "Statement",
    "Template",
    "Variable",
    "parse_policy",
    "parse_template",
]
