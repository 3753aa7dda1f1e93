"""Malformed and hostile requests: AWS's error codes and wording, and nothing but AWSError."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ironkeep.auth.errors import (
    IncompleteSignature,
    MissingAuthenticationToken,
    RequestExpired,
    SignatureDoesNotMatch,
    XAmzContentSHA256Mismatch,
)
from ironkeep.auth.sigv4 import canonical_uri, parse_signed_request, signing_key, verify_signature
from ironkeep.errors import AWSError

DATE = "20150830T123600Z"
NOW = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
CREDENTIAL = "AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request"
SIG = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
GOOD_AUTH = f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders=host;x-amz-date, Signature={SIG}"


def headers(authorization: str | None = GOOD_AUTH, **extra: str) -> dict[str, str]:
    result = {"Host": "iam.amazonaws.com", "X-Amz-Date": DATE, **extra}
    if authorization is not None:
        result["Authorization"] = authorization
    return result


def presigned_query(**overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "Action": "GetCallerIdentity",
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": CREDENTIAL.replace("/", "%2F"),
        "X-Amz-Date": DATE,
        "X-Amz-Expires": "60",
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Signature": SIG,
        **overrides,
    }
    return "&".join(f"{k}={v}" for k, v in params.items() if v is not None)


def test_unsigned_request_is_missing_authentication_token() -> None:
    with pytest.raises(MissingAuthenticationToken) as error:
        parse_signed_request("POST", "/", "Action=ListUsers", headers(None), b"")
    assert (error.value.code, error.value.status) == ("MissingAuthenticationToken", 403)
    assert error.value.message == "Request is missing Authentication Token"


def test_authorization_header_missing_every_part() -> None:
    with pytest.raises(IncompleteSignature) as error:
        parse_signed_request("POST", "/", "", {"Authorization": "AWS4-HMAC-SHA256 "}, b"")
    assert (error.value.code, error.value.status) == ("IncompleteSignature", 400)
    assert error.value.message == (
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=AWS4-HMAC-SHA256 "
    )


def test_authorization_pair_without_equal_sign() -> None:
    bad = f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders, Signature={SIG}"
    with pytest.raises(IncompleteSignature) as error:
        parse_signed_request("POST", "/", "", headers(bad), b"")
    assert error.value.message == (
        f"'SignedHeaders' not a valid key=value pair (missing equal-sign) in Authorization header: '{bad}'."
    )


def test_unsupported_algorithm() -> None:
    with pytest.raises(IncompleteSignature, match="Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'"):
        parse_signed_request("POST", "/", "", headers(GOOD_AUTH.replace("SHA256", "SHA512", 1)), b"")


def test_date_not_in_basic_format() -> None:
    with pytest.raises(IncompleteSignature) as error:
        parse_signed_request("POST", "/", "", headers(**{"X-Amz-Date": "2015-08-30T12:36:00Z"}), b"")
    assert error.value.message == (
        "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"
    )


def test_credential_with_too_few_parts() -> None:
    with pytest.raises(IncompleteSignature, match="5 slash-delimited elements"):
        parse_signed_request("POST", "/", "", headers(GOOD_AUTH.replace("/us-east-1", "")), b"")


def test_credential_with_wrong_terminator() -> None:
    with pytest.raises(SignatureDoesNotMatch) as error:
        parse_signed_request("POST", "/", "", headers(GOOD_AUTH.replace("aws4_request", "aws5_request")), b"")
    assert error.value.message == (
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
    )


def test_credential_with_invalid_region() -> None:
    with pytest.raises(SignatureDoesNotMatch, match="valid region, not 'US EAST'"):
        parse_signed_request("POST", "/", "", headers(GOOD_AUTH.replace("us-east-1", "US EAST")), b"")


def test_scope_date_must_match_request_date() -> None:
    with pytest.raises(SignatureDoesNotMatch) as error:
        parse_signed_request("POST", "/", "", headers(GOOD_AUTH.replace("20150830", "20150831")), b"")
    assert error.value.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        "'20150831' != '20150830', from '20150830T123600Z'."
    )


def test_host_must_be_signed() -> None:
    with pytest.raises(IncompleteSignature, match="'Host' or ':authority' must be a 'SignedHeader'"):
        parse_signed_request("POST", "/", "", headers(GOOD_AUTH.replace("host;", "")), b"")


def test_both_mechanisms_at_once() -> None:
    with pytest.raises(IncompleteSignature, match="Only one auth mechanism allowed"):
        parse_signed_request("GET", "/", presigned_query(), headers(), b"")


def test_presigned_query_missing_parameters() -> None:
    query = presigned_query(**{"X-Amz-Credential": None, "X-Amz-Signature": None})
    with pytest.raises(IncompleteSignature) as error:
        parse_signed_request("GET", "/", query, {"Host": "sts.amazonaws.com"}, b"")
    assert error.value.message == (
        "AWS query-string parameters must include 'X-Amz-Credential'. "
        "AWS query-string parameters must include 'X-Amz-Signature'. "
        "Re-examine the query-string parameters."
    )


@pytest.mark.parametrize("expires", ["604801", "-1", "sixty", "\uff11\uff12"])
def test_presigned_expires_out_of_range(expires: str) -> None:
    with pytest.raises(IncompleteSignature, match="X-Amz-Expires"):
        parse_signed_request("GET", "/", presigned_query(**{"X-Amz-Expires": expires}), {"Host": "h"}, b"")


@pytest.mark.parametrize("claimed", ["99991231T235959Z", "00010101T000000Z"])
def test_extreme_dates_expire_without_overflow(claimed: str) -> None:
    credential = CREDENTIAL.replace("20150830", claimed[:8]).replace("/", "%2F")
    query = presigned_query(
        **{"X-Amz-Date": claimed, "X-Amz-Expires": "604800", "X-Amz-Credential": credential}
    )
    parsed = parse_signed_request("GET", "/", query, {"Host": "h"}, b"")
    with pytest.raises(RequestExpired):
        verify_signature(parsed, "secret", NOW)


@pytest.mark.parametrize("value", ["Mon, 32 Jan 2015 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 -0100", "Tue"])
def test_unusable_http_date(value: str) -> None:
    auth = GOOD_AUTH.replace("x-amz-date", "date")
    with pytest.raises(IncompleteSignature, match="Date header is not a valid HTTP date"):
        parse_signed_request("POST", "/", "", {"Host": "h", "Date": value, "Authorization": auth}, b"")


def test_content_sha256_must_hash_the_body() -> None:
    body = b"Action=ListUsers&Version=2010-05-08"
    good = hashlib.sha256(body).hexdigest()
    parsed = parse_signed_request("POST", "/", "", headers(**{"X-Amz-Content-Sha256": good}), body)
    assert parsed.canonical_request.endswith("\n" + good)
    for claimed in (hashlib.sha256(b"other").hexdigest(), "UNSIGNED-PAYLOAD"):
        with pytest.raises(XAmzContentSHA256Mismatch) as error:
            parse_signed_request("POST", "/", "", headers(**{"X-Amz-Content-Sha256": claimed}), body)
        assert (error.value.code, error.value.status) == ("XAmzContentSHA256Mismatch", 400)


def test_non_hex_or_non_ascii_signature_is_a_mismatch_not_a_crash() -> None:
    for signature in ("zz", "ü" * 64, ""):
        auth = (
            GOOD_AUTH.replace(SIG, signature)
            if signature
            else GOOD_AUTH.replace(f"Signature={SIG}", "Signature=x")
        )
        parsed = parse_signed_request("POST", "/", "", headers(auth), b"")
        with pytest.raises(SignatureDoesNotMatch):
            verify_signature(parsed, "secret", NOW)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("/a/./b/../c/", "/a/c/"),
        ("/../..", "/"),
        ("//a//b", "/a/b"),
        ("/a%20b", "/a%2520b"),  # non-S3 services encode the wire path once more
        ("/ü", "/%C3%BC"),
    ],
)
def test_canonical_uri(path: str, expected: str) -> None:
    assert canonical_uri(path) == expected


def test_lone_surrogates_do_not_crash() -> None:
    parsed = parse_signed_request(
        "POST",
        "/\udcff",
        "a=\ud800",
        headers(GOOD_AUTH.replace("host;", "host;x-a;"), **{"X-A": "\udc80"}),
        b"",
    )
    assert "x-a:\udc80\n" in parsed.canonical_request
    with pytest.raises(SignatureDoesNotMatch):
        verify_signature(parsed, "secret\udcff", NOW)


def test_signing_key_is_cached_and_bounded() -> None:
    signing_key.cache_clear()
    first = signing_key("secret", "20150830", "us-east-1", "iam")
    assert signing_key("secret", "20150830", "us-east-1", "iam") is first
    info = signing_key.cache_info()
    assert (info.hits, info.misses) == (1, 1)
    assert info.maxsize is not None and info.maxsize <= 1024
    assert signing_key("secret", "20150831", "us-east-1", "iam") != first


# hypothesis: untrusted input never escapes as anything but an AWSError

HEADER_NAMES = st.sampled_from(
    [
        "Authorization",
        "authorization",
        "X-Amz-Date",
        "Date",
        "Host",
        "X-Amz-Security-Token",
        "X-Amz-Content-Sha256",
        "Content-Type",
        "X-Custom",
    ]
)
ANY_TEXT = st.text(max_size=40)
AUTH_PIECES = st.lists(
    st.one_of(
        ANY_TEXT,
        st.builds(
            lambda v: f"Credential={v}", st.sampled_from([CREDENTIAL, "a/b/c/d/e", "////", "x"]) | ANY_TEXT
        ),
        st.builds(
            lambda v: f"SignedHeaders={v}", st.sampled_from(["host", "host;x-amz-date", ";;"]) | ANY_TEXT
        ),
        st.builds(lambda v: f"Signature={v}", st.sampled_from([SIG, ""]) | ANY_TEXT),
    ),
    max_size=5,
).map(lambda parts: "AWS4-HMAC-SHA256 " + ", ".join(parts))
QUERY_PIECES = st.lists(
    st.one_of(
        ANY_TEXT,
        st.tuples(
            st.sampled_from(
                [
                    "X-Amz-Algorithm",
                    "X-Amz-Credential",
                    "X-Amz-Date",
                    "X-Amz-Expires",
                    "X-Amz-SignedHeaders",
                    "X-Amz-Signature",
                    "X-Amz-Security-Token",
                ]
            ),
            st.sampled_from(
                ["AWS4-HMAC-SHA256", CREDENTIAL.replace("/", "%2F"), DATE, "60", "host", SIG, "%ZZ", "%FF"]
            )
            | ANY_TEXT,
        ).map(lambda kv: f"{kv[0]}={kv[1]}"),
    ),
    max_size=8,
).map("&".join)
DATES = (
    st.sampled_from([DATE, "20150830T123600", "Sun, 30 Aug 2015 12:36:00 GMT", "Mon, 99 Foo 2015", ""])
    | ANY_TEXT
)


@settings(max_examples=400, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "put", ""]) | ANY_TEXT,
    path=st.sampled_from(["/", "//a/../b", "/%zz", "/a%20b"]) | ANY_TEXT,
    query=QUERY_PIECES,
    header_list=st.lists(
        st.tuples(HEADER_NAMES, st.one_of(AUTH_PIECES, DATES, ANY_TEXT)) | st.tuples(ANY_TEXT, ANY_TEXT),
        max_size=6,
    ),
    body=st.binary(max_size=64),
    secret=ANY_TEXT,
    skew=st.integers(min_value=-(10**6), max_value=10**6),
)
def test_untrusted_requests_raise_only_aws_errors(
    method: str,
    path: str,
    query: str,
    header_list: list[tuple[str, str]],
    body: bytes,
    secret: str,
    skew: int,
) -> None:
    try:
        parsed = parse_signed_request(method, path, query, header_list, body)
        verify_signature(parsed, secret, NOW + timedelta(seconds=skew))
    except AWSError:
        pass
