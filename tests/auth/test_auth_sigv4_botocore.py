"""Requests signed by botocore's own signers verify; any change to what was signed does not."""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ironkeep.auth.errors import RequestExpired, SignatureDoesNotMatch
from ironkeep.auth.sigv4 import SignedRequest, parse_signed_request, verify_signature

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SIGNED_AT = datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)
ENDPOINT = "http://127.0.0.1:8443"


@dataclass(frozen=True)
class Wire:
    """A request as the server receives it."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    def parse(self) -> SignedRequest:
        return parse_signed_request(self.method, self.path, self.query, self.headers, self.body)


@pytest.fixture(autouse=True)
def _botocore_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """botocore reads the time from this function; pin it so signatures are reproducible."""
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: SIGNED_AT)
    yield


def sign(
    *,
    service: str = "iam",
    region: str = "us-east-1",
    method: str = "POST",
    url: str = ENDPOINT + "/",
    data: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    token: str | None = None,
    presign_expires: int | None = None,
) -> Wire:
    credentials = Credentials(ACCESS_KEY, SECRET, token)
    all_headers = dict(headers or {})
    if data:
        all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
    # botocore's serializers hand the signer bytes; its presigner wants the form as a dict
    body: dict[str, str] | bytes = (
        dict(data or {}) if presign_expires else percent_encode_sequence(data or {}).encode()
    )
    request = AWSRequest(method=method, url=url, data=body, params=params or {}, headers=all_headers)
    if presign_expires is None:
        botocore.auth.SigV4Auth(credentials, service, region).add_auth(request)
    else:
        botocore.auth.SigV4QueryAuth(credentials, service, region, expires=presign_expires).add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    wire_headers = [("Host", parts.netloc), *prepared.headers.items()]
    return Wire(method, parts.path, parts.query, wire_headers, prepared.body or b"")


def iam_call(**kwargs: object) -> Wire:
    return sign(data={"Action": "ListUsers", "Version": "2010-05-08", "PathPrefix": "/a b+c/"}, **kwargs)  # type: ignore[arg-type]


def accept(
    wire: Wire, now: datetime = SIGNED_AT, services: frozenset[str] = frozenset({"iam", "sts"})
) -> None:
    verify_signature(wire.parse(), SECRET, now, services)


def reject(wire: Wire, secret: str = SECRET) -> None:
    with pytest.raises(SignatureDoesNotMatch):
        verify_signature(wire.parse(), secret, SIGNED_AT, frozenset({"iam", "sts"}))


def replace_header(wire: Wire, name: str, value: str) -> Wire:
    headers = [(k, value if k.lower() == name.lower() else v) for k, v in wire.headers]
    return Wire(wire.method, wire.path, wire.query, headers, wire.body)


def test_iam_query_protocol_request_verifies() -> None:
    wire = iam_call()
    parsed = wire.parse()
    assert (parsed.access_key_id, parsed.region, parsed.service) == (ACCESS_KEY, "us-east-1", "iam")
    assert parsed.date == SIGNED_AT and not parsed.is_presigned and parsed.session_token is None
    accept(wire)


@pytest.mark.parametrize(
    "region", ["us-east-1", "eu-central-2", "ap-southeast-4", "us-gov-west-1", "cn-north-1"]
)
def test_sts_in_any_region_verifies(region: str) -> None:
    accept(sign(service="sts", region=region, data={"Action": "GetCallerIdentity", "Version": "2011-06-15"}))


def test_session_token_is_returned_and_signed() -> None:
    wire = iam_call(token="FwoGZXIvYXdzEXAMPLE//token==")
    parsed = wire.parse()
    assert parsed.session_token == "FwoGZXIvYXdzEXAMPLE//token=="
    assert "x-amz-security-token" in parsed.signed_headers
    accept(wire)
    reject(replace_header(wire, "X-Amz-Security-Token", "FwoGZXIvYXdzEXAMPLE//tokem=="))


def test_date_header_instead_of_x_amz_date() -> None:
    wire = iam_call(headers={"Date": "Thu, 01 Jan 1970 00:00:00 GMT"})
    assert not any(k.lower() == "x-amz-date" for k, _ in wire.headers)
    assert wire.parse().date == SIGNED_AT
    accept(wire)


def test_latin_1_header_value_as_botocore_signs_it() -> None:
    """http.client sends str headers as latin-1; botocore signs them as UTF-8; servers decode latin-1."""
    accept(iam_call(headers={"X-Amz-Meta-Owner": "Zoë Müller"}))


def test_unsigned_headers_may_be_added() -> None:
    wire = iam_call()
    accept(Wire(wire.method, wire.path, wire.query, [*wire.headers, ("User-Agent", "curl/8")], wire.body))


@pytest.mark.parametrize("index", [0, 17, -1])
def test_changing_a_body_byte_is_rejected(index: int) -> None:
    wire = iam_call()
    body = bytearray(wire.body)
    body[index] ^= 0x01
    reject(Wire(wire.method, wire.path, wire.query, wire.headers, bytes(body)))


def test_changing_method_path_or_query_is_rejected() -> None:
    wire = iam_call()
    reject(Wire("PUT", wire.path, wire.query, wire.headers, wire.body))
    reject(Wire(wire.method, "/iam", wire.query, wire.headers, wire.body))
    reject(Wire(wire.method, wire.path, "Action=DeleteUser", wire.headers, wire.body))


def test_changing_a_signed_header_is_rejected() -> None:
    wire = iam_call()
    reject(replace_header(wire, "Host", "127.0.0.1:8444"))
    reject(replace_header(wire, "Content-Type", "application/x-www-form-urlencoded"))


def test_wrong_secret_is_rejected() -> None:
    reject(iam_call(), secret=SECRET.lower())


def test_changing_the_date_is_rejected() -> None:
    wire = iam_call()
    later = (SIGNED_AT + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
    reject(replace_header(wire, "X-Amz-Date", later))


@pytest.mark.parametrize(
    ("old", "new"),
    [("/us-east-1/", "/us-east-2/"), ("/iam/", "/sts/"), ("/20260301/", "/20260302/")],
)
def test_changing_the_scope_is_rejected(old: str, new: str) -> None:
    wire = iam_call()
    auth = next(v for k, v in wire.headers if k == "Authorization")
    reject(replace_header(wire, "Authorization", auth.replace(old, new)))


def test_service_outside_the_allowed_set_is_rejected() -> None:
    wire = sign(service="cloudtrail", data={"Action": "LookupEvents"})
    with pytest.raises(SignatureDoesNotMatch) as error:
        accept(wire)
    assert error.value.message == "Credential should be scoped to correct service: 'iam', 'sts'. "
    accept(wire, services=frozenset({"cloudtrail", "iam", "sts"}))


def test_clock_skew_window_is_fifteen_minutes_each_way() -> None:
    wire = iam_call()
    accept(wire, now=SIGNED_AT + timedelta(minutes=15))
    accept(wire, now=SIGNED_AT - timedelta(minutes=15))
    with pytest.raises(RequestExpired) as late:
        accept(wire, now=SIGNED_AT + timedelta(minutes=15, seconds=1))
    assert late.value.message == (
        "Signature expired: 20260301T093015Z is now earlier than 20260301T093016Z (20260301T094516Z - 15 min.)"
    )
    assert (late.value.code, late.value.status) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(RequestExpired) as early:
        accept(wire, now=SIGNED_AT - timedelta(minutes=15, seconds=1))
    assert early.value.message == (
        "Signature not yet current: 20260301T093015Z is still later than 20260301T093014Z "
        "(20260301T091514Z + 15 min.)"
    )


def test_presigned_get_caller_identity_verifies_and_expires() -> None:
    wire = sign(
        service="sts",
        method="GET",
        params={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
        token="session/token+x=",
        presign_expires=60,
    )
    parsed = wire.parse()
    assert parsed.is_presigned and parsed.expires == 60 and parsed.session_token == "session/token+x="
    accept(wire, now=SIGNED_AT + timedelta(seconds=60))
    with pytest.raises(RequestExpired):
        accept(wire, now=SIGNED_AT + timedelta(seconds=61))
    reject(
        Wire(
            wire.method,
            wire.path,
            wire.query.replace("GetCallerIdentity", "GetSessionToken"),
            wire.headers,
            b"",
        )
    )
    reject(
        Wire(
            wire.method,
            wire.path,
            wire.query.replace("X-Amz-Expires=60", "X-Amz-Expires=600"),
            wire.headers,
            b"",
        )
    )


def test_presigned_post_with_form_body_moved_into_the_query() -> None:
    wire = sign(service="iam", data={"Action": "GetUser", "UserName": "alice"}, presign_expires=900)
    assert wire.body == b"" and "UserName=alice" in wire.query
    accept(wire)


# hypothesis: botocore and the verifier agree on every encoding they can meet
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
NAMES = st.text(string.ascii_letters + string.digits + "._-~", min_size=1, max_size=10)
SEGMENT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    form=st.dictionaries(NAMES, TEXT, max_size=5),
    query=st.dictionaries(NAMES, TEXT, max_size=4),
    segments=st.lists(SEGMENT, max_size=3),
    header_value=st.text(
        string.printable.replace("\r", "").replace("\n", "").replace("\x0b", "").replace("\x0c", ""),
        max_size=20,
    ),
    presign=st.booleans(),
)
def test_botocore_signed_requests_always_verify(
    form: dict[str, str], query: dict[str, str], segments: list[str], header_value: str, presign: bool
) -> None:
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    wire = sign(
        url=ENDPOINT + path,
        data=form or None,
        params=query,
        headers={"X-Amz-Meta-Note": header_value} if header_value.strip() else None,
        presign_expires=300 if presign else None,
    )
    accept(wire)
