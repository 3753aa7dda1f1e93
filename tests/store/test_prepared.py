"""Prepared statements see what SQLAlchemy sees: same rows, same values, same transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, insert, select

from conftest_store import ACCOUNT, NOW
from ironkeep.store import schema as t
from ironkeep.store.prepared import Prepared, PreparedInsert


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
    events = PreparedInsert(
        t.audit_events,
        (
            "event_id",
            "account_id",
            "event_time",
            "event_name",
            "event_source",
            "username",
            "access_key_id",
            "read_only",
            "error_code",
            "record",
        ),
    )
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
