"""IAM names are unique regardless of case within an account, also under concurrent creates."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest

from conftest_store import NOW
from ironkeep.errors import EntityAlreadyExists, NoSuchEntity
from ironkeep.store import accounts, groups, policies, roles, users

TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
DOC = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'

# kind -> create(tx, account, name, id) and get(tx, account, name)
CREATORS: dict[str, Callable[..., Any]] = {
    "user": lambda tx, acct, name, n: users.create(tx, acct, name, "/", f"AIDA{n:017d}", NOW),
    "group": lambda tx, acct, name, n: groups.create(tx, acct, name, "/", f"AGPA{n:017d}", NOW),
    "role": lambda tx, acct, name, n: roles.create(tx, acct, name, "/", f"AROA{n:017d}", TRUST, NOW),
    "policy": lambda tx, acct, name, n: policies.create(tx, acct, name, "/", f"ANPA{n:017d}", DOC, NOW),
}
MESSAGES = {
    "user": "User with name Deploy already exists.",
    "group": "Group with name Deploy already exists.",
    "role": "Role with name Deploy already exists.",
    "policy": "A policy called Deploy already exists. Duplicate names are not allowed.",
}


@pytest.mark.parametrize("kind", sorted(CREATORS))
def test_a_name_is_taken_regardless_of_case(store, account, kind: str) -> None:
    create = CREATORS[kind]
    with store.transaction() as tx:
        create(tx, account, "deploy", 1)
    with pytest.raises(EntityAlreadyExists) as caught, store.transaction() as tx:
        create(tx, account, "Deploy", 2)
    assert caught.value.message == MESSAGES[kind]


@pytest.mark.parametrize("kind", ["user", "group", "role"])
def test_the_same_name_in_another_account_is_free(store, account, kind: str) -> None:
    with store.transaction() as tx:
        accounts.create(tx, "210987654321", NOW)
        first = CREATORS[kind](tx, account, "deploy", 1)
        second = CREATORS[kind](tx, "210987654321", "DEPLOY", 2)
    assert first.arn.split(":")[4] == account and second.arn.split(":")[4] == "210987654321"


def test_get_finds_a_user_in_any_case_and_keeps_its_spelling(store, account) -> None:
    with store.transaction() as tx:
        made = users.create(tx, account, "Alice.Smith", "/eng/", "AIDA00000000000000001", NOW)
        assert made.arn == f"arn:aws:iam::{account}:user/eng/Alice.Smith"
        assert users.get(tx, account, "alice.smith") == made
        assert users.get(tx, account, "ALICE.SMITH") == made
        assert users.get_by_id(tx, made.id) == made
        assert users.get(tx, account, "alice") is None
        with pytest.raises(NoSuchEntity, match=re.escape("The user with name bob cannot be found.")):
            users.require(tx, account, "bob")


def test_renaming_onto_a_taken_name_fails_and_a_case_change_works(store, account) -> None:
    with store.transaction() as tx:
        alice = users.create(tx, account, "alice", "/", "AIDA00000000000000001", NOW)
        users.create(tx, account, "bob", "/", "AIDA00000000000000002", NOW)
        with pytest.raises(EntityAlreadyExists):
            users.update(tx, alice, new_name="BOB")
        renamed = users.update(tx, alice, new_name="Alice", new_path="/ops/")
    assert renamed.name == "Alice" and renamed.path == "/ops/"
    assert renamed.arn == f"arn:aws:iam::{account}:user/ops/Alice"
    assert renamed.id == alice.id and renamed.created == alice.created


@pytest.mark.parametrize("kind", ["user", "role", "policy"])
def test_concurrent_creates_of_one_name_give_exactly_one_success(store, account, kind: str) -> None:
    threads_count = 6
    barrier = threading.Barrier(threads_count)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            with store.transaction() as tx:
                CREATORS[kind](tx, account, "Shared" if n % 2 else "shared", n)
            result = "created"
        except EntityAlreadyExists:
            result = "exists"
        except Exception as error:  # anything else is a failure of the test
            result = f"error: {error!r}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["created"] + ["exists"] * (threads_count - 1)
    with store.transaction(write=False) as tx:
        listed = {"user": users, "role": roles}.get(kind)
        if listed is not None:
            assert len(listed.list(tx, account)[0]) == 1
        else:
            assert policies.count(tx, account) == 1
