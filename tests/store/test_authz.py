"""principals.load_authz: every identity document of a user or role, its boundary and tags,
in a fixed number of queries."""

from __future__ import annotations

import json

import pytest

from conftest_store import NOW
from ironkeep.model import Tag
from ironkeep.model import aws_policies as catalogue
from ironkeep.store import attachments, groups, inline_policies, policies, principals, roles, tags, users

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}'


def doc(action: str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}
    )


def count_queries(tx):
    """The statements run on the transaction's database connection from now on, as the driver
    sees them (prepared statements go to the driver directly, past SQLAlchemy's events)."""
    seen: list[str] = []
    driver = tx.connection.driver_connection
    if tx.dialect.name == "sqlite":
        driver.set_trace_callback(seen.append)
        return seen, lambda: driver.set_trace_callback(None)
    plain = driver.cursor_factory

    class Counting(plain):
        def execute(self, query, *args, **kwargs):
            seen.append(str(query))
            return super().execute(query, *args, **kwargs)

    driver.cursor_factory = Counting
    return seen, lambda: setattr(driver, "cursor_factory", plain)


@pytest.fixture()
def world(store, account):
    """alice: 2 inline, 1 customer policy (v2 default), ReadOnlyAccess; in groups dev and ops
    (inline and attached each); boundary; tags. bob: nothing at all."""
    with store.transaction() as tx:
        alice = users.create(tx, account, "alice", "/", "AIDA00000000000000001", NOW)
        users.create(tx, account, "bob", "/", "AIDA00000000000000002", NOW)
        inline_policies.put(tx, alice, "b-inline", doc("s3:B"))
        inline_policies.put(tx, alice, "a-inline", doc("s3:A"))
        mine = policies.create(tx, account, "mine", "/", "ANPA00000000000000001", doc("ec2:V1"), NOW)
        policies.create_version(tx, mine, doc("ec2:V2"), True, NOW)
        policies.create_version(tx, mine, doc("ec2:V3-not-default"), False, NOW)
        attachments.attach(tx, alice, mine, NOW)
        attachments.attach(tx, alice, policies.require(tx, account, READ_ONLY), NOW)
        dev = groups.create(tx, account, "dev", "/", "AGPA00000000000000001", NOW)
        ops = groups.create(tx, account, "Ops", "/", "AGPA00000000000000002", NOW)
        other = groups.create(tx, account, "other", "/", "AGPA00000000000000003", NOW)
        for group in (dev, ops):
            groups.add_user(tx, group, alice, NOW)
            inline_policies.put(tx, group, "team", doc(f"team:{group.name}"))
        inline_policies.put(tx, other, "team", doc("team:other"))  # alice is not in it
        group_policy = policies.create(tx, account, "grp", "/", "ANPA00000000000000002", doc("grp:*"), NOW)
        attachments.attach(tx, dev, group_policy, NOW)
        attachments.attach(tx, ops, mine, NOW)  # also attached to alice herself: listed once
        boundary = policies.create(tx, account, "fence", "/", "ANPA00000000000000003", doc("s3:*"), NOW)
        users.set_permissions_boundary(tx, alice, boundary.arn)
        tags.put(tx, "user", alice.id, [Tag("team", "blue"), Tag("Level", "3")])
    return account


def test_load_authz_gives_every_document_once_in_a_stable_order(store, world) -> None:
    with store.transaction(write=False) as tx:
        got = principals.load_authz(tx, world, "ALICE")
    assert got is not None and got.principal.name == "alice"
    assert got.sources == (
        "user/a-inline",
        "user/b-inline",
        "group/dev/team",
        "group/Ops/team",
        f"arn:aws:iam::{world}:policy/grp",  # attached policies by ARN
        f"arn:aws:iam::{world}:policy/mine",
        READ_ONLY,
    )
    assert got.identity[:4] == (doc("s3:A"), doc("s3:B"), doc("team:dev"), doc("team:Ops"))
    assert got.identity[4:6] == (doc("grp:*"), doc("ec2:V2"))  # the default version only
    assert got.identity[6] == catalogue.get(READ_ONLY).document
    assert got.permissions_boundary == doc("s3:*")
    assert got.tags == {"team": "blue", "Level": "3"}


def test_load_authz_takes_three_queries_however_many_groups(store, world) -> None:
    with store.transaction(write=False) as tx:
        seen, stop = count_queries(tx)
        try:
            principals.load_authz(tx, world, "alice")
            principals.load_authz(tx, world, "bob")
        finally:
            stop()
    assert len(seen) == 6


def test_a_user_with_nothing_and_a_user_that_is_not_there(store, world) -> None:
    with store.transaction(write=False) as tx:
        bob = principals.load_authz(tx, world, "bob")
        assert principals.load_authz(tx, world, "carol") is None
    assert bob is not None
    assert (bob.identity, bob.permissions_boundary, bob.tags) == ((), None, {})


def test_boundaries_aws_managed_and_missing(store, world) -> None:
    with store.transaction() as tx:
        bob = users.require(tx, world, "bob")
        users.set_permissions_boundary(tx, bob, READ_ONLY)
        assert (
            principals.load_authz(tx, world, "bob").permissions_boundary == catalogue.get(READ_ONLY).document
        )
        users.set_permissions_boundary(tx, bob, f"arn:aws:iam::{world}:policy/gone")
        assert principals.load_authz(tx, world, "bob").permissions_boundary == principals.DENY_ALL


def test_load_role_authz(store, world) -> None:
    with store.transaction() as tx:
        role = roles.create(tx, world, "Builder", "/ci/", "AROA00000000000000001", TRUST, NOW)
        inline_policies.put(tx, role, "inline", doc("codebuild:*"))
        attachments.attach(tx, role, policies.require(tx, world, READ_ONLY), NOW)
        tags.put(tx, "role", role.id, [Tag("env", "ci")])
        got = principals.load_role_authz(tx, world, "builder")
    assert got is not None and got.principal == role
    assert got.sources == ("role/inline", READ_ONLY)
    assert got.identity[0] == doc("codebuild:*")
    assert got.permissions_boundary is None and got.tags == {"env": "ci"}
