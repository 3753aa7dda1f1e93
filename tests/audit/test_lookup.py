"""CloudTrail LookupEvents over records built by :func:`build_record`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.parsers import create_parser
from hypothesis import given, settings
from hypothesis import strategies as st

from ironkeep.audit.lookup import (
    Cursor,
    InvalidEventCategoryException,
    InvalidLookupAttributesException,
    InvalidMaxResultsException,
    InvalidNextTokenException,
    InvalidTimeRangeException,
    LookupQuery,
    attribute_length,
    index_fields,
    lookup_events,
    make_token,
    order_key,
    parse_lookup,
    read_token,
    summary_event,
)
from ironkeep.audit.records import Caller, CallRecordInput, SessionIssuer, build_record
from ironkeep.protocol.json_protocol import json_service_model, render_json_response

KEY = b"k" * 32
ACCOUNT = "123456789012"
T0 = datetime(2024, 5, 1, tzinfo=UTC)
ALICE = Caller(
    "IAMUser",
    principal_id="AIDA1",
    arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
    account_id=ACCOUNT,
    user_name="alice",
)
OPS = Caller(
    "AssumedRole",
    principal_id="AROA1:ops-session",
    arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/ops-session",
    account_id=ACCOUNT,
    session_issuer=SessionIssuer("Role", "AROA1", f"arn:aws:iam::{ACCOUNT}:role/Admin", ACCOUNT, "Admin"),
    session_created=T0,
)
ROOT = Caller("Root", principal_id=ACCOUNT, arn=f"arn:aws:iam::{ACCOUNT}:root", account_id=ACCOUNT)


def record(
    minutes: int,
    operation: str = "CreateUser",
    caller: Caller | None = ALICE,
    key: str | None = "AKIAALICE",
    read_only: bool = False,
    service: str = "iam",
    params: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    extra = {"event_id": event_id} if event_id else {}
    return build_record(
        CallRecordInput(
            service=service,
            operation=operation,
            time=T0 + timedelta(minutes=minutes),
            request_id=f"r{minutes}",
            recipient_account_id=ACCOUNT,
            read_only=read_only,
            parameters=params or {},
            caller=caller,
            access_key_id=key,
            **extra,
        )
    )


RECORDS = [
    record(1, "CreateUser", params={"UserName": "bob"}, event_id="e1"),
    record(2, "ListUsers", read_only=True, event_id="e2"),
    record(
        3,
        "AttachRolePolicy",
        caller=OPS,
        key="ASIAOPS",
        params={"RoleName": "Admin", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/Deploy"},
        event_id="e3",
    ),
    record(
        4,
        "AssumeRole",
        service="sts",
        read_only=True,
        params={"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/Admin", "RoleSessionName": "ops-session"},
        event_id="e4",
    ),
    record(5, "GetAccountSummary", caller=ROOT, key="AKIAROOT", read_only=True, event_id="e5"),
]


def ids(query: LookupQuery, records: list[dict[str, Any]] = RECORDS) -> list[str]:
    return [e["EventId"] for e in lookup_events(records, query, KEY)["Events"]]


def q(key: str | None = None, value: str | None = None, **params: Any) -> LookupQuery:
    if key is not None:
        params["LookupAttributes"] = [{"AttributeKey": key, "AttributeValue": value}]
    return parse_lookup(params, KEY)


def test_newest_first_without_filters() -> None:
    assert ids(q()) == ["e5", "e4", "e3", "e2", "e1"]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("EventId", "e3", ["e3"]),
        ("EventName", "CreateUser", ["e1"]),
        ("EventName", "createuser", []),  # exact and case-sensitive
        ("ReadOnly", "true", ["e5", "e4", "e2"]),
        ("ReadOnly", "false", ["e3", "e1"]),
        ("Username", "alice", ["e4", "e2", "e1"]),
        ("Username", "Admin", ["e3"]),  # the role name
        ("Username", "ops-session", ["e3"]),  # the role session name
        ("Username", "root", ["e5"]),
        ("AccessKeyId", "ASIAOPS", ["e3"]),
        ("EventSource", "sts.amazonaws.com", ["e4"]),
        ("ResourceType", "AWS::IAM::Policy", ["e3"]),
        ("ResourceType", "AWS::IAM::Role", ["e4"]),
        ("ResourceName", "Deploy", ["e3"]),
        ("ResourceName", f"arn:aws:iam::{ACCOUNT}:role/Admin", ["e4"]),
        ("ResourceName", "nothing", []),
    ],
)
def test_attribute_filters(key: str, value: str, expected: list[str]) -> None:
    assert ids(q(key, value)) == expected


def test_only_the_first_attribute_is_honoured() -> None:
    query = parse_lookup(
        {
            "LookupAttributes": [
                {"AttributeKey": "EventName", "AttributeValue": "CreateUser"},
                {"AttributeKey": "Username", "AttributeValue": "root"},
            ]
        },
        KEY,
    )
    assert ids(query) == ["e1"]


def test_time_range_is_inclusive() -> None:
    start, end = T0 + timedelta(minutes=2), T0 + timedelta(minutes=4)
    assert ids(q(StartTime=start, EndTime=end)) == ["e4", "e3", "e2"]
    assert ids(q(StartTime=end, EndTime=end)) == ["e4"]
    assert ids(q(EndTime=start)) == ["e2", "e1"]
    with pytest.raises(InvalidTimeRangeException):
        q(StartTime=end, EndTime=start)


def test_insight_category_returns_no_management_events() -> None:
    assert ids(q(EventCategory="insight")) == []
    with pytest.raises(InvalidEventCategoryException):
        q(EventCategory="management")


@pytest.mark.parametrize("value", [0, 51, -1, "10", True, 2.5])
def test_max_results_must_be_1_to_50(value: Any) -> None:
    with pytest.raises(InvalidMaxResultsException):
        q(MaxResults=value)


def test_max_results_default_and_bounds() -> None:
    assert q().max_results == 50
    assert q(MaxResults=1).max_results == 1
    assert q(MaxResults=50).max_results == 50


@pytest.mark.parametrize(
    "attributes",
    [
        [{"AttributeKey": "UserName", "AttributeValue": "x"}],
        [{"AttributeKey": "EventName", "AttributeValue": ""}],
        [{"AttributeKey": "EventName"}],
        ["EventName"],
        {"AttributeKey": "EventName", "AttributeValue": "x"},
        [{"AttributeKey": "EventName", "AttributeValue": "_" * 1001}],
    ],
)
def test_invalid_lookup_attributes(attributes: Any) -> None:
    with pytest.raises(InvalidLookupAttributesException):
        parse_lookup({"LookupAttributes": attributes}, KEY)


def test_attribute_length_counts_some_characters_twice() -> None:
    assert attribute_length("a_b c,d\n") == 12
    parse_lookup({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "_" * 1000}]}, KEY)
    parse_lookup({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "a" * 2000}]}, KEY)
    assert q(LookupAttributes=[]).attribute_key is None


def test_paging_with_next_token() -> None:
    first = lookup_events(RECORDS, q(MaxResults=2), KEY)
    assert [e["EventId"] for e in first["Events"]] == ["e5", "e4"]
    second = lookup_events(RECORDS, q(MaxResults=2, NextToken=first["NextToken"]), KEY)
    assert [e["EventId"] for e in second["Events"]] == ["e3", "e2"]
    # the page size may change between pages; the filters may not
    third = lookup_events(RECORDS, q(MaxResults=5, NextToken=second["NextToken"]), KEY)
    assert [e["EventId"] for e in third["Events"]] == ["e1"]
    assert "NextToken" not in third
    with pytest.raises(InvalidNextTokenException):
        q("ReadOnly", "true", NextToken=first["NextToken"])
    with pytest.raises(InvalidNextTokenException):
        q(StartTime=T0, NextToken=first["NextToken"])
    with pytest.raises(InvalidNextTokenException):
        parse_lookup({"NextToken": first["NextToken"]}, b"another key")
    with pytest.raises(InvalidNextTokenException):
        parse_lookup({"NextToken": first["NextToken"]}, KEY, scope="999999999999/us-east-1")


def test_exactly_a_full_page_has_no_next_token() -> None:
    assert "NextToken" not in lookup_events(RECORDS, q(MaxResults=5), KEY)
    assert "NextToken" in lookup_events(RECORDS, q(MaxResults=4), KEY)


@settings(max_examples=150, deadline=None)
@given(token=st.text(max_size=80))
def test_arbitrary_tokens_are_rejected(token: str) -> None:
    with pytest.raises(InvalidNextTokenException):
        parse_lookup({"NextToken": token}, KEY)


@settings(max_examples=200, deadline=None)
@given(
    seconds=st.integers(0, 10**9),
    event_id=st.text(max_size=20),
    position=st.integers(0, 10**6),
    replacement=st.characters(),
)
def test_any_altered_token_is_rejected(seconds: int, event_id: str, position: int, replacement: str) -> None:
    query = LookupQuery(attribute_key="EventName", attribute_value="x")
    cursor = Cursor(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=7), event_id)
    token = make_token(cursor, query, KEY)
    assert read_token(token, query, KEY) == cursor
    index = position % len(token)
    altered = token[:index] + replacement + token[index + 1 :]
    if altered != token:
        with pytest.raises(InvalidNextTokenException):
            read_token(altered, query, KEY)


@settings(max_examples=60, deadline=None)
@given(
    times=st.lists(st.integers(0, 30), min_size=0, max_size=25),
    page=st.integers(1, 7),
    read_only=st.sampled_from([None, "true", "false"]),
)
def test_pages_cover_every_match_once_newest_first(
    times: list[int], page: int, read_only: str | None
) -> None:
    records = [record(m, read_only=i % 2 == 0, event_id=f"id-{i:03d}") for i, m in enumerate(times)]
    base: dict[str, Any] = {"MaxResults": page}
    if read_only:
        base["LookupAttributes"] = [{"AttributeKey": "ReadOnly", "AttributeValue": read_only}]
    seen: list[dict[str, Any]] = []
    token = None
    for _ in range(len(records) + 2):
        params = dict(base, **({"NextToken": token} if token else {}))
        response = lookup_events(records, parse_lookup(params, KEY), KEY)
        assert len(response["Events"]) <= page
        seen += response["Events"]
        token = response.get("NextToken")
        if token is None:
            break
    assert token is None
    expected = [r for r in records if read_only is None or str(r["readOnly"]).lower() == read_only]
    expected.sort(key=lambda r: order_key(index_fields(r)), reverse=True)
    assert [e["EventId"] for e in seen] == [r["eventID"] for r in expected]
    times_seen = [e["EventTime"] for e in seen]
    assert times_seen == sorted(times_seen, reverse=True)


def test_summary_event_shape() -> None:
    event = summary_event(RECORDS[2])
    assert event == {
        "EventId": "e3",
        "EventName": "AttachRolePolicy",
        "ReadOnly": "false",
        "AccessKeyId": "ASIAOPS",
        "EventTime": T0 + timedelta(minutes=3),
        "EventSource": "iam.amazonaws.com",
        "Username": "ops-session",
        "Resources": [
            {"ResourceType": "AWS::IAM::Policy", "ResourceName": f"arn:aws:iam::{ACCOUNT}:policy/Deploy"}
        ],
        "CloudTrailEvent": json.dumps(RECORDS[2], separators=(",", ":")),
    }
    assert json.loads(event["CloudTrailEvent"]) == RECORDS[2]
    unknown = summary_event(record(9, caller=None, key=None))
    assert "Username" not in unknown and "AccessKeyId" not in unknown
    assert unknown["Resources"] == []


def test_index_fields_are_the_store_columns() -> None:
    fields = index_fields(RECORDS[2])
    assert fields == {
        "event_id": "e3",
        "event_time": T0 + timedelta(minutes=3),
        "event_name": "AttachRolePolicy",
        "event_source": "iam.amazonaws.com",
        "username": "ops-session",
        "usernames": ("ops-session", "Admin"),
        "access_key_id": "ASIAOPS",
        "read_only": False,
        "resources": (("AWS::IAM::Policy", f"arn:aws:iam::{ACCOUNT}:policy/Deploy"),),
        "resource_types": ("AWS::IAM::Policy",),
        "resource_names": (f"arn:aws:iam::{ACCOUNT}:policy/Deploy", "Deploy"),
        "account_id": ACCOUNT,
        "event_category": "Management",
    }
    assert index_fields(RECORDS[4])["username"] == "root"


def test_lookup_response_goes_over_the_json_wire_to_botocore() -> None:
    response = lookup_events(RECORDS, q(MaxResults=2), KEY)
    body = render_json_response("cloudtrail", "LookupEvents", response)
    shape = json_service_model("cloudtrail").operation_model("LookupEvents").output_shape
    parsed = create_parser("json").parse({"body": body, "headers": {}, "status_code": 200}, shape)
    assert parsed["NextToken"] == response["NextToken"]
    assert [e["EventTime"].timestamp() for e in parsed["Events"]] == [
        (T0 + timedelta(minutes=m)).timestamp() for m in (5, 4)
    ]
    assert json.loads(parsed["Events"][0]["CloudTrailEvent"]) == RECORDS[4]
