"""Access keys (the authentication lookup), login profiles, accounts' settings."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from conftest_store import NOW
from ironkeep.errors import EntityAlreadyExists, LimitExceeded, NoSuchEntity
from ironkeep.model import PasswordPolicy
from ironkeep.store import access_keys as keys
from ironkeep.store import accounts, login_profiles, users


def test_lookup_is_one_query_and_carries_the_user(store, account) -> None:
    with store.transaction() as tx:
        alice = users.create(tx, account, "alice", "/eng/", "AIDA00000000000000001", NOW)
        keys.create(tx, account, alice, "AKIAAAAAAAAAAAAAAAA1", b"\x00sealed\xff", NOW)
        keys.create(tx, account, None, "AKIAROOTAAAAAAAAAAA1", b"root-sealed", NOW)
    statements: list[str] = []
    listener = lambda conn, cursor, statement, *a: statements.append(statement)  # noqa: E731
    with store.transaction(write=False) as tx:
        event.listen(store.engine, "before_cursor_execute", listener)
        try:
            found = keys.lookup(tx, "AKIAAAAAAAAAAAAAAAA1")
        finally:
            event.remove(store.engine, "before_cursor_execute", listener)
        root = keys.lookup(tx, "AKIAROOTAAAAAAAAAAA1")
        assert keys.lookup(tx, "AKIANOSUCHKEYAAAAAAA") is None
    assert len(statements) == 1
    assert found is not None and found.secret_sealed == b"\x00sealed\xff" and found.status == "Active"
    assert (found.user_name, found.user_path, found.user_arn) == ("alice", "/eng/", alice.arn)
    assert root is not None and root.is_root and root.user_name is None
    with store.transaction() as tx:
        accounts.bump_generation(tx, account)
        assert keys.lookup(tx, "AKIAROOTAAAAAAAAAAA1").account_generation == root.account_generation + 1


def test_two_keys_per_user_status_and_last_use(store, account) -> None:
    with store.transaction() as tx:
        alice = users.create(tx, account, "alice", "/", "AIDA00000000000000001", NOW)
        keys.create(tx, account, alice, "AKIAAAAAAAAAAAAAAAA1", b"s1", NOW)
        keys.create(tx, account, alice, "AKIAAAAAAAAAAAAAAAA2", b"s2", NOW + timedelta(seconds=1))
        with pytest.raises(LimitExceeded, match="Cannot exceed quota for AccessKeysPerUser: 2"):
            keys.create(tx, account, alice, "AKIAAAAAAAAAAAAAAAA3", b"s3", NOW)
        assert [k.id for k in keys.for_user(tx, account, alice)] == [
            "AKIAAAAAAAAAAAAAAAA1",
            "AKIAAAAAAAAAAAAAAAA2",
        ]
        assert keys.for_user(tx, account, None) == []
        keys.set_status(tx, account, alice, "AKIAAAAAAAAAAAAAAAA1", "Inactive")
        keys.note_used(tx, "AKIAAAAAAAAAAAAAAAA1", NOW, "us-east-1", "iam")
        got = keys.lookup(tx, "AKIAAAAAAAAAAAAAAAA1")
        assert (got.status, got.last_used, got.last_used_region, got.last_used_service) == (
            "Inactive",
            NOW,
            "us-east-1",
            "iam",
        )
        with pytest.raises(
            NoSuchEntity, match=re.escape("The Access Key with id AKIAAAAAAAAAAAAAAAA1 cannot be found.")
        ):
            keys.delete(tx, account, None, "AKIAAAAAAAAAAAAAAAA1")  # not root's key
        keys.delete(tx, account, alice, "AKIAAAAAAAAAAAAAAAA1")
        assert keys.lookup(tx, "AKIAAAAAAAAAAAAAAAA1") is None


def test_login_profiles(store, account) -> None:
    with store.transaction() as tx:
        alice = users.create(tx, account, "alice", "/", "AIDA00000000000000001", NOW)
        with pytest.raises(NoSuchEntity, match=re.escape("Login Profile for User alice cannot be found.")):
            login_profiles.require(tx, alice)
        made = login_profiles.create(tx, alice, "hash-1", True, NOW)
        assert (made.password_reset_required, made.created, made.password_changed) == (True, NOW, NOW)
        with pytest.raises(
            EntityAlreadyExists, match=re.escape("Login Profile for user alice already exists.")
        ):
            login_profiles.create(tx, alice, "hash-2", False, NOW)
        later = NOW + timedelta(days=1)
        changed = login_profiles.update(
            tx, alice, password_hash="hash-3", reset_required=False, changed=later
        )
        assert (changed.password_hash, changed.password_reset_required, changed.password_changed) == (
            "hash-3",
            False,
            later,
        )
        users.note_password_used(tx, alice.id, later)
        assert users.require(tx, account, "alice").password_last_used == later
        login_profiles.delete(tx, alice)
        assert login_profiles.get(tx, alice) is None


def test_account_alias_password_policy_and_usage(store, account) -> None:
    with store.transaction() as tx:
        accounts.create(tx, "210987654321", NOW)
        accounts.set_alias(tx, account, "my-corp")
        with pytest.raises(EntityAlreadyExists):
            accounts.set_alias(tx, "210987654321", "my-corp")
        assert accounts.require(tx, account).alias == "my-corp"
        accounts.delete_alias(tx, account, "my-corp")
        with pytest.raises(NoSuchEntity):
            accounts.delete_alias(tx, account, "my-corp")
        with pytest.raises(
            NoSuchEntity, match=re.escape(f"The Password Policy with domain name {account} cannot be found.")
        ):
            accounts.password_policy(tx, account)
        policy = PasswordPolicy(minimum_password_length=12, require_symbols=True, max_password_age=90)
        accounts.put_password_policy(tx, account, policy)
        assert accounts.password_policy(tx, account) == policy
        assert accounts.require(tx, account).password_policy == policy
        accounts.delete_password_policy(tx, account)
        users.create(tx, account, "alice", "/", "AIDA00000000000000001", NOW)
        usage = accounts.usage(tx, account)
    assert usage["Users"] == 1 and usage["Groups"] == 0 and usage["AccountAccessKeysPresent"] == 0
