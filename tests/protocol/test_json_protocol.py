"""The AWS JSON protocol against botocore itself, for every CloudTrail operation.

Requests: a valid input generated from the operation's input shape is serialized by botocore's JSON
serializer (what boto3 puts on the wire); :func:`decode_json_request` must give it back.
Responses: :func:`render_json_response` output parsed by botocore's JSON parser must equal the
value rendered. Errors: botocore must read the code we send.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from botocore.model import ShapeResolver, StructureShape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_strategies import value_strategy

from ironkeep.errors import AWSError, NoSuchEntity
from ironkeep.protocol.json_protocol import (
    SerializationException,
    UnknownOperationException,
    ValidationException,
    _encode,
    content_type,
    decode_json_request,
    json_service_model,
    render_json_error,
    render_json_response,
)

MODEL = json_service_model("cloudtrail")
OPERATIONS = sorted(MODEL.operation_names)
PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"
SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
SERIALIZER = create_serializer("json", include_validation=False)  # it counts code points, AWS UTF-16 units
PARSER = create_parser("json")


def _seconds(value: Any) -> Any:
    """What botocore's serializer keeps of a value: timestamps as whole epoch seconds."""
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, dict):
        return {k: _seconds(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_seconds(v) for v in value]
    return value


def _ms(value: Any) -> Any:
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: _ms(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ms(v) for v in value]
    return value


def _lookup(body: dict[str, Any] | bytes) -> tuple[str, dict[str, Any]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return decode_json_request("cloudtrail", f"{PREFIX}.LookupEvents", raw)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_request_round_trip(operation: str) -> None:
    model = MODEL.operation_model(operation)
    shape = model.input_shape
    strategy = value_strategy(shape, xml_safe=False) if shape is not None else st.just({})

    @SETTINGS
    @given(params=strategy)
    def check(params: dict[str, Any]) -> None:
        request = SERIALIZER.serialize_to_request(params, model)
        assert request["headers"]["Content-Type"] == content_type("cloudtrail")
        name, decoded = decode_json_request("cloudtrail", request["headers"]["X-Amz-Target"], request["body"])
        assert name == operation
        assert _seconds(decoded) == _seconds(params)

    check()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_response_round_trip(operation: str) -> None:
    shape = MODEL.operation_model(operation).output_shape
    strategy = value_strategy(shape, xml_safe=False) if shape is not None else st.none()

    @SETTINGS
    @given(output=strategy)
    def check(output: dict[str, Any] | None) -> None:
        body = render_json_response("cloudtrail", operation, output)
        parsed = PARSER.parse({"body": body, "headers": {}, "status_code": 200}, shape)
        parsed.pop("ResponseMetadata", None)
        assert _ms(parsed) == _ms(output or {})

    check()


def test_response_timestamps_are_epoch_seconds_and_unknown_keys_dropped() -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, 250000, tzinfo=UTC)
    output = {"Events": [{"EventId": "e1", "EventTime": when, "Bogus": "x"}], "NextToken": None, "Extra": 1}
    body = json.loads(render_json_response("cloudtrail", "LookupEvents", output))
    assert body == {"Events": [{"EventId": "e1", "EventTime": when.timestamp()}]}
    assert isinstance(body["Events"][0]["EventTime"], float)
    naive = json.loads(
        render_json_response("cloudtrail", "LookupEvents", {"Events": [{"EventTime": datetime(1970, 1, 2)}]})
    )
    assert naive["Events"][0]["EventTime"] == 86400.0


def test_timestamps_and_blobs_decode_to_python_types() -> None:
    _, decoded = _lookup({"StartTime": 1577840523.5, "EndTime": 1577840524})
    assert decoded == {
        "StartTime": datetime(2020, 1, 1, 1, 2, 3, 500000, tzinfo=UTC),
        "EndTime": datetime(2020, 1, 1, 1, 2, 4, tzinfo=UTC),
    }
    operation, empty = _lookup(b"")
    assert (operation, empty) == ("LookupEvents", {})
    _, nulls = _lookup({"MaxResults": None, "NextToken": None, "Unknown": {"x": 1}})
    assert nulls == {}


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"MaxResults": 51},
            "InvalidMaxResultsException",
            "1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: "
            "Member must have value less than or equal to 50",
        ),
        (
            {"MaxResults": 0},
            "InvalidMaxResultsException",
            "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1",
        ),
        (
            {"EventCategory": "Insight"},
            "InvalidEventCategoryException",
            "1 validation error detected: Value 'Insight' at 'eventCategory' failed to satisfy constraint: "
            "Member must satisfy enum value set: [insight]",
        ),
        (
            {"LookupAttributes": [{"AttributeKey": "EventName"}]},
            "InvalidLookupAttributesException",
            "1 validation error detected: Value null at 'lookupAttributes.1.member.attributeValue' "
            "failed to satisfy constraint: Member must not be null",
        ),
        (
            {"LookupAttributes": [{"AttributeKey": "UserName", "AttributeValue": ""}]},
            "InvalidLookupAttributesException",
            "2 validation errors detected: Value 'UserName' at 'lookupAttributes.1.member.attributeKey' "
            "failed to satisfy constraint: Member must satisfy enum value set: [EventId, EventName, ReadOnly, "
            "Username, ResourceType, ResourceName, EventSource, AccessKeyId]; Value '' at "
            "'lookupAttributes.1.member.attributeValue' failed to satisfy constraint: Member must have length "
            "greater than or equal to 1",
        ),
    ],
)
def test_lookup_events_validation_uses_cloudtrail_exceptions(
    body: dict[str, Any], code: str, message: str
) -> None:
    with pytest.raises(AWSError) as caught:
        _lookup(body)
    assert (caught.value.code, caught.value.message, caught.value.status) == (code, message, 400)


def test_required_members_use_the_operations_own_exception_or_validation_exception() -> None:
    with pytest.raises(AWSError) as caught:
        decode_json_request("cloudtrail", f"{PREFIX}.CreateTrail", b'{"Name": "t"}')
    assert caught.value.code == "InvalidS3BucketNameException"
    assert (
        "Value null at 's3BucketName' failed to satisfy constraint: Member must not be null"
        in caught.value.message
    )
    # DeleteTrail declares neither Invalid{Member}Exception nor InvalidParameterException
    assert "InvalidParameterException" not in {
        e.name for e in MODEL.operation_model("DeleteTrail").error_shapes
    }
    with pytest.raises(ValidationException) as generic:
        decode_json_request("cloudtrail", f"{PREFIX}.DeleteTrail", b"{}")
    assert generic.value.message == (
        "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"MaxResults": "5"}', "STRING_VALUE can not be converted to an Integer"),
        (b'{"MaxResults": 5.5}', "NUMBER_VALUE can not be converted to an Integer"),
        (b'{"MaxResults": true}', "BOOLEAN_VALUE can not be converted to an Integer"),
        (b'{"MaxResults": 4294967296}', "NUMBER_VALUE can not be converted to an Integer"),
        (b'{"NextToken": 5}', "NUMBER_VALUE can not be converted to a String"),
        (b'{"StartTime": true}', "BOOLEAN_VALUE can not be converted to a Date"),
        (b'{"StartTime": "yesterday"}', "STRING_VALUE can not be converted to a Date"),
        (
            b'{"LookupAttributes": {"AttributeKey": "EventName"}}',
            "Start of structure or map found where not expected.",
        ),
        (b'{"LookupAttributes": ["x"]}', "STRING_VALUE can not be converted to a Structure"),
        (b'{"NextToken": ["x"]}', "Start of list found where not expected."),
        (b"[]", "Start of list found where not expected."),
        (b'"x"', "STRING_VALUE can not be converted to a Structure"),
        (b"{", "The request body is not valid JSON"),
        (b'{"MaxResults": NaN}', "The request body is not valid JSON"),
        (b"\xff{}", "The request body is not valid JSON"),
    ],
)
def test_wrong_json_types_are_serialization_exceptions(body: bytes, message: str) -> None:
    with pytest.raises(SerializationException) as caught:
        _lookup(body)
    assert caught.value.message == message


def test_integral_float_is_an_integer() -> None:
    assert _lookup(b'{"MaxResults": 5.0}')[1] == {"MaxResults": 5}


@pytest.mark.parametrize(
    "target",
    ["", "LookupEvents", f"{PREFIX}.lookupEvents", f"{PREFIX}.Nope", "com.amazonaws.other.X.LookupEvents"],
)
def test_unknown_targets(target: str) -> None:
    with pytest.raises(UnknownOperationException):
        decode_json_request("cloudtrail", target, b"{}")


def test_only_json_services_have_a_json_model() -> None:
    with pytest.raises(LookupError):
        json_service_model("iam")
    with pytest.raises(LookupError):
        json_service_model("no-such-service")


ERROR_CODES = sorted(
    {e.name for op in OPERATIONS for e in MODEL.operation_model(op).error_shapes}
    | {"ValidationException", "SerializationException", "UnknownOperationException", "AccessDeniedException"}
)


@pytest.mark.parametrize("code", ERROR_CODES)
def test_errors_parse_in_botocore(code: str) -> None:
    error = AWSError(f"message for {code} ✓", code=code, status=400)
    status, body, headers = render_json_error("cloudtrail", error, request_id="rid-1")
    assert status == 400
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert headers["x-amzn-ErrorType"].startswith(f"{code}:http://internal.amazon.com/coral/")
    assert headers["x-amzn-RequestId"] == "rid-1"
    wire_headers = {k.lower(): v for k, v in headers.items()}  # HTTP headers are case-insensitive
    parsed = PARSER.parse({"body": body, "headers": wire_headers, "status_code": status}, None)
    assert parsed["Error"] == {"Code": code, "Message": f"message for {code} ✓"}
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-1"


def test_error_status_and_namespace() -> None:
    status, _, headers = render_json_error("cloudtrail", NoSuchEntity("gone"))
    assert status == 404
    assert "x-amzn-RequestId" not in headers
    assert (
        headers["x-amzn-ErrorType"]
        == "NoSuchEntity:http://internal.amazon.com/coral/com.amazon.coral.service/"
    )
    _, _, own = render_json_error("cloudtrail", AWSError("x", code="InvalidNextTokenException"))
    assert own["x-amzn-ErrorType"].endswith("/com.amazonaws.cloudtrail.v20131101/")
    _, _, validate = render_json_error("cloudtrail", ValidationException("x"))
    assert validate["x-amzn-ErrorType"].endswith("/com.amazon.coral.validate/")


def test_special_floats_and_blobs_render_as_botocore_parses_them() -> None:
    # CloudTrail's outputs have no float or blob today; a model of our own exercises the encoder
    shape = StructureShape(
        "Out",
        {"type": "structure", "members": {"D": {"shape": "D"}, "B": {"shape": "B"}}},
        ShapeResolver({"D": {"type": "double"}, "B": {"type": "blob"}}),
    )
    for value in (math.inf, -math.inf, math.nan, 1.5):
        encoded = _encode(shape, {"D": value, "B": b"\x00\xff"})
        # special floats travel as the strings botocore's own JSON serializer writes
        assert encoded["D"] == SERIALIZER._handle_float(value) or math.isnan(value)
        parsed = PARSER.parse({"body": orjson.dumps(encoded), "headers": {}, "status_code": 200}, shape)
        assert parsed["B"] == b"\x00\xff"
    assert _encode(shape, {"D": math.nan})["D"] == "NaN"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
LOOKUP_KEYS = ["LookupAttributes", "StartTime", "EndTime", "EventCategory", "MaxResults", "NextToken"]


@settings(max_examples=300, deadline=None)
@given(body=st.dictionaries(st.sampled_from(LOOKUP_KEYS), JSON_VALUES, max_size=4) | JSON_VALUES)
def test_any_json_body_decodes_or_raises_an_aws_error(body: Any) -> None:
    try:
        _, decoded = _lookup(json.dumps(body).encode())
    except AWSError as error:
        assert error.status == 400
        return
    assert set(decoded) <= set(LOOKUP_KEYS)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=64))
def test_any_bytes_decode_or_raise_an_aws_error(raw: bytes) -> None:
    try:
        _lookup(raw)
    except AWSError:
        pass
