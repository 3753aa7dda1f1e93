"""The audit trail's fast paths agree with the general derivations they stand in for: the index rows
of ``_event_row`` with :func:`index_fields`, the plain request parameters with
:func:`request_parameters`, the cached ``eventTime`` text with formatting each time, and the rows
``PreparedInsert`` binds once per batch with the values read back from both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from botocore.model import ListShape, MapShape, StructureShape
from sqlalchemy import select

from ironkeep.audit import elements, records
from ironkeep.audit.lookup import index_fields
from ironkeep.audit.records import Caller, CallRecordInput, ResourceRef, SessionIssuer, build_record
from ironkeep.protocol.json_protocol import json_service_model
from ironkeep.protocol.models import service_model
from ironkeep.services import audit_trail
from ironkeep.services.audit_trail import _LENGTH, _VALUE_LENGTH, _event_row, _fit
from ironkeep.store import schema

ACCOUNT = "123456789012"
WHEN = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
LONG = "x" * 3000
ALICE = Caller(
    "IAMUser",
    principal_id="AIDAEXAMPLEALICE0001",
    arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
    account_id=ACCOUNT,
    user_name="alice",
)
SESSION = Caller(
    "AssumedRole",
    principal_id="AROA1:ops",
    arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/ops",
    account_id=ACCOUNT,
    session_issuer=SessionIssuer("Role", "AROA1", f"arn:aws:iam::{ACCOUNT}:role/Admin", ACCOUNT, "Admin"),
    session_created=WHEN - timedelta(minutes=5),
    mfa_authenticated=True,
)
SAME_NAME = Caller(  # a session named as its role: one username row
    "AssumedRole",
    principal_id="AROA1:Admin",
    arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/Admin",
    account_id=ACCOUNT,
    session_issuer=SessionIssuer("Role", "AROA1", f"arn:aws:iam::{ACCOUNT}:role/Admin", ACCOUNT, "Admin"),
)
ROOT = Caller("Root", principal_id=ACCOUNT, arn=f"arn:aws:iam::{ACCOUNT}:root", account_id=ACCOUNT)
FEDERATED = Caller(
    "FederatedUser",
    principal_id=f"{ACCOUNT}:bob",
    arn=f"arn:aws:sts::{ACCOUNT}:federated-user/bob",
    account_id=ACCOUNT,
    session_issuer=SessionIssuer("IAMUser", "AIDA2", f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, "alice"),
)
LONG_NAME = Caller(
    "IAMUser",
    principal_id="AIDA3",
    arn=f"arn:aws:iam::{ACCOUNT}:user/{LONG}",
    account_id=ACCOUNT,
    user_name=LONG,
)


def call(operation: str, caller: Caller | None = ALICE, **fields: Any) -> CallRecordInput:
    base: dict[str, Any] = {
        "service": "iam",
        "operation": operation,
        "time": WHEN,
        "request_id": "5c9e1a3e-0000-4000-8000-000000000001",
        "recipient_account_id": ACCOUNT,
        "read_only": operation.startswith(("Get", "List")),
        "caller": caller,
        "access_key_id": "AKIAEXAMPLEALICE0001" if caller is not None else None,
        "region": "us-east-1",
        "source_ip": "203.0.113.7",
        "user_agent": "aws-cli/2.15.0 \u00e9\u4e2d",
    }
    base.update(fields)
    return CallRecordInput(**base)


ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
CALLS = [
    call("GetUser", parameters={"UserName": "alice"}),
    call("GetUser", parameters={}),
    call("GetUser", SESSION, parameters={"UserName": "b\u00f6b"}),
    call("GetUser", SAME_NAME),
    call("GetUser", ROOT, access_key_id=None),
    call("GetUser", FEDERATED, access_key_id="ASIA" + "K" * 200),  # a key longer than its column
    call("GetUser", LONG_NAME, parameters={"UserName": LONG}),
    call("GetUser", None, error_code="InvalidClientTokenId", error_message="The security token is invalid"),
    call("GetUser", None, access_key_id="AKIA\x00NUL", error_code="SignatureDoesNotMatch", error_message="x"),
    call("ListUsers", parameters={"MaxItems": 5, "PathPrefix": "/eng/"}),
    call(
        "GetRole",
        parameters={"RoleName": "Admin"},
        resources=(ResourceRef("AWS::IAM::Role", ROLE_ARN, ACCOUNT),),
    ),
    call(
        "AttachRolePolicy",
        parameters={"RoleName": "Admin", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    ),
    call(
        "CreateRole",
        parameters={"RoleName": "r", "AssumeRolePolicyDocument": "{}"},
        output={"Role": {"Arn": ROLE_ARN}},
    ),
    call(
        "GetRole",
        parameters={"RoleName": "x"},
        resources=(
            ResourceRef("AWS::IAM::Role", f"arn:aws:iam::{ACCOUNT}:role/{LONG}a", ACCOUNT),
            ResourceRef("AWS::IAM::Role", f"arn:aws:iam::{ACCOUNT}:role/{LONG}b", ACCOUNT),  # the same, cut
            ResourceRef("AWS::IAM::Role", f"arn:aws:iam::{ACCOUNT}:role/nu\x00l", ACCOUNT),
        ),
    ),
    call("NoSuchOperation\x00" + LONG, error_code="InvalidAction" + "\x00" * 3 + LONG, error_message="no"),
    call(
        "CreateUser", parameters={"UserName": "u", "Tags": [{"Key": "k", "Value": "v"}]}, output={"User": {}}
    ),
    call(
        "CreateLoginProfile",
        parameters={"UserName": "u", "Password": "hunter2"},
        error_code="E",
        error_message="x",
    ),
    call("GetCallerIdentity", service="sts", region="eu-west-1"),
    call("GetUser", recipient_account_id="9" * 20),
]


def reference_row(record: dict[str, Any]) -> tuple[tuple[Any, ...], list[tuple[str, str, str | None]]]:
    """The index rows as the trail derived them before its fast path: from :func:`index_fields`."""
    fields = index_fields(record)
    row = (
        fields["event_id"],
        _fit(fields["account_id"] or "", _LENGTH["account_id"]),
        fields["event_time"],
        _fit(fields["event_name"] or "", _LENGTH["event_name"]),
        _fit(fields["event_source"] or "", _LENGTH["event_source"]),
        _fit(fields["username"], _LENGTH["username"]),
        _fit(fields["access_key_id"], _LENGTH["access_key_id"]),
        fields["read_only"],
        _fit(record.get("errorCode"), _LENGTH["error_code"]),
        orjson.dumps(record).decode(),
    )
    names = [("username", name) for name in fields["usernames"]]
    names += [("resource_type", value) for value in fields["resource_types"]]
    names += [("resource_name", value) for value in fields["resource_names"]]
    fitted = dict.fromkeys((kind, _fit(value, _VALUE_LENGTH)) for kind, value in names)
    return row, [(fields["event_id"], kind, value) for kind, value in fitted]


def _records() -> list[dict[str, Any]]:
    out = []
    for n, item in enumerate(CALLS):
        item.event_id = f"00000000-0000-7000-8000-{n:012d}"
        out.append(build_record(item))
    out.append({"eventID": "handmade", "eventTime": "2024-05-06T07:08:09Z"})  # nothing else known
    return out


@pytest.mark.parametrize("record", _records(), ids=lambda r: r["eventID"][-4:])
def test_event_rows_equal_those_derived_from_index_fields(record: dict[str, Any]) -> None:
    for _ in range(2):  # the second time from the caches
        assert _event_row(record) == reference_row(record)


def test_a_record_changed_after_a_first_write_gets_the_rows_of_its_new_values() -> None:
    record = build_record(call("GetUser", SESSION))
    _event_row(record)
    record["userIdentity"] = {"type": "IAMUser", "userName": "carol", "accessKeyId": "AKIA2"}
    record["eventTime"] = "2025-01-01T00:00:00Z"
    record["resources"] = [{"type": "AWS::IAM::User", "ARN": f"arn:aws:iam::{ACCOUNT}:user/carol"}]
    assert _event_row(record) == reference_row(record)


def _operations() -> list[tuple[str, str, Any]]:
    out = []
    for service, model in (("iam", service_model("iam")), ("sts", service_model("sts"))):
        for name in model.operation_names:
            out.append((service, name, model.operation_model(name).input_shape))
    model = json_service_model("cloudtrail")
    out += [("cloudtrail", n, model.operation_model(n).input_shape) for n in model.operation_names]
    return out


def _sample(shape: Any, plain_only: bool) -> Any:
    if isinstance(shape, StructureShape):
        return {"Nested": "x"} if plain_only else {n: _sample(m, True) for n, m in shape.members.items()}
    if isinstance(shape, ListShape):
        return ["a", "b"]
    if isinstance(shape, MapShape):
        return {"k": "v"}
    return {
        "integer": 7,
        "long": 8,
        "boolean": False,
        "double": 1.5,
        "float": 2.5,
        "timestamp": WHEN,
        "blob": b"\x00\x01",
    }.get(shape.type_name, "arn:aws:iam::123456789012:role/r \u00e9")


@pytest.mark.parametrize(("service", "operation", "shape"), _operations(), ids=lambda v: str(v)[:40])
def test_plain_request_parameters_equal_the_general_rendering(
    service: str, operation: str, shape: Any
) -> None:
    op = records._operation(service, operation)
    members = shape.members if shape is not None else {}
    cases: list[Any] = [{}, {"Unknown": "x"}]
    for value_kind in (True, False):
        cases.append({n: _sample(m, value_kind) for n, m in members.items()})
    for name, member in members.items():
        cases.append({name: _sample(member, True)})
        cases.append({name: None})
        cases.append({name: [1]})  # a value that does not fit its member
        cases.append({name: {"a": 1}})
        cases.append({name: ("t",)})
    for params in cases:
        expected = elements.request_parameters(service, operation, params)
        assert records._request_parameters(op, service, operation, params) == expected, params


def test_event_times_equal_formatting_each_time() -> None:
    def formatted(value: datetime) -> str:
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"

    times = [WHEN + timedelta(microseconds=250_000 * n) for n in range(12)]  # several per second
    times += [
        WHEN - timedelta(microseconds=1),
        WHEN.replace(microsecond=0),
        WHEN.replace(microsecond=999_999),
    ]
    times += [WHEN.astimezone(timezone(timedelta(hours=-7))), WHEN.replace(tzinfo=None)]
    times += [datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)]
    times += [datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC)]
    for value in times + times[::-1]:
        assert records.iso_time(value) == formatted(value), value


def test_rows_written_equal_the_rows_derived_on_both_stores(store, account) -> None:
    """Records of one second share their event_time object, bound once per batch: what each store
    holds is what the general derivation gives, record by record."""
    batch = []
    for n in range(30):
        item = call("GetUser", (ALICE, SESSION, ROOT, None)[n % 4], parameters={"UserName": f"u{n}"})
        item.time = WHEN + timedelta(milliseconds=90 * n)  # three seconds
        item.recipient_account_id = account
        batch.append(build_record(item))
    batch += _records()[:-1]
    with store.transaction() as tx:
        audit_trail.write_many(tx, batch)
    events, names = schema.audit_events, schema.audit_event_names
    with store.transaction(write=False) as tx:
        stored = {row.event_id: tuple(row) for row in tx.execute(select(*events.c))}
        stored_names = sorted(tuple(row) for row in tx.execute(select(*names.c)))
    expected_names = []
    for record in batch:
        row, name_rows = reference_row(record)
        assert stored[row[0]] == row
        expected_names += name_rows
    assert stored_names == sorted(expected_names)
