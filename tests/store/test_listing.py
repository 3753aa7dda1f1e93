"""Listings come by name regardless of case and page with Marker/MaxItems, as IAM lists."""

from __future__ import annotations

import pytest

from conftest_store import NOW
from ironkeep.errors import InvalidInput, LimitExceeded
from ironkeep.model import Tag
from ironkeep.store import groups, inline_policies, policies, tags, users

NAMES = ["zed", "Alice", "bob", "Carol", "alice2", "_svc", "Bob-2", "dave@corp", "eve+ops", "A=1"]


def _expected(names: list[str]) -> list[str]:
    return sorted(names, key=str.lower)


def _all_pages(fetch, max_items: int) -> tuple[list, int]:
    found, marker, pages = [], None, 0
    while True:
        page, marker = fetch(marker, max_items)
        assert len(page) <= max_items
        found += page
        pages += 1
        if marker is None:
            return found, pages


@pytest.fixture()
def many_users(store, account) -> list[str]:
    with store.transaction() as tx:
        for n, name in enumerate(NAMES):
            path = "/eng/" if n % 3 == 0 else ("/eng/ops/" if n % 3 == 1 else "/sales/")
            users.create(tx, account, name, path, f"AIDA{n:017d}", NOW)
    return NAMES


def test_users_are_listed_by_name_regardless_of_case(store, account, many_users) -> None:
    with store.transaction(write=False) as tx:
        listed, marker = users.list(tx, account)
    assert marker is None
    assert [u.name for u in listed] == _expected(many_users)


@pytest.mark.parametrize("max_items", [1, 3, 4, 9, 10, 11])
def test_marker_pages_cover_every_user_once(store, account, many_users, max_items: int) -> None:
    with store.transaction(write=False) as tx:
        found, pages = _all_pages(lambda m, n: users.list(tx, account, marker=m, max_items=n), max_items)
    assert [u.name for u in found] == _expected(many_users)
    assert pages == max(1, -(-len(many_users) // max_items))


def test_a_marker_survives_the_deletion_of_the_last_listed_user(store, account, many_users) -> None:
    with store.transaction() as tx:
        first, marker = users.list(tx, account, max_items=3)
        users.delete(tx, first[-1])
        rest, _ = users.list(tx, account, marker=marker, max_items=100)
    assert [u.name for u in first + rest] == _expected(many_users)


def test_path_prefix_narrows_the_listing(store, account, many_users) -> None:
    with store.transaction(write=False) as tx:
        eng = [u.path for u in users.list(tx, account, path_prefix="/eng/")[0]]
        ops = [u.name for u in users.list(tx, account, path_prefix="/eng/ops/")[0]]
        none = users.list(tx, account, path_prefix="/ENG/")[0]
    assert set(eng) == {"/eng/", "/eng/ops/"} and len(eng) == 7
    assert ops == _expected([name for n, name in enumerate(NAMES) if n % 3 == 1])
    assert none == []  # paths compare case-sensitively


def test_group_members_and_groups_of_a_user_are_listed_by_name(store, account) -> None:
    with store.transaction() as tx:
        members = [
            users.create(tx, account, name, "/", f"AIDA{n:017d}", NOW)
            for n, name in enumerate(["b", "A", "c"])
        ]
        teams = [
            groups.create(tx, account, name, "/", f"AGPA{n:017d}", NOW)
            for n, name in enumerate(["Ops", "dev"])
        ]
        for user in members:
            groups.add_user(tx, teams[0], user, NOW)
        groups.add_user(tx, teams[0], members[0], NOW)  # twice is once
        groups.add_user(tx, teams[1], members[0], NOW)
        assert [u.name for u in groups.members(tx, teams[0])[0]] == ["A", "b", "c"]
        page, marker = groups.members(tx, teams[0], max_items=2)
        assert [u.name for u in page] == ["A", "b"] and marker is not None
        assert [g.name for g in groups.for_user(tx, members[0])[0]] == ["dev", "Ops"]


def test_policies_list_aws_managed_and_local_together_by_name(store, account) -> None:
    doc = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
    with store.transaction() as tx:
        policies.create(tx, account, "administratoraccess", "/", "ANPA00000000000000001", doc, NOW)
        policies.create(tx, account, "zz-local", "/team/", "ANPA00000000000000002", doc, NOW)
        local, _ = policies.list(tx, account, scope="Local")
        aws, _ = policies.list(tx, account, scope="AWS", max_items=1000)
        everything, _ = _all_pages(lambda m, n: policies.list(tx, account, marker=m, max_items=n), 400)
        team, _ = policies.list(tx, account, path_prefix="/team/")
    assert [p.name for p in local] == ["administratoraccess", "zz-local"]
    assert all(p.is_aws_managed for p in aws) and len(aws) == 1000
    assert len(everything) == len({p.arn for p in everything}) > 1000
    names = [p.name.lower() for p in everything]
    assert names == sorted(names)
    # the local policy and AWS's AdministratorAccess share a name and both show
    assert sum(1 for p in everything if p.name.lower() == "administratoraccess") == 2
    assert [p.name for p in team] == ["zz-local"]


def test_inline_policy_names_and_tags_page_by_name(store, account) -> None:
    doc = '{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
    with store.transaction() as tx:
        user = users.create(tx, account, "alice", "/", "AIDA00000000000000001", NOW)
        for name in ["b", "A", "c"]:
            inline_policies.put(tx, user, name, doc)
        assert inline_policies.names(tx, user)[0] == ["A", "b", "c"]
        found, _ = _all_pages(lambda m, n: inline_policies.names(tx, user, m, n), 2)
        assert found == ["A", "b", "c"]
        tags.put(tx, "user", user.id, [Tag("team", "x"), Tag("Cost", "1"), Tag("b", "")])
        tags.put(tx, "user", user.id, [Tag("TEAM", "y")])  # same key regardless of case: replaced
        assert tags.all_of(tx, "user", user.id) == [Tag("b", ""), Tag("Cost", "1"), Tag("TEAM", "y")]
        found, pages = _all_pages(lambda m, n: tags.list(tx, "user", user.id, m, n), 1)
        assert found == [Tag("b", ""), Tag("Cost", "1"), Tag("TEAM", "y")] and pages == 3
        tags.remove(tx, "user", user.id, ["cost", "absent"])
        assert [t.key for t in tags.all_of(tx, "user", user.id)] == ["b", "TEAM"]


def test_tag_keys_repeated_in_one_call_and_the_quota(store, account) -> None:
    with store.transaction() as tx:
        user = users.create(tx, account, "alice", "/", "AIDA00000000000000001", NOW)
        with pytest.raises(InvalidInput, match="case insensitive"):
            tags.put(tx, "user", user.id, [Tag("Team", "a"), Tag("team", "b")])
        tags.put(tx, "user", user.id, [Tag(f"k{n}", "v") for n in range(50)])
        tags.put(tx, "user", user.id, [Tag("K0", "again")])  # replacing does not count
        with pytest.raises(LimitExceeded):
            tags.put(tx, "user", user.id, [Tag("one-more", "v")])
        assert len(tags.all_of(tx, "user", user.id)) == 50
