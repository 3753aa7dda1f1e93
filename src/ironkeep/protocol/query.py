"""AWS Query requests: the form a client sends → (operation name, input dict), validated as AWS does.

A Query request is a flat form (``application/x-www-form-urlencoded`` body or GET query string)
carrying ``Action``, ``Version`` and the operation's input members, flattened the way
``botocore.serialize.QuerySerializer`` writes them:

* structure members by their serialized name, nested with dots (``PolicyInputList.member.1``);
* lists as ``Name.member.N`` (N from 1), an empty list as a bare ``Name=``; flattened lists as
  ``Name.N``;
* maps as ``Name.entry.N.key`` / ``Name.entry.N.value``; flattened maps as ``Name.N.key``;
* booleans ``true``/``false``, timestamps ISO 8601, blobs base64.

:func:`decode_query` rebuilds the input dict keyed by the model's member names, converts the
values to Python types and checks the model's constraints before any handler runs, reporting the
violations the way AWS's request validation does::

    2 validation errors detected: Value null at 'userName' failed to satisfy constraint: Member
    must not be null; Value '0' at 'maxItems' failed to satisfy constraint: Member must have
    value greater than or equal to 1

Paths use the lower-camel member names, list elements ``tags.3.member.key`` (as AWS reports
them). Values of ``sensitive`` members, and values that are or hold structures, are left out
(``Value at 'password' ...``, ``Value at 'tags' ...``); a list of strings shows as ``'[a, b]'``.
Constraint order per member: null, length, pattern, enum, range; members in model order; a list's
own size before its elements'.
Parameter names are case-sensitive; parameters the operation does not define are ignored.

Choices made where AWS's exact behaviour is not documented (flagged so they can be revisited):

* a missing ``Version`` is accepted (the model's version is assumed); a different one is
  ``InvalidAction`` "Could not find operation X for version Y", as for an unknown ``Action``;
* a missing ``Action`` is ``MissingAction`` (400);
* a value that is not of the member's type gives a ValidationError in the same style, e.g.
  ``Value 'abc' at 'maxItems' failed to satisfy constraint: Member must be an integer``;
* list elements are taken in index order; indexes must be canonical decimal numbers from 1
  (gaps allowed); other keys are ignored;
* a repeated form key keeps its first value (as ``ServletRequest.getParameter`` does).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from botocore.model import ListShape, MapShape, Shape, StructureShape

from ironkeep.errors import AWSError, ValidationError
from ironkeep.protocol.javaregex import compile_java
from ironkeep.protocol.models import api_version, operation_model, operation_names


class InvalidAction(AWSError):
    """The ``Action`` names no operation of this service and version."""

    code = "InvalidAction"
    status = 400


class MissingAction(AWSError):
    """The request carries no ``Action`` parameter."""

    code = "MissingAction"
    status = 400


# --------------------------------------------------------------------------------------------
# The form


def decode_form(body: bytes | str) -> dict[str, str]:
    """Decode ``application/x-www-form-urlencoded`` data (a body or a query string).

    ``+`` is a space, ``%XX`` escapes are UTF-8 (invalid sequences become U+FFFD), a key without
    ``=`` has the value ``""``, empty pieces are skipped and a repeated key keeps its first value.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    result: dict[str, str] = {}
    for piece in text.split("&"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        if "+" in key or "%" in key:
            key = unquote_plus(key, errors="replace")
        if key in result:
            continue
        if "+" in value or "%" in value:
            value = unquote_plus(value, errors="replace")
        result[key] = value
    return result


class _Node:
    """One dotted segment of the form: its own value (if the key itself was sent) and children."""

    # class defaults rather than slots set by an __init__: a node then costs a third as much
    value: str | None = None
    children: dict[str, _Node] | None = None

    def child(self, name: str) -> _Node | None:
        return self.children.get(name) if self.children else None


def _tree(params: Mapping[str, str], roots: frozenset[str]) -> _Node:
    root = _Node()
    top: dict[str, _Node] = {}
    for key, value in params.items():
        if key in roots:  # a top-level scalar, most members of most requests: no dots to follow
            node = top.get(key)
            if node is None:
                node = top[key] = _Node()
            node.value = value
            continue
        if "." not in key:  # Action, Version, or a parameter the operation does not define
            continue
        parts = key.split(".")
        if parts[0] not in roots:
            continue
        root.children = top
        node = root
        for part in parts:
            children = node.children
            if children is None:
                children = node.children = {}
            nxt = children.get(part)
            if nxt is None:
                nxt = children[part] = _Node()
            node = nxt
        node.value = value
    if top:
        root.children = top
    return root


# --------------------------------------------------------------------------------------------
# Decoding plans, compiled once per shape

_ABSENT: Any = object()
Errors = list[str]


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _jlen(text: str) -> int:
    """Java's ``String.length()``: UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _java_str(value: Any) -> str | None:
    """The value as AWS's messages show it (Java's ``toString``: ``[a, b]`` for a list), or
    ``None`` for a structure or anything holding one: AWS then leaves the value out."""
    if isinstance(value, dict):
        return None
    if isinstance(value, list):
        parts = [_java_str(v) for v in value]
        return None if None in parts else "[" + ", ".join(p for p in parts if p is not None) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _violation(value: Any, path: str, sensitive: bool, constraint: str) -> str:
    if value is None:
        shown = "Value null"
    else:
        text = None if sensitive else _java_str(value)
        shown = "Value" if text is None else f"Value '{text}'"
    return f"{shown} at '{path}' failed to satisfy constraint: {constraint}"


class _Plan:
    sensitive = False

    def decode(self, node: _Node, path: str, errors: Errors) -> Any:
        raise NotImplementedError


_INT_RE = re.compile(r"[+-]?[0-9]+", re.ASCII)
_INT_BOUNDS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def _to_int(text: str, kind: str) -> int | None:
    if not _INT_RE.fullmatch(text):
        return None
    number = int(text)
    lo, hi = _INT_BOUNDS.get(kind, _INT_BOUNDS["long"])
    return number if lo <= number <= hi else None


def _to_bool(text: str) -> bool | None:
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return None


def _to_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _to_timestamp(text: str) -> datetime | None:
    try:
        if _INT_RE.fullmatch(text) or re.fullmatch(r"[0-9]+\.[0-9]+", text):
            return datetime.fromtimestamp(float(text), UTC)
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _to_blob(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


_CONVERTERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "string": (str, ""),
    "character": (str, ""),
    "boolean": (_to_bool, "Member must be a boolean"),
    "float": (_to_float, "Member must be a number"),
    "double": (_to_float, "Member must be a number"),
    "timestamp": (_to_timestamp, "Member must be a timestamp"),
    "blob": (_to_blob, "Member must be base64-encoded"),
}


class _Scalar(_Plan):
    def __init__(self, shape: Shape) -> None:
        meta = shape.metadata
        self.kind = shape.type_name
        self.sensitive = bool(meta.get("sensitive"))
        self.min = meta.get("min")
        self.max = meta.get("max")
        pattern = meta.get("pattern") if self.kind == "string" else None
        self.pattern = pattern
        self.regex = compile_java(pattern) if pattern else None
        self.enum: list[str] = list(shape.enum) if self.kind == "string" else []
        self.enum_set = frozenset(self.enum)
        self.has_checks = bool(self.min is not None or self.max is not None or self.regex or self.enum)

    def decode(self, node: _Node, path: str, errors: Errors) -> Any:
        text = node.value
        if text is None:
            return _ABSENT
        kind = self.kind
        if kind == "string":
            value: Any = text
        elif kind in ("integer", "long"):
            value = _to_int(text, kind)
            if value is None:
                errors.append(_violation(text, path, self.sensitive, "Member must be an integer"))
                return _ABSENT
        else:
            convert, problem = _CONVERTERS.get(kind, (str, ""))
            value = convert(text)
            if value is None:
                errors.append(_violation(text, path, self.sensitive, problem))
                return _ABSENT
        if self.has_checks:
            self.check(value, path, errors)
        return value

    def check(self, value: Any, path: str, errors: Errors) -> None:
        sensitive = self.sensitive
        if isinstance(value, str):
            if self.min is not None or self.max is not None:
                _bounds(value, _jlen(value), "length", self, path, errors)
            if self.regex is not None and self.regex.fullmatch(value) is None:
                rule = f"Member must satisfy regular expression pattern: {self.pattern}"
                errors.append(_violation(value, path, sensitive, rule))
            if self.enum and value not in self.enum_set:
                rule = f"Member must satisfy enum value set: [{', '.join(self.enum)}]"
                errors.append(_violation(value, path, sensitive, rule))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            _bounds(value, value, "value", self, path, errors)


def _bounds(value: Any, measure: float, what: str, plan: Any, path: str, errors: Errors) -> None:
    """The model's ``min``/``max`` on a length (strings, lists, maps) or a value (numbers)."""
    lo, hi = plan.min, plan.max
    if lo is not None and measure < lo:
        rule = f"Member must have {what} greater than or equal to {lo}"
        errors.append(_violation(value, path, plan.sensitive, rule))
    if hi is not None and measure > hi:
        rule = f"Member must have {what} less than or equal to {hi}"
        errors.append(_violation(value, path, plan.sensitive, rule))


def _indexed(node: _Node | None) -> list[tuple[str, _Node]]:
    """The children of ``node`` whose keys are canonical indexes 1, 2, ..., in numeric order."""
    if node is None or not node.children:
        return []
    items = [(k, v) for k, v in node.children.items() if k.isascii() and k.isdigit() and k[0] != "0"]
    items.sort(key=lambda kv: int(kv[0]))
    return items


class _Collection(_Plan):
    """A list or map: its size limits and whether it is flattened on the wire."""

    def __init__(self, shape: Shape) -> None:
        self.sensitive = bool(shape.metadata.get("sensitive"))
        self.min: int | None = shape.metadata.get("min")
        self.max: int | None = shape.metadata.get("max")
        self.flattened = bool(shape.serialization.get("flattened"))


class _List(_Collection):
    def __init__(self, shape: ListShape, compiler: _Compiler) -> None:
        super().__init__(shape)
        self.item_name = shape.member.serialization.get("name", "member")
        self.item = compiler.plan(shape.member)

    def decode(self, node: _Node, path: str, errors: Errors) -> Any:
        holder = node if self.flattened else node.child(self.item_name)
        if holder is None:
            return [] if node.value is not None else _ABSENT
        result = []
        inner: Errors = []  # reported after the list's own size, as AWS does
        for index, child in _indexed(holder):
            value = self.item.decode(child, f"{path}.{index}.member", inner)
            if value is not _ABSENT:
                result.append(value)
        _bounds(result, len(result), "length", self, path, errors)
        errors.extend(inner)
        return result


class _Map(_Collection):
    def __init__(self, shape: MapShape, compiler: _Compiler) -> None:
        super().__init__(shape)
        self.key_name = shape.key.serialization.get("name", "key")
        self.value_name = shape.value.serialization.get("name", "value")
        self.key = compiler.plan(shape.key)
        self.value = compiler.plan(shape.value)

    def decode(self, node: _Node, path: str, errors: Errors) -> Any:
        holder = node if self.flattened else node.child("entry")
        if holder is None:
            return {} if node.value is not None else _ABSENT
        result: dict[Any, Any] = {}
        outer, errors = errors, []
        for index, entry in _indexed(holder):
            entry_path = f"{path}.entry.{index}"
            key_node, value_node = entry.child(self.key_name), entry.child(self.value_name)
            key = self.key.decode(key_node, f"{entry_path}.key", errors) if key_node else _ABSENT
            value = self.value.decode(value_node, f"{entry_path}.value", errors) if value_node else _ABSENT
            if key is _ABSENT:
                errors.append(_violation(None, f"{entry_path}.key", False, "Member must not be null"))
                continue
            if value is _ABSENT:
                errors.append(_violation(None, f"{entry_path}.value", False, "Member must not be null"))
                continue
            result[key] = value
        _bounds(result, len(result), "length", self, path, outer)
        outer.extend(errors)
        return result


class _Member:
    __slots__ = ("lower", "name", "plan", "required", "wire")

    def __init__(self, name: str, wire: str, required: bool, plan: _Plan) -> None:
        self.name = name
        self.wire = wire
        self.lower = _lower_camel(name)
        self.required = required
        self.plan = plan


class _Struct(_Plan):
    def __init__(self, shape: StructureShape) -> None:
        self.sensitive = bool(shape.metadata.get("sensitive"))
        self.members: list[_Member] = []

    def fill(self, shape: StructureShape, compiler: _Compiler) -> None:
        required = set(shape.required_members)
        for name, member in shape.members.items():
            wire = member.serialization.get("name", name)
            if member.type_name == "list" and member.serialization.get("flattened"):
                wire = member.member.serialization.get("name", wire)
            self.members.append(_Member(name, wire, name in required, compiler.plan(member)))

    def decode(self, node: _Node, path: str, errors: Errors) -> Any:
        if node.children is None and node.value is None:
            return _ABSENT
        return self.decode_members(node, path, errors)

    def decode_members(self, node: _Node, path: str, errors: Errors) -> dict[str, Any]:
        result: dict[str, Any] = {}
        prefix = f"{path}." if path else ""
        children = node.children or {}
        for member in self.members:
            child = children.get(member.wire)
            member_path = prefix + member.lower
            value = member.plan.decode(child, member_path, errors) if child is not None else _ABSENT
            if value is _ABSENT:
                if member.required:
                    errors.append(_violation(None, member_path, False, "Member must not be null"))
                continue
            result[member.name] = value
        return result


class _Compiler:
    def __init__(self) -> None:
        self.structs: dict[str, _Struct] = {}

    def plan(self, shape: Shape) -> _Plan:
        if isinstance(shape, StructureShape):
            known = self.structs.get(shape.name)
            if known is not None:
                return known
            struct = self.structs[shape.name] = _Struct(shape)
            struct.fill(shape, self)
            return struct
        if isinstance(shape, ListShape):
            return _List(shape, self)
        if isinstance(shape, MapShape):
            return _Map(shape, self)
        return _Scalar(shape)


@cache
def _service_operations(service: str) -> tuple[str, frozenset[str]]:
    """The service's API version and operation names (those ``operation_model`` knows), looked
    up once rather than through botocore's model on every request."""
    return api_version(service), operation_names(service)


@cache
def _input_plan(service: str, operation: str) -> tuple[_Struct, frozenset[str]] | None:
    model = operation_model(service, operation)
    shape = model.input_shape if model is not None else None
    if shape is None:
        return None
    plan = _Compiler().plan(shape)
    assert isinstance(plan, _Struct)
    # the first segments of the form keys that can reach a member (a dotted name never does)
    roots = frozenset(member.wire for member in plan.members if "." not in member.wire)
    return plan, roots


def validation_message(errors: list[str]) -> str:
    """AWS's summary of request-validation failures."""
    count = len(errors)
    noun = "validation error" if count == 1 else "validation errors"
    return f"{count} {noun} detected: " + "; ".join(errors)


def decode_query(service: str, params: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """Decode and validate a Query request of ``service`` (``"iam"``, ``"sts"``, ...).

    Returns the operation name and its input keyed by the model's member names, with Python
    values (str, int, bool, float, datetime (UTC), bytes, list, dict, nested dicts). Raises
    :class:`MissingAction`, :class:`InvalidAction` or :class:`ironkeep.errors.ValidationError`.
    """
    action = params.get("Action")
    if not action:
        raise MissingAction("Missing Action")
    expected, operations = _service_operations(service)
    version = params.get("Version", expected)
    if version != expected or action not in operations:
        raise InvalidAction(f"Could not find operation {action} for version {version}")
    compiled = _input_plan(service, action)
    if compiled is None:
        return action, {}
    plan, roots = compiled
    errors: Errors = []
    decoded = plan.decode_members(_tree(params, roots), "", errors)
    if errors:
        raise ValidationError(validation_message(errors))
    return action, decoded
