"""Context keys: GetContextKeysForPrincipalPolicy, GetContextKeysForCustomPolicy, and the
simulator's ``ContextEntries``.

``referenced_keys(policies)`` lists every context key the policies refer to, in document order:
the keys of ``Condition`` blocks and the policy variables (``${aws:username}``) in ``Resource``,
``NotResource`` and condition values (variables only count in Version 2012-10-17 policies, as the
engine reads them). Key names are case-insensitive in IAM: each key is listed once, spelled as it
first appears (the AWS CLI's documented example lists ``aws:username`` then ``aws:CurrentTime``,
as written, in that order).

``context_from_entries(entries)`` turns ``ContextEntries`` into the engine's context: every
``ContextKeyType`` is checked (``numeric`` a number, ``boolean`` true/false, ``ip`` an address or
CIDR, ``binary`` base64, ``date`` ISO 8601 or epoch seconds), single-value types take one value,
``*List`` types take a list; a bad entry is ``InvalidInput``. An entry with no values is ignored
(AWS: "a key left empty is ignored").
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ironkeep.errors import InvalidInput
from ironkeep.policy import Policy, parse_policy, parse_template
from ironkeep.services.context import CallContext
from ironkeep.services.registry import operation

__all__ = ["context_from_entries", "policy_keys", "referenced_keys", "source_resource"]


def _variables(text: str, variables: bool) -> Iterable[str]:
    if variables and "${" in text:
        for variable in parse_template(text, True).variables:
            yield variable.name


def _strings(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, str)]


def _statement_keys(statement: Mapping[str, Any], variables: bool) -> Iterable[str]:
    for element, value in statement.items():  # document order
        if element in ("Resource", "NotResource"):
            for text in _strings(value):
                yield from _variables(text, variables)
        elif element == "Condition" and isinstance(value, Mapping):
            for block in value.values():
                if not isinstance(block, Mapping):
                    continue
                for key, raw in block.items():
                    yield key
                    for text in _strings(raw):
                        yield from _variables(text, variables)


def policy_keys(policy: Policy) -> Iterable[str]:
    """The context keys one parsed policy refers to, in document order (with repeats)."""
    raw = policy.document.get("Statement") if isinstance(policy.document, Mapping) else None
    statements = [raw] if isinstance(raw, Mapping) else raw if isinstance(raw, list) else []
    for statement in statements:
        if isinstance(statement, Mapping):
            yield from _statement_keys(statement, policy.variables)


def referenced_keys(policies: Iterable[Policy]) -> list[str]:
    """Every key the policies refer to, once regardless of case, as first spelled."""
    seen: dict[str, str] = {}
    for policy in policies:
        for key in policy_keys(policy):
            seen.setdefault(key.lower(), key)
    return list(seen.values())


def parse_inputs(documents: Sequence[str], kind: str = "identity") -> list[Policy]:
    """Parse ``PolicyInputList`` members (MalformedPolicyDocument for a bad one)."""
    return [parse_policy(doc, kind=kind) for doc in documents]


# ---------------------------------------------------------------------------------------------
# ContextEntries


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _is_boolean(text: str) -> bool:
    return text.lower() in ("true", "false")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return False
    return True


def _is_binary(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_date(text: str) -> bool:
    text = text.strip()
    if _is_number(text):
        return True
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return False
    return True


_CHECKS = {
    "string": None,
    "numeric": _is_number,
    "boolean": _is_boolean,
    "ip": _is_ip,
    "binary": _is_binary,
    "date": _is_date,
}


def context_from_entries(entries: Sequence[Mapping[str, Any]]) -> dict[str, str | list[str]]:
    """The engine's context for ``ContextEntries``; InvalidInput for a bad entry."""
    context: dict[str, str | list[str]] = {}
    seen: set[str] = set()
    for entry in entries:
        name = entry.get("ContextKeyName")
        kind = entry.get("ContextKeyType")
        values = list(entry.get("ContextKeyValues") or [])
        if not name or not kind:
            raise InvalidInput("Context entries need a ContextKeyName and a ContextKeyType.")
        if name.lower() in seen:
            raise InvalidInput(
                f"Context key {name} is given more than once (context keys are case-insensitive)."
            )
        seen.add(name.lower())
        is_list = kind.endswith("List")
        base = kind[: -len("List")] if is_list else kind
        if base not in _CHECKS:
            raise InvalidInput(f"Invalid context key type {kind} for context key {name}.")
        if not values:
            continue
        if not is_list and len(values) != 1:
            raise InvalidInput(
                f"Context key {name} of type {kind} takes one value, not {len(values)}; use {kind}List."
            )
        check = _CHECKS[base]
        for value in values:
            if check is not None and not check(value):
                raise InvalidInput(f"Invalid value {value} for context key {name} of type {kind}.")
        if base == "boolean":
            values = [v.lower() for v in values]
        context[name] = values if is_list else values[0]
    return context


# ---------------------------------------------------------------------------------------------
# the operations


@operation("iam", "GetContextKeysForCustomPolicy")
def get_context_keys_for_custom_policy(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"ContextKeyNames": referenced_keys(parse_inputs(params["PolicyInputList"]))}


def source_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    """What the *PrincipalPolicy operations are authorized against: the user, group or role."""
    return str(params["PolicySourceArn"])


@operation("iam", "GetContextKeysForPrincipalPolicy", resource=source_resource)
def get_context_keys_for_principal_policy(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    from ironkeep.services.iam_simulator import load_source

    source = load_source(ctx, params["PolicySourceArn"])
    policies = [parse_policy(doc.text, kind="identity") for doc in source.identity]
    if source.boundary is not None:
        policies.append(parse_policy(source.boundary.text, kind="boundary"))
    policies.extend(parse_inputs(params.get("PolicyInputList") or []))
    return {"ContextKeyNames": referenced_keys(policies)}
