"""The credential report: the CSV itself (pure, with hypothesis), the report of a real server's
account read back with Python's csv module and checked against what the test did there, and
the report's lifetime on the handlers.

The wire tests run a server of their own (SQLite and PostgreSQL): a report covers the whole
account, and the shared server's account is full of other tests' users."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import insert, update

from ironkeep.auth.secrets import SecretBox
from ironkeep.auth.totp import code_at
from ironkeep.services import iam_credential_report as report
from ironkeep.services import iam_mfa
from ironkeep.services.context import CallContext, Caller
from ironkeep.store import schema
from ironkeep.store import users as store_users
from serverproc import drop_schema, pg_available, start_server

HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,"
    "cert_2_active,cert_2_last_rotated"
)
T0 = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)


def parse(content: bytes) -> list[dict[str, str]]:
    text = content.decode("utf-8")
    assert text.splitlines()[0] == HEADER
    return list(csv.DictReader(io.StringIO(text)))


def moment(text: str) -> datetime:
    assert text.endswith("+00:00") and len(text) == len("2026-03-04T05:06:07+00:00"), text
    return datetime.fromisoformat(text)


def close_to(text: str, when: datetime, slack: timedelta = timedelta(minutes=2)) -> bool:
    return abs(moment(text) - when) < slack


# ---------------------------------------------------------------------------------------------
# the CSV (pure)


def test_rows_follow_aws_conventions():
    key_used = report.Credential(True, T0, T0 + timedelta(days=1), "eu-west-1", "iam")
    key_idle = report.Credential(False, T0 + timedelta(hours=1))
    cert = report.Credential(True, T0 + timedelta(days=2))
    subjects = [
        report.Subject("<root_account>", "arn:aws:iam::123456789012:root", T0, is_root=True, mfa_active=True),
        report.Subject(
            "alice",
            "arn:aws:iam::123456789012:user/alice",
            T0,
            password_changed=T0 + timedelta(days=3),
            password_last_used=T0 + timedelta(days=4),
            keys=(key_used, key_idle),
            certs=(cert,),
        ),
        report.Subject("bob", "arn:aws:iam::123456789012:user/bob", T0, password_changed=T0),
        report.Subject("carol", "arn:aws:iam::123456789012:user/carol", T0),
    ]
    root, alice, bob, carol = parse(report.render_csv(subjects, max_password_age=90).encode())
    assert (root["password_enabled"], root["password_last_used"]) == ("not_supported", "no_information")
    assert root["password_last_changed"] == root["password_next_rotation"] == "not_supported"
    assert root["user_creation_time"] == "2026-03-04T05:06:07+00:00"  # to the second
    assert (root["mfa_active"], root["access_key_1_active"], root["access_key_1_last_rotated"]) == (
        "true",
        "false",
        "N/A",
    )
    assert alice["password_enabled"] == "true"
    assert alice["password_last_used"] == "2026-03-08T05:06:07+00:00"
    assert alice["password_last_changed"] == "2026-03-07T05:06:07+00:00"
    assert alice["password_next_rotation"] == "2026-06-05T05:06:07+00:00"  # changed + 90 days
    assert [
        alice[f"access_key_1_{c}"]
        for c in ("active", "last_used_date", "last_used_region", "last_used_service")
    ] == [
        "true",
        "2026-03-05T05:06:07+00:00",
        "eu-west-1",
        "iam",
    ]
    assert alice["access_key_2_active"] == "false"
    assert alice["access_key_2_last_rotated"] == "2026-03-04T06:06:07+00:00"
    assert alice["access_key_2_last_used_date"] == alice["access_key_2_last_used_service"] == "N/A"
    assert (alice["cert_1_active"], alice["cert_1_last_rotated"]) == ("true", "2026-03-06T05:06:07+00:00")
    assert (alice["cert_2_active"], alice["cert_2_last_rotated"]) == ("false", "N/A")
    assert bob["password_last_used"] == "no_information"  # a password never used
    assert carol["password_enabled"] == "false"
    assert carol["password_last_used"] == carol["password_last_changed"] == "N/A"
    none = parse(report.render_csv(subjects[1:2], max_password_age=None).encode())[0]
    assert none["password_next_rotation"] == "N/A"  # no MaxPasswordAge, no rotation date


names = st.from_regex(r"[\w+=,.@-]{1,64}", fullmatch=True)
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC))
credentials = st.builds(
    report.Credential,
    st.booleans(),
    times,
    st.none() | times,
    st.none() | st.sampled_from(["us-east-1", "eu-west-1"]),
    st.none() | st.sampled_from(["iam", "sts", "s3"]),
)
subjects = st.builds(
    report.Subject,
    names,
    names.map(lambda n: f"arn:aws:iam::123456789012:user/{n}"),
    times,
    password_changed=st.none() | times,
    password_last_used=st.none() | times,
    mfa_active=st.booleans(),
    keys=st.lists(credentials, max_size=2).map(tuple),
    certs=st.lists(credentials, max_size=2).map(tuple),
)


@given(st.lists(subjects, max_size=5), st.none() | st.integers(1, 1095))
def test_any_account_gives_22_columns_a_row_and_names_back(people, max_age):
    rows = parse(report.render_csv(people, max_age).encode())
    assert [row["user"] for row in rows] == [p.name for p in people]
    for person, row in zip(people, rows, strict=True):
        assert len(row) == 22 and None not in row
        assert row["password_enabled"] == ("true" if person.password_changed else "false")
        assert row["access_key_1_active"] == ("true" if person.keys and person.keys[0].active else "false")
        if person.keys:
            assert moment(row["access_key_1_last_rotated"]) == person.keys[0].created.replace(microsecond=0)


# ---------------------------------------------------------------------------------------------
# a real account, over the wire


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def own_server(request, tmp_path_factory):
    if request.param == "postgresql" and not pg_available():
        pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable; the store must be tested on it")
    srv, pg_schema = start_server(tmp_path_factory.mktemp(f"report-{request.param}"), request.param)
    yield srv
    srv.stop()
    if pg_schema:
        drop_schema(pg_schema)


def test_the_report_shows_the_accounts_credentials(own_server):
    iam = own_server.client("iam")
    with pytest.raises(ClientError) as excinfo:
        iam.get_credential_report()
    assert excinfo.value.response["Error"]["Code"] == "ReportNotPresent"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410

    iam.update_account_password_policy(AllowUsersToChangePassword=True, MaxPasswordAge=30)
    alice, bob, carol = (f"{n}-{uuid.uuid4().hex[:6]}" for n in ("alice", "bob", "carol"))
    for name in (alice, bob, carol):
        iam.create_user(UserName=name)
    # alice: a password, two keys; the first used (ChangePassword, an IAM call), the second inactive
    iam.create_login_profile(UserName=alice, Password="Correct-Horse-1")
    key1 = iam.create_access_key(UserName=alice)["AccessKey"]
    key2 = iam.create_access_key(UserName=alice)["AccessKey"]
    iam.update_access_key(UserName=alice, AccessKeyId=key2["AccessKeyId"], Status="Inactive")
    as_alice = own_server.client("iam", key=key1["AccessKeyId"], secret=key1["SecretAccessKey"])
    as_alice.change_password(OldPassword="Correct-Horse-1", NewPassword="Battery-Staple-2")
    # bob: an MFA device
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=bob)["VirtualMFADevice"]
    seed, now = device["Base32StringSeed"].decode(), datetime.now(UTC)
    iam.enable_mfa_device(
        UserName=bob,
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=code_at(seed, now),
        AuthenticationCode2=code_at(seed, now + timedelta(seconds=30)),
    )

    first = iam.generate_credential_report()
    assert first == {
        "State": "STARTED",
        "Description": "No report exists. Starting a new report generation task",
        "ResponseMetadata": first["ResponseMetadata"],
    }
    got = iam.get_credential_report()  # ready at once: generated inside the call
    assert got["ReportFormat"] == "text/csv" and abs(got["GeneratedTime"] - now) < timedelta(minutes=2)
    second = iam.generate_credential_report()
    assert second["State"] == "COMPLETE" and "Description" not in second

    rows = parse(iam.get_credential_report()["Content"])
    by_user = {row["user"]: row for row in rows}
    root = rows[0]
    assert root["user"] == "<root_account>" and root["arn"] == f"arn:aws:iam::{own_server.account_id}:root"
    assert root["password_enabled"] == "not_supported" and root["mfa_active"] == "false"
    assert root["access_key_1_active"] == "true"  # the server's root key, used by this very test
    assert (root["access_key_1_last_used_service"], root["access_key_1_last_used_region"]) == (
        "iam",
        "us-east-1",
    )
    assert [row["user"] for row in rows[1:]] == sorted([alice, bob, carol], key=str.lower)

    a = by_user[alice]
    assert a["arn"] == f"arn:aws:iam::{own_server.account_id}:user/{alice}"
    assert close_to(a["user_creation_time"], now)
    assert a["password_enabled"] == "true" and a["password_last_used"] == "no_information"
    assert close_to(a["password_last_changed"], now)
    assert moment(a["password_next_rotation"]) == moment(a["password_last_changed"]) + timedelta(days=30)
    assert a["mfa_active"] == "false"
    assert a["access_key_1_active"] == "true" and close_to(a["access_key_1_last_rotated"], now)
    assert close_to(a["access_key_1_last_used_date"], now)
    assert (a["access_key_1_last_used_region"], a["access_key_1_last_used_service"]) == ("us-east-1", "iam")
    assert a["access_key_2_active"] == "false" and close_to(a["access_key_2_last_rotated"], now)
    assert a["access_key_2_last_used_date"] == a["access_key_2_last_used_service"] == "N/A"
    assert (a["cert_1_active"], a["cert_1_last_rotated"]) == ("false", "N/A")

    b = by_user[bob]
    assert b["mfa_active"] == "true" and b["password_enabled"] == "false" and b["password_last_used"] == "N/A"
    assert b["access_key_1_active"] == "false" and b["access_key_1_last_rotated"] == "N/A"
    c = by_user[carol]
    assert c["mfa_active"] == "false" and c["password_next_rotation"] == "N/A"

    # a new Generate regenerates at once: bob's device gone, alice's second key deleted
    iam.deactivate_mfa_device(UserName=bob, SerialNumber=device["SerialNumber"])
    iam.delete_access_key(UserName=alice, AccessKeyId=key2["AccessKeyId"])
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    again = {row["user"]: row for row in parse(iam.get_credential_report()["Content"])}
    assert again[bob]["mfa_active"] == "false"
    assert (
        again[alice]["access_key_2_active"] == "false" and again[alice]["access_key_2_last_rotated"] == "N/A"
    )


def test_the_aws_cli_prints_the_report_base64(own_server):
    made = own_server.aws("iam", "generate-credential-report")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["State"] in ("STARTED", "COMPLETE")
    got = own_server.aws("iam", "get-credential-report")
    assert got.returncode == 0, got.stderr
    out = json.loads(got.stdout)
    assert out["ReportFormat"] == "text/csv"
    rows = parse(base64.b64decode(out["Content"]))
    assert rows[0]["user"] == "<root_account>"


# ---------------------------------------------------------------------------------------------
# on the handlers: what the API cannot reach yet (signing certificates, console sign-in), and time


def _root_context(tx, account: str, now: datetime) -> CallContext:
    root = Caller(
        account_id=account,
        arn=f"arn:aws:iam::{account}:root",
        principal_id=account,
        kind="Root",
        access_key_id="",
    )
    box = SecretBox(os.urandom(32))
    return CallContext(
        caller=root, tx=tx, now=now, region="us-east-1", request_id="t", services=SimpleNamespace(box=box)
    )


def test_certificates_and_password_use_come_from_the_store(store, account):
    with store.transaction() as tx:
        dave = store_users.create(tx, account, "dave", "/ops/", "AIDA00000000000000009", T0)
        for cert_id, owner, status, uploaded in (
            ("CERT1", dave.id, "Active", T0 + timedelta(days=1)),
            ("CERT2", dave.id, "Inactive", T0 + timedelta(days=2)),
            ("CERTROOT", None, "Active", T0 + timedelta(days=3)),
        ):
            tx.execute(
                insert(schema.signing_certificates).values(
                    account_id=account,
                    id=cert_id,
                    user_id=owner,
                    body="-",
                    status=status,
                    uploaded_at=uploaded,
                )
            )
        tx.execute(
            update(schema.users)
            .where(schema.users.c.id == dave.id)
            .values(password_last_used=T0 + timedelta(days=5))
        )
        tx.execute(
            insert(schema.login_profiles).values(
                user_id=dave.id,
                password_hash="x",
                password_reset_required=False,
                created_at=T0,
                password_changed_at=T0,
            )
        )
        ctx = _root_context(tx, account, T0 + timedelta(days=6))
        assert report.generate_credential_report(ctx, {})["State"] == "STARTED"
        root, row = parse(report.get_credential_report(ctx, {})["Content"])
    assert (root["cert_1_active"], root["cert_1_last_rotated"]) == ("true", "2026-03-07T05:06:07+00:00")
    assert row["arn"] == f"arn:aws:iam::{account}:user/ops/dave"
    assert (row["cert_1_active"], row["cert_1_last_rotated"]) == ("true", "2026-03-05T05:06:07+00:00")
    assert (row["cert_2_active"], row["cert_2_last_rotated"]) == ("false", "2026-03-06T05:06:07+00:00")
    assert row["password_last_used"] == "2026-03-09T05:06:07+00:00"
    assert row["password_next_rotation"] == "N/A"  # the account has no password policy


def test_a_report_expires_after_four_hours_and_one_in_progress_is_not_served(store, account):
    with store.transaction() as tx:
        ctx = _root_context(tx, account, T0)
        report.generate_credential_report(ctx, {})
        assert report.get_credential_report(_root_context(tx, account, T0 + timedelta(hours=4)), {})[
            "Content"
        ]
        with pytest.raises(report.ReportExpired) as excinfo:
            report.get_credential_report(_root_context(tx, account, T0 + timedelta(hours=4, seconds=1)), {})
        assert (excinfo.value.code, excinfo.value.status) == ("ReportExpired", 410)
        later = _root_context(tx, account, T0 + timedelta(hours=5))
        assert report.generate_credential_report(later, {}) == {"State": "COMPLETE"}
        assert report.get_credential_report(later, {})["GeneratedTime"] == T0 + timedelta(hours=5)
        jobs = schema.report_jobs.c
        tx.execute(update(schema.report_jobs).where(jobs.account_id == account).values(status="INPROGRESS"))
        with pytest.raises(report.ReportInProgress) as excinfo:
            report.get_credential_report(later, {})
        assert (excinfo.value.code, excinfo.value.status) == ("ReportInProgress", 404)


def test_an_enabled_mfa_device_is_mfa_active(store, account):
    with store.transaction() as tx:
        erin = store_users.create(tx, account, "erin", "/", "AIDA00000000000000010", T0)
        ctx = _root_context(tx, account, T0)
        made = iam_mfa.create_virtual_mfa_device(ctx, {"VirtualMFADeviceName": "erin"})["VirtualMFADevice"]
        seed = made["Base32StringSeed"].decode()
        report.generate_credential_report(ctx, {})
        assert (
            parse(report.get_credential_report(ctx, {})["Content"])[1]["mfa_active"] == "false"
        )  # not enabled
        iam_mfa.enable_device(
            ctx, made["SerialNumber"], erin, code_at(seed, T0), code_at(seed, T0 + timedelta(seconds=30))
        )
        report.generate_credential_report(ctx, {})
        assert parse(report.get_credential_report(ctx, {})["Content"])[1]["mfa_active"] == "true"
