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

from ironkeep.engine.request import EvalContext
from ironkeep.policy.document import ConditionSpec
from ironkeep.policy.patterns import ARN, STRING, Piece, compile_pattern

__all__ = ["OPERATORS", "Condition", "Operator", "compile_conditions"]


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


class Condition:
    """One ``operator: {key: values}`` entry, compiled. Call it with an :class:`EvalContext`."""

    __slots__ = (
        "dynamic",
        "if_exists",
        "key",
        "name",
        "negated",
        "null",
        "op",
        "qualifier",
        "spec",
        "static",
    )

    def __init__(self, spec: ConditionSpec) -> None:
        self.spec = spec
        self.key = spec.key_lower
        self.name = spec.key
        self.qualifier = spec.qualifier
        self.if_exists = spec.if_exists
        self.null = spec.base == "Null"
        if self.null:
            self.op = None
            self.negated = False
            self.static: tuple[Any, ...] = tuple(v.lower() == "true" for v in spec.values)
            self.dynamic: tuple[Any, ...] = ()
            return
        op = OPERATORS[spec.base]
        self.op = op
        self.negated = op.negated
        static = []
        dynamic = []
        for template in spec.templates:
            if op.variables and template.variables:
                dynamic.append(template)
            else:
                pieces = template.static_pieces() if op.variables else ((template.text, True),)
                static.append(op.parse(pieces))
        self.static = tuple(v for v in static if v is not None)
        self.dynamic = tuple(dynamic)

    def _wanted(self, ctx: EvalContext) -> tuple[Any, ...]:
        if not self.dynamic:
            return self.static
        out = list(self.static)
        parse = self.op.parse  # type: ignore[union-attr]
        for template in self.dynamic:
            pieces = template.resolve(ctx.scalar)
            if pieces is not None:
                parsed = parse(pieces)
                if parsed is not None:
                    out.append(parsed)
        return tuple(out)

    def __call__(self, ctx: EvalContext) -> bool:
        if self.null:
            values = ctx.peek(self.key)
            absent = not values
            return any(wanted == absent for wanted in self.static)
        values = ctx.get(self.key, self.name)
        if values is None:
            if self.if_exists or self.qualifier == "ForAllValues":
                return True
            if self.qualifier == "ForAnyValue":
                return False
            return self.negated
        wanted = self._wanted(ctx)
        test = self.op.test  # type: ignore[union-attr]
        negated = self.negated
        qualifier = self.qualifier
        if qualifier is None:
            hit = any(test(v, w) for v in values for w in wanted)
            return hit != negated
        if qualifier == "ForAnyValue":
            return any(any(test(v, w) for w in wanted) != negated for v in values)
        return all(any(test(v, w) for w in wanted) != negated for v in values)

    def __repr__(self) -> str:
        return f"Condition({self.spec.operator}: {self.name})"


def compile_conditions(specs: tuple[ConditionSpec, ...]) -> tuple[Condition, ...]:
    return tuple(Condition(s) for s in specs)


def conditions_hold(conditions: tuple[Condition, ...], ctx: EvalContext) -> bool:
    """All must hold; every one is evaluated so that every missing key is recorded."""
    ok = True
    for condition in conditions:
        if not condition(ctx):
            ok = False
    return ok
