"""Virtual MFA devices: lifecycle, listing by assignment, one use per TOTP step."""

from __future__ import annotations

import re

import pytest

from conftest_store import NOW
from ironkeep.errors import DeleteConflict, EntityAlreadyExists, NoSuchEntity
from ironkeep.store import mfa_devices, users


def test_a_device_from_creation_to_deletion(store, account) -> None:
    with store.transaction() as tx:
        alice = users.create(tx, account, "alice", "/", "AIDA00000000000000001", NOW)
        made = mfa_devices.create_virtual(tx, account, "alice-phone", "/", b"sealed-seed", NOW)
        assert made.serial_number == f"arn:aws:iam::{account}:mfa/alice-phone" and not made.is_assigned
        with pytest.raises(EntityAlreadyExists):
            mfa_devices.create_virtual(tx, account, "ALICE-PHONE", "/", b"other", NOW)
        root_device = mfa_devices.create_virtual(tx, account, "root", "/", b"root-seed", NOW)
        enabled = mfa_devices.enable(tx, made, alice, NOW, step=1000)
        assert (enabled.user_name, enabled.enabled, enabled.last_step) == ("alice", NOW, 1000)
        with pytest.raises(EntityAlreadyExists, match=re.escape("MFA Device is already in use.")):
            mfa_devices.enable(tx, made, None, NOW, step=1)
        mfa_devices.enable(tx, root_device, None, NOW, step=5)
        assert [d.name for d in mfa_devices.for_user(tx, account, alice)] == ["alice-phone"]
        assert [d.name for d in mfa_devices.for_user(tx, account, None)] == ["root"]
        spare = mfa_devices.create_virtual(tx, account, "spare", "/", b"s", NOW)
        assigned, _ = mfa_devices.list_virtual(tx, account, "Assigned")
        unassigned, _ = mfa_devices.list_virtual(tx, account, "Unassigned")
        assert [d.name for d in assigned] == ["alice-phone", "root"]
        assert unassigned == [spare]
        page, marker = mfa_devices.list_virtual(tx, account, max_items=2)
        rest, last = mfa_devices.list_virtual(tx, account, marker=marker, max_items=2)
        assert [d.name for d in page + rest] == ["alice-phone", "root", "spare"] and last is None
        with pytest.raises(DeleteConflict):
            mfa_devices.delete(tx, enabled)
        mfa_devices.deactivate(tx, enabled)
        mfa_devices.delete(tx, mfa_devices.require(tx, account, made.serial_number))
        with pytest.raises(NoSuchEntity):
            mfa_devices.require(tx, account, made.serial_number)


def test_a_totp_step_is_accepted_once_and_never_an_older_one(store, account) -> None:
    with store.transaction() as tx:
        alice = users.create(tx, account, "alice", "/", "AIDA00000000000000001", NOW)
        device = mfa_devices.create_virtual(tx, account, "alice", "/", b"seed", NOW)
        mfa_devices.enable(tx, device, alice, NOW, step=100)
        serial = device.serial_number
        assert not mfa_devices.accept_step(tx, serial, 100)  # used while enabling
        assert mfa_devices.accept_step(tx, serial, 101)
        assert not mfa_devices.accept_step(tx, serial, 101)
        assert not mfa_devices.accept_step(tx, serial, 99)
        assert mfa_devices.accept_step(tx, serial, 105)
