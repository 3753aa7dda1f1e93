"""The AWS JSON protocol (1.0 and 1.1), driven by botocore's service models.

A JSON request is a POST whose ``X-Amz-Target`` header names the operation
(``com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents``) and whose body is a JSON
object keyed by the input shape's member names: timestamps are epoch seconds (numbers), blobs
base64 strings. Responses are JSON objects of the output shape (timestamps as epoch seconds
floats, as botocore's JSON parser expects); errors are ``{"__type": code, "message": text}``
with an ``x-amzn-ErrorType`` header, both under ``application/x-amz-json-1.x``.

Public API:

``json_service_model(service: str) -> ServiceModel``
    botocore's model of a service that speaks the JSON protocol (``cloudtrail``), loaded once.

``content_type(service: str) -> str``
    ``application/x-amz-json-1.1`` (or ``-1.0``, from the model's ``jsonVersion``).

``decode_json_request(service: str, target: str, body: bytes) -> tuple[str, dict[str, Any]]``
    The operation named by ``target`` and its input with Python values (str, int, bool, float,
    datetime (UTC), bytes, list, dict), validated against the model. Raises
    :class:`UnknownOperationException`, :class:`SerializationException` (body or value of the
    wrong JSON type) or a validation error: the operation's own ``Invalid{Member}Exception`` when
    the model declares one for the offending top-level member (CloudTrail's
    ``InvalidMaxResultsException``, ``InvalidLookupAttributesException``, ...), else its
    ``InvalidParameterException`` when declared, else :class:`ValidationException`; the message
    is AWS's ``"1 validation error detected: Value '51' at 'maxResults' failed to satisfy
    constraint: Member must have value less than or equal to 50"``.

``render_json_response(service: str, operation: str, output: Mapping | None) -> bytes``

``render_json_error(service, error, request_id=None) -> tuple[int, bytes, dict[str, str]]``

Choices where AWS's exact behaviour is not documented: members the operation does not define are
ignored; JSON ``null`` is the same as an absent member (and a ``null`` list element or map value
is dropped); an integral float (``5.0``) is accepted for an integer member; a repeated JSON key
keeps its last value; an empty body is ``{}``. Validation paths and constraint wording reuse the
Query adapter's (:mod:`ironkeep.protocol.query`), so both protocols report alike.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
from botocore.loaders import create_loader
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from ironkeep.errors import AWSError
from ironkeep.protocol.query import (
    _INT_BOUNDS,
    _bounds,
    _Compiler,
    _List,
    _Map,
    _Plan,
    _Scalar,
    _Struct,
    _to_blob,
    _to_timestamp,
    _violation,
    validation_message,
)

__all__ = [
    "SerializationException",
    "UnknownOperationException",
    "ValidationException",
    "content_type",
    "decode_json_request",
    "json_service_model",
    "render_json_error",
    "render_json_response",
]


class SerializationException(AWSError):
    """The body is not JSON, not an object, or a value has the wrong JSON type."""

    code = "SerializationException"
    status = 400


class UnknownOperationException(AWSError):
    """``X-Amz-Target`` names no operation of this service."""

    code = "UnknownOperationException"
    status = 400


class ValidationException(AWSError):
    """A value breaks the model's constraints (required, length, range, pattern, enum)."""

    code = "ValidationException"
    status = 400


# --------------------------------------------------------------------------------------------
# Models


@cache
def json_service_model(service: str) -> ServiceModel:
    """botocore's newest model of a JSON-protocol ``service``; :class:`LookupError` otherwise."""
    try:
        data = create_loader().load_service_model(service, "service-2")
    except Exception as exc:  # botocore raises several unrelated types here
        raise LookupError(f"no botocore model for service {service!r}") from exc
    model = ServiceModel(data, service_name=service)
    protocols = model.metadata.get("protocols") or [model.protocol]
    if "json" not in protocols:
        raise LookupError(f"service {service!r} does not speak the AWS JSON protocol ({protocols})")
    return model


@cache
def content_type(service: str) -> str:
    version = json_service_model(service).metadata.get("jsonVersion", "1.0")
    return f"application/x-amz-json-{version}"


@cache
def _error_codes(service: str, operation: str) -> frozenset[str]:
    model = json_service_model(service).operation_model(operation)
    return frozenset(shape.name for shape in model.error_shapes)


@cache
def _all_error_codes(service: str) -> frozenset[str]:
    model = json_service_model(service)
    return frozenset(name for name in model.shape_names if model.shape_for(name).metadata.get("exception"))


def _operation_for(service: str, target: str) -> str:
    model = json_service_model(service)
    prefix, _, name = target.rpartition(".")
    if prefix != model.metadata.get("targetPrefix") or name not in model.operation_names:
        raise UnknownOperationException(f"Unknown operation {target!r}" if target else "Missing X-Amz-Target")
    return name


@cache
def _input_plan(service: str, operation: str) -> _Struct | None:
    shape = json_service_model(service).operation_model(operation).input_shape
    if shape is None:
        return None
    plan = _Compiler().plan(shape)
    assert isinstance(plan, _Struct)
    return plan


# --------------------------------------------------------------------------------------------
# Requests

_TYPE_NAMES = {
    "string": "a String",
    "character": "a Character",
    "integer": "an Integer",
    "long": "a Long",
    "boolean": "a Boolean",
    "float": "a Float",
    "double": "a Double",
    "timestamp": "a Date",
    "blob": "a ByteBuffer",
}
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _mismatch(value: Any, expected: str) -> SerializationException:
    """Coral's wording for a JSON value of the wrong type."""
    if isinstance(value, dict):
        return SerializationException("Start of structure or map found where not expected.")
    if isinstance(value, list):
        return SerializationException("Start of list found where not expected.")
    if isinstance(value, bool):
        kind = "BOOLEAN_VALUE"
    elif isinstance(value, str):
        kind = "STRING_VALUE"
    else:
        kind = "NUMBER_VALUE"
    return SerializationException(f"{kind} can not be converted to {expected}")


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _scalar(plan: _Scalar, value: Any) -> Any:
    kind = plan.kind
    if kind in ("string", "character"):
        return value if isinstance(value, str) else None
    if kind in _INT_BOUNDS:
        number = _number(value)
        if isinstance(number, float):
            number = int(number) if number.is_integer() else None
        lo, hi = _INT_BOUNDS[kind]
        return number if number is not None and lo <= number <= hi else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind in ("float", "double"):
        if isinstance(value, str):
            return _SPECIAL_FLOATS.get(value)
        number = _number(value)
        return float(number) if number is not None else None
    if kind == "timestamp":
        number = _number(value)
        if number is not None:
            try:
                return datetime.fromtimestamp(number, UTC)
            except (OverflowError, OSError, ValueError):
                return None
        return _to_timestamp(value) if isinstance(value, str) else None
    if kind == "blob":
        return _to_blob(value) if isinstance(value, str) else None
    return value


def _decode(plan: _Plan, value: Any, path: str, errors: list[str]) -> Any:
    if isinstance(plan, _Struct):
        if not isinstance(value, dict):
            raise _mismatch(value, "a Structure")
        return _decode_members(plan, value, path, errors)
    if isinstance(plan, _List):
        if not isinstance(value, list):
            raise _mismatch(value, "a List")
        items = [
            _decode(plan.item, item, f"{path}.{index}.member", errors)
            for index, item in enumerate(value, 1)
            if item is not None
        ]
        _bounds(items, len(items), "length", plan, path, errors)
        return items
    if isinstance(plan, _Map):
        if not isinstance(value, dict):
            raise _mismatch(value, "a Map")
        result: dict[Any, Any] = {}
        for index, (key, item) in enumerate(value.items(), 1):
            if item is None:
                continue
            entry = f"{path}.entry.{index}"
            decoded_key = _decode(plan.key, key, f"{entry}.key", errors)
            result[decoded_key] = _decode(plan.value, item, f"{entry}.value", errors)
        _bounds(result, len(result), "length", plan, path, errors)
        return result
    assert isinstance(plan, _Scalar)
    decoded = _scalar(plan, value)
    if decoded is None:
        raise _mismatch(value, _TYPE_NAMES.get(plan.kind, "a Value"))
    if plan.has_checks:
        plan.check(decoded, path, errors)
    return decoded


def _decode_members(
    plan: _Struct, obj: dict[str, Any], path: str, errors: list[str], blame: list[str] | None = None
) -> dict[str, Any]:
    """Decode a structure's members; ``blame`` collects the names of members that had errors."""
    result: dict[str, Any] = {}
    prefix = f"{path}." if path else ""
    for member in plan.members:
        value = obj.get(member.wire)
        member_path = prefix + member.lower
        before = len(errors)
        if value is None:
            if member.required:
                errors.append(_violation(None, member_path, False, "Member must not be null"))
        else:
            result[member.name] = _decode(member.plan, value, member_path, errors)
        if blame is not None and len(errors) > before:
            blame.append(member.name)
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _validation_error(service: str, operation: str, member: str, errors: list[str]) -> AWSError:
    declared = _error_codes(service, operation)
    message = validation_message(errors)
    for code in (f"Invalid{member}Exception", "InvalidParameterException"):
        if code in declared:
            return AWSError(message, code=code, status=400)
    return ValidationException(message)


def decode_json_request(service: str, target: str, body: bytes) -> tuple[str, dict[str, Any]]:
    """Decode and validate one JSON-protocol request (see the module docstring)."""
    operation = _operation_for(service, target)
    text = body.strip()
    try:
        payload = json.loads(text, parse_constant=_reject_constant) if text else {}
    except (ValueError, RecursionError) as exc:
        raise SerializationException("The request body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise _mismatch(payload, "a Structure")
    plan = _input_plan(service, operation)
    if plan is None:
        return operation, {}
    errors: list[str] = []
    blame: list[str] = []
    decoded = _decode_members(plan, payload, "", errors, blame)
    if errors:
        raise _validation_error(service, operation, blame[0], errors)
    return operation, decoded


# --------------------------------------------------------------------------------------------
# Responses


def _encode(shape: Shape, value: Any) -> Any:
    if isinstance(shape, StructureShape):
        if shape.is_document_type:
            return value
        members = shape.members
        out: dict[str, Any] = {}
        for name, member in members.items():
            item = value.get(name)
            if item is not None:
                out[member.serialization.get("name", name)] = _encode(member, item)
        return out
    if isinstance(shape, ListShape):
        return [_encode(shape.member, item) for item in value if item is not None]
    if isinstance(shape, MapShape):
        return {str(k): _encode(shape.value, v) for k, v in value.items() if v is not None}
    kind = shape.type_name
    if kind == "timestamp" and isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.timestamp()
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    if kind in ("float", "double") and isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def render_json_response(service: str, operation: str, output: Mapping[str, Any] | None) -> bytes:
    """The JSON body of a successful call, following the operation's output shape.

    Keys the shape does not define and ``None`` values are left out; ``datetime`` values become
    epoch seconds (a naive one is taken as UTC); ``bytes`` become base64.
    """
    shape = json_service_model(service).operation_model(operation).output_shape
    if shape is None or not output:
        return b"{}"
    return orjson.dumps(_encode(shape, output))


def _namespace(service: str, code: str) -> str:
    if code == ValidationException.code:
        return "com.amazon.coral.validate"
    if code in _all_error_codes(service):
        prefix = str(json_service_model(service).metadata.get("targetPrefix", service))
        return prefix.rpartition(".")[0] or prefix
    return "com.amazon.coral.service"


def render_json_error(
    service: str, error: AWSError, request_id: str | None = None
) -> tuple[int, bytes, dict[str, str]]:
    """HTTP status, body ``{"__type": code, "message": text}`` and headers of an error.

    ``x-amzn-ErrorType`` is ``Code:http://internal.amazon.com/coral/<namespace>/`` as AWS sends
    it; ``x-amzn-RequestId`` is added when ``request_id`` is given.
    """
    code = error.code
    body = orjson.dumps({"__type": code, "message": error.message})
    headers = {
        "Content-Type": content_type(service),
        "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/{_namespace(service, code)}/",
    }
    if request_id is not None:
        headers["x-amzn-RequestId"] = request_id
    return error.status, body, headers
