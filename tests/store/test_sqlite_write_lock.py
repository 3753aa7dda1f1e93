"""SQLite writers queue for the write lock in short steps, and give up after the timeout."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from ironkeep.store.dialect import begin_immediate


def _connect(path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def test_a_waiting_writer_gets_the_lock_soon_after_it_is_freed(tmp_path) -> None:
    path = tmp_path / "w.db"
    holder, waiter = _connect(path), _connect(path)
    holder.execute("BEGIN IMMEDIATE")
    released = []

    def release() -> None:
        time.sleep(0.4)
        released.append(time.monotonic())
        holder.execute("COMMIT")

    threading.Thread(target=release).start()
    begin_immediate(waiter)
    got = time.monotonic()
    waiter.execute("COMMIT")
    # SQLite's own handler sleeps 100 ms at a time by then: it would take up to 100 ms more
    assert got - released[0] < 0.015
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000  # restored


def test_a_writer_gives_up_after_the_timeout(tmp_path) -> None:
    path = tmp_path / "w.db"
    holder, waiter = _connect(path), _connect(path)
    holder.execute("BEGIN IMMEDIATE")
    start = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        begin_immediate(waiter, timeout=0.2)
    assert 0.2 <= time.monotonic() - start < 1.0
    holder.execute("COMMIT")
    begin_immediate(waiter)  # free again
    waiter.execute("COMMIT")
