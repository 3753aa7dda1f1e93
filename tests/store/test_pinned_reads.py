"""Pinned read transactions: one connection kept by the thread, a fresh snapshot per transaction."""

from __future__ import annotations

import contextlib
import threading

import pytest
from sqlalchemy import func, insert, select

from conftest_store import ACCOUNT, NOW
from ironkeep.store import schema as t


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


def _no_error() -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()
