"""A read's record filled into its caller's template (``audit_trail.row_of``) is exactly the
record built and written the general way: the same text, byte for byte, and the same index rows,
whatever the caller, the call, its parameters and the client's values."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ironkeep.audit import templates
from ironkeep.auth.session_tokens import SessionContext, SessionKind
from ironkeep.services import audit_trail
from ironkeep.services.context import Caller

ACCOUNT = "123456789012"
USER = Caller(
    account_id=ACCOUNT,
    arn=f"arn:aws:iam::{ACCOUNT}:user/team/alice",
    principal_id="AIDAEXAMPLEALICE0001",
    kind="IAMUser",
    access_key_id="AKIAEXAMPLEALICE0001",
    user_name="alice",
    user_path="/team/",
)
ROOT = Caller(
    account_id=ACCOUNT,
    arn=f"arn:aws:iam::{ACCOUNT}:root",
    principal_id=ACCOUNT,
    kind="Root",
    access_key_id="AKIAEXAMPLEROOT00001",
)
SESSION = Caller(
    account_id=ACCOUNT,
    arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/ops",
    principal_id="AROAEXAMPLEADMIN0001:ops",
    kind="AssumedRole",
    access_key_id="ASIAEXAMPLESESSION01",
    session=SessionContext(
        account_id=ACCOUNT,
        principal_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/ops",
        principal_id="AROAEXAMPLEADMIN0001:ops",
        kind=SessionKind.ASSUMED_ROLE,
        expiration=datetime(2030, 1, 1, tzinfo=UTC),
        issued_at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/Admin",
        session_name="ops",
        source_identity="ops-team",
        mfa_authenticated=True,
    ),
)
# reads of IAM and STS, with and without an ARN among their parameters (which lists resources),
# and one that issues credentials (its record logs the response)
READS = [
    ("iam", "GetUser", "UserName"),
    ("iam", "ListUsers", "PathPrefix"),
    ("iam", "GetRole", "RoleName"),
    ("iam", "GetPolicy", "PolicyArn"),
    ("iam", "ListEntitiesForPolicy", "PolicyArn"),
    ("iam", "GetAccessKeyLastUsed", "AccessKeyId"),
    ("sts", "GetCallerIdentity", None),
    ("sts", "GetSessionToken", "SerialNumber"),
    ("iam", "NoSuchOperation", "Anything"),
]
# what a placeholder of the templates looks like, and other values that could confuse a cut
AWKWARD = [
    "\x00ironkeep-template:eventTime\x00",
    "\x00ironkeep-template:requestID\x00",
    '"requestParameters":',
    f"arn:aws:iam::{ACCOUNT}:policy/p",
    f"arn:aws:iam::{ACCOUNT}:user/bob",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "",
]
texts = st.one_of(st.sampled_from(AWKWARD), st.text(max_size=40))
times = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


def _rows_the_general_way(fields: dict[str, Any]) -> Any:
    return audit_trail._event_row(audit_trail.build(**fields))


def _same_event_id(rows: Any, event_id: str) -> Any:
    """``rows`` as if their record had been given ``event_id``."""
    (row, names) = rows
    old = row[0]
    text = row[-1].replace(json.dumps(old), json.dumps(event_id))
    return (event_id, *row[1:-1], text), [(event_id, kind, value) for _, kind, value in names]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    read=st.sampled_from(READS),
    caller=st.sampled_from([USER, ROOT, SESSION, None]),
    value=st.one_of(st.none(), texts),
    now=times,
    request_id=st.one_of(st.uuids().map(str), texts),
    region=st.sampled_from(["us-east-1", "eu-west-3", ""]),
    source_ip=st.one_of(st.sampled_from(["127.0.0.1", "2001:db8::1"]), texts),
    user_agent=texts,
    output=st.sampled_from([None, {"Credentials": {"AccessKeyId": "ASIAX", "SecretAccessKey": "s"}}]),
)
def test_a_template_filled_is_the_record_built(
    read, caller, value, now, request_id, region, source_ip, user_agent, output
) -> None:
    service, operation, member = read
    fields = {
        "service": service,
        "operation": operation,
        "now": now,
        "request_id": request_id,
        "account_id": ACCOUNT,
        "read_only": True,
        "caller": caller,
        "access_key_id": caller.access_key_id if caller is not None else None,
        "parameters": {member: value} if member and value is not None else {},
        "output": output,
        "region": region,
        "source_ip": source_ip,
        "user_agent": user_agent,
    }
    fast = audit_trail.row_of(**fields)
    general = _rows_the_general_way(fields)
    assert fast == _same_event_id(general, fast[0][0])


def test_a_steady_callers_reads_use_its_template() -> None:
    """The template is made once per caller and client, and used by the records after it."""
    fields = {
        "service": "iam",
        "operation": "GetUser",
        "account_id": ACCOUNT,
        "read_only": True,
        "caller": USER,
        "access_key_id": USER.access_key_id,
        "output": None,
        "region": "us-east-1",
        "source_ip": "192.0.2.7",
        "user_agent": "steady/1.0",
    }
    before = audit_trail._read_template.cache_info()
    start = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    rows = [
        audit_trail.row_of(
            **fields, now=start + timedelta(seconds=n), request_id=f"r{n}", parameters={"UserName": f"u{n}"}
        )
        for n in range(5)
    ]
    after = audit_trail._read_template.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 4)
    records = [json.loads(row[-1]) for row, _ in rows]
    assert [r["requestParameters"] for r in records] == [{"userName": f"u{n}"} for n in range(5)]
    assert [r["eventTime"] for r in records] == [f"2026-05-06T07:08:{9 + n:02d}Z" for n in range(5)]
    assert len({row[0] for row, _ in rows}) == 5


def test_no_template_for_a_record_that_is_not_a_plain_read() -> None:
    """A failed call's record, a change's, and one whose values hold a placeholder's text are cut
    by nobody: they are built the general way."""
    base = {
        "eventVersion": "1.11",
        "userIdentity": {"type": "IAMUser"},
        "eventTime": "2026-01-01T00:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "GetUser",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "127.0.0.1",
        "userAgent": "x",
        "requestParameters": None,
        "responseElements": None,
        "requestID": "r",
        "eventID": "e",
        "readOnly": True,
        "eventType": "AwsApiCall",
    }
    assert templates.cut(base) is not None
    assert templates.cut({**base, "readOnly": False}) is None
    failed = dict(base)
    failed["errorCode"] = "AccessDenied"
    assert templates.cut(failed) is None
    assert templates.cut({**base, "responseElements": {"user": {}}}) is None
    assert templates.cut({**base, "resources": [{"type": "AWS::IAM::User", "ARN": "arn"}]}) is None
    assert templates.cut({**base, "userAgent": "\x00ironkeep-template:eventID\x00"}) is None
    missing = dict(base)
    del missing["eventID"]
    assert templates.cut(missing) is None
    reordered = {"requestID": "r", **{k: v for k, v in base.items() if k != "requestID"}}
    assert templates.cut(reordered) is None


def test_parameters_that_cannot_be_a_key_fill_the_template_too() -> None:
    """A read whose parameters hold a list (GetAccountAuthorizationDetails' Filter) or a number
    is filled like any other, and twice the same parameters give their own ids and times."""
    for operation, parameters in [
        ("GetAccountAuthorizationDetails", {"Filter": ["User", "Role"], "MaxItems": 5}),
        ("ListUsers", {"MaxItems": 5}),
        ("ListUsers", {"MaxItems": 5}),
    ]:
        fields = {
            "service": "iam",
            "operation": operation,
            "now": datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC),
            "request_id": "r1",
            "account_id": ACCOUNT,
            "read_only": True,
            "caller": USER,
            "access_key_id": USER.access_key_id,
            "parameters": parameters,
            "output": None,
            "region": "us-east-1",
            "source_ip": "192.0.2.7",
            "user_agent": "steady/1.0",
        }
        fast = audit_trail.row_of(**fields)
        assert fast == _same_event_id(_rows_the_general_way(fields), fast[0][0])
        assert json.loads(fast[0][-1])["requestParameters"] == {
            key[:1].lower() + key[1:]: value for key, value in parameters.items()
        }
