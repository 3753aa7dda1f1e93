"""CloudTrail LookupEvents: through boto3 and the AWS CLI against the real server, and its SQL
against the in-memory reference (ironkeep.audit.lookup.lookup_events) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iam_helpers import allow, policy
from ironkeep.audit.lookup import LOOKUP_ATTRIBUTE_KEYS, lookup_events, parse_lookup, record_texts
from ironkeep.services import audit_trail
from ironkeep.services.audit_retention import Pruner, RetentionSettingError, prune, retention_days
from ironkeep.services.cloudtrail_lookup import derive_token_key, lookup

# ------------------------------------------------------------------------------------------------
# helpers


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def new_user(server: Any, prefix: str = "trail") -> tuple[str, str, str]:
    iam = server.client("iam")
    name = unique(prefix)
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, key["AccessKeyId"], key["SecretAccessKey"]


def lookup_all(cloudtrail: Any, key: str, value: str, page_size: int = 50, **extra: Any) -> list[dict]:
    """Every event matching one attribute, through boto3's paginator."""
    pages = cloudtrail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}],
        PaginationConfig={"PageSize": page_size},
        **extra,
    )
    return [event for page in pages for event in page["Events"]]


def record_of(event: dict) -> dict:
    return json.loads(event["CloudTrailEvent"])


def assert_newest_first(events: list[dict]) -> None:
    keys = [(e["EventTime"], e["EventId"]) for e in events]
    assert keys == sorted(keys, reverse=True)
    assert len({e["EventId"] for e in events}) == len(events)


# ------------------------------------------------------------------------------------------------
# through boto3 and the AWS CLI


def test_denied_call_is_in_the_trail(server):
    name, key, secret = new_user(server, "denied")
    with pytest.raises(ClientError) as excinfo:
        server.client("iam", key=key, secret=secret).list_users()
    assert code(excinfo) == "AccessDenied"
    message = excinfo.value.response["Error"]["Message"]

    events = lookup_all(server.client("cloudtrail"), "Username", name)
    denied = [e for e in events if e["EventName"] == "ListUsers"]
    assert len(denied) == 1
    event = denied[0]
    assert event["Username"] == name
    assert event["AccessKeyId"] == key
    assert event["ReadOnly"] == "true"
    assert event["EventSource"] == "iam.amazonaws.com"
    record = record_of(event)
    assert record["errorCode"] == "AccessDenied"
    assert record["errorMessage"] == message
    assert record["userIdentity"]["type"] == "IAMUser"
    assert record["userIdentity"]["arn"] == f"arn:aws:iam::{server.account_id}:user/{name}"
    assert record["eventID"] == event["EventId"]

    # the same event through the AWS CLI, found by its access key
    result = server.aws(
        "cloudtrail", "lookup-events", "--lookup-attributes", f"AttributeKey=AccessKeyId,AttributeValue={key}"
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)["Events"]
    assert event["EventId"] in [e["EventId"] for e in found]
    assert all(e["AccessKeyId"] == key for e in found)


def test_record_carries_the_callers_address_and_user_agent(server):
    """sourceIPAddress and userAgent come from the HTTP request itself (the client's socket and
    its User-Agent header), for a read and for a change."""
    name, key, secret = new_user(server, "agent")
    iam = server.client("iam")
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=policy(allow("iam:GetUser")))
    user = server.client("iam", key=key, secret=secret)
    # botocore does not sign User-Agent: it may be set on the prepared request
    user.meta.events.register(
        "before-send.iam.GetUser",
        lambda request, **_: request.headers.__setitem__("User-Agent", "agent-x/1.0"),
    )
    user.get_user(UserName=name)
    events = [
        e for e in lookup_all(server.client("cloudtrail"), "AccessKeyId", key) if e["EventName"] == "GetUser"
    ]
    assert len(events) == 1
    record = record_of(events[0])
    assert record["sourceIPAddress"] == "127.0.0.1"
    assert record["userAgent"] == "agent-x/1.0"
    change = [
        e
        for e in lookup_all(server.client("cloudtrail"), "EventName", "PutUserPolicy")
        if e["Username"] != name
    ]
    mine = [record_of(e) for e in change if record_of(e)["requestParameters"].get("userName") == name]
    assert len(mine) == 1
    assert mine[0]["sourceIPAddress"] == "127.0.0.1"
    assert mine[0]["userAgent"].startswith("Boto3/")


def test_failed_authentication_is_in_the_trail(server):
    cloudtrail = server.client("cloudtrail")
    unknown = "AKIA" + secrets.token_hex(8).upper()
    with pytest.raises(ClientError) as excinfo:
        server.client("iam", key=unknown, secret="x" * 40).list_users()
    assert code(excinfo) == "InvalidClientTokenId"
    events = lookup_all(cloudtrail, "AccessKeyId", unknown)
    assert len(events) == 1
    record = record_of(events[0])
    assert record["errorCode"] == "InvalidClientTokenId"
    assert record["errorMessage"] == excinfo.value.response["Error"]["Message"]
    assert record["userIdentity"]["accessKeyId"] == unknown
    assert record["recipientAccountId"] == server.account_id

    _, key, _ = new_user(server, "badsig")
    with pytest.raises(ClientError) as excinfo:
        server.client("iam", key=key, secret="not-" + secrets.token_hex(18)).get_user()
    assert code(excinfo) == "SignatureDoesNotMatch"
    events = lookup_all(cloudtrail, "AccessKeyId", key)
    assert [record_of(e)["errorCode"] for e in events] == ["SignatureDoesNotMatch"]
    assert events[0]["EventName"] == "GetUser"


def test_lookup_attributes_filter(server):
    iam, cloudtrail = server.client("iam"), server.client("cloudtrail")
    since = datetime.now(UTC) - timedelta(seconds=2)
    name = unique("filtered")
    arn = iam.create_user(UserName=name)["User"]["Arn"]

    by_name = lookup_all(cloudtrail, "ResourceName", name)  # the short name or the ARN
    assert [e["EventName"] for e in by_name] == ["CreateUser"]
    assert [e["EventId"] for e in lookup_all(cloudtrail, "ResourceName", arn)] == [
        e["EventId"] for e in by_name
    ]
    created = by_name[0]
    assert created["Resources"] == [{"ResourceType": "AWS::IAM::User", "ResourceName": arn}]
    assert created["Username"] == "root" and created["ReadOnly"] == "false"

    assert [e["EventId"] for e in lookup_all(cloudtrail, "EventId", created["EventId"])] == [
        created["EventId"]
    ]
    assert lookup_all(cloudtrail, "EventId", str(uuid.uuid4())) == []

    for key, value, member in [
        ("EventName", "CreateUser", "EventName"),
        ("ReadOnly", "false", "ReadOnly"),
        ("EventSource", "iam.amazonaws.com", "EventSource"),
        ("Username", "root", "Username"),
        ("AccessKeyId", server.access_key_id, "AccessKeyId"),
    ]:
        events = lookup_all(cloudtrail, key, value, StartTime=since)
        assert created["EventId"] in [e["EventId"] for e in events], key
        assert all(e[member] == value for e in events), key
        assert_newest_first(events)
    typed = lookup_all(cloudtrail, "ResourceType", "AWS::IAM::User", StartTime=since)
    assert created["EventId"] in [e["EventId"] for e in typed]
    assert all(any(r["ResourceType"] == "AWS::IAM::User" for r in e["Resources"]) for e in typed)
    # values are compared exactly: another case finds nothing
    assert lookup_all(cloudtrail, "ResourceName", name.upper()) == []
    # StartTime/EndTime are inclusive; a window before the calls finds none of them
    before = lookup_all(cloudtrail, "ResourceName", name, EndTime=since - timedelta(seconds=1))
    assert before == []


def test_pages_return_every_event_once_newest_first(server):
    name, key, secret = new_user(server, "pager")
    user_iam = server.client("iam", key=key, secret=secret)
    calls = [user_iam.list_users, user_iam.list_roles, user_iam.list_groups] * 3
    for call in calls:
        with pytest.raises(ClientError):
            call()
    cloudtrail = server.client("cloudtrail")
    attributes = [{"AttributeKey": "Username", "AttributeValue": name}]

    seen: list[dict] = []
    page = cloudtrail.lookup_events(LookupAttributes=attributes, MaxResults=2)
    sizes = [len(page["Events"])]
    seen += page["Events"]
    while "NextToken" in page:
        page = cloudtrail.lookup_events(
            LookupAttributes=attributes, MaxResults=2, NextToken=page["NextToken"]
        )
        sizes.append(len(page["Events"]))
        seen += page["Events"]
    assert len(seen) == len(calls) and sizes == [2, 2, 2, 2, 1]
    assert_newest_first(seen)
    assert sorted(e["EventName"] for e in seen) == sorted(["ListUsers", "ListRoles", "ListGroups"] * 3)

    by_paginator = lookup_all(cloudtrail, "Username", name, page_size=4)
    assert [e["EventId"] for e in by_paginator] == [e["EventId"] for e in seen]

    result = server.aws(
        "cloudtrail", "lookup-events", "--page-size", "3",
        "--lookup-attributes", f"AttributeKey=Username,AttributeValue={name}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [e["EventId"] for e in json.loads(result.stdout)["Events"]] == [e["EventId"] for e in seen]


def test_next_token_must_come_with_the_same_parameters(server):
    name, key, secret = new_user(server, "tokens")
    for _ in range(3):
        with pytest.raises(ClientError):
            server.client("iam", key=key, secret=secret).list_users()
    cloudtrail = server.client("cloudtrail")
    attributes = [{"AttributeKey": "Username", "AttributeValue": name}]
    token = cloudtrail.lookup_events(LookupAttributes=attributes, MaxResults=1)["NextToken"]
    # the page size may change between pages
    assert (
        len(cloudtrail.lookup_events(LookupAttributes=attributes, MaxResults=5, NextToken=token)["Events"])
        == 2
    )
    other = [{"AttributeKey": "Username", "AttributeValue": name + "x"}]
    for params in (
        {"LookupAttributes": other, "NextToken": token},
        {"LookupAttributes": attributes, "NextToken": token[:-2] + ("AA" if token[-2:] != "AA" else "BB")},
        {"LookupAttributes": attributes, "NextToken": "not-a-token"},
    ):
        with pytest.raises(ClientError) as excinfo:
            cloudtrail.lookup_events(**params)
        assert code(excinfo) == "InvalidNextTokenException"


def test_invalid_parameters(server):
    cloudtrail = server.client("cloudtrail")
    now = datetime.now(UTC)
    with pytest.raises(ClientError) as excinfo:
        cloudtrail.lookup_events(StartTime=now, EndTime=now - timedelta(hours=1))
    assert code(excinfo) == "InvalidTimeRangeException"
    with pytest.raises(ClientError) as excinfo:
        cloudtrail.lookup_events(MaxResults=51)
    assert code(excinfo) == "InvalidMaxResultsException"
    with pytest.raises(ClientError) as excinfo:
        cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": "Nope", "AttributeValue": "x"}])
    assert code(excinfo) == "InvalidLookupAttributesException"
    with pytest.raises(ClientError) as excinfo:
        cloudtrail.lookup_events(EventCategory="other")
    assert code(excinfo) == "InvalidEventCategoryException"
    assert cloudtrail.lookup_events(EventCategory="insight", MaxResults=5)["Events"] == []


def test_reading_the_trail_requires_cloudtrail_lookup_events(server):
    name, key, secret = new_user(server, "reader")
    reader = server.client("cloudtrail", key=key, secret=secret)
    with pytest.raises(ClientError) as excinfo:
        reader.lookup_events(MaxResults=1)
    # AWS sends AccessDeniedException (a JSON-protocol service); the pipeline still says AccessDenied
    assert code(excinfo) in ("AccessDeniedException", "AccessDenied")
    assert "cloudtrail:LookupEvents" in excinfo.value.response["Error"]["Message"]
    # ...and the denied read is itself in the trail
    denied = [
        e
        for e in lookup_all(server.client("cloudtrail"), "Username", name)
        if e["EventName"] == "LookupEvents"
    ]
    assert len(denied) == 1 and denied[0]["EventSource"] == "cloudtrail.amazonaws.com"
    assert record_of(denied[0])["errorCode"] == code(excinfo)

    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}],
    }
    server.client("iam").put_user_policy(
        UserName=name, PolicyName="read-trail", PolicyDocument=json.dumps(policy)
    )
    events = reader.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": name}])[
        "Events"
    ]
    assert any(e["EventName"] == "LookupEvents" for e in events)


# ------------------------------------------------------------------------------------------------
# the SQL against the in-memory reference, on both dialects

ACCOUNTS = ("123456789012", "210987654321")
T0 = datetime(2026, 3, 1, tzinfo=UTC)
KEY = derive_token_key(b"m" * 32)
NAMES = ("alice", "bob", "Alice")
OPERATIONS = ("CreateUser", "GetUser", "ListUsers", "AssumeRole", "TagRole")


def _record(rng: random.Random, index: int) -> dict[str, Any]:
    account = ACCOUNTS[index % 5 == 0]
    who = rng.choice((*NAMES, "root", "Admin/ops", None))
    identity: dict[str, Any]
    if who is None:
        identity = {"type": "Unknown", "accessKeyId": rng.choice(("AKIAX", "AKIAY"))}
    elif who == "root":
        identity = {"type": "Root", "arn": f"arn:aws:iam::{account}:root", "accessKeyId": "AKIAROOT"}
    elif "/" in who:
        identity = {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{account}:assumed-role/{who}",
            "accessKeyId": "ASIAOPS",
            "sessionContext": {"sessionIssuer": {"type": "Role", "userName": who.split("/")[0]}},
        }
    else:
        identity = {
            "type": "IAMUser",
            "userName": who,
            "arn": f"arn:aws:iam::{account}:user/{who}",
            "accessKeyId": f"AKIA{who.upper()}",
        }
    operation = rng.choice(OPERATIONS)
    resources = []
    if rng.random() < 0.6:
        kind, prefix = rng.choice((("AWS::IAM::User", "user"), ("AWS::IAM::Role", "role")))
        resources.append({"type": kind, "ARN": f"arn:aws:iam::{account}:{prefix}/{rng.choice(NAMES)}"})
    when = T0 + timedelta(seconds=rng.randrange(40), milliseconds=rng.randrange(1000))  # many ties
    record = {
        "eventVersion": "1.11",
        "userIdentity": identity,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "sts.amazonaws.com" if operation == "AssumeRole" else "iam.amazonaws.com",
        "eventName": operation,
        # as the trail makes them (the millisecond of the event, then random bits); or, as an older
        # trail's rows have them, random
        "eventID": _v7(when, rng) if index % 4 else str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "readOnly": operation.startswith(("Get", "List")),
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if resources:
        record["resources"] = resources
    return record


def _v7(when: datetime, rng: random.Random) -> str:
    """An event id as :func:`ironkeep.audit.records.event_id_at` makes it, from ``rng``."""
    ms = (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    return str(uuid.UUID(int=ms << 80 | 7 << 76 | rng.getrandbits(12) << 64 | 2 << 62 | rng.getrandbits(62)))


def _repeats(rng: random.Random, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records alike but for their ids (and their milliseconds): the trail writes them as runs."""
    out = []
    for record in records[::7]:
        if record["eventID"][14] == "7":
            when = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
            out += [{**record, "eventID": _v7(when + timedelta(milliseconds=rng.randrange(1000)), rng)}
                    for _ in range(3)]  # fmt: skip
    return out


_RNG = random.Random(20260301)
RECORDS = [_record(_RNG, i) for i in range(160)]
RECORDS += _repeats(_RNG, RECORDS)
VALUES = {
    "EventId": [
        RECORDS[3]["eventID"],  # as the trail makes ids
        RECORDS[-1]["eventID"],  # one of a run
        RECORDS[4]["eventID"],  # as an older trail made them
        str(uuid.UUID(int=1)),
        _v7(T0 + timedelta(seconds=5), _RNG),  # of a second with records, but none of them
    ],
    "EventName": [*OPERATIONS, "createuser"],
    "ReadOnly": ["true", "false", "TRUE", "maybe"],
    "Username": [*NAMES, "root", "Admin", "ops", "carol"],
    "ResourceType": ["AWS::IAM::User", "AWS::IAM::Role", "AWS::IAM::Group"],
    "ResourceName": [*NAMES, f"arn:aws:iam::{ACCOUNTS[0]}:user/bob", "user/bob"],
    "EventSource": ["iam.amazonaws.com", "sts.amazonaws.com"],
    "AccessKeyId": ["AKIAX", "AKIAROOT", "ASIAOPS", "AKIABOB", "akiabob"],
}


@st.composite
def lookup_params(draw: st.DrawFn) -> dict[str, Any]:
    params: dict[str, Any] = {"MaxResults": draw(st.integers(1, 50))}
    key = draw(st.none() | st.sampled_from(LOOKUP_ATTRIBUTE_KEYS))
    if key is not None:
        params["LookupAttributes"] = [
            {"AttributeKey": key, "AttributeValue": draw(st.sampled_from(VALUES[key]))}
        ]
    seconds = st.integers(-2, 42).map(lambda s: T0 + timedelta(seconds=s))
    start, end = draw(st.none() | seconds), draw(st.none() | seconds)
    if start is not None and end is not None and start > end:
        start, end = end, start
    if start is not None:
        params["StartTime"] = start
    if end is not None:
        params["EndTime"] = end
    return params


def _pages(run: Any, params: dict[str, Any]) -> list[list[str]]:
    pages: list[list[str]] = []
    for _ in range(len(RECORDS) + 1):  # a page holds at least one event
        out = run(params)
        pages.append([e["EventId"] for e in out["Events"]])
        if "NextToken" not in out:
            return pages
        params = {**params, "NextToken": out["NextToken"]}
    raise AssertionError("the pages never end")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=lookup_params(), account=st.sampled_from(ACCOUNTS))
def test_sql_pages_match_the_reference(trail_store, params, account):
    scope = f"account:{account}"
    mine = [r for r in RECORDS if r["recipientAccountId"] == account]

    def reference(p: dict[str, Any]) -> dict[str, Any]:
        return lookup_events(mine, parse_lookup(p, KEY, scope), KEY, scope)

    def sql(p: dict[str, Any]) -> dict[str, Any]:
        with trail_store.transaction(write=False) as tx:
            return lookup(tx, account, p, KEY)

    expected = _pages(reference, params)
    assert _pages(sql, params) == expected
    flat = [event_id for page in expected for event_id in page]
    assert len(flat) == len(set(flat))


def test_every_event_is_found_by_its_id(trail_store):
    """EventId finds each record alone, whether it has a row of its own or is one of a run."""
    with trail_store.transaction(write=False) as tx:
        for record in RECORDS:
            attributes = [{"AttributeKey": "EventId", "AttributeValue": record["eventID"]}]
            found = lookup(tx, record["recipientAccountId"], {"LookupAttributes": attributes}, KEY)
            assert [e["EventId"] for e in found["Events"]] == [record["eventID"]]
            assert json.loads(found["Events"][0]["CloudTrailEvent"]) == record
            when = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
            for start, end, shown in (
                (when, when, 1),
                (when + timedelta(seconds=1), None, 0),
                (None, when - timedelta(seconds=1), 0),
            ):
                bounded = {
                    "LookupAttributes": attributes,
                    **({"StartTime": start} if start else {}),
                    **({"EndTime": end} if end else {}),
                }
                found = lookup(tx, record["recipientAccountId"], bounded, KEY)
                assert len(found["Events"]) == shown


def test_an_event_id_is_looked_up_in_its_indexes(store):
    """On SQLite, the rows that may hold an event id are found through the event-id index and the
    account's time index at that second, not by walking every row of the account."""
    if store.dialect != "sqlite":
        pytest.skip("SQLite's query plan")
    from ironkeep.audit.records import event_id_at
    from ironkeep.services.cloudtrail_lookup import event_statement

    statement = event_statement(ACCOUNTS[0], event_id_at(T0))
    sql = str(statement.compile(store.engine, compile_kwargs={"literal_binds": True}))
    with store.engine.connect() as connection:
        plan = [row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    searches = [step for step in plan if step.startswith(("SEARCH", "SCAN"))]
    assert len(searches) == 2 and all(step.startswith("SEARCH") for step in searches), plan
    assert "(event_id=?)" in searches[0] and "(account_id=? AND event_time=?" in searches[1], plan


@pytest.mark.parametrize("account", ACCOUNTS)
def test_export_gives_every_record_of_a_range_oldest_first(trail_store, account):
    """``ironkeep audit export``'s reading of the trail: by time, then event id, runs or rows."""
    from ironkeep.audit_export import records

    start, end = T0 + timedelta(seconds=5), T0 + timedelta(seconds=30)
    expected = sorted(
        (r for r in RECORDS if r["recipientAccountId"] == account and "00:00:05Z" <= r["eventTime"][-9:] <= "00:00:30Z"),
        key=lambda r: (r["eventTime"], r["eventID"]),
    )  # fmt: skip
    assert [json.loads(text) for text in records(trail_store, start, end, account)] == expected


def test_retention_prunes_old_events_and_their_names(trail_store):
    with trail_store.transaction(write=False) as tx:
        before = lookup(
            tx,
            ACCOUNTS[0],
            {"LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "alice"}]},
            KEY,
        )
    assert before["Events"]
    now = T0 + timedelta(days=90, seconds=20)  # events of the first 20 seconds are older than 90 days
    removed = prune(trail_store, now, 90, batch=7)
    old = [r for r in RECORDS if r["eventTime"] < (T0 + timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert removed == len(old) > 0
    from sqlalchemy import func, select

    from ironkeep.store import schema as t

    with trail_store.transaction(write=False) as tx:
        left = set(tx.execute(select(t.audit_events.c.event_id)).scalars())
        orphans = tx.execute(
            select(func.count())
            .select_from(t.audit_event_names)
            .where(t.audit_event_names.c.event_id.not_in(left))
        ).scalar()
    assert stored_ids(trail_store) == {r["eventID"] for r in RECORDS} - {r["eventID"] for r in old}
    assert orphans == 0
    assert prune(trail_store, now, 90) == 0
    assert prune(trail_store, now + timedelta(days=3650), 0) == 0  # 0 keeps every event


def test_pruner_prunes_at_start_in_its_own_thread(trail_store):
    from sqlalchemy import func, select

    from ironkeep.store import schema as t

    def count() -> int:
        with trail_store.transaction(write=False) as tx:
            return int(tx.execute(select(func.count()).select_from(t.audit_events)).scalar() or 0)

    assert len(stored_ids(trail_store)) == len(RECORDS) and count() > 0
    pruner = Pruner(trail_store, 1, clock=lambda: T0 + timedelta(days=2)).start()
    try:
        deadline = time.monotonic() + 10
        while count() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert count() == 0
    finally:
        pruner.stop()


def test_retention_setting():
    assert retention_days({}) == 90
    assert retention_days({"IRONKEEP_AUDIT_RETENTION_DAYS": "30"}) == 30
    assert retention_days({"IRONKEEP_AUDIT_RETENTION_DAYS": "0"}) == 0
    for bad in ("-1", "ninety", "1.5"):
        with pytest.raises(RetentionSettingError):
            retention_days({"IRONKEEP_AUDIT_RETENTION_DAYS": bad})


@pytest.fixture(params=["rows", "runs"])
def trail_store(store, request):
    """The store holding RECORDS: a row each, or as the batch writer writes them, records alike
    but for their ids merged into runs (ids of an older trail's kind stay in rows of their own,
    as the writer never made runs of them)."""
    with store.transaction() as tx:
        if request.param == "rows":
            audit_trail.write_many(tx, RECORDS)
        else:
            new = [audit_trail._event_row(r) for r in RECORDS if r["eventID"][14] == "7"]
            assert len(audit_trail._runs(new)) < len(new)  # some runs are made
            audit_trail.write_many(tx, [r for r in RECORDS if r["eventID"][14] != "7"])
            audit_trail.write_runs(tx, new)
    return store


def stored_ids(store: Any) -> set[str]:
    """The event ids of every record in the store."""
    from sqlalchemy import select

    from ironkeep.store import schema as t

    with store.transaction(write=False) as tx:
        stored = tx.execute(select(t.audit_events.c.record)).scalars()
        return {json.loads(text)["eventID"] for value in stored for text in record_texts(value)}
