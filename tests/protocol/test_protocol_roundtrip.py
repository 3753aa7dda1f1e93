"""Round trips against botocore itself, for every operation of IAM and STS.

Requests: a valid input generated from the operation's input shape is serialized by botocore's
Query serializer and prepared into the exact form body boto3 sends; :func:`decode_form` and
:func:`decode_query` must give the same input back.

Responses: a value generated from the output shape is rendered by :func:`render_response` and
parsed by botocore's Query parser (what boto3 and the AWS CLI do); the result must equal the
value (timestamps compared in UTC at the millisecond precision we write).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.awsrequest import AWSRequest
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_strategies import value_strategy

from ironkeep.protocol import decode_form, decode_query, render_response, service_model

SERVICES = ("iam", "sts")
OPERATIONS = [(svc, op) for svc in SERVICES for op in service_model(svc).operation_names]
SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
SERIALIZER = create_serializer("query", include_validation=True)
PARSER = create_parser("query")


def _wire_body(service: str, operation: str, params: dict[str, Any]) -> bytes:
    """The form body boto3 would put on the wire for this call."""
    model = service_model(service).operation_model(operation)
    request = SERIALIZER.serialize_to_request(params, model)
    prepared = AWSRequest(
        method=request["method"],
        url="https://example.invalid/",
        data=request["body"],
        headers=request["headers"],
    ).prepare()
    body = prepared.body
    return body if isinstance(body, bytes) else (body or "").encode()


def _drop_empty(value: Any) -> Any:
    """What survives botocore's serializer: empty nested structures and maps vanish."""
    if isinstance(value, dict):
        cleaned = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if not (isinstance(v, dict) and not v)}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def _ms(value: Any) -> Any:
    """Timestamps in UTC truncated to milliseconds, everywhere in a value."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, dict):
        return {k: _ms(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ms(v) for v in value]
    return value


def _has(shape: Shape, kinds: set[str], seen: set[str] | None = None) -> bool:
    seen = seen if seen is not None else set()
    if shape.type_name in kinds:
        return True
    if isinstance(shape, StructureShape):
        if shape.name in seen:
            return False
        seen.add(shape.name)
        return any(_has(m, kinds, seen) for m in shape.members.values())
    if isinstance(shape, ListShape):
        return _has(shape.member, kinds, seen)
    if isinstance(shape, MapShape):
        return _has(shape.value, kinds, seen)
    return False


@pytest.mark.parametrize(("service", "operation"), OPERATIONS, ids=[f"{s}.{o}" for s, o in OPERATIONS])
def test_request_round_trip(service: str, operation: str) -> None:
    model = service_model(service).operation_model(operation)
    shape = model.input_shape
    strategy = value_strategy(shape, xml_safe=False) if shape is not None else st.just({})

    @SETTINGS
    @given(params=strategy)
    def check(params: dict[str, Any]) -> None:
        body = _wire_body(service, operation, params)
        name, decoded = decode_query(service, decode_form(body))
        assert name == operation
        assert decoded == _drop_empty(params)

    check()


@pytest.mark.parametrize(("service", "operation"), OPERATIONS, ids=[f"{s}.{o}" for s, o in OPERATIONS])
def test_response_round_trip(service: str, operation: str) -> None:
    model = service_model(service).operation_model(operation)
    shape = model.output_shape
    strategy = value_strategy(shape, xml_safe=True) if shape is not None else st.none()

    @SETTINGS
    @given(output=strategy, request_id=st.uuids().map(str))
    def check(output: dict[str, Any] | None, request_id: str) -> None:
        body = render_response(service, operation, output, request_id)
        parsed = PARSER.parse({"body": body, "headers": {}, "status_code": 200}, shape)
        metadata = parsed.pop("ResponseMetadata")
        assert metadata["RequestId"] == request_id
        assert _ms(parsed) == _ms(output or {})

    check()


def test_every_operation_is_covered() -> None:
    assert len(service_model("iam").operation_names) == 176
    assert len(service_model("sts").operation_names) == 11
    # the generators above reach every scalar kind the two models use
    kinds = {"timestamp", "blob", "boolean", "integer"}
    outputs = [service_model(s).operation_model(o).output_shape for s, o in OPERATIONS]
    assert all(any(_has(sh, {k}) for sh in outputs if sh is not None) for k in kinds)
