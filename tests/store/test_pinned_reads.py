"""Pinned read transactions: one connection kept by the thread, a fresh snapshot per transaction."""

from __future__ import annotations

import contextlib
import threading

import pytest
from sqlalchemy import bindparam, func, insert, select, update

from conftest_store import ACCOUNT, NOW
from ironkeep.store import schema as t
from ironkeep.store.prepared import Prepared


def _add_group(store, name: str) -> None:
    with store.transaction() as tx:
        tx.execute(
            insert(t.groups).values(
                id="AGPA" + name.upper().ljust(17, "X")[:17],
                account_id=ACCOUNT,
                name=name,
                name_lower=name.lower(),
                path="/",
                arn=f"arn:aws:iam::{ACCOUNT}:group/{name}",
                created_at=NOW,
            )
        )


def _count(tx) -> int:
    return int(tx.execute(select(func.count()).select_from(t.groups)).scalar_one())


def test_each_pinned_read_sees_what_was_committed_before_it(store, account) -> None:
    with store.transaction(write=False, pinned=True) as tx:
        first = tx
        assert _count(tx) == 0
    _add_group(store, "admins")
    with store.transaction(write=False, pinned=True) as tx:
        assert tx is first  # the same connection, kept
        assert _count(tx) == 1
        _add_group(store, "devs")  # committed by another connection during this read
        if store.dialect == "sqlite":
            assert _count(tx) == 1  # one snapshot for the whole read (PostgreSQL: read committed)
    with store.transaction(write=False, pinned=True) as tx:
        assert _count(tx) == 2


def test_a_failed_pinned_read_leaves_the_connection_usable(store, account) -> None:
    with pytest.raises(RuntimeError):
        with store.transaction(write=False, pinned=True) as tx:
            _count(tx)
            raise RuntimeError("the handler failed")
    _add_group(store, "ops")
    with store.transaction(write=False, pinned=True) as tx:
        assert _count(tx) == 1


def test_a_pinned_read_ends_its_transaction_however_it_ends(store, account) -> None:
    """Committed after a clean block, rolled back after a failed one, whether or not a statement
    went through SQLAlchemy's own transaction (which joins the read's): nothing stays open."""
    for fail in (False, True):
        for through_sqlalchemy in (False, True):
            with pytest.raises(RuntimeError) if fail else _no_error():
                with store.transaction(write=False, pinned=True) as tx:
                    if through_sqlalchemy:
                        _count(tx)
                    else:
                        tx.connection.driver_connection.cursor().execute("SELECT 1").close()
                    if fail:
                        raise RuntimeError("the handler failed")
            assert not tx.in_transaction()
            if store.dialect == "sqlite":
                assert not tx.connection.driver_connection.in_transaction


def test_threads_do_not_share_a_pinned_connection(store, account) -> None:
    seen = []

    def read() -> None:
        with store.transaction(write=False, pinned=True) as tx:
            seen.append(tx)

    with store.transaction(write=False, pinned=True) as tx:
        mine = tx
    worker = threading.Thread(target=read)
    worker.start()
    worker.join()
    assert seen and seen[0] is not mine


_GROUP_PATH = Prepared(
    select(t.groups.c.path).where(
        t.groups.c.account_id == bindparam("account"), t.groups.c.name_lower == bindparam("name")
    )
)


def _path(tx) -> str | None:
    return _GROUP_PATH.scalar(tx, {"account": ACCOUNT, "name": "admins"})


def _set_path(tx, path: str) -> None:
    tx.execute(update(t.groups).where(t.groups.c.name_lower == "admins").values(path=path))


class _Statements:
    """The statements SQLite runs on a connection (SQLite only)."""

    def __init__(self, tx) -> None:
        self.seen: list[str] = []
        self.driver = tx.connection.driver_connection
        self.driver.set_trace_callback(self.seen.append)

    def reads_of_groups(self) -> int:
        return sum(1 for sql in self.seen if "FROM groups" in sql)

    def stop(self) -> None:
        self.driver.set_trace_callback(None)


def test_pinned_reads_remember_rows_only_while_nothing_is_committed(store, account) -> None:
    """On SQLite, a prepared statement's rows come from memory in later pinned reads until anything
    is committed, by another connection or by the pinned one itself; every read sees every commit
    made before it began, on both stores."""
    _add_group(store, "admins")
    with store.transaction(write=False, pinned=True) as tx:
        assert _path(tx) == "/"
    statements = _Statements(tx) if store.dialect == "sqlite" else None
    try:
        with store.transaction(write=False, pinned=True) as tx:
            assert _path(tx) == "/"
            assert _path(tx) == "/"
        if statements is not None:
            assert statements.reads_of_groups() == 0  # nothing committed since: from memory
        with store.transaction() as writer:  # another connection
            _set_path(writer, "/ops/")
        with store.transaction(write=False, pinned=True) as tx:
            assert _path(tx) == "/ops/"
        if statements is not None:
            assert statements.reads_of_groups() == 1
        with store.transaction(write=False, pinned=True) as tx:  # the pinned connection writes
            _set_path(tx, "/dev/")
            assert _path(tx) == "/dev/"
        with store.transaction(write=False, pinned=True) as tx:
            assert _path(tx) == "/dev/"
        with store.transaction(write=False, pinned=True) as tx:
            _add_group(store, "late")  # committed during this read: the next one sees it
            assert _path(tx) == "/dev/"
        with store.transaction() as writer:
            _set_path(writer, "/late/")
        with store.transaction(write=False, pinned=True) as tx:
            assert _path(tx) == "/late/"
    finally:
        if statements is not None:
            statements.stop()


def test_remembered_rows_are_not_shared_with_other_transactions(store, account) -> None:
    """Only the pinned read that remembers rows answers from memory: a write transaction reads
    the database, its own uncommitted change included."""
    _add_group(store, "admins")
    with store.transaction(write=False, pinned=True) as tx:
        assert _path(tx) == "/"
    with store.transaction() as writer:
        _set_path(writer, "/w/")
        assert _path(writer) == "/w/"
        with store.transaction(write=False, pinned=True) as tx:
            assert _path(tx) == "/"  # the writer has not committed
    with store.transaction(write=False, pinned=True) as tx:
        assert _path(tx) == "/w/"


def _no_error() -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()
