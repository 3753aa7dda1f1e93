"""Virtual MFA devices through boto3 and the AWS CLI against the real server, on SQLite and
PostgreSQL; codes come from the seed the server returned, as an authenticator app computes them.
The root user's own device (which only the console can enable on AWS) is tested on the handlers."""

from __future__ import annotations

import base64
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pyotp
import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select

from iam_helpers import unique
from ironkeep.auth.secrets import SecretBox
from ironkeep.auth.totp import code_at
from ironkeep.errors import AWSError
from ironkeep.services import iam_credential_report, iam_mfa, mfa_seeds
from ironkeep.services.context import CallContext, Caller
from ironkeep.store import schema

STEP = timedelta(seconds=30)
INVALID_CODE = "Authentication code for device is not valid."


def error_of(excinfo: pytest.ExceptionInfo) -> tuple[str, str, int]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def new_device(iam, **kwargs) -> tuple[str, str]:
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("phone"), **kwargs)["VirtualMFADevice"]
    return device["SerialNumber"], device["Base32StringSeed"].decode("ascii")


def codes(seed: str, at: datetime) -> dict[str, str]:
    """Two consecutive codes, as a person types them: the one shown at ``at``, then the next."""
    return {"AuthenticationCode1": code_at(seed, at), "AuthenticationCode2": code_at(seed, at + STEP)}


def enabled_user(iam) -> tuple[str, str, str, datetime]:
    user = unique("mfa-user")
    iam.create_user(UserName=user)
    serial, seed = new_device(iam)
    now = datetime.now(UTC)
    iam.enable_mfa_device(UserName=user, SerialNumber=serial, **codes(seed, now))
    return user, serial, seed, now


def test_create_virtual_mfa_device_returns_serial_seed_and_qr_code(iam, server):
    name = unique("Phone")
    created = iam.create_virtual_mfa_device(
        VirtualMFADeviceName=name, Path="/team/", Tags=[{"Key": "owner", "Value": "ops"}]
    )["VirtualMFADevice"]
    assert created["SerialNumber"] == f"arn:aws:iam::{server.account_id}:mfa/team/{name}"
    seed = created["Base32StringSeed"]  # the bytes of the Base32 text, as AWS returns them
    assert re.fullmatch(rb"[A-Z2-7]{64}", seed)
    assert len(base64.b32decode(seed)) == 40
    assert created["QRCodePNG"].startswith(b"\x89PNG\r\n\x1a\n")
    assert created["Tags"] == [{"Key": "owner", "Value": "ops"}]
    assert "User" not in created and "EnableDate" not in created
    # the seed works in any RFC 6238 app
    now = datetime.now(UTC)
    assert pyotp.TOTP(seed.decode()).at(now) == code_at(seed.decode(), now)

    unassigned = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    mine = [d for d in unassigned if d["SerialNumber"] == created["SerialNumber"]]
    assert mine == [{"SerialNumber": created["SerialNumber"]}]  # no seed, no QR code, no user

    with pytest.raises(ClientError) as excinfo:
        iam.create_virtual_mfa_device(VirtualMFADeviceName=name.lower(), Path="/team/")
    assert error_of(excinfo)[0] == "EntityAlreadyExists"
    with pytest.raises(ClientError) as excinfo:
        iam.create_virtual_mfa_device(VirtualMFADeviceName="bad name!")
    assert error_of(excinfo)[0] == "ValidationError"


def test_enable_list_get_deactivate_and_delete(iam, server):
    user, serial, seed, now = enabled_user(iam)

    listed = iam.list_mfa_devices(UserName=user)["MFADevices"]
    assert [(d["UserName"], d["SerialNumber"]) for d in listed] == [(user, serial)]
    assert abs(listed[0]["EnableDate"] - now) < timedelta(minutes=1)
    got = iam.get_mfa_device(UserName=user, SerialNumber=serial)
    assert (got["UserName"], got["SerialNumber"]) == (user, serial) and "Certifications" not in got

    assigned = iam.get_paginator("list_virtual_mfa_devices").paginate(AssignmentStatus="Assigned")
    entry = next(d for page in assigned for d in page["VirtualMFADevices"] if d["SerialNumber"] == serial)
    assert entry["User"]["UserName"] == user
    assert entry["User"]["Arn"] == f"arn:aws:iam::{server.account_id}:user/{user}"
    assert "EnableDate" in entry
    unassigned = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert serial not in [d["SerialNumber"] for d in unassigned]

    with pytest.raises(ClientError) as excinfo:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert error_of(excinfo)[0] == "DeleteConflict"
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName=user)
    assert error_of(excinfo)[:2] == ("DeleteConflict", "Cannot delete entity, must delete MFA device first.")

    iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    assert iam.list_mfa_devices(UserName=user)["MFADevices"] == []
    with pytest.raises(ClientError) as excinfo:
        iam.get_mfa_device(UserName=user, SerialNumber=serial)
    assert error_of(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    assert error_of(excinfo)[0] == "NoSuchEntity"

    # the codes that enabled it are spent: never accepted again, even after deactivation
    with pytest.raises(ClientError) as excinfo:
        iam.enable_mfa_device(UserName=user, SerialNumber=serial, **codes(seed, now))
    assert error_of(excinfo) == ("InvalidAuthenticationCode", INVALID_CODE, 403)

    iam.delete_virtual_mfa_device(SerialNumber=serial)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert error_of(excinfo)[0] == "NoSuchEntity"
    iam.delete_user(UserName=user)


def test_enable_refuses_wrong_stale_or_non_consecutive_codes(iam):
    user = unique("mfa-user")
    iam.create_user(UserName=user)
    serial, seed = new_device(iam)
    now = datetime.now(UTC)
    attempts = [
        {"AuthenticationCode1": code_at(seed, now), "AuthenticationCode2": code_at(seed, now)},
        {"AuthenticationCode1": code_at(seed, now + STEP), "AuthenticationCode2": code_at(seed, now)},
        codes(seed, now - timedelta(hours=1)),
        {"AuthenticationCode1": "000000", "AuthenticationCode2": "000000"},
    ]
    other_seed = base64.b32encode(os.urandom(20)).decode()
    attempts.append(codes(other_seed, now))
    for attempt in attempts:
        with pytest.raises(ClientError) as excinfo:
            iam.enable_mfa_device(UserName=user, SerialNumber=serial, **attempt)
        assert error_of(excinfo) == ("InvalidAuthenticationCode", INVALID_CODE, 403)
    assert iam.list_mfa_devices(UserName=user)["MFADevices"] == []
    with pytest.raises(ClientError) as excinfo:
        iam.enable_mfa_device(
            UserName=user, SerialNumber=serial, AuthenticationCode1="12345a", AuthenticationCode2="123456"
        )
    assert error_of(excinfo)[0] == "ValidationError"
    with pytest.raises(ClientError) as excinfo:
        iam.enable_mfa_device(UserName=unique("nobody"), SerialNumber=serial, **codes(seed, now))
    assert error_of(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.enable_mfa_device(UserName=user, SerialNumber=serial + "x", **codes(seed, now))
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_a_device_belongs_to_one_user(iam):
    user, serial, seed, now = enabled_user(iam)
    other = unique("mfa-other")
    iam.create_user(UserName=other)
    later = now + 2 * STEP
    with pytest.raises(ClientError) as excinfo:
        iam.enable_mfa_device(UserName=other, SerialNumber=serial, **codes(seed, later))
    assert error_of(excinfo)[0] == "EntityAlreadyExists"
    with pytest.raises(ClientError) as excinfo:
        iam.enable_mfa_device(UserName=user, SerialNumber=serial, **codes(seed, later))
    assert error_of(excinfo)[0] == "EntityAlreadyExists"
    with pytest.raises(ClientError) as excinfo:
        iam.deactivate_mfa_device(UserName=other, SerialNumber=serial)
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_a_user_has_at_most_eight_devices(iam):
    user = unique("mfa-many")
    iam.create_user(UserName=user)
    now = datetime.now(UTC)
    for _ in range(8):
        serial, seed = new_device(iam)
        iam.enable_mfa_device(UserName=user, SerialNumber=serial, **codes(seed, now))
    assert len(iam.list_mfa_devices(UserName=user)["MFADevices"]) == 8
    page = iam.list_mfa_devices(UserName=user, MaxItems=5)
    rest = iam.list_mfa_devices(UserName=user, Marker=page["Marker"])
    assert page["IsTruncated"] and len(page["MFADevices"]) == 5 and len(rest["MFADevices"]) == 3
    serial, seed = new_device(iam)
    with pytest.raises(ClientError) as excinfo:
        iam.enable_mfa_device(UserName=user, SerialNumber=serial, **codes(seed, now))
    assert error_of(excinfo)[0] == "LimitExceeded"


def test_resync_takes_two_fresh_consecutive_codes(iam):
    user, serial, seed, now = enabled_user(iam)
    with pytest.raises(ClientError) as excinfo:  # the codes used to enable it
        iam.resync_mfa_device(UserName=user, SerialNumber=serial, **codes(seed, now))
    assert error_of(excinfo) == ("InvalidAuthenticationCode", INVALID_CODE, 403)
    fresh = codes(seed, now + 2 * STEP)
    iam.resync_mfa_device(UserName=user, SerialNumber=serial, **fresh)
    with pytest.raises(ClientError) as excinfo:  # once only
        iam.resync_mfa_device(UserName=user, SerialNumber=serial, **fresh)
    assert error_of(excinfo)[0] == "InvalidAuthenticationCode"
    other = unique("mfa-other")
    iam.create_user(UserName=other)
    with pytest.raises(ClientError) as excinfo:
        iam.resync_mfa_device(UserName=other, SerialNumber=serial, **codes(seed, now + 4 * STEP))
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_mfa_device_tags(iam):
    serial, _ = new_device(iam, Tags=[{"Key": "Env", "Value": "dev"}])
    iam.tag_mfa_device(
        SerialNumber=serial, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "a"}]
    )
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [
        {"Key": "env", "Value": "prod"},
        {"Key": "team", "Value": "a"},
    ]
    iam.untag_mfa_device(SerialNumber=serial, TagKeys=["ENV"])
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [{"Key": "team", "Value": "a"}]
    missing = serial + "-gone"
    for call, extra in (
        (iam.tag_mfa_device, {"Tags": [{"Key": "k", "Value": "v"}]}),
        (iam.untag_mfa_device, {"TagKeys": ["k"]}),
        (iam.list_mfa_device_tags, {}),
    ):
        with pytest.raises(ClientError) as excinfo:
            call(SerialNumber=missing, **extra)
        assert error_of(excinfo)[0] == "NoSuchEntity"
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    with pytest.raises(ClientError):
        iam.list_mfa_device_tags(SerialNumber=serial)


def test_list_mfa_devices_without_user_name_is_the_callers(iam):
    # the test server's caller is the root user, whose devices only the console enables
    listed = iam.list_mfa_devices()
    assert all("UserName" not in d for d in listed["MFADevices"])
    with pytest.raises(ClientError) as excinfo:
        iam.list_mfa_devices(UserName=unique("nobody"))
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_the_aws_cli_writes_the_seed_and_enables_the_device(server, iam, tmp_path):
    name, user = unique("cli-phone"), unique("cli-user")
    iam.create_user(UserName=user)
    outfile = tmp_path / "seed.txt"
    made = server.aws(
        "iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", name,
        "--outfile", str(outfile), "--bootstrap-method", "Base32StringSeed",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    serial = json.loads(made.stdout)["VirtualMFADevice"]["SerialNumber"]
    assert serial == f"arn:aws:iam::{server.account_id}:mfa/{name}"
    seed = outfile.read_text()
    assert re.fullmatch(r"[A-Z2-7]{64}", seed)
    now = datetime.now(UTC)
    enabled = server.aws(
        "iam", "enable-mfa-device", "--user-name", user, "--serial-number", serial,
        "--authentication-code1", code_at(seed, now),
        "--authentication-code2", code_at(seed, now + STEP),
    )  # fmt: skip
    assert enabled.returncode == 0, enabled.stderr
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName=user)["MFADevices"]] == [serial]


# ---------------------------------------------------------------------------------------------
# the root user's own device, on the handlers (AWS enables it only through the console)


def test_the_root_users_own_device(store, account):
    box = SecretBox(os.urandom(32))
    now = datetime.now(UTC)
    root = Caller(
        account_id=account,
        arn=f"arn:aws:iam::{account}:root",
        principal_id=account,
        kind="Root",
        access_key_id="",
    )

    def ctx(tx, at: datetime = now) -> CallContext:
        return CallContext(
            caller=root, tx=tx, now=at, region="us-east-1", request_id="t", services=SimpleNamespace(box=box)
        )

    with store.transaction() as tx:
        made = iam_mfa.create_virtual_mfa_device(ctx(tx), {"VirtualMFADeviceName": "root-account-mfa-device"})
        serial = made["VirtualMFADevice"]["SerialNumber"]
        seed = made["VirtualMFADevice"]["Base32StringSeed"].decode()
        devices = schema.mfa_devices.c
        sealed = tx.execute(select(devices.seed_sealed).where(devices.serial_number == serial)).scalar()
        assert seed.encode() not in sealed  # sealed at rest, and opened the one shared way
        assert mfa_seeds.open_seed(box, serial, sealed) == seed
        iam_mfa.enable_device(ctx(tx), serial, None, code_at(seed, now), code_at(seed, now + STEP))
    with store.transaction() as tx:
        listed = iam_mfa.list_mfa_devices(ctx(tx), {})["MFADevices"]
        assert [d["SerialNumber"] for d in listed] == [serial]
        assigned = iam_mfa.list_virtual_mfa_devices(ctx(tx), {"AssignmentStatus": "Assigned"})[
            "VirtualMFADevices"
        ]
        assert assigned[0]["User"]["Arn"] == f"arn:aws:iam::{account}:root"
        assert assigned[0]["User"]["UserId"] == account
        assert iam_mfa.get_mfa_device(ctx(tx), {"SerialNumber": serial})["SerialNumber"] == serial
        iam_credential_report.generate_credential_report(ctx(tx), {})
        report = iam_credential_report.get_credential_report(ctx(tx), {})["Content"].decode()
        root_row = report.splitlines()[1].split(",")
        assert root_row[0] == "<root_account>" and root_row[7] == "true"  # mfa_active
    with store.transaction() as tx:
        iam_mfa.deactivate_mfa_device(ctx(tx), {"SerialNumber": serial})
        assert iam_mfa.list_mfa_devices(ctx(tx), {})["MFADevices"] == []
    with store.transaction() as tx, pytest.raises(AWSError) as excinfo:
        iam_mfa.enable_device(ctx(tx), serial, None, code_at(seed, now), code_at(seed, now + STEP))
    assert excinfo.value.code == "InvalidAuthenticationCode"


def test_concurrent_uses_of_one_pair_of_codes_succeed_once(server, iam):
    user, serial, seed, now = enabled_user(iam)
    fresh = codes(seed, now + 2 * STEP)
    clients = [server.client("iam") for _ in range(4)]

    def resync(client) -> str:
        try:
            client.resync_mfa_device(UserName=user, SerialNumber=serial, **fresh)
            return "ok"
        except ClientError as exc:
            return exc.response["Error"]["Code"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(resync, clients))
    assert outcomes == ["InvalidAuthenticationCode"] * 3 + ["ok"]
