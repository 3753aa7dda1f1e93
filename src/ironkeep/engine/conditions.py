"""Condition operators: one table, one small test per operator; the rest handled centrally.

Central rules (IAM User Guide, *Condition operators* and *Multivalued context keys*):

* Several values for one key: any may match. Several keys in one operator block, and several
  operators in one Condition: all must hold.
* Negated operators (``StringNotEquals``, ``StringNotLike``, ``NumericNotEquals``,
  ``DateNotEquals``, ``ArnNotEquals``, ``ArnNotLike``, ``NotIpAddress``) hold when the request's
  value matches none of the policy's values, and hold when the key is missing.
* ``...IfExists``: a missing key makes the condition hold.
* ``ForAnyValue:``: at least one request value satisfies the operator (missing or empty: false).
  ``ForAllValues:``: every request value satisfies it (missing or empty: true).
* ``Null``: ``"true"`` holds when the key is absent, ``"false"`` when present.
* Policy variables are substituted in String and ARN operators only.

Keys are case-insensitive; values are case-sensitive unless the operator says otherwise.
A key a condition needed but the request lacked is recorded in the context (``missing``).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from ironkeep.engine.request import EvalContext, derivable
from ironkeep.policy.document import ConditionSpec
from ironkeep.policy.patterns import ARN, STRING, PatternSet, Piece, compile_pattern

__all__ = ["OPERATORS", "Condition", "Operator", "compile_conditions"]


# A test of one request value; it may return any truthy value (a regex match, say) for "yes".
Tester = Callable[[str], object]


class Operator(NamedTuple):
    """``parse`` turns a policy value (as pieces) into what ``test(request_value, parsed)`` takes."""

    parse: Callable[[tuple[Piece, ...]], Any]
    test: Callable[[str, Any], bool]
    negated: bool = False
    variables: bool = False


def _text(pieces: tuple[Piece, ...]) -> str:
    return "".join(t for t, _ in pieces)


def _lower(pieces: tuple[Piece, ...]) -> str:
    return _text(pieces).lower()


@lru_cache(maxsize=4096)
def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@lru_cache(maxsize=4096)
def _date(text: str) -> float | None:
    """ISO 8601 (date, date-time, with or without zone) or epoch seconds -> epoch seconds."""
    text = text.strip()
    value = _number(text)
    if value is not None:
        return value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@lru_cache(maxsize=4096)
def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _network(pieces: tuple[Piece, ...]) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(_text(pieces).strip(), strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _binary(text: str) -> bytes | str:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text


@lru_cache(maxsize=4096)
def _ip_int(text: str) -> tuple[int, int] | None:
    address = _ip(text)
    return None if address is None else (address.version, int(address))


def _network_tester(networks: list[Any]) -> Tester:
    """Address-in-any-CIDR as integer masks (the ipaddress containment test is slow)."""
    masks = tuple((n.version, int(n.network_address), int(n.netmask)) for n in networks)

    def tester(value: str) -> bool:
        address = _ip_int(value)
        if address is None:
            return False
        version, number = address
        for net_version, base, mask in masks:
            if net_version == version and number & mask == base:
                return True
        return False

    return tester


def _in_network(value: str, network: Any) -> bool:
    address = _ip(value)
    return address is not None and address.version == network.version and address in network


def _numeric(compare: Callable[[float, float], bool], negated: bool = False) -> Operator:
    def test(value: str, wanted: float) -> bool:
        number = _number(value)
        return number is not None and compare(number, wanted)

    return Operator(lambda p: _number(_text(p)), test, negated)


def _dated(compare: Callable[[float, float], bool], negated: bool = False) -> Operator:
    def test(value: str, wanted: float) -> bool:
        moment = _date(value)
        return moment is not None and compare(moment, wanted)

    return Operator(lambda p: _date(_text(p)), test, negated)


def _like(pieces: tuple[Piece, ...]) -> Callable[[str], Any]:
    return compile_pattern(pieces, STRING)


def _arn(pieces: tuple[Piece, ...]) -> Callable[[str], Any]:
    return compile_pattern(pieces, ARN)


def _eq(a: Any, b: Any) -> bool:
    return bool(a == b)


def _call(value: str, matcher: Callable[[str], Any]) -> bool:
    return bool(matcher(value))


def _eq_lower(value: str, wanted: str) -> bool:
    return value.lower() == wanted


_STRING_EQ = Operator(_text, _eq, variables=True)
_STRING_IC = Operator(_lower, _eq_lower, variables=True)
_STRING_LIKE = Operator(_like, _call, variables=True)
_ARN = Operator(_arn, _call, variables=True)
_NUM_EQ = _numeric(lambda a, b: a == b)
_DATE_EQ = _dated(lambda a, b: a == b)
_IP = Operator(_network, _in_network)

OPERATORS: dict[str, Operator] = {
    "StringEquals": _STRING_EQ,
    "StringNotEquals": _STRING_EQ._replace(negated=True),
    "StringEqualsIgnoreCase": _STRING_IC,
    "StringNotEqualsIgnoreCase": _STRING_IC._replace(negated=True),
    "StringLike": _STRING_LIKE,
    "StringNotLike": _STRING_LIKE._replace(negated=True),
    "NumericEquals": _NUM_EQ,
    "NumericNotEquals": _NUM_EQ._replace(negated=True),
    "NumericLessThan": _numeric(lambda a, b: a < b),
    "NumericLessThanEquals": _numeric(lambda a, b: a <= b),
    "NumericGreaterThan": _numeric(lambda a, b: a > b),
    "NumericGreaterThanEquals": _numeric(lambda a, b: a >= b),
    "DateEquals": _DATE_EQ,
    "DateNotEquals": _DATE_EQ._replace(negated=True),
    "DateLessThan": _dated(lambda a, b: a < b),
    "DateLessThanEquals": _dated(lambda a, b: a <= b),
    "DateGreaterThan": _dated(lambda a, b: a > b),
    "DateGreaterThanEquals": _dated(lambda a, b: a >= b),
    "Bool": Operator(_lower, _eq_lower),
    "BinaryEquals": Operator(lambda p: _binary(_text(p)), lambda v, w: _binary(v) == w),
    "IpAddress": _IP,
    "NotIpAddress": _IP._replace(negated=True),
    "ArnEquals": _ARN,
    "ArnLike": _ARN,
    "ArnNotEquals": _ARN._replace(negated=True),
    "ArnNotLike": _ARN._replace(negated=True),
}


def _never(_: str) -> bool:
    return False


def _fast_tester(op: Operator, pieces: list[tuple[Piece, ...]]) -> Tester:
    """One request value against all static policy values, with the cheapest test per operator."""
    if not pieces:
        return _never
    if op.parse is _text:
        return frozenset(_text(p) for p in pieces).__contains__
    if op.parse is _lower:
        lowered = frozenset(_lower(p) for p in pieces)
        return lambda v: v.lower() in lowered
    if op.parse is _like:
        return PatternSet(pieces, STRING).fast
    if op.parse is _arn:
        return PatternSet(pieces, ARN).fast
    if op.parse is _network:
        return _network_tester([n for n in map(_network, pieces) if n is not None])
    parsed = [w for w in (op.parse(p) for p in pieces) if w is not None]
    test = op.test
    if len(parsed) == 1:
        only = parsed[0]
        return lambda v: test(v, only)
    return lambda v: any(test(v, w) for w in parsed)


class Condition:
    """One ``operator: {key: values}`` entry, compiled. Call it with an :class:`EvalContext`.

    ``absent``: what the condition says when the request lacks the key. ``simple``: a plain
    operator with static values and no set qualifier; then a single string value ``v`` holds
    when ``bool(tester(v)) != negated``, or, with ``folded`` set (case-insensitive operators),
    when ``bool(folded(v.lower())) != negated``.
    """

    __slots__ = (
        "absent",
        "dynamic",
        "folded",
        "if_exists",
        "key",
        "name",
        "negated",
        "null",
        "op",
        "qualifier",
        "simple",
        "spec",
        "static_pieces",
        "tester",
    )

    def __init__(self, spec: ConditionSpec) -> None:
        self.spec = spec
        self.key = spec.key_lower
        self.name = spec.key
        self.qualifier = spec.qualifier
        self.if_exists = spec.if_exists
        self.null = spec.base == "Null"
        self.dynamic: tuple[Any, ...] = ()
        self.static_pieces: tuple[tuple[Piece, ...], ...] = ()
        self.folded: Tester | None = None
        self.simple = False
        if self.null:
            self.op = None
            self.negated = False
            self.absent = False  # (unused: Null tests the absence itself)
            wanted = {v.lower() == "true" for v in spec.values}
            self.tester: Tester = lambda absent: absent in wanted
            return
        op = OPERATORS[spec.base]
        self.op = op
        self.negated = op.negated
        qualifier = self.qualifier
        if self.if_exists or qualifier == "ForAllValues":
            self.absent = True
        else:
            self.absent = False if qualifier == "ForAnyValue" else op.negated
        static: list[tuple[Piece, ...]] = []
        dynamic = []
        for template in spec.templates:
            if op.variables and template.variables:
                dynamic.append(template)
            else:
                static.append(template.static_pieces() if op.variables else ((template.text, True),))
        self.tester = _fast_tester(op, static)
        self.static_pieces = tuple(static)
        self.dynamic = tuple(dynamic)
        self.simple = not dynamic and qualifier is None
        if op.parse is _lower:  # Bool, StringEqualsIgnoreCase: a set of lowercased values
            self.folded = frozenset(_lower(p) for p in static).__contains__

    def _with_variables(self, ctx: EvalContext) -> Tester:
        parse = self.op.parse  # type: ignore[union-attr]
        test = self.op.test  # type: ignore[union-attr]
        resolved = []
        for template in self.dynamic:
            pieces = template.resolve(ctx.scalar)
            if pieces is not None:
                parsed = parse(pieces)
                if parsed is not None:
                    resolved.append(parsed)
        static = self.tester
        return lambda v: static(v) or any(test(v, w) for w in resolved)

    def __call__(self, ctx: EvalContext) -> bool:
        if self.null:
            return self.tester(not ctx.peek(self.key))  # type: ignore[arg-type,return-value]
        values = ctx.peek(self.key)
        if values is None:
            ctx.record_missing(self.key, self.name)
            return self.absent
        tester = self._with_variables(ctx) if self.dynamic else self.tester
        negated = self.negated
        qualifier = self.qualifier
        if qualifier is None:
            if len(values) == 1:
                return (not tester(values[0])) is negated
            return any(map(tester, values)) != negated
        if qualifier == "ForAnyValue":
            return any((not tester(v)) is negated for v in values)
        return all((not tester(v)) is negated for v in values)

    def __repr__(self) -> str:
        return f"Condition({self.spec.operator}: {self.name})"


def compile_conditions(specs: tuple[ConditionSpec, ...]) -> tuple[Condition, ...]:
    return tuple(Condition(s) for s in specs)


# A statement's test as the hot path calls it: (resource, context) -> applies?
Check = Callable[[str, EvalContext], bool]

# A condition as the hot path reads it inline: (key, tester, fold the value first?, negated,
# verdict when the key is absent or None when the key may be derived, the Condition).
_Inline = tuple[Any, Tester, bool, bool, "bool | None", Condition]
# The key of a condition that only the Condition itself can decide (not simple): no context holds
# it, so the inline reading finds no value and no verdict, and calls the Condition.
_ASK_CONDITION = object()


def _inline(condition: Condition) -> _Inline:
    if not condition.simple:
        return _ASK_CONDITION, _never, False, False, None, condition
    folded = condition.folded
    absent = None if derivable(condition.key) else condition.absent
    tester = folded if folded is not None else condition.tester
    return condition.key, tester, folded is not None, condition.negated, absent, condition


def _one(condition: Condition) -> Check:
    """A single condition as a closure: a given or ARN-derived string takes the short way."""
    if not condition.simple:
        return lambda _resource, ctx: condition(ctx)
    key, tester, fold, negated, absent, _ = _inline(condition)
    name, slow = condition.name, condition.__call__

    def check(_resource: str, ctx: EvalContext) -> bool:
        spelled = ctx.names.get(key)
        value = ctx.given[spelled] if spelled is not None else ctx.derived.get(key)
        if value.__class__ is str:
            return (not tester(value.lower() if fold else value)) is negated
        if value is None and absent is not None:
            ctx.record_missing(key, name)
            return absent
        return slow(ctx)

    return check


def conditions_check(conditions: tuple[Condition, ...]) -> Check | None:
    """One closure for a statement's Condition element: all must hold, and every one is
    evaluated so that every missing key is recorded. None when there is no Condition.

    A value is read inline (this is the hot path) as :meth:`EvalContext.peek` would find it,
    given or derived from the principal's ARN; a single string is tested right there, and
    anything else (a list, a key to derive or missing, Null, a set qualifier, policy
    variables) is left to the Condition itself."""
    if not conditions:
        return None
    if len(conditions) == 1:
        return _one(conditions[0])
    inline = tuple(map(_inline, conditions))

    def every(_resource: str, ctx: EvalContext) -> bool:
        names, given, derived = ctx.names, ctx.given, ctx.derived
        ok = True
        for key, tester, fold, negated, absent, condition in inline:
            spelled = names.get(key)
            value = given[spelled] if spelled is not None else derived.get(key)
            if value.__class__ is str:
                if (not tester(value.lower() if fold else value)) is not negated:
                    ok = False
            elif value is None and absent is not None:
                ctx.record_missing(key, condition.name)
                if not absent:
                    ok = False
            elif not condition(ctx):
                ok = False
        return ok

    return every
