"""Form decoding, XML text escaping, scalar formats and Java-regex translation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote, urlencode

from botocore.parsers import create_parser
from botocore.utils import percent_encode_sequence
from hypothesis import given, settings
from hypothesis import strategies as st

from ironkeep.protocol import decode_form, prepare, render_response, service_model
from ironkeep.protocol.javaregex import compile_java
from ironkeep.protocol.query import _input_plan
from ironkeep.protocol.xml import _response_plan, escape

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=15)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(TEXT, TEXT, max_size=6))
def test_form_decoding_inverts_both_encoders(params: dict[str, str]) -> None:
    """Bodies (``urlencode``: ``+`` for space) and query strings (``quote``: ``%20``) decode alike."""
    params = {k: v for k, v in params.items() if k}
    assert decode_form(urlencode(params).encode()) == params
    assert decode_form(percent_encode_sequence(params)) == params


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64) | st.text(max_size=32).map(str.encode))
def test_any_body_decodes_to_text(body: bytes) -> None:
    form = decode_form(body)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in form.items())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=24))
def test_any_text_survives_xml(text: str) -> None:
    """Whatever a handler returns, the response is well-formed and botocore reads the text back,
    with only the characters XML 1.0 cannot carry (controls, surrogates, U+FFFE/F) replaced."""
    expected = "".join(
        ch
        if ch in "\t\n\r" or "\x20" <= ch <= "\ud7ff" or "\ue000" <= ch <= "\ufffd" or ch >= "\U00010000"
        else "\ufffd"
        for ch in text
    )
    body = render_response("sts", "GetCallerIdentity", {"UserId": text, "Account": "1", "Arn": "a"}, text)
    assert _parse("sts", "GetCallerIdentity", body)["UserId"] == expected


def test_form_details() -> None:
    assert decode_form(b"A=1&A=2&B&&C=x+y%2Bz%20w") == {"A": "1", "B": "", "C": "x y+z w"}
    assert decode_form(b"K=%E2%82%AC%ZZ%e2") == {"K": "\u20ac%ZZ\ufffd"}
    assert decode_form(b"K=\xff") == {"K": "\ufffd"}
    assert decode_form("Tags.member.1.Key=" + quote("日本")) == {"Tags.member.1.Key": "日本"}
    assert decode_form(b"") == {}


def test_escape() -> None:
    assert escape("plain text / 日本") == "plain text / 日本"
    assert escape("a<b>&c\r\n\t]]>") == "a&lt;b&gt;&amp;c&#13;\n\t]]&gt;"
    assert escape("bad\x00\x1f\ufffe") == "bad\ufffd\ufffd\ufffd"


def _parse(service: str, operation: str, body: bytes) -> dict:
    shape = service_model(service).operation_model(operation).output_shape
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": 200}, shape)
    parsed.pop("ResponseMetadata")
    return parsed


def test_timestamps_are_utc_iso8601() -> None:
    east = timezone(timedelta(hours=5, minutes=30))
    cases = [
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05Z"),
        (datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "2024-01-02T03:04:05.678Z"),
        (datetime(2024, 1, 2, 9, 4, 5, tzinfo=east), "2024-01-02T03:34:05Z"),
        (datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05Z"),  # naive means UTC
    ]
    for value, text in cases:
        output = {
            "Credentials": {
                "AccessKeyId": "ASIAEXAMPLE000000001",
                "SecretAccessKey": "s",
                "SessionToken": "t",
                "Expiration": value,
            }
        }
        body = render_response("sts", "GetSessionToken", output, "r")
        assert f"<Expiration>{text}</Expiration>".encode() in body
        parsed = _parse("sts", "GetSessionToken", body)
        assert parsed["Credentials"]["Expiration"] == datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_rendering_follows_the_model() -> None:
    output = {
        # given in the "wrong" order, with a None and an unknown key
        "IsTruncated": False,
        "Users": [
            {
                "Arn": "arn:aws:iam::123456789012:user/b",
                "UserName": "b",
                "Path": "/",
                "UserId": "AIDB",
                "CreateDate": datetime(2020, 1, 1, tzinfo=UTC),
                "PasswordLastUsed": None,
                "Internal": "x",
            },
        ],
        "Marker": None,
    }
    body = render_response("iam", "ListUsers", output, "req")
    assert body == (
        b'<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListUsersResult><Users>'
        b"<member><Path>/</Path><UserName>b</UserName><UserId>AIDB</UserId>"
        b"<Arn>arn:aws:iam::123456789012:user/b</Arn><CreateDate>2020-01-01T00:00:00Z</CreateDate></member>"
        b"</Users><IsTruncated>false</IsTruncated></ListUsersResult>"
        b"<ResponseMetadata><RequestId>req</RequestId></ResponseMetadata></ListUsersResponse>"
    )


def test_lenient_scalar_inputs() -> None:
    """Handlers may hand over wire-ish values: strings for booleans, epoch numbers for timestamps."""
    output = {"Users": [], "IsTruncated": "false", "Marker": 12}
    body = render_response("iam", "ListUsers", output, "r")
    assert _parse("iam", "ListUsers", body) == {"Users": [], "IsTruncated": False, "Marker": "12"}
    output = {
        "Credentials": {
            "AccessKeyId": "A" * 16,
            "SecretAccessKey": "s",
            "SessionToken": "t",
            "Expiration": 1700000000,
        }
    }
    assert b"<Expiration>2023-11-14T22:13:20Z</Expiration>" in render_response(
        "sts", "GetSessionToken", output, "r"
    )


def test_empty_collections_blobs_and_maps() -> None:
    body = render_response("iam", "ListUsers", {"Users": [], "IsTruncated": True}, "r")
    assert _parse("iam", "ListUsers", body) == {"Users": [], "IsTruncated": True}
    report = {
        "Content": b"user,arn\n<root_account>,x\r\n",
        "ReportFormat": "text/csv",
        "GeneratedTime": datetime(2024, 1, 1, tzinfo=UTC),
    }
    body = render_response("iam", "GetCredentialReport", report, "r")
    assert b"<Content>dXNlcixhcm4KPHJvb3RfYWNjb3VudD4seA0K</Content>" in body
    assert _parse("iam", "GetCredentialReport", body) == report
    summary = {"SummaryMap": {"Users": 3, "Groups": 0}}
    body = render_response("iam", "GetAccountSummary", summary, "r")
    assert b"<SummaryMap><entry><key>Users</key><value>3</value></entry>" in body
    assert _parse("iam", "GetAccountSummary", body) == summary
    assert render_response("iam", "GetAccountSummary", None, "r").count(b"<GetAccountSummaryResult>") == 1


def test_java_regex_semantics() -> None:
    name = compile_java(r"[\w+=,.@-]+")
    assert name.fullmatch("bob.smith+ci@example.com")
    assert not name.fullmatch("josé")  # Java's \w is ASCII only
    assert not name.fullmatch("bob smith")  # the whole value must match
    assert not name.fullmatch("")
    tag = compile_java(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*")
    assert tag.fullmatch("Ünïcode 日本 ٣ \u3000 a_b.c:d/e=f+g-h@i")
    assert not tag.fullmatch("a&b") and not tag.fullmatch("tab\tx") and not tag.fullmatch("50%")
    # \u10000 is \u1000 then '0' in Java and Python alike: characters beyond the BMP never match
    arn = compile_java(r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+")
    assert arn.fullmatch("arn:aws:iam::123456789012:role/é")
    assert not arn.fullmatch("arn:\U0001f600")
    alias = compile_java(r"^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$")
    assert alias.fullmatch("my-alias-1") and not alias.fullmatch("my--alias") and not alias.fullmatch("ab\n")
    # an escaped surrogate pair is one code point in Java (CloudTrail's PartitionKeyName pattern)
    beyond = compile_java(r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*")
    assert beyond.fullmatch("key \U0001f600\t") and not beyond.fullmatch("\x01")
    assert compile_java(r"\P{L}+").fullmatch("1 2") and not compile_java(r"\P{L}+").fullmatch("a")
    digits = compile_java(r"[\d]*")
    assert digits.fullmatch("123456") and not digits.fullmatch("١٢٣")


def test_prepare_compiles_every_plan() -> None:
    for service in ("iam", "sts"):
        prepare(service)
    before = (_input_plan.cache_info(), _response_plan.cache_info())
    for service in ("iam", "sts"):
        for operation in service_model(service).operation_names:
            _input_plan(service, operation)
            _response_plan(service, operation)
    after = (_input_plan.cache_info(), _response_plan.cache_info())
    assert [a.misses - b.misses for a, b in zip(after, before, strict=True)] == [0, 0]
    assert [a.hits - b.hits for a, b in zip(after, before, strict=True)] == [187, 187]
