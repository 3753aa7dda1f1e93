"""Virtual MFA devices: created unassigned, enabled for a user or the root user, deactivated,
deleted; and each accepted TOTP step, so that a code is never accepted twice."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, or_, select
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update

from ironkeep.errors import DeleteConflict, EntityAlreadyExists, NoSuchEntity
from ironkeep.model import MFADevice, User
from ironkeep.model.arns import mfa_arn
from ironkeep.model.names import name_key
from ironkeep.store import rows
from ironkeep.store import schema as t

_d = t.mfa_devices.c
_u = t.users.c

_QUERY = select(t.mfa_devices, _u.name.label("user_name"), _u.arn.label("user_arn")).outerjoin(
    t.users, _u.id == _d.user_id
)

ASSIGNMENT_STATUSES = ("Assigned", "Unassigned", "Any")


def _to_device(row: Row[Any]) -> MFADevice:
    return MFADevice(
        account_id=row.account_id,
        serial_number=row.serial_number,
        name=row.name,
        path=row.path,
        seed_sealed=bytes(row.seed_sealed),
        created=row.created_at,
        user_id=row.user_id,
        user_name=row.user_name,
        user_arn=row.user_arn,
        assigned_to_root=bool(row.assigned_to_root),
        enabled=row.enabled_at,
        last_step=row.last_step,
    )


def create_virtual(
    tx: Connection, account_id: str, name: str, path: str, seed_sealed: bytes, created: datetime
) -> MFADevice:
    """CreateVirtualMFADevice: unassigned; names are unique in the account regardless of case."""
    serial = mfa_arn(account_id, path, name)
    statement = insert(t.mfa_devices).values(
        serial_number=serial,
        account_id=account_id,
        name=name,
        name_lower=name_key(name),
        path=path,
        seed_sealed=seed_sealed,
        assigned_to_root=False,
        drift=0,
        created_at=created,
    )
    rows.execute_unique(
        tx,
        statement,
        lambda: EntityAlreadyExists("MFADevice entity at the same path and name already exists."),
    )
    return require(tx, account_id, serial)


def get(tx: Connection, account_id: str, serial_number: str) -> MFADevice | None:
    row = tx.execute(_QUERY.where(_d.serial_number == serial_number, _d.account_id == account_id)).first()
    return None if row is None else _to_device(row)


def require(tx: Connection, account_id: str, serial_number: str) -> MFADevice:
    found = get(tx, account_id, serial_number)
    if found is None:
        raise NoSuchEntity(f"VirtualMFADevice with serial number {serial_number} doesn't exist.")
    return found


def list_virtual(
    tx: Connection,
    account_id: str,
    assignment_status: str = "Any",
    marker: str | None = None,
    max_items: int | None = None,
) -> tuple[builtins.list[MFADevice], str | None]:
    """ListVirtualMFADevices, by serial number."""
    query = _QUERY.where(_d.account_id == account_id)
    assigned = or_(_d.user_id.is_not(None), _d.assigned_to_root.is_(True))
    if assignment_status == "Assigned":
        query = query.where(assigned)
    elif assignment_status == "Unassigned":
        query = query.where(~assigned)
    found, next_marker = rows.page(tx, query, _d.serial_number, marker, max_items)
    return [_to_device(row) for row in found], next_marker


def for_user(tx: Connection, account_id: str, user: User | None) -> builtins.list[MFADevice]:
    """ListMFADevices: the devices enabled for the user (None: the root user), oldest first."""
    owner = _d.assigned_to_root.is_(True) if user is None else _d.user_id == user.id
    query = _QUERY.where(_d.account_id == account_id, owner).order_by(_d.enabled_at, _d.serial_number)
    return [_to_device(row) for row in tx.execute(query)]


def enable(tx: Connection, device: MFADevice, user: User | None, enabled: datetime, step: int) -> MFADevice:
    """EnableMFADevice for ``user`` (None: the root user); ``step`` is the later of the two
    codes' time steps, the first that may not be used again."""
    unassigned = (_d.user_id.is_(None), _d.assigned_to_root.is_(False))
    done = tx.execute(
        sql_update(t.mfa_devices)
        .where(_d.serial_number == device.serial_number, *unassigned)
        .values(
            user_id=None if user is None else user.id,
            assigned_to_root=user is None,
            enabled_at=enabled,
            last_step=step,
        )
    )
    if done.rowcount == 0:
        raise EntityAlreadyExists("MFA Device is already in use.")
    return require(tx, device.account_id, device.serial_number)


def deactivate(tx: Connection, device: MFADevice) -> None:
    """DeactivateMFADevice: back to unassigned."""
    done = tx.execute(
        sql_update(t.mfa_devices)
        .where(_d.serial_number == device.serial_number)
        .values(user_id=None, assigned_to_root=False, enabled_at=None, last_step=None)
    )
    if done.rowcount == 0:
        raise NoSuchEntity(f"MFA Device with serial number {device.serial_number} does not exist.")


def delete(tx: Connection, device: MFADevice) -> None:
    """DeleteVirtualMFADevice: only once deactivated."""
    if device.is_assigned:
        raise DeleteConflict("MFA Device is still in use.")
    tx.execute(
        sql_delete(t.tags).where(
            t.tags.c.resource_kind == "mfa", t.tags.c.resource_id == device.serial_number
        )
    )
    tx.execute(sql_delete(t.mfa_devices).where(_d.serial_number == device.serial_number))


def accept_step(tx: Connection, serial_number: str, step: int) -> bool:
    """Record that the code of TOTP time ``step`` was used, unless that step or a later one
    already was: True when accepted. One conditional UPDATE, so concurrent uses of one code give
    exactly one True."""
    done = tx.execute(
        sql_update(t.mfa_devices)
        .where(_d.serial_number == serial_number, or_(_d.last_step.is_(None), _d.last_step < step))
        .values(last_step=step)
    )
    return done.rowcount == 1
