"""AWS's published SigV4 test suite, replayed through the verifier.

The vectors (requests and the signatures AWS's suite expects) are data in sigv4_suite.json.
Every vector must verify with the suite's secret, and must stop verifying when the signature,
the secret or the clock is wrong.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.datastructures import Headers

from ironkeep.auth.errors import RequestExpired, SignatureDoesNotMatch
from ironkeep.auth.sigv4 import SignedRequest, parse_signed_request, verify_signature

SUITE = json.loads((Path(__file__).parent / "sigv4_suite.json").read_text(encoding="utf-8"))
SECRET: str = SUITE["secret_access_key"]
NOW = datetime.fromisoformat(SUITE["timestamp"].replace("Z", "+00:00"))
SERVICES = frozenset({SUITE["service"]})
HEADER_CASES = SUITE["header"]
PRESIGNED_CASES = SUITE["presigned"]
ALL_CASES = [pytest.param(c, id=f"header:{c['name']}") for c in HEADER_CASES] + [
    pytest.param(c, id=f"presigned:{c['name']}") for c in PRESIGNED_CASES
]


def parse(case: dict[str, Any], **changes: Any) -> SignedRequest:
    request = {**case, **changes}
    headers = [tuple(pair) for pair in request["headers"]]
    return parse_signed_request(
        request["method"], request["path"], request["query"], headers, request["body"].encode("utf-8")
    )


@pytest.mark.parametrize("case", ALL_CASES)
def test_suite_vector_verifies(case: dict[str, Any]) -> None:
    parsed = parse(case)
    assert parsed.access_key_id == SUITE["access_key_id"]
    assert (parsed.region, parsed.service, parsed.date) == (SUITE["region"], SUITE["service"], NOW)
    assert parsed.signature == case["signature"]
    if "canonical_request" in case:
        assert parsed.canonical_request == case["canonical_request"]
    verify_signature(parsed, SECRET, NOW, SERVICES)


@pytest.mark.parametrize("case", ALL_CASES)
def test_suite_vector_rejects_a_wrong_signature_or_secret(case: dict[str, Any]) -> None:
    parsed = parse(case)
    with pytest.raises(SignatureDoesNotMatch) as wrong_secret:
        verify_signature(parsed, SECRET[:-1] + "X", NOW, SERVICES)
    assert wrong_secret.value.code == "SignatureDoesNotMatch"
    assert wrong_secret.value.status == 403
    flipped = case["signature"][:-1] + ("0" if case["signature"][-1] != "0" else "1")
    tampered = parse(
        case,
        query=case["query"].replace(case["signature"], flipped),
        headers=[[k, v.replace(case["signature"], flipped)] for k, v in case["headers"]],
    )
    assert tampered.signature == flipped
    with pytest.raises(SignatureDoesNotMatch):
        verify_signature(tampered, SECRET, NOW, SERVICES)


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in HEADER_CASES])
def test_suite_vector_expires_after_fifteen_minutes(case: dict[str, Any]) -> None:
    parsed = parse(case)
    verify_signature(parsed, SECRET, NOW + timedelta(minutes=15), SERVICES)
    with pytest.raises(RequestExpired):
        verify_signature(parsed, SECRET, NOW + timedelta(minutes=15, seconds=1), SERVICES)


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in PRESIGNED_CASES])
def test_presigned_vector_lives_for_x_amz_expires(case: dict[str, Any]) -> None:
    parsed = parse(case)
    assert parsed.is_presigned and parsed.expires == 3600
    verify_signature(parsed, SECRET, NOW + timedelta(seconds=3600), SERVICES)
    with pytest.raises(RequestExpired) as expired:
        verify_signature(parsed, SECRET, NOW + timedelta(seconds=3601), SERVICES)
    assert expired.value.message == "Request has expired"


def test_duplicate_headers_through_a_starlette_headers_mapping() -> None:
    """A case-insensitive multi-valued Mapping (what the server has) keeps repeated headers."""
    case = next(c for c in HEADER_CASES if c["name"] == "get-header-key-duplicate")
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in case["headers"]]
    parsed = parse_signed_request("GET", "/", "", Headers(raw=raw), b"")
    assert "my-header1:value2,value2,value1\n" in parsed.canonical_request
    verify_signature(parsed, SECRET, NOW, SERVICES)


def test_header_names_are_case_insensitive_in_a_plain_dict() -> None:
    case = next(c for c in HEADER_CASES if c["name"] == "get-vanilla")
    shouted = {k.upper(): v for k, v in case["headers"]}
    verify_signature(parse_signed_request("GET", "/", "", shouted, b""), SECRET, NOW, SERVICES)


def test_session_token_is_read_from_header_and_query() -> None:
    header_case = next(c for c in HEADER_CASES if c["name"] == "get-vanilla-with-session-token")
    assert (
        parse(header_case).session_token == "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
    )
    presigned = PRESIGNED_CASES[0]
    parsed = parse(presigned, query=presigned["query"] + "&X-Amz-Security-Token=tok%2Fen")
    assert parsed.session_token == "tok/en"
    assert parse(presigned).session_token is None


def test_now_without_tzinfo_is_taken_as_utc() -> None:
    parsed = parse(HEADER_CASES[0])
    verify_signature(parsed, SECRET, NOW.replace(tzinfo=None), SERVICES)
    assert NOW.tzinfo is UTC or NOW.utcoffset() == timedelta(0)
