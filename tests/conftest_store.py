"""Store fixtures, a pytest plugin: every store test runs on SQLite and on PostgreSQL.

Load it from the root conftest with ``pytest_plugins = ["conftest_store"]`` (tests/ is on
sys.path there). PostgreSQL: ``IRONKEEP_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/test``); each test gets a schema of its own,
``ik_<pid>_<random>``, created before and dropped after, so runs never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from ironkeep.store import Store

PG_URL = os.environ.get("IRONKEEP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
STORE_BACKENDS = ["sqlite", "postgresql"]
ACCOUNT = "123456789012"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _pg_reachable() -> bool:
    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _drop_schema(schema: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=STORE_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """``(url, schema)`` of an empty database: a SQLite file in a temporary directory, or a fresh
    PostgreSQL schema that is dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ironkeep.db'}", None
        return
    if not _pg_reachable():
        pytest.fail(f"PostgreSQL at {PG_URL} is not reachable; the store must be tested on it")
    schema = f"ik_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    try:
        yield PG_URL, schema
    finally:
        _drop_schema(schema)


@pytest.fixture()
def store(store_url: tuple[str, str | None]) -> Iterator[Store]:
    """A store opened on ``store_url`` and migrated to the newest revision."""
    url, schema = store_url
    opened = Store.open(url, schema=schema, pool_size=4)
    opened.migrate()
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.fixture()
def account(store: Store) -> str:
    """The id of an account created in ``store``."""
    from ironkeep.store import accounts

    with store.transaction() as tx:
        accounts.create(tx, ACCOUNT, NOW)
    return ACCOUNT
