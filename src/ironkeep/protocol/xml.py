"""AWS Query responses: an operation's output dict → the XML boto3 and the AWS CLI parse.

Success::

    <GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
      <GetUserResult><User>...</User></GetUserResult>
      <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
    </GetUserResponse>

(written without the whitespace). Operations without an output shape have no ``Result``
element. Members come in model order under their serialized names; ``None`` values and keys the
shape does not define are left out. Lists are ``<Name><member>..</member></Name>`` (flattened
ones repeat ``<Name>``), maps ``<entry><key/><value/></entry>``, booleans ``true``/``false``,
timestamps ISO 8601 in UTC with ``Z`` (milliseconds only when the value has a fraction), blobs
base64. Text is escaped; ``\\r`` is written ``&#13;`` so that it survives XML end-of-line
normalisation, and characters XML 1.0 cannot carry at all become U+FFFD.

Errors::

    <ErrorResponse xmlns="..."><Error><Type>Sender</Type><Code>NoSuchEntity</Code>
    <Message>...</Message></Error><RequestId>...</RequestId></ErrorResponse>

The output is built from strings with a render plan compiled once per shape; no DOM.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from ironkeep.errors import AWSError
from ironkeep.protocol.models import operation_model, xml_namespace

_SPECIAL = re.compile("[&<>\r]|[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ASCII_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f]")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}


def _entity(match: re.Match[str]) -> str:
    return _ENTITIES.get(match.group(), "\ufffd")


def escape(text: str) -> str:
    """Escape ``text`` for an XML text node (see the module docstring).

    Most text is printable ASCII without ``&<>``: ``isprintable`` and ``in`` tell so at a third of
    the cost of a regex search (tab and newline, unprintable but left as they are, take the regex).
    """
    if text.isascii():
        if text.isprintable() and "&" not in text and "<" not in text and ">" not in text:
            return text
        if _ASCII_SPECIAL.search(text) is None:
            return text
    elif _SPECIAL.search(text) is None:
        return text
    return _SPECIAL.sub(_entity, text)


# --------------------------------------------------------------------------------------------
# Scalars: value -> text

Scalar = Callable[[Any], str]
Emit = Callable[[Any, list[str]], None]


def _string(value: Any) -> str:
    return escape(value if isinstance(value, str) else str(value))


def _integer(value: Any) -> str:
    return str(int(value))


def _float(value: Any) -> str:
    number = float(value)
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "Infinity" if number > 0 else "-Infinity"
    return repr(number)


def _boolean(value: Any) -> str:
    if isinstance(value, str):  # "false" must not render as true
        return "true" if value.lower() == "true" else "false"
    return "true" if value else "false"


def _timestamp(value: Any) -> str:
    if isinstance(value, datetime):
        return _iso8601(value)
    if isinstance(value, int | float):
        return _iso8601(datetime.fromtimestamp(value, UTC))
    return escape(str(value))


@lru_cache(maxsize=4096)
def _iso8601(value: datetime) -> str:
    """UTC, ``Z``, milliseconds only when there is a fraction. Cached: formatting costs ~1 µs and
    the same instants (creation dates) come back in every listing."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if value.microsecond:
        return f"{text}.{value.microsecond // 1000:03d}Z"
    return text + "Z"


def _blob(value: Any) -> str:
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return base64.b64encode(raw).decode("ascii")


_SCALARS: dict[str, Scalar] = {
    "string": _string,
    "character": _string,
    "integer": _integer,
    "long": _integer,
    "float": _float,
    "double": _float,
    "boolean": _boolean,
    "timestamp": _timestamp,
    "blob": _blob,
}


# --------------------------------------------------------------------------------------------
# Render plans


class _Compiler:
    """Turns shapes into emitters ``emit(value, out)`` that append a shape's *content*."""

    def __init__(self) -> None:
        self.structs: dict[str, Emit] = {}

    def content(self, shape: Shape) -> Emit:
        if isinstance(shape, StructureShape):
            return self._structure(shape)
        if isinstance(shape, ListShape):
            return self._list(shape)
        if isinstance(shape, MapShape):
            return self._map(shape)
        scalar = _SCALARS.get(shape.type_name, _string)

        def emit_scalar(value: Any, out: list[str]) -> None:
            out.append(scalar(value))

        return emit_scalar

    def element(self, shape: Shape, tag: str) -> Emit:
        """An emitter writing ``<tag>content</tag>`` for one value of ``shape``."""
        open_, close = f"<{tag}>", f"</{tag}>"
        if shape.type_name in _SCALARS and not isinstance(shape, StructureShape | ListShape | MapShape):
            scalar = _SCALARS[shape.type_name]
            if scalar is _string:

                def emit_string(value: Any, out: list[str]) -> None:  # _string inlined: a call less
                    out.append(open_ + escape(value if isinstance(value, str) else str(value)) + close)

                return emit_string

            def emit_scalar(value: Any, out: list[str]) -> None:
                out.append(open_ + scalar(value) + close)

            return emit_scalar
        content = self.content(shape)

        def emit(value: Any, out: list[str]) -> None:
            out.append(open_)
            content(value, out)
            out.append(close)

        return emit

    def _structure(self, shape: StructureShape) -> Emit:
        known = self.structs.get(shape.name)
        if known is not None:
            return known
        members: list[tuple[str, Emit]] = []

        def emit_structure(value: Any, out: list[str]) -> None:
            get = value.get
            for name, emit in members:
                item = get(name)
                if item is not None:
                    emit(item, out)

        self.structs[shape.name] = emit_structure
        for name, member in shape.members.items():
            if member.serialization.get("location") in ("header", "headers", "statusCode"):
                continue
            tag = member.serialization.get("name", name)
            if isinstance(member, ListShape | MapShape) and member.serialization.get("flattened"):
                members.append((name, self._flattened(member, tag)))
            else:
                members.append((name, self.element(member, tag)))
        return emit_structure

    def _list(self, shape: ListShape) -> Emit:
        item = self.element(shape.member, shape.member.serialization.get("name", "member"))

        def emit_list(value: Any, out: list[str]) -> None:
            for element in value:
                item(element, out)

        return emit_list

    def _map(self, shape: MapShape) -> Emit:
        entry = self._entry(shape)

        def emit_map(value: Any, out: list[str]) -> None:
            for pair in value.items():
                out.append("<entry>")
                entry(pair, out)
                out.append("</entry>")

        return emit_map

    def _entry(self, shape: MapShape) -> Emit:
        key = self.element(shape.key, shape.key.serialization.get("name", "key"))
        val = self.element(shape.value, shape.value.serialization.get("name", "value"))

        def emit_entry(pair: tuple[Any, Any], out: list[str]) -> None:
            key(pair[0], out)
            val(pair[1], out)

        return emit_entry

    def _flattened(self, shape: ListShape | MapShape, tag: str) -> Emit:
        if isinstance(shape, ListShape):
            item = self.element(shape.member, shape.member.serialization.get("name", tag))

            def emit_flat_list(value: Any, out: list[str]) -> None:
                for element in value:
                    item(element, out)

            return emit_flat_list
        entry = self._entry(shape)
        open_, close = f"<{tag}>", f"</{tag}>"

        def emit_flat_map(value: Any, out: list[str]) -> None:
            for pair in value.items():
                out.append(open_)
                entry(pair, out)
                out.append(close)

        return emit_flat_map


class _ResponsePlan:
    __slots__ = ("body", "head", "tail")

    def __init__(self, head: str, body: Emit | None, tail: str) -> None:
        self.head = head
        self.body = body
        self.tail = tail


@cache
def _response_plan(service: str, operation: str) -> _ResponsePlan:
    model = operation_model(service, operation)
    if model is None:
        raise LookupError(f"{service} has no operation {operation}")
    head = f'<{operation}Response xmlns="{xml_namespace(service)}">'
    tail = f"<ResponseMetadata><RequestId>{{}}</RequestId></ResponseMetadata></{operation}Response>"
    shape = model.output_shape
    if shape is None:
        return _ResponsePlan(head, None, tail)
    wrapper = shape.serialization.get("resultWrapper")
    body = _Compiler().content(shape)
    if wrapper:
        return _ResponsePlan(f"{head}<{wrapper}>", body, f"</{wrapper}>{tail}")
    return _ResponsePlan(head, body, tail)


def render_response(service: str, operation: str, output: Mapping[str, Any] | None, request_id: str) -> bytes:
    """The XML body of a successful ``operation`` of ``service`` (UTF-8)."""
    plan = _response_plan(service, operation)
    out = [plan.head]
    if plan.body is not None:
        plan.body(output or {}, out)
    out.append(plan.tail.format(escape(request_id)))
    return "".join(out).encode()


def render_error(service: str, error: AWSError, request_id: str) -> tuple[int, bytes]:
    """The HTTP status and XML body of ``error`` (``Type`` Sender or Receiver from ``sender_fault``)."""
    fault = "Sender" if error.sender_fault else "Receiver"
    body = (
        f'<ErrorResponse xmlns="{xml_namespace(service)}"><Error><Type>{fault}</Type>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
    )
    return error.status, body.encode()
