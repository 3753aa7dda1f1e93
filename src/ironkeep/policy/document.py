"""Policy documents: JSON text or mapping -> validated, typed :class:`Policy`.

Validation follows IAM's grammar. Every problem raises
:class:`~ironkeep.errors.MalformedPolicyDocument` whose message says where (statement index and
Sid, element) and what, e.g. ``Statement[1] (Sid "Read"), element Action: Actions/Conditions must
be prefaced by a vendor, e.g., iam, sdb, ec2 (got "GetObject")``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from ironkeep.errors import MalformedPolicyDocument
from ironkeep.policy.patterns import Template, parse_template

__all__ = [
    "CONDITION_OPERATORS",
    "KINDS",
    "ConditionSpec",
    "Policy",
    "PrincipalSpec",
    "Statement",
    "parse_policy",
]

KINDS: Final = frozenset({"identity", "resource", "trust", "boundary", "session", "scp", "rcp"})
VERSIONS: Final = ("2012-10-17", "2008-10-17")

#: Every condition operator AWS documents (before ``IfExists`` and the set qualifiers).
CONDITION_OPERATORS: Final = frozenset(
    {
        "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
        "StringLike", "StringNotLike",
        "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
        "NumericGreaterThan", "NumericGreaterThanEquals",
        "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals",
        "DateGreaterThan", "DateGreaterThanEquals",
        "Bool", "BinaryEquals", "IpAddress", "NotIpAddress",
        "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
    }
)  # fmt: skip
QUALIFIERS: Final = ("ForAllValues", "ForAnyValue")

_TOP_ELEMENTS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_ELEMENTS = frozenset(
    {
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
    }
)
_PRINCIPAL_KEYS = ("AWS", "Service", "Federated", "CanonicalUser")
_ACTION = re.compile(r"[A-Za-z0-9*?_-]+:[A-Za-z0-9*?_.-]+")
_ACCOUNT = re.compile(r"\d{12}")
_UNIQUE_ID = re.compile(r"A[A-Z0-9]{15,127}")
_PRINCIPAL_KINDS = frozenset({"resource", "trust"})
# IAM's own policy kinds: Sids of ASCII letters and digits, unique within the policy (service
# resource policies such as S3 bucket policies are more lenient).
_STRICT_SID_KINDS = frozenset({"identity", "boundary", "session", "trust", "scp", "rcp"})
_SID = re.compile(r"[A-Za-z0-9]*")
_CACHE_SIZE = 4096
_CACHEABLE = 131072  # characters; AWS's largest policy documents are smaller


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """A Principal/NotPrincipal element. ``star`` is ``"*"``; ``aws`` holds ``{"AWS": ...}``."""

    star: bool = False
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConditionSpec:
    """One ``operator: {key: values}`` entry of a Condition block."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    base: str  # e.g. "StringLike"
    qualifier: str | None  # "ForAllValues" | "ForAnyValue" | None
    if_exists: bool
    key: str  # as written
    values: tuple[str, ...]
    templates: tuple[Template, ...]  # the values, parsed for policy variables

    @property
    def key_lower(self) -> str:
        return self.key.lower()


@dataclass(frozen=True, slots=True)
class Statement:
    index: int
    sid: str | None
    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[Template, ...] | None
    not_resources: tuple[Template, ...] | None
    principal: PrincipalSpec | None
    not_principal: PrincipalSpec | None
    conditions: tuple[ConditionSpec, ...]

    @property
    def label(self) -> str:
        return _where(self.index, self.sid)


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """A validated policy document of one kind. Immutable; compare by identity."""

    kind: str
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]
    document: Any  # the JSON value it was parsed from

    @property
    def variables(self) -> bool:
        """Policy variables are recognised only in Version 2012-10-17."""
        return self.version == "2012-10-17"


def _where(index: int, sid: str | None) -> str:
    return f"Statement[{index}]" if sid is None else f'Statement[{index}] (Sid "{sid}")'


def _fail(message: str) -> MalformedPolicyDocument:
    return MalformedPolicyDocument(message)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _fail(f'Syntax errors in policy: duplicate element "{key}" in a JSON object')
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise _fail(f"Syntax errors in policy: invalid JSON value {name}")


def _loads(text: str | bytes) -> Any:
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except MalformedPolicyDocument:
        raise
    except (ValueError, RecursionError) as exc:
        raise _fail(f"Syntax errors in policy: the document is not valid JSON ({exc})") from None


def _strings(value: Any, where: str, element: str) -> tuple[str, ...]:
    """A string or a non-empty list of strings."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    if isinstance(value, list | tuple) and not value:
        raise _fail(f"{where}, element {element}: must not be an empty list")
    raise _fail(f"{where}, element {element}: must be a string or a list of strings")


def _scalar(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    raise _fail(f"{where}: condition values must be strings, numbers or booleans")


def _actions(value: Any, where: str, element: str) -> tuple[str, ...]:
    actions = _strings(value, where, element)
    for action in actions:
        if action != "*" and not _ACTION.fullmatch(action):
            raise _fail(
                f"{where}, element {element}: Actions/Conditions must be prefaced by a vendor, "
                f'e.g., iam, sdb, ec2 (got "{action}")'
            )
    return actions


def _resources(value: Any, where: str, element: str, variables: bool) -> tuple[Template, ...]:
    resources = _strings(value, where, element)
    for resource in resources:
        if resource != "*" and not (resource.startswith("arn:") and resource.count(":") >= 5):
            raise _fail(f'{where}, element {element}: Resource {resource} must be in ARN format or "*".')
    return tuple(parse_template(r, variables) for r in resources)


def _principal(value: Any, where: str, element: str, kind: str) -> PrincipalSpec:
    if value == "*":
        return PrincipalSpec(star=True)
    if not isinstance(value, Mapping) or not value:
        raise _fail(
            f'{where}, element {element}: must be "*" or a map of AWS, Service, Federated or CanonicalUser'
        )
    if kind == "rcp":
        raise _fail(f'{where}, element {element}: resource control policies allow only "Principal": "*"')
    found: dict[str, tuple[str, ...]] = {}
    for key, raw in value.items():
        if key not in _PRINCIPAL_KEYS:
            raise _fail(f'{where}, element {element}: Invalid principal in policy: unknown key "{key}"')
        names = _strings(raw, where, f"{element}.{key}")
        for name in names:
            if not name.strip():
                raise _fail(f'{where}, element {element}: Invalid principal in policy: "{key}":"{name}"')
            if key == "AWS" and name != "*":
                if not (_ACCOUNT.fullmatch(name) or name.startswith("arn:") or _UNIQUE_ID.fullmatch(name)):
                    raise _fail(f'{where}, element {element}: Invalid principal in policy: "AWS":"{name}"')
                if "*" in name or "?" in name:
                    raise _fail(
                        f'{where}, element {element}: Invalid principal in policy: "AWS":"{name}" '
                        '(wildcards are allowed only as the whole value "*")'
                    )
        found[key] = names
    aws = found.get("AWS", ())
    return PrincipalSpec(
        star="*" in aws,
        aws=tuple(a for a in aws if a != "*"),
        service=found.get("Service", ()),
        federated=found.get("Federated", ()),
        canonical_user=found.get("CanonicalUser", ()),
    )


def _split_operator(operator: str, where: str) -> tuple[str, str | None, bool]:
    qualifier = None
    base = operator
    if ":" in base:
        qualifier, _, base = base.partition(":")
        if qualifier not in QUALIFIERS:
            raise _fail(f'{where}, element Condition: invalid condition set qualifier "{qualifier}"')
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    if base not in CONDITION_OPERATORS:
        raise _fail(f'{where}, element Condition: invalid condition operator "{operator}"')
    if base == "Null" and (if_exists or qualifier):
        raise _fail(
            f'{where}, element Condition: "{operator}" is not allowed; Null takes no IfExists or qualifier'
        )
    return base, qualifier, if_exists


def _conditions(value: Any, where: str, variables: bool) -> tuple[ConditionSpec, ...]:
    if not isinstance(value, Mapping):
        raise _fail(f"{where}, element Condition: must be a map of condition operators")
    out: list[ConditionSpec] = []
    for operator, block in value.items():
        if not isinstance(operator, str):
            raise _fail(f"{where}, element Condition: operator names must be strings")
        base, qualifier, if_exists = _split_operator(operator, where)
        here = f"{where}, element Condition.{operator}"
        if not isinstance(block, Mapping) or not block:
            raise _fail(f"{here}: must be a non-empty map of condition keys to values")
        seen: set[str] = set()
        for key, raw in block.items():
            if not isinstance(key, str) or not key:
                raise _fail(f"{here}: condition keys must be non-empty strings")
            if key.lower() in seen:
                raise _fail(f'{here}: condition key "{key}" appears twice (keys are case-insensitive)')
            seen.add(key.lower())
            items = raw if isinstance(raw, list | tuple) else [raw]
            if not items:
                raise _fail(f'{here}: condition key "{key}" has an empty list of values')
            values = tuple(_scalar(v, f'{here}, key "{key}"') for v in items)
            if base == "Null" and any(v.lower() not in ("true", "false") for v in values):
                raise _fail(f'{here}: Null takes "true" or "false" for key "{key}"')
            templates = tuple(parse_template(v, variables) for v in values)
            out.append(ConditionSpec(operator, base, qualifier, if_exists, key, values, templates))
    return tuple(out)


def _statement(raw: Any, index: int, kind: str, variables: bool) -> Statement:
    if not isinstance(raw, Mapping):
        raise _fail(f"Statement[{index}]: each statement must be a JSON object")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise _fail(f"Statement[{index}], element Sid: must be a string")
    where = _where(index, sid)
    for key in raw:
        if key not in _STATEMENT_ELEMENTS:
            raise _fail(f'{where}: Syntax errors in policy: unknown element "{key}"')
    for a, b in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
        if a in raw and b in raw:
            raise _fail(f"{where}: a statement cannot have both {a} and {b}")
    if "Effect" not in raw:
        raise _fail(f"{where}: Missing required field Effect")
    effect = raw["Effect"]
    if effect not in ("Allow", "Deny"):
        raise _fail(f'{where}, element Effect: must be "Allow" or "Deny"')
    if "Action" not in raw and "NotAction" not in raw:
        raise _fail(f"{where}: Policy statement must contain actions.")
    has_principal = "Principal" in raw or "NotPrincipal" in raw
    if kind in _PRINCIPAL_KINDS and not has_principal:
        raise _fail(f"{where}: Missing required field Principal")
    if kind not in _PRINCIPAL_KINDS and kind != "rcp" and has_principal:
        raise _fail(f"{where}: Policy document should not specify a principal.")
    if kind == "trust":
        if "NotPrincipal" in raw:
            raise _fail(f"{where}: Has prohibited field NotPrincipal")
        for element in ("Resource", "NotResource"):
            if element in raw:
                raise _fail(f"{where}: Has prohibited field {element}")
    elif "Resource" not in raw and "NotResource" not in raw:
        raise _fail(f"{where}: Policy statement must contain resources.")

    def opt(element: str, parse: Any, *extra: Any) -> Any:
        return parse(raw[element], where, element, *extra) if element in raw else None

    return Statement(
        index=index,
        sid=sid,
        effect=effect,
        actions=opt("Action", _actions),
        not_actions=opt("NotAction", _actions),
        resources=opt("Resource", _resources, variables),
        not_resources=opt("NotResource", _resources, variables),
        principal=opt("Principal", _principal, kind),
        not_principal=opt("NotPrincipal", _principal, kind),
        conditions=_conditions(raw["Condition"], where, variables) if "Condition" in raw else (),
    )


def _validate(document: Any, kind: str) -> Policy:
    if not isinstance(document, Mapping):
        raise _fail("Syntax errors in policy: the policy must be a JSON object")
    for key in document:
        if key not in _TOP_ELEMENTS:
            raise _fail(f'Syntax errors in policy: unknown top-level element "{key}"')
    version = document.get("Version")
    if "Version" in document and version not in VERSIONS:
        raise _fail(
            f"The policy failed legacy parsing: Version must be 2012-10-17 or 2008-10-17 (got {version!r})"
        )
    policy_id = document.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise _fail("Syntax errors in policy: Id must be a string")
    if "Statement" not in document:
        raise _fail("Missing required field Statement")
    raw = document["Statement"]
    items = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(items, list | tuple):
        raise _fail("Syntax errors in policy: Statement must be an object or a list of objects")
    if not items:
        raise _fail("Syntax errors in policy: Statement must not be an empty list")
    variables = version == "2012-10-17"
    statements = tuple(_statement(s, i, kind, variables) for i, s in enumerate(items))
    if kind in _STRICT_SID_KINDS:
        _check_sids(statements)
    return Policy(kind=kind, version=version, id=policy_id, statements=statements, document=document)


def _check_sids(statements: tuple[Statement, ...]) -> None:
    seen: set[str] = set()
    for st in statements:
        if st.sid is None:
            continue
        if not _SID.fullmatch(st.sid):
            raise _fail(f"{st.label}, element Sid: Statement IDs (SID) must be alpha-numeric.")
        if st.sid and st.sid in seen:
            raise _fail(f"{st.label}, element Sid: Statement IDs (SID) in a single policy must be unique.")
        seen.add(st.sid)


# A bounded cache keyed on content: (kind, document text or canonical JSON).
_cache: dict[tuple[str, str | bytes], Policy] = {}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _canonical(document: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(document, default=_plain, option=orjson.OPT_SORT_KEYS)
    except (TypeError, ValueError, RecursionError) as exc:
        raise _fail(f"Syntax errors in policy: the document is not a JSON value ({exc})") from None


def cache_key(doc: str | bytes | Mapping[str, Any]) -> str | bytes:
    """The content key of a document (its text, or canonical JSON for a mapping)."""
    if isinstance(doc, str | bytes):
        return doc
    if isinstance(doc, Mapping):
        return _canonical(doc)
    raise _fail(
        f"Syntax errors in policy: a policy must be JSON text or a JSON object, not {type(doc).__name__}"
    )


def parse_policy(doc: str | bytes | Mapping[str, Any] | Policy, *, kind: str = "identity") -> Policy:
    """Parse and validate a policy document of ``kind`` (see :data:`KINDS`).

    Raises MalformedPolicyDocument for anything IAM would reject. Results are cached by content.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown policy kind {kind!r}")
    if isinstance(doc, Policy) and doc.kind == kind:
        return doc
    source: str | bytes | Mapping[str, Any] = doc.document if isinstance(doc, Policy) else doc
    key = (kind, cache_key(source))
    policy = _cache.get(key)
    if policy is None:
        document = _loads(key[1])
        policy = _validate(document, kind)
        if len(key[1]) <= _CACHEABLE:
            if len(_cache) >= _CACHE_SIZE:
                _cache.clear()
            _cache[key] = policy
    return policy
