"""Prepared statements see what SQLAlchemy sees: same rows, same values, same transaction."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, insert, select, text

from conftest_store import ACCOUNT, NOW
from ironkeep.store import schema as t
from ironkeep.store.prepared import Prepared, PreparedInsert, any_row


def _add_user(tx, name: str, created: datetime) -> None:
    tx.execute(
        insert(t.users).values(
            id="AIDA" + name.upper().ljust(17, "X")[:17],
            account_id=ACCOUNT,
            name=name,
            name_lower=name.lower(),
            path="/p/",
            arn=f"arn:aws:iam::{ACCOUNT}:user/p/{name}",
            created_at=created,
        )
    )


EVENT_COLUMNS = tuple(column.name for column in t.audit_events.c)  # every column, in order


BY_NAME = select(t.users).where(
    t.users.c.account_id == bindparam("account"), t.users.c.name_lower == bindparam("name")
)


def test_rows_match_sqlalchemy(store, account) -> None:
    created = NOW + timedelta(microseconds=123456)
    with store.transaction() as tx:
        _add_user(tx, "Alice", created)
    prepared = Prepared(BY_NAME)
    with store.transaction(write=False) as tx:
        expected = tx.execute(BY_NAME, {"account": ACCOUNT, "name": "alice"}).first()
        row = prepared.first(tx, {"account": ACCOUNT, "name": "alice"})
        missing = prepared.first(tx, {"account": ACCOUNT, "name": "bob"})
    assert missing is None
    assert tuple(row) == tuple(expected)
    assert row.created_at == created and row.created_at.tzinfo is not None
    assert row.created_at.utcoffset() == timedelta(0)
    assert row.password_last_used is None
    assert row._mapping == dict(expected._mapping)


def test_sees_its_own_transaction(store, account) -> None:
    """A prepared read inside a write transaction sees that transaction's uncommitted rows."""
    prepared = Prepared(BY_NAME)
    with store.transaction() as tx:
        _add_user(tx, "Carol", NOW)
        assert prepared.first(tx, {"account": ACCOUNT, "name": "carol"}).name == "Carol"
        assert str(prepared.scalar(tx, {"account": ACCOUNT, "name": "carol"})).startswith("AIDA")
    count = Prepared(select(t.users.c.name).where(t.users.c.account_id == bindparam("account")))
    with store.transaction(write=False) as tx:
        assert [r.name for r in count.all(tx, {"account": ACCOUNT})] == ["Carol"]


def test_insert_many_processes_values(store) -> None:
    """Times and booleans go in as SQLAlchemy would write them, so SQLAlchemy reads them back."""
    events = PreparedInsert(t.audit_events, EVENT_COLUMNS)
    when = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
    with store.transaction() as tx:
        events.insert_many(
            tx,
            [
                ("e1", ACCOUNT, when, "GetUser", "iam.amazonaws.com", "bob", None, True, None, "{}"),
                ("e2", ACCOUNT, when, "CreateUser", "iam.amazonaws.com", None, "AKIA", False, "X", "{}"),
            ],
        )
        events.insert_many(tx, [])
    with store.transaction(write=False) as tx:
        rows = tx.execute(select(t.audit_events).order_by(t.audit_events.c.event_id)).all()
    assert [(r.event_id, r.event_time, r.read_only, r.username, r.error_code) for r in rows] == [
        ("e1", when, True, "bob", None),
        ("e2", when, False, None, "X"),
    ]


def _event_rows(count: int, when: datetime) -> list[tuple]:
    return [
        (
            f"e{i:05d}",
            ACCOUNT,
            when,
            "GetUser",
            "iam.amazonaws.com",
            f"u{i}",
            None,
            i % 2 == 0,
            None,
            f'{{"n":{i}}}',
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 255, 256, 257, 600])
@pytest.mark.parametrize("variables", [None, 25])
def test_insert_many_writes_every_row_once_in_order(store, count, variables) -> None:
    """Whatever the batch's size and however few variables SQLite lets a statement bind (25: two
    rows of ten columns per statement), every row goes in once, with its own values, in order."""
    if variables is not None and store.dialect != "sqlite":
        pytest.skip("a limit on bound variables is SQLite's")
    events = PreparedInsert(t.audit_events, EVENT_COLUMNS)
    rows = _event_rows(count, datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC))
    with store.transaction() as tx:
        driver = tx.connection.driver_connection
        if variables is not None:
            driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variables)
        try:
            events.insert_many(tx, rows)
        finally:
            if variables is not None:
                driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 250_000)
    order = "rowid" if store.dialect == "sqlite" else "event_id"  # SQLite's rowids: insertion order
    with store.transaction(write=False) as tx:
        got = tx.execute(
            select(t.audit_events.c.event_id, t.audit_events.c.read_only, t.audit_events.c.record).order_by(
                text(order)
            )
        ).all()
    assert [tuple(r) for r in got] == [(r[0], r[7], r[9]) for r in rows]


def test_insert_many_on_sqlite_takes_a_statement_per_power_of_two(store) -> None:
    """SQLite: 300 rows in four statements (256 + 32 + 8 + 4), not one execution per row."""
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL takes the batch with executemany")
    events = PreparedInsert(t.audit_events, EVENT_COLUMNS)
    seen: list[str] = []
    with store.transaction() as tx:
        driver = tx.connection.driver_connection
        driver.set_trace_callback(seen.append)
        try:
            events.insert_many(tx, _event_rows(300, datetime(2026, 3, 4, tzinfo=UTC)))
        finally:
            driver.set_trace_callback(None)
    inserts = [statement for statement in seen if statement.startswith("INSERT")]
    assert [statement.count("'GetUser'") for statement in inserts] == [256, 32, 8, 4]


def test_any_row(store, account) -> None:
    """any_row: one or several columns of a table, each equal to its value; none, one or many rows."""
    tags = t.tags.c
    with store.transaction() as tx:
        tx.execute(
            insert(t.tags),
            [
                {"resource_kind": "user", "resource_id": "AIDA1", "key": "a", "key_lower": "a", "value": "1"},
                {"resource_kind": "user", "resource_id": "AIDA1", "key": "b", "key_lower": "b", "value": "2"},
                {"resource_kind": "role", "resource_id": "AROA1", "key": "a", "key_lower": "a", "value": "1"},
            ],
        )
    with store.transaction(write=False) as tx:
        assert any_row(tx, (tags.resource_id, "AIDA1"))
        assert not any_row(tx, (tags.resource_id, "AIDA2"))
        assert any_row(tx, (tags.resource_kind, "role"), (tags.resource_id, "AROA1"))
        assert not any_row(tx, (tags.resource_kind, "role"), (tags.resource_id, "AIDA1"))
        assert any_row(tx, (tags.resource_kind, "user"), (tags.key, "b"))
