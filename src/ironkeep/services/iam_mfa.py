"""Virtual MFA devices: CreateVirtualMFADevice, EnableMFADevice, ResyncMFADevice,
DeactivateMFADevice, DeleteVirtualMFADevice, ListMFADevices, ListVirtualMFADevices, GetMFADevice,
TagMFADevice, UntagMFADevice, ListMFADeviceTags.

A device is created unassigned with a fresh RFC 6238 seed (sealed at rest, see
:mod:`ironkeep.services.mfa_seeds`); EnableMFADevice binds it to one user (or, through
:func:`enable_device`, to the root user) once two consecutive codes check out. Every code a device
accepts moves its ``last_step``, so no code is ever accepted twice: not by a second EnableMFADevice
or ResyncMFADevice, not after DeactivateMFADevice, not by STS.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select, update

from ironkeep.auth import totp
from ironkeep.auth.qr import qr_png
from ironkeep.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from ironkeep.model import MFADevice, User, limits
from ironkeep.model.arns import mfa_arn, root_arn
from ironkeep.model.names import check_path
from ironkeep.services import common, iam_users
from ironkeep.services.context import CallContext
from ironkeep.services.mfa_seeds import open_seed, seal_seed
from ironkeep.services.registry import operation
from ironkeep.store import mfa_devices, rows, users
from ironkeep.store import schema as t
from ironkeep.store.prepared import any_row

TAG_KIND = "mfa"
SERIAL_NUMBER_MAX = 256  # the model's serialNumberType: every call naming a device takes at most this

_d = t.mfa_devices.c


# ---------------------------------------------------------------------------------------------
# resources the engine authorizes against (AWS's service authorization reference)


def _device_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    return str(params.get("SerialNumber") or mfa_arn(ctx.account_id, "/", "*"))


def _new_device_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    return mfa_arn(ctx.account_id, params.get("Path") or "/", params["VirtualMFADeviceName"])


def _user_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    if not params.get("UserName") and ctx.caller.is_root:
        return root_arn(ctx.account_id)
    return iam_users.user_resource(ctx, params)


# ---------------------------------------------------------------------------------------------
# who a call is about: a named user, or the caller itself (None: the root user)


def _target(ctx: CallContext, params: dict[str, Any]) -> User | None:
    name = params.get("UserName")
    if name:
        return users.require(ctx.tx, ctx.account_id, name)
    if ctx.caller.is_root:
        return None
    if ctx.caller.user_name is None or ctx.caller.kind != "IAMUser":
        raise common.InvalidInput("Must specify userName when calling with non-User credentials")
    return users.require(ctx.tx, ctx.account_id, ctx.caller.user_name)


def _owned_by(device: MFADevice, user: User | None) -> bool:
    return device.assigned_to_root if user is None else device.user_id == user.id


def _not_owned(serial_number: str) -> NoSuchEntity:
    return NoSuchEntity(f"MFA Device with serial number {serial_number} does not exist.")


def _set_drift(tx: Connection, serial_number: str, drift: int) -> None:
    tx.execute(update(t.mfa_devices).where(_d.serial_number == serial_number).values(drift=drift))


def device_drift(tx: Connection, serial_number: str) -> int:
    """The clock drift (in 30-second steps) found by the last EnableMFADevice or ResyncMFADevice:
    STS verifies a device's codes around ``time_step(now) + drift``."""
    value = tx.execute(select(_d.drift).where(_d.serial_number == serial_number)).scalar()
    return int(value or 0)


# ---------------------------------------------------------------------------------------------
# operations


@operation("iam", "CreateVirtualMFADevice", resource=_new_device_resource)
def create_virtual_mfa_device(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params["VirtualMFADeviceName"]
    path = check_path(params.get("Path"))
    tags = common.check_tags(params.get("Tags", []))
    serial = mfa_arn(ctx.account_id, path, name)
    if len(serial) > SERIAL_NUMBER_MAX:  # no other call could name the device
        raise common.InvalidInput(
            f"VirtualMFADeviceName and Path make a serial number of {len(serial)} characters;"
            f" at most {SERIAL_NUMBER_MAX} are allowed."
        )
    rows.lock_row(ctx.tx, t.accounts, ctx.account_id)
    count = ctx.tx.execute(
        select(func.count()).select_from(t.mfa_devices).where(_d.account_id == ctx.account_id)
    ).scalar()
    if count >= limits.USERS_PER_ACCOUNT:  # AWS: virtual MFA devices per account = the user quota
        raise LimitExceeded(
            f"Cannot exceed quota for VirtualMFADevicesPerAccount: {limits.USERS_PER_ACCOUNT}"
        )
    seed = totp.new_seed()
    device = mfa_devices.create_virtual(
        ctx.tx, ctx.account_id, name, path, seal_seed(ctx.services.box, serial, seed), ctx.now
    )
    common.put_tags(ctx.tx, TAG_KIND, device.serial_number, tags)
    # AWS's QR payload: otpauth://totp/$virtualMFADeviceName@$AccountName?secret=$Base32String
    uri = totp.otpauth_uri(seed, name, ctx.caller.user_name or ctx.account_id)
    out: dict[str, Any] = {
        "SerialNumber": device.serial_number,
        "Base32StringSeed": seed.encode("ascii"),  # a blob: the bytes of the Base32 text
        "QRCodePNG": qr_png(uri),
    }
    if tags:
        out["Tags"] = tags
    return {"VirtualMFADevice": out}


def enable_device(
    ctx: CallContext, serial_number: str, user: User | None, code1: str, code2: str
) -> MFADevice:
    """EnableMFADevice for ``user`` (None: the root user, as the console does for root)."""
    device = mfa_devices.require(ctx.tx, ctx.account_id, serial_number)
    if device.is_assigned:
        raise EntityAlreadyExists("MFA Device is already in use.")
    rows.lock_row(
        ctx.tx, t.accounts if user is None else t.users, ctx.account_id if user is None else user.id
    )
    if len(mfa_devices.for_user(ctx.tx, ctx.account_id, user)) >= limits.MFA_DEVICES_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for MFADevicesPerUser: {limits.MFA_DEVICES_PER_USER}")
    seed = open_seed(ctx.services.box, serial_number, device.seed_sealed)
    step = totp.verify_two_consecutive(seed, code1, code2, ctx.now, last_used_step=device.last_step)
    enabled = mfa_devices.enable(ctx.tx, device, user, ctx.now, step)
    _set_drift(ctx.tx, serial_number, step - totp.time_step(ctx.now))
    return enabled


@operation("iam", "EnableMFADevice", resource=_user_resource)
def enable_mfa_device(ctx: CallContext, params: dict[str, Any]) -> None:
    user = users.require(ctx.tx, ctx.account_id, params["UserName"])
    enable_device(
        ctx, params["SerialNumber"], user, params["AuthenticationCode1"], params["AuthenticationCode2"]
    )


@operation("iam", "ResyncMFADevice", resource=_user_resource)
def resync_mfa_device(ctx: CallContext, params: dict[str, Any]) -> None:
    user = users.require(ctx.tx, ctx.account_id, params["UserName"])
    serial = params["SerialNumber"]
    device = mfa_devices.get(ctx.tx, ctx.account_id, serial)
    if device is None or not _owned_by(device, user):
        raise _not_owned(serial)
    seed = open_seed(ctx.services.box, serial, device.seed_sealed)
    step = totp.verify_two_consecutive(
        seed,
        params["AuthenticationCode1"],
        params["AuthenticationCode2"],
        ctx.now,
        last_used_step=device.last_step,
    )
    if not mfa_devices.accept_step(ctx.tx, serial, step):  # a concurrent call used these codes
        raise totp.InvalidAuthenticationCode()
    _set_drift(ctx.tx, serial, step - totp.time_step(ctx.now))


@operation("iam", "DeactivateMFADevice", resource=_user_resource)
def deactivate_mfa_device(ctx: CallContext, params: dict[str, Any]) -> None:
    user = _target(ctx, params)
    serial = params["SerialNumber"]
    device = mfa_devices.get(ctx.tx, ctx.account_id, serial)
    if device is None or not _owned_by(device, user):
        raise _not_owned(serial)
    mfa_devices.deactivate(ctx.tx, device)
    if device.last_step is not None:  # keep refusing the codes it accepted while enabled
        mfa_devices.accept_step(ctx.tx, serial, device.last_step)
    _set_drift(ctx.tx, serial, 0)


@operation("iam", "DeleteVirtualMFADevice", resource=_device_resource)
def delete_virtual_mfa_device(ctx: CallContext, params: dict[str, Any]) -> None:
    device = mfa_devices.require(ctx.tx, ctx.account_id, params["SerialNumber"])
    mfa_devices.delete(ctx.tx, device)


def _root_user_shape(ctx: CallContext) -> dict[str, Any]:
    created = ctx.tx.execute(
        select(t.accounts.c.created_at).where(t.accounts.c.id == ctx.account_id)
    ).scalar()
    return {
        "Path": "/",
        "UserId": ctx.account_id,
        "Arn": root_arn(ctx.account_id),
        "CreateDate": common.utc(created),
    }


def _device_entry(device: MFADevice) -> dict[str, Any]:
    entry: dict[str, Any] = {"SerialNumber": device.serial_number, "EnableDate": common.utc(device.enabled)}
    if device.user_name is not None:
        entry["UserName"] = device.user_name
    return entry


@operation("iam", "ListMFADevices", resource=_user_resource)
def list_mfa_devices(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    devices = mfa_devices.for_user(ctx.tx, ctx.account_id, _target(ctx, params))
    entries = sorted((_device_entry(d) for d in devices), key=lambda e: e["SerialNumber"])
    return common.paginate(entries, params, lambda e: e["SerialNumber"], "MFADevices")


@operation("iam", "ListVirtualMFADevices", resource=lambda ctx, params: "*")
def list_virtual_mfa_devices(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    devices, next_key = mfa_devices.list_virtual(
        ctx.tx,
        ctx.account_id,
        params.get("AssignmentStatus") or "Any",
        common.decode_marker(params.get("Marker")),
        common.max_items(params),
    )
    user_ids = {d.user_id for d in devices if d.user_id is not None}
    user_rows = {}
    if user_ids:
        user_rows = {r.id: r for r in ctx.tx.execute(select(t.users).where(t.users.c.id.in_(user_ids)))}
    entries = []
    for device in devices:
        entry: dict[str, Any] = {"SerialNumber": device.serial_number}
        if device.user_id is not None:
            entry["User"] = iam_users.user_shape(ctx.tx, user_rows[device.user_id])
        elif device.assigned_to_root:
            entry["User"] = _root_user_shape(ctx)
        if device.enabled is not None:
            entry["EnableDate"] = common.utc(device.enabled)
        entries.append(entry)
    out: dict[str, Any] = {"VirtualMFADevices": entries, "IsTruncated": next_key is not None}
    if next_key is not None:
        out["Marker"] = common.encode_marker(next_key)
    return out


@operation("iam", "GetMFADevice", resource=_user_resource)
def get_mfa_device(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    user = _target(ctx, params)
    serial = params["SerialNumber"]
    device = mfa_devices.get(ctx.tx, ctx.account_id, serial)
    if device is None or not _owned_by(device, user):
        raise _not_owned(serial)
    return _device_entry(device)


@operation("iam", "TagMFADevice", resource=_device_resource)
def tag_mfa_device(ctx: CallContext, params: dict[str, Any]) -> None:
    device = mfa_devices.require(ctx.tx, ctx.account_id, params["SerialNumber"])
    common.put_tags(ctx.tx, TAG_KIND, device.serial_number, params["Tags"])


@operation("iam", "UntagMFADevice", resource=_device_resource)
def untag_mfa_device(ctx: CallContext, params: dict[str, Any]) -> None:
    device = mfa_devices.require(ctx.tx, ctx.account_id, params["SerialNumber"])
    common.remove_tags(ctx.tx, TAG_KIND, device.serial_number, params["TagKeys"])


@operation("iam", "ListMFADeviceTags", resource=_device_resource)
def list_mfa_device_tags(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    device = mfa_devices.require(ctx.tx, ctx.account_id, params["SerialNumber"])
    tags = common.get_tags(ctx.tx, TAG_KIND, device.serial_number)
    return common.paginate(tags, params, lambda tag: tag["Key"].lower(), "Tags")


# ---------------------------------------------------------------------------------------------
# DeleteUser: refused while the user has an MFA device


def _user_has_no_mfa_device(ctx: CallContext, row: Any) -> None:
    if any_row(ctx.tx, (_d.user_id, row.id)):
        raise DeleteConflict("Cannot delete entity, must delete MFA device first.")


if _user_has_no_mfa_device not in iam_users.EXTRA_DELETE_CHECKS:
    iam_users.EXTRA_DELETE_CHECKS.append(_user_has_no_mfa_device)
