"""The fast paths of sigv4 agree with the general parse they shortcut, on untrusted input too.

Each reference below is the general code as it stood before the fast path was added.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ironkeep.auth import sigv4
from ironkeep.auth.errors import IncompleteSignature
from ironkeep.auth.sigv4 import SignedRequest, parse_signed_request

_AMZ_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
_WHITESPACE_RUN = re.compile(r"[ \t\r\n\v\f]+")


def reference_amz_date(value: str) -> tuple[datetime, str] | str:
    """The date and its basic text, or the error message."""
    match = _AMZ_DATE.fullmatch(value)
    if match is not None:
        try:
            date = datetime(*(int(group) for group in match.groups()), tzinfo=UTC)
        except ValueError:
            pass
        else:
            return date, sigv4._basic(date)
    return (
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )


def fast_amz_date(value: str) -> tuple[datetime, str] | str:
    try:
        return sigv4._parse_amz_date(value)
    except IncompleteSignature as error:
        return error.message


def reference_fields(value: str) -> dict[str, str] | str:
    """The Authorization header's fields, or the error message."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != sigv4.ALGORITHM:
        return f"Unsupported AWS 'algorithm': '{algorithm}'."
    fields: dict[str, str] = {}
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        key, eq, field_value = part.partition("=")
        if not eq:
            return f"'{part}' not a valid key=value pair (missing equal-sign) in Authorization header: '{value}'."
        fields.setdefault(key.strip(), field_value.strip())
    return fields


def fast_fields(value: str) -> dict[str, str] | str:
    try:
        return sigv4._authorization_fields(value)
    except IncompleteSignature as error:
        return error.message


# -- X-Amz-Date


@given(
    st.one_of(
        st.from_regex(r"\A[0-9]{8}T[0-9]{6}Z\Z"),
        st.from_regex(r"\A\d{8}T\d{6}Z\Z"),  # any Unicode digits: the regex path
        st.text(alphabet="0123456789TZ+-:. \u0661\uff11", max_size=20),
        st.text(max_size=20),
    )
)
@settings(max_examples=800)
def test_amz_date_agrees_with_the_regex_parse(value: str) -> None:
    assert fast_amz_date(value) == reference_amz_date(value)


def test_amz_date_field_limits_agree() -> None:
    values = [f"{y:04d}0229T000000Z" for y in (0, 1, 1900, 2000, 2023, 2024, 9999)]
    values += [f"2024{m:02d}{d:02d}T000000Z" for m in range(14) for d in range(33)]
    values += [
        f"20240501T{h:02d}{mi:02d}{s:02d}Z"
        for h in (0, 23, 24, 99)
        for mi in (0, 59, 60)
        for s in (0, 59, 60, 61)
    ]
    for value in values:
        assert fast_amz_date(value) == reference_amz_date(value), value


def test_amz_date_of_ascii_digits_is_its_own_basic_text() -> None:
    date, basic = sigv4._parse_amz_date("20150830T123600Z")
    assert date == datetime(2015, 8, 30, 12, 36, tzinfo=UTC) and date.tzinfo is UTC
    assert basic == "20150830T123600Z"
    date, basic = sigv4._parse_amz_date("\u0662\u0660\u0661\u0665\u0660\u0668\u0663\u0660T123600Z")
    assert basic == "20150830T123600Z"


# -- Authorization header

AUTH_PIECES = st.sampled_from(
    [
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA512",
        " ",
        "  ",
        "\t",
        ",",
        ", ",
        "=",
        "Credential=AKID/20150830/us-east-1/iam/aws4_request",
        "SignedHeaders=host;x-amz-date",
        "Signature=abc123",
        "Signature",
        "Credential",
        "x",
    ]
)


@given(st.one_of(st.lists(AUTH_PIECES, max_size=12).map("".join), st.text(max_size=40)))
@settings(max_examples=1000)
def test_authorization_fields_agree_with_the_general_parse(value: str) -> None:
    sigv4._leading_fields.cache_clear()
    first = fast_fields(value)
    assert first == reference_fields(value)
    assert fast_fields(value) == first  # again, with the leading fields cached


def test_cached_leading_fields_are_not_shared() -> None:
    head = "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, SignedHeaders=host"
    one = sigv4._authorization_fields(head + ", Signature=one")
    two = sigv4._authorization_fields(head + ", Signature=two")
    assert (one["Signature"], two["Signature"]) == ("one", "two")
    one["Credential"] = "changed"
    assert sigv4._authorization_fields(head + ", Signature=three")["Credential"].startswith("AKID/")


# -- canonical headers


@given(st.text(alphabet=" \t\r\n\v\f\x1c\x85\xa0\u2028ab,;", max_size=20))
@settings(max_examples=800)
def test_trimmed_agrees_with_the_regex(value: str) -> None:
    assert sigv4._trimmed(value) == _WHITESPACE_RUN.sub(" ", value).strip(" ")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Host", " host", "X-A", "x-a", "x-b "]), st.text(alphabet=" \tab", max_size=6)
        ),
        max_size=6,
    )
)
def test_header_map_is_the_same_for_every_input_form(pairs: list[tuple[str, str]]) -> None:
    expected: dict[str, list[str]] = {}
    for name, value in pairs:
        expected.setdefault(name.strip().lower(), []).append(value)
    assert sigv4._header_map(pairs) == expected
    assert sigv4._header_map(tuple(pairs)) == expected
    assert sigv4._header_map(iter(pairs)) == expected
    unique = dict(pairs)
    assert sigv4._header_map(unique) == sigv4._header_map(list(unique.items()))


# -- the parse's result and the signature


def headers(auth: str) -> dict[str, str]:
    return {"Host": "iam.amazonaws.com", "X-Amz-Date": "20150830T123600Z", "Authorization": auth}


AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
)


def test_signed_request_is_the_dataclass_built_by_its_init() -> None:
    parsed = parse_signed_request("POST", "/", "", headers(AUTH), b"Action=GetUser")
    values = {field.name: getattr(parsed, field.name) for field in dataclasses.fields(SignedRequest)}
    built = SignedRequest(**values)
    assert type(parsed) is SignedRequest
    assert parsed == built and hash(parsed) == hash(built) and repr(parsed) == repr(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.region = "eu-west-1"  # type: ignore[misc]


@given(st.text(max_size=64), st.binary(min_size=1, max_size=40))
def test_keyed_hmac_copies_sign_as_hmac_new(message: str, key: bytes) -> None:
    signer = sigv4._keyed_hmac(key).copy()
    signer.update(message.encode("utf-8", "surrogatepass"))
    assert (
        signer.hexdigest()
        == hmac.new(key, message.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    )
    assert sigv4._keyed_hmac(key).hexdigest() == hmac.new(key, b"", hashlib.sha256).hexdigest()
