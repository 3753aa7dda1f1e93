"""Opening, migrating and transactions, on both dialects."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from conftest_store import ACCOUNT, NOW
from ironkeep.errors import EntityAlreadyExists
from ironkeep.store import MIGRATIONS, Store, accounts, users
from ironkeep.store.schema import metadata


def _head() -> str:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_migrations_from_empty_reach_head_and_match_the_tables(store_url: tuple[str, str | None]) -> None:
    url, schema = store_url
    store = Store.open(url, schema=schema, pool_size=2)
    try:
        assert store.revision() is None
        store.migrate()
        assert store.revision() == _head()
        store.migrate()  # a second run has nothing to do
        assert store.revision() == _head()
        with store.engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            assert set(metadata.tables) <= names
            # what the migrations built is what schema.py declares, column for column
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            assert diff == []
    finally:
        store.dispose()


def test_a_transaction_that_fails_halfway_leaves_nothing(store, account) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        users.create(tx, account, "alice", "/", "AIDAALICE000000000001", NOW)
        users.create(tx, account, "bob", "/", "AIDABOB00000000000001", NOW)
        raise RuntimeError("the API call failed after two writes")
    with store.transaction(write=False) as tx:
        assert users.get(tx, account, "alice") is None
        assert users.list(tx, account) == ([], None)


def test_a_failed_create_leaves_the_transaction_usable(store, account) -> None:
    with store.transaction() as tx:
        users.create(tx, account, "alice", "/", "AIDAALICE000000000001", NOW)
        with pytest.raises(EntityAlreadyExists):
            users.create(tx, account, "ALICE", "/", "AIDAALICE000000000002", NOW)
        users.create(tx, account, "bob", "/", "AIDABOB00000000000001", NOW)
    with store.transaction() as tx:
        assert [u.name for u in users.list(tx, account)[0]] == ["alice", "bob"]


def test_times_are_kept_in_utc_and_come_back_aware(store, account) -> None:
    eastern = timezone(timedelta(hours=-5))
    local = datetime(2026, 3, 4, 5, 6, 7, tzinfo=eastern)
    with store.transaction() as tx:
        created = users.create(tx, account, "alice", "/", "AIDAALICE000000000001", local)
    assert created.created == local
    assert created.created.utcoffset() == timedelta(0)
    assert created.created.hour == 10


def test_accounts_create_once(store) -> None:
    with store.transaction() as tx:
        made = accounts.create(tx, ACCOUNT, NOW)
        assert made.generation == 0 and made.alias is None and made.password_policy is None
        with pytest.raises(EntityAlreadyExists):
            accounts.create(tx, ACCOUNT, NOW)
        accounts.bump_generation(tx, ACCOUNT)
        assert accounts.require(tx, ACCOUNT).generation == 1
        assert accounts.first(tx) == accounts.get(tx, ACCOUNT)


def test_schema_names_are_checked() -> None:
    with pytest.raises(ValueError):
        Store.open("postgresql://postgres@127.0.0.1:5432/test", schema='x"; DROP TABLE users; --')
    with pytest.raises(ValueError):
        Store.open("mysql://localhost/db")


def test_an_in_memory_sqlite_store_is_one_database_for_every_thread() -> None:
    import threading

    store = Store.open("sqlite://")
    store.migrate()
    try:
        with store.transaction() as tx:
            accounts.create(tx, ACCOUNT, NOW)

        def create() -> None:
            with store.transaction() as tx:
                users.create(tx, ACCOUNT, "alice", "/", "AIDA00000000000000001", NOW)

        thread = threading.Thread(target=create)
        thread.start()
        thread.join()
        with store.transaction(write=False) as tx:
            assert users.require(tx, ACCOUNT, "ALICE").name == "alice"
    finally:
        store.dispose()
